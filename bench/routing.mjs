#!/usr/bin/env node
// Routing benchmark: messages per second through the host with three prioritised hooks and a
// sync bridge between two loopback channels (SQLite store), and the latency the host adds.
// Usage: npm run build && node bench/routing.mjs [messages]
import { mkdtemp, rm } from 'node:fs/promises';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Host, Logging, resolveConfig } from 'porter';

const N = Number(process.argv[2] ?? 200_000);
// `--throughput-only` skips the paced latency runs (for profiling the hot path).
const throughputOnly = process.argv.includes('--throughput-only');
const dir = await mkdtemp(join(tmpdir(), 'porter-bench-'));

async function openBridge() {
  const config = await resolveConfig(
    {
      path: [fileURLToPath(new URL('./plugins/', import.meta.url))],
      store: `sqlite:${join(dir, 'porter.db')}`,
      plugs: { lab: { path: 'loopback.LoopbackPlug', config: { history: 10 } } },
      channels: { left: { plug: 'lab', source: 'left' }, right: { plug: 'lab', source: 'right' } },
      hooks: {
        count: { path: 'passthrough.CountHook', priority: 1 },
        filter: { path: 'passthrough.FilterHook', priority: 2 },
        inspect: { path: 'passthrough.InspectHook', priority: 3 },
        bridge: { path: 'sync.SyncHook', config: { channels: { main: ['left', 'right'] } } },
      },
    },
    { baseDir: dir },
  );
  const host = new Host(config, { logging: Logging.silent(), announce: false });
  await host.open();
  return { host, lab: host.plugs.get('lab') };
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const user = { id: 'ada', username: 'ada', realName: 'Ada' };

// Throughput: post as fast as the host takes them, in batches, until every copy has arrived.
let copies = 0;

/** Waits until the store holds a map row for every copy made so far. */
async function mapped(host) {
  const db = host.store.db();
  for (;;) {
    const row = await db
      .selectFrom('bridge_copy')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirstOrThrow();
    if (Number(row.n) >= copies) return;
    await new Promise((r) => setTimeout(r, 1));
  }
}

async function throughput(lab, n) {
  copies += n;
  let arrived = 0;
  let done;
  const finished = new Promise((r) => {
    done = r;
  });
  const onMessage = (sent) => {
    if (sent.fromPorter && sent.channel.source === 'right' && ++arrived === n) done();
  };
  lab.events.on('message', onMessage);
  const start = process.hrtime.bigint();
  const BATCH = 500;
  for (let i = 0; i < n; i += BATCH) {
    for (let j = i; j < Math.min(n, i + BATCH); j++) lab.post('left', `message ${j}`, user);
    await new Promise(setImmediate);
  }
  await finished;
  // A copy counts once its row is in the message map too (the map is written behind).
  await mapped(host);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  lab.events.off('message', onMessage);
  return n / seconds;
}

// Latency: time from a message entering the host to its copy leaving it, at an offered rate.
async function latency(lab, n, ratePerSecond) {
  copies += n;
  const sentAt = new Map();
  const samples = [];
  let done;
  const finished = new Promise((r) => {
    done = r;
  });
  const onMessage = (sent) => {
    if (!sent.fromPorter || sent.channel.source !== 'right') return;
    const key = sent.text.toPlain();
    const t0 = sentAt.get(key);
    if (t0 === undefined) return;
    samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (samples.length === n) done();
  };
  lab.events.on('message', onMessage);
  const start = process.hrtime.bigint();
  let posted = 0;
  while (posted < n) {
    const due = Math.min(n, Math.floor((Number(process.hrtime.bigint() - start) / 1e9) * ratePerSecond) + 1);
    for (; posted < due; posted++) {
      const key = `lat ${ratePerSecond} ${posted}`;
      sentAt.set(key, process.hrtime.bigint());
      lab.post('left', key, user);
    }
    await new Promise(setImmediate);
  }
  await finished;
  lab.events.off('message', onMessage);
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 50), p99: percentile(samples, 99), max: samples[samples.length - 1] };
}

const { host, lab } = await openBridge();
await throughput(lab, 20_000); // warm-up: JIT and the SQLite page cache
const runs = [];
for (let i = 0; i < 3; i++) runs.push(await throughput(lab, N));
runs.sort((a, b) => a - b);
const lat1k = throughputOnly ? undefined : await latency(lab, 20_000, 1_000);
const lat10k = throughputOnly ? undefined : await latency(lab, 50_000, 10_000);
const lat50k = throughputOnly ? undefined : await latency(lab, 100_000, 50_000);
await host.close();
await rm(dir, { recursive: true, force: true });

const fmt = (n) => n.toLocaleString('en-GB', { maximumFractionDigits: 0 });
const ms = (x) => `${x.toFixed(3)} ms`;
console.log(
  `routing: 3 prioritised hooks + sync bridge between two loopback channels, SQLite store, node ${process.version}, ${os.cpus().length} CPUs`,
);
console.log('throughput counts a message once its copy has arrived and its map row is committed');
console.log(`throughput: ${fmt(runs[1])} messages/s (median of 3 runs of ${fmt(N)}; min ${fmt(runs[0])}, max ${fmt(runs[2])})`);
for (const [rate, l] of [
  [1_000, lat1k],
  [10_000, lat10k],
  [50_000, lat50k],
]) {
  if (!l) continue;
  console.log(`added latency at ${fmt(rate)} msg/s: p50 ${ms(l.p50)}, p99 ${ms(l.p99)}, max ${ms(l.max)}`);
}
