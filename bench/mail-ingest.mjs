#!/usr/bin/env node
// Durable SMTP ingest: messages per second that porter's mail hook accepts over SMTP, against a
// private Postfix instance (its queue on the same disk, delivery to `discard`), in one run,
// alternating A B A B (each round: porter then Postfix at 20 sessions, then at 50). Both answer
// 250 only once the message is fsync'd to their queue.
//
// Load, per setting: `smtp-source -c -l 1024 -m MESSAGES -s SESSIONS -d -f a@example.org
// -t u@example.org 127.0.0.1:PORT`, timed by the wall clock, for 20 and 50 sessions.
// porter runs as a child process (`bin/porter.js run` on a generated config with one domain and
// one user) in a folder under the project (.bench-mail-ingest-*); after each porter run the
// script waits for local delivery and counts the files in the user's mailbox (plus any left in
// the `incoming` queue), so every message counted as accepted was stored; after each Postfix
// run it waits for Postfix's queue to empty, so that neither server's background delivery runs
// into the other's measurement. It also prints the CPU time porter used during its runs.
//
// Usage: npm run build && node bench/mail-ingest.mjs [messages] [rounds]
//   messages: per smtp-source run (default 20000); rounds: A B pairs (default 2).
// Needs postfix, smtp-source (Debian's postfix package) and root, for Postfix.
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { countFiles, cpuSeconds, freePort, root, smtpSource, startPorter, startPostfix } from './mail/peers.mjs';

const MESSAGES = Number(process.argv[2] ?? 20000);
const ROUNDS = Number(process.argv[3] ?? 2);
const SESSIONS = [20, 50];
const LENGTH = 1024;

const dir = await mkdtemp(join(root, '.bench-mail-ingest-'));
await chmod(dir, 0o755); // Postfix's daemons run as the postfix user
let porter;
let postfix;
const results = []; // { server, sessions, round, seconds, cpu }
const stored = []; // porter's count after each of its runs
let failed = false;
try {
  await Promise.all([mkdirp(join(dir, 'porter')), mkdirp(join(dir, 'postfix'))]);
  const porterPort = await freePort();
  porter = await startPorter(join(dir, 'porter'), { smtpPort: porterPort });
  const postfixPort = await freePort();
  postfix = await startPostfix(join(dir, 'postfix'), postfixPort, { default_transport: 'discard' });

  let expected = 0;
  for (let round = 1; round <= ROUNDS; round++) {
    for (const sessions of SESSIONS) {
      for (const [server, port] of [
        ['porter', porterPort],
        ['Postfix', postfixPort],
      ]) {
        const args = ['-c', '-l', String(LENGTH), '-m', String(MESSAGES), '-s', String(sessions), '-d'];
        args.push('-f', 'a@example.org', '-t', 'u@example.org', `127.0.0.1:${port}`);
        const cpuBefore = server === 'porter' ? await cpuSeconds(porter.pid) : 0;
        const seconds = await smtpSource(args);
        const cpu = server === 'porter' ? (await cpuSeconds(porter.pid)) - cpuBefore : undefined;
        results.push({ server, sessions, round, seconds, cpu });
        console.error(
          `round ${round}, ${server}, -s ${sessions}: ${MESSAGES} in ${seconds.toFixed(2)} s` +
            (cpu === undefined ? '' : `, porter used ${cpu.toFixed(1)} CPU s`),
        );
        // Let each server finish delivering (porter to the mailbox, Postfix to discard) before
        // the next run, so that neither runs while the other's background work takes the CPUs.
        if (server === 'porter') {
          expected += MESSAGES;
          stored.push(await porterStored(expected));
        } else {
          const drained = await postfixDrained();
          console.error(`  Postfix's queue empty ${drained.toFixed(1)} s after smtp-source ended`);
        }
      }
    }
  }
} catch (err) {
  failed = true;
  console.error(err);
  if (porter) console.error(porter.output().slice(-4000));
} finally {
  await porter?.stop();
  await postfix?.stop();
  await rm(dir, { recursive: true, force: true });
}

/** Waits (up to 60 s) until porter's mailbox holds `expected` messages; returns what it holds. */
async function porterStored(expected) {
  const started = Date.now();
  let inMailbox;
  let queued;
  for (;;) {
    inMailbox = await countFiles(join(porter.mailbox, 'new'), join(porter.mailbox, 'cur'));
    queued = await countFiles(join(porter.spool, 'queues', 'incoming', 'new'));
    if (inMailbox >= expected || Date.now() - started > 60000) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  return { expected, inMailbox, queued, drainSeconds: (Date.now() - started) / 1000 };
}

/** Waits (up to 60 s) until Postfix's queues are empty; returns the seconds waited. */
async function postfixDrained() {
  const started = Date.now();
  while ((await postfix.queued()) > 0 && Date.now() - started < 60000) await new Promise((r) => setTimeout(r, 200));
  return (Date.now() - started) / 1000;
}

async function mkdirp(d) {
  await mkdir(d, { recursive: true });
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (n) => Math.round(n).toLocaleString('en-US');

console.log(
  `mail ingest: node ${process.version}, ${os.cpus().length} CPUs, ${MESSAGES} messages of ${LENGTH} B per run, ` +
    `${ROUNDS} rounds A B, queues on the project's disk`,
);
console.log('| Server | Sessions | Runs (s) | Messages/s (median) | porter / Postfix |');
console.log('| --- | --- | --- | --- | --- |');
for (const sessions of SESSIONS) {
  const rate = {};
  for (const server of ['porter', 'Postfix']) {
    const runs = results.filter((r) => r.server === server && r.sessions === sessions);
    if (!runs.length) continue;
    rate[server] = median(runs.map((r) => MESSAGES / r.seconds));
  }
  for (const server of ['porter', 'Postfix']) {
    const runs = results.filter((r) => r.server === server && r.sessions === sessions);
    if (!runs.length) continue;
    const ratio = server === 'porter' && rate.Postfix ? `${(rate.porter / rate.Postfix).toFixed(2)}×` : '';
    console.log(
      `| ${server} | ${sessions} | ${runs.map((r) => r.seconds.toFixed(2)).join(', ')} | ${fmt(rate[server])} ` +
        `(${runs.map((r) => fmt(MESSAGES / r.seconds)).join(', ')}) | ${ratio} |`,
    );
  }
}
for (const sessions of SESSIONS) {
  const runs = results.filter((r) => r.server === 'porter' && r.sessions === sessions);
  if (runs.length)
    console.log(
      `porter's CPU per message at -s ${sessions}: ` +
        runs.map((r) => `${((r.cpu / MESSAGES) * 1e6).toFixed(0)} µs (${((r.cpu / r.seconds) * 100).toFixed(0)} % of a core)`).join(', '),
    );
}
for (const s of stored)
  console.log(
    `porter stored: ${s.inMailbox} of ${s.expected} in the mailbox, ${s.queued} in the incoming queue ` +
      `(${s.drainSeconds.toFixed(1)} s after smtp-source ended)`,
  );
if (failed || stored.some((s) => s.inMailbox + s.queued < s.expected)) process.exitCode = 1;
