#!/usr/bin/env node
// Push ingest benchmark: PC updates per second that porter takes over POST /push and records in
// its history (SQLite), sustained for a while, with the load generator in another process.
// Two shapes: tkbd's log watcher (one PC per push, many pushes in flight) and a scan (100 PCs
// per push). An update counts once its change is committed to the history.
// Usage: npm run build && node bench/occupancy-push.mjs [seconds]
import { fork } from 'node:child_process';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { LAB_TOKEN, startLab } from './lib/porter.mjs';

const SECONDS = Number(process.argv[2] ?? 10);

if (process.argv[2] === '--generator') {
  // The load generator: keeps `inFlight` pushes of `perPush` PCs going until told to stop.
  const { port, perPush, inFlight, seconds } = JSON.parse(process.argv[3]);
  const http = await import('node:http');
  const agent = new http.Agent({ keepAlive: true, maxSockets: inFlight });
  let sent = 0;
  let n = 0;
  const deadline = Date.now() + seconds * 1000;
  const states = ['free', 'used'];
  const post = () =>
    new Promise((resolve, reject) => {
      const data = {};
      for (let i = 0; i < perPush; i++) {
        n++;
        data[`room${n % 40}pc${Math.floor(n / 40) % 25}`] = { status: states[Math.floor(n / 1000) % 2] }; // every PC flips each round: every update is a change
      }
      const body = JSON.stringify({ datasource: 'bench', data });
      const req = http.request(
        {
          host: '127.0.0.1',
          port,
          path: '/push',
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json', authorization: `Bearer ${LAB_TOKEN}`, 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          res.resume();
          res.on('end', () =>
            res.statusCode === 200 ? resolve(Object.keys(data).length) : reject(new Error(`push answered ${res.statusCode}`)),
          );
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (Date.now() < deadline) {
        const pcs = await post();
        sent += pcs;
      }
    }),
  );
  process.send({ sent });
  process.exit(0);
}

async function recorded(port) {
  const res = await fetch(`http://127.0.0.1:${port}/occupancy/api/history?limit=0`);
  return (await res.json()).total;
}

async function run(name, perPush, inFlight) {
  const porter = await startLab('push');
  try {
    const start = performance.now();
    const generator = fork(fileURLToPath(import.meta.url), [
      '--generator',
      JSON.stringify({ port: porter.port, perPush, inFlight, seconds: SECONDS }),
    ]);
    const { sent } = await new Promise((resolve, reject) => {
      generator.once('message', resolve);
      generator.once('exit', (code) => code && reject(new Error(`generator exited ${code}`)));
    });
    // Only changes count: a PC pushed into the state it had is not a change (tkbd records none).
    let total = 0;
    for (let last = -1; total !== last; await new Promise((r) => setTimeout(r, 50))) {
      last = total;
      total = await recorded(porter.port);
    }
    const seconds = (performance.now() - start) / 1000;
    return { name, sent, recorded: total, perSecond: sent / seconds, recordedPerSecond: total / seconds };
  } finally {
    await porter.stop();
    await rm(porter.dir, { recursive: true, force: true });
  }
}

const results = [await run('log watcher: 1 PC per push, 64 in flight', 1, 64), await run('scan: 100 PCs per push, 8 in flight', 100, 8)];
console.log(`occupancy push ingest: ${SECONDS} s per shape, SQLite history, node ${process.version}, ${os.cpus().length} CPUs`);
for (const r of results) {
  console.log(
    `${r.name}: ${Math.round(r.perSecond).toLocaleString('en-GB')} PC updates/s taken (${r.sent.toLocaleString('en-GB')}), ${Math.round(r.recordedPerSecond).toLocaleString('en-GB')} changes/s recorded (${r.recorded.toLocaleString('en-GB')})`,
  );
}
