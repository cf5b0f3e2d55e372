#!/usr/bin/env node
// Start-up benchmark: how long `porter run examples/demo.yaml` takes from the process being
// spawned to its "ready" line, and how much memory it holds once idle. It runs bin/porter.js as
// the installed command does, with the node flags of its first line. On a machine shared with
// other work the time to ready grows with the load; the CPU time porter has used by then (all
// its threads) hardly does, and tells a change in porter from a busier machine.
// Usage: npm run build && node bench/startup.mjs [runs] [config, default examples/demo.yaml] [--without HOOK,…]
// `--without board,mail` runs the config without those hooks (the host-only demo), from a copy
// written beside it so that its relative paths hold, and removed afterwards.
import { rmSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { basename, dirname, join } from 'node:path';
import { parseDocument } from 'yaml';
import { runPorter } from './lib/porter.mjs';

const args = process.argv.slice(2);
const at = args.indexOf('--without');
const WITHOUT = at >= 0 ? args.splice(at, 2)[1].split(',') : [];
const RUNS = Number(args[0] ?? 10);
const SOURCE = args[1] ?? 'examples/demo.yaml';
let CONFIG = SOURCE;
if (WITHOUT.length > 0) {
  const doc = parseDocument(await readFile(SOURCE, 'utf8'));
  for (const hook of WITHOUT) {
    if (!doc.hasIn(['hooks', hook])) throw new Error(`${SOURCE} has no hook "${hook}"`);
    doc.deleteIn(['hooks', hook]);
  }
  CONFIG = join(dirname(SOURCE), `.${basename(SOURCE, '.yaml')}-without-${WITHOUT.join('-')}.yaml`);
  await writeFile(CONFIG, doc.toString());
  process.on('exit', () => rmSync(CONFIG, { force: true }));
}
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

/** CPU time a process has used so far, all threads, in ms (Linux: the first field of schedstat, in ns). */
async function cpuMs(pid) {
  let ns = 0;
  for (const task of await readdir(`/proc/${pid}/task`)) {
    const stat = await readFile(`/proc/${pid}/task/${task}/schedstat`, 'utf8').catch(() => '0');
    ns += Number(stat.split(' ')[0]);
  }
  return ns / 1e6;
}

async function once(measureMemory) {
  const started = process.hrtime.bigint();
  const porter = await runPorter(CONFIG);
  const readyMs = Number(process.hrtime.bigint() - started) / 1e6;
  const readyCpuMs = await cpuMs(porter.child.pid);
  let rss;
  if (measureMemory) {
    await new Promise((r) => setTimeout(r, EARLY_MS));
    const early = await rssMb(porter.child.pid);
    await new Promise((r) => setTimeout(r, SETTLED_MS - EARLY_MS));
    rss = { early, settled: await rssMb(porter.child.pid) };
  }
  await porter.stop();
  return { readyMs, readyCpuMs, rss };
}

// The warm-up run also does what a first start does once (the demo's users are hashed and stored).
await once(false); // warm the file cache
const times = [];
const cpu = [];
let rss;
for (let i = 0; i < RUNS; i++) {
  const run = await once(i === 0);
  times.push(run.readyMs);
  cpu.push(run.readyCpuMs);
  rss ??= run.rss;
}
times.sort((a, b) => a - b);
cpu.sort((a, b) => a - b);
const median = times[Math.floor(times.length / 2)];
console.log(
  `startup: porter run ${SOURCE}${WITHOUT.length ? ` without ${WITHOUT.join(', ')}` : ''}, node ${process.version}, ${os.cpus().length} CPUs`,
);
console.log(
  `time to ready (spawn to "ready" line): median ${median.toFixed(0)} ms over ${RUNS} runs (min ${times[0].toFixed(0)}, max ${times.at(-1).toFixed(0)})`,
);
console.log(
  `CPU time used by then (all threads): median ${cpu[Math.floor(cpu.length / 2)].toFixed(0)} ms (min ${cpu[0].toFixed(0)}, max ${cpu.at(-1).toFixed(0)}); load average ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} CPUs`,
);
console.log(
  `resident memory (VmRSS) idle: ${rss.settled.toFixed(1)} MB ${SETTLED_MS / 1000} s after ready (${rss.early.toFixed(1)} MB after ${EARLY_MS / 1000} s)`,
);
