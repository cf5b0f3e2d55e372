#!/usr/bin/env node
// Fan-out benchmark: time from a push request to the last subscribed client receiving the
// update, p50/p99 over all receipts, and server memory per idle client, for porter's occupancy
// hook and, in the same run, plain servers doing the least possible work (bench/occupancy/
// plain-servers.mjs). Clients run in separate processes (bench/occupancy/clients.mjs).
// Usage: npm run build && node bench/occupancy-fanout.mjs [--ws N] [--longpoll N] [--pushes N] [--only porter|plain]
import { fork } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { pushTo, root, startLab } from './lib/porter.mjs';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const WS_CLIENTS = Number(arg('ws', 10_000));
const POLL_CLIENTS = Number(arg('longpoll', 2_000));
const PUSHES = Number(arg('pushes', 20));
const ONLY = arg('only', 'all');
const CLIENTS_PER_PROCESS = 2_500;
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function rssMb(pid) {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]) / 1024;
}

/** Starts a plain baseline server; resolves with its process and port. */
async function startPlain(kind) {
  const child = fork(join(root, 'bench/occupancy/plain-servers.mjs'), [kind, '0'], { stdio: 'inherit' });
  const port = await new Promise((resolve) => child.once('message', (m) => resolve(m.ready)));
  return {
    child,
    port,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    pollUrl: `http://127.0.0.1:${port}/poll`,
    joyce: false,
    push: () => fetch(`http://127.0.0.1:${port}/push`, { method: 'POST', body: '{}' }),
  };
}

/** Starts porter with an occupancy board (bench/lib/porter.mjs), every PC in a state. */
async function startPorter() {
  const lab = await startLab('fanout');
  // Every PC known and in a state before clients subscribe.
  const data = {};
  for (let r = 0; r < 40; r++) for (let p = 0; p < 25; p++) data[`room${r}pc${p}`] = { status: 'free' };
  await pushTo(lab.port, data);
  let n = 0;
  return {
    ...lab,
    wsUrl: `ws://127.0.0.1:${lab.port}/occupancy/ws`,
    pollUrl: `http://127.0.0.1:${lab.port}/joyce`,
    joyce: true,
    push: () => pushTo(lab.port, { room7pc3: { status: ++n % 2 ? 'used' : 'free' } }),
  };
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function measure(server, kind, total) {
  const before = await rssMb(server.child.pid);
  const generators = [];
  for (let i = 0; i < total; i += CLIENTS_PER_PROCESS) {
    const count = Math.min(CLIENTS_PER_PROCESS, total - i);
    const options = { kind, url: kind === 'ws' ? server.wsUrl : server.pollUrl, count, joyce: server.joyce };
    const child = fork(join(root, 'bench/occupancy/clients.mjs'), [JSON.stringify(options)], { stdio: 'inherit' });
    generators.push(child);
    await new Promise((resolve, reject) => {
      child.once('message', (m) => (m.connected ? resolve() : reject(new Error(m.error))));
      child.once('exit', (code) => reject(new Error(`client process exited ${code}`)));
    });
  }
  await sleep(3000); // let the server settle: start-up garbage collected, initial state sent
  const after = await rssMb(server.child.pid);
  const lastClient = [];
  const all = [];
  for (let i = 0; i < PUSHES; i++) {
    for (const g of generators) g.send({ reset: true });
    await sleep(kind === 'ws' ? 50 : 400); // long-poll clients re-poll after the previous push
    const batches = generators.map((g) => new Promise((resolve) => g.once('message', (m) => resolve(m.batch))));
    const t0 = now();
    await server.push();
    const times = (await Promise.all(batches)).flat().map((t) => t - t0);
    lastClient.push(Math.max(...times));
    all.push(...times);
  }
  for (const g of generators) g.kill();
  lastClient.sort((a, b) => a - b);
  all.sort((a, b) => a - b);
  return {
    typical: percentile(lastClient, 50),
    worst: lastClient.at(-1),
    p50: percentile(all, 50),
    p99: percentile(all, 99),
    perClientKb: ((after - before) * 1024) / total,
  };
}

const results = [];
async function run(name, start, kind, total) {
  const server = await start();
  try {
    results.push({ name, kind, total, ...(await measure(server, kind, total)) });
  } finally {
    server.child.kill('SIGTERM');
    await new Promise((r) => server.child.once('exit', r));
    if (server.dir) await rm(server.dir, { recursive: true, force: true });
  }
}

if (ONLY !== 'porter' && WS_CLIENTS) await run('plain ws', () => startPlain('ws'), 'ws', WS_CLIENTS);
if (ONLY !== 'plain' && WS_CLIENTS) await run('porter WebSocket', startPorter, 'ws', WS_CLIENTS);
if (ONLY !== 'porter' && POLL_CLIENTS) await run('plain node:http long-poll', () => startPlain('longpoll'), 'longpoll', POLL_CLIENTS);
if (ONLY !== 'plain' && POLL_CLIENTS) await run('porter Joyce', startPorter, 'longpoll', POLL_CLIENTS);

const ms = (x) => `${x.toFixed(1)} ms`;
console.log(
  `occupancy fan-out: ${PUSHES} pushes, node ${process.version}, ${os.cpus().length} CPUs, clients in processes of ${CLIENTS_PER_PROCESS}`,
);
for (const r of results) {
  console.log(
    `${r.name.padEnd(26)} ${String(r.total).padStart(6)} clients: last client typical ${ms(r.typical)}, worst ${ms(r.worst)}; all receipts p50 ${ms(r.p50)}, p99 ${ms(r.p99)}; ${r.perClientKb.toFixed(1)} KB per idle client`,
  );
}
