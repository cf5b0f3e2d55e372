#!/usr/bin/env node
// Start-up benchmark: how long `porter run examples/demo.yaml` takes from the process being
// spawned to its "ready" line, and how much memory it holds once idle. It runs bin/porter.js as
// the installed command does, with the node flags of its first line.
// Usage: npm run build && node bench/startup.mjs [runs] [config, default examples/demo.yaml]
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { runPorter } from './lib/porter.mjs';

const RUNS = Number(process.argv[2] ?? 10);
const CONFIG = process.argv[3] ?? 'examples/demo.yaml';
// Memory is read twice: 5 s after ready (the demo's first simulated messages, every 4 s, have
// been handled) and 15 s after, once V8's memory reducer has returned start-up garbage.
const EARLY_MS = 5000;
const SETTLED_MS = 15000;

/** VmRSS of a process, in MB (Linux). */
async function rssMb(pid) {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]);
  return kb / 1024;
}

async function once(measureMemory) {
  const started = process.hrtime.bigint();
  const porter = await runPorter(CONFIG);
  const readyMs = Number(process.hrtime.bigint() - started) / 1e6;
  let rss;
  if (measureMemory) {
    await new Promise((r) => setTimeout(r, EARLY_MS));
    const early = await rssMb(porter.child.pid);
    await new Promise((r) => setTimeout(r, SETTLED_MS - EARLY_MS));
    rss = { early, settled: await rssMb(porter.child.pid) };
  }
  await porter.stop();
  return { readyMs, rss };
}

await once(false); // warm the file cache
const times = [];
let rss;
for (let i = 0; i < RUNS; i++) {
  const run = await once(i === 0);
  times.push(run.readyMs);
  rss ??= run.rss;
}
times.sort((a, b) => a - b);
const median = times[Math.floor(times.length / 2)];
console.log(`startup: porter run ${CONFIG}, node ${process.version}, ${os.cpus().length} CPUs`);
console.log(
  `time to ready (spawn to "ready" line): median ${median.toFixed(0)} ms over ${RUNS} runs (min ${times[0].toFixed(0)}, max ${times.at(-1).toFixed(0)})`,
);
console.log(
  `resident memory (VmRSS) idle: ${rss.settled.toFixed(1)} MB ${SETTLED_MS / 1000} s after ready (${rss.early.toFixed(1)} MB after ${EARLY_MS / 1000} s)`,
);
