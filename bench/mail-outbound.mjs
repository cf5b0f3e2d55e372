#!/usr/bin/env node
// Outbound: messages per second that porter delivers to a fake remote MX (`smtp-sink -u nobody
// -c 127.0.0.1:PORT 256`) through its smarthost setting, against a private Postfix relaying to
// the same sink (`relayhost = [127.0.0.1]:PORT`), in one run, alternating A B A B.
//
// Two figures per server and round:
// * drain: delivery alone. The queue is filled while delivery is held, then released, and the
//   time is taken from the release until the sink's `-c` counter shows every message. porter
//   holds with `outbound.hold: true` in its config and is released over its IPC socket
//   (`hold: off`, written from this process on the Unix socket: no CLI start-up in the time);
//   `hold: on` holds it again for the next fill. Postfix takes the mail on a second smtpd whose
//   `smtpd_client_restrictions = check_client_access static:HOLD` puts every message into its
//   hold queue, and is released with `postsuper -H ALL` and `postqueue -f` (timed from before
//   postsuper starts).
// * end to end: submission and delivery together, timed from the first submission until the
//   sink has counted every message (delivery not held; Postfix on its ordinary smtpd).
// Submission is MESSAGES messages of 1 KiB to someone@example.net over SMTP with 20 pooled
// connections (nodemailer, from this process; porter on its submission listener with AUTH
// PLAIN as u@example.org, Postfix on its smtpd, which relays for 127.0.0.0/8). Both servers
// queue durably (fsync) before they answer 250, and deliver from that queue.
// porter runs as a child process (`bin/porter.js run` on a generated config) in a folder under
// the project (.bench-mail-outbound-*), Postfix with its queue there too.
//
// Usage: npm run build && node bench/mail-outbound.mjs [messages] [rounds]
//   messages: per run (default 20000); rounds: A B pairs of each figure (default 2).
// Needs postfix, smtp-sink (Debian's postfix package) and root, for Postfix.
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { freePort, root, startPorter, startPostfix } from './mail/peers.mjs';
import { startSink } from './mail/sink.mjs';

const MESSAGES = Number(process.argv[2] ?? 20000);
const ROUNDS = Number(process.argv[3] ?? 2);
const CONNECTIONS = 20;
const TIMEOUT_MS = 300_000;

const dir = await mkdtemp(join(root, '.bench-mail-outbound-'));
await chmod(dir, 0o755); // Postfix's daemons run as the postfix user
const body = Buffer.from(`From: u@example.org\r\nTo: someone@example.net\r\nSubject: bench\r\n\r\n${`${'x'.repeat(62)}\r\n`.repeat(15)}`);
let sink;
let porter;
let postfix;
const results = []; // { server, kind: 'drain' | 'end to end', round, submitSeconds, seconds, delivered }
let failed = false;
try {
  await mkdir(join(dir, 'porter'));
  await mkdir(join(dir, 'postfix'));
  const sinkPort = await freePort();
  sink = await startSink(sinkPort);
  const submissionPort = await freePort();
  const ipcSocket = join(dir, 'porter', 'mail.sock');
  porter = await startPorter(join(dir, 'porter'), {
    smtpPort: await freePort(),
    submissionPort,
    ipcSocket,
    outbound: { hostname: 'porter.bench', hold: true, smarthost: { host: '127.0.0.1', port: sinkPort } },
  });
  const postfixPort = await freePort();
  const postfixHoldPort = await freePort();
  postfix = await startPostfix(join(dir, 'postfix'), postfixPort, { relayhost: `[127.0.0.1]:${sinkPort}` }, { holdPort: postfixHoldPort });
  const porterAuth = { user: 'u@example.org', pass: 'x' };

  const servers = {
    porter: {
      async fillHeld() {
        const reply = await ipc(ipcSocket, 'hold: on');
        if (reply !== 'ok: on') throw new Error(`porter's hold: on answered ${reply}`);
        return submit(submissionPort, porterAuth);
      },
      async release() {
        const reply = await ipc(ipcSocket, 'hold: off');
        if (reply !== 'ok: off') throw new Error(`porter's hold: off answered ${reply}`);
      },
      submit: () => submit(submissionPort, porterAuth),
    },
    Postfix: {
      async fillHeld() {
        const seconds = await submit(postfixHoldPort, undefined);
        const held = await postfix.held();
        if (held !== MESSAGES) throw new Error(`Postfix holds ${held} messages, not ${MESSAGES}`);
        return seconds;
      },
      release: () => postfix.release(),
      submit: () => submit(postfixPort, undefined),
    },
  };

  for (let round = 1; round <= ROUNDS; round++) {
    for (const kind of ['drain', 'end to end']) {
      for (const server of ['porter', 'Postfix']) {
        const s = servers[server];
        const before = sink.messages();
        let submitSeconds;
        let started;
        if (kind === 'drain') {
          submitSeconds = await s.fillHeld();
          // Held means held: nothing reached the sink while the queue filled.
          await new Promise((r) => setTimeout(r, 500));
          if (sink.messages() !== before) throw new Error(`${server} delivered ${sink.messages() - before} messages while held`);
          started = process.hrtime.bigint();
          await s.release();
        } else {
          started = process.hrtime.bigint();
          submitSeconds = await s.submit();
        }
        const count = await sink.waitFor(before + MESSAGES, TIMEOUT_MS);
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        results.push({ server, kind, round, submitSeconds, seconds, delivered: count - before });
        console.error(
          `round ${round}, ${kind}, ${server}: ${count - before} of ${MESSAGES} delivered in ${seconds.toFixed(2)} s ` +
            `(submitted in ${submitSeconds.toFixed(2)} s)`,
        );
        if (count - before < MESSAGES) throw new Error(`${server} delivered ${count - before} of ${MESSAGES}`);
        // Nothing more than was sent: a duplicate would show here.
        await new Promise((r) => setTimeout(r, 300));
        if (sink.messages() !== before + MESSAGES)
          throw new Error(`${server}: the sink counted ${sink.messages() - before} of ${MESSAGES}`);
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
  await sink?.stop();
  await rm(dir, { recursive: true, force: true });
}

/** One IPC request on porter's Unix socket; resolves with the reply line. */
function ipc(socket, line) {
  return new Promise((resolve, reject) => {
    const client = net.connect(socket);
    let data = '';
    client.setEncoding('utf8');
    client.on('data', (d) => {
      data += d;
      const end = data.indexOf('\n');
      if (end >= 0) {
        client.end();
        resolve(data.slice(0, end).trim());
      }
    });
    client.on('error', reject);
    client.write(`${line}\n`);
  });
}

/** Submits MESSAGES messages over CONNECTIONS pooled SMTP connections; resolves with the seconds it took, once all got 250. */
async function submit(port, auth) {
  const started = process.hrtime.bigint();
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    secure: false,
    ignoreTLS: true,
    pool: true,
    maxConnections: CONNECTIONS,
    maxMessages: Number.POSITIVE_INFINITY,
    auth,
  });
  let next = 0;
  await Promise.all(
    Array.from({ length: CONNECTIONS * 2 }, async () => {
      while (next < MESSAGES) {
        next++;
        await transport.sendMail({ envelope: { from: 'u@example.org', to: 'someone@example.net' }, raw: body });
      }
    }),
  );
  transport.close();
  return Number(process.hrtime.bigint() - started) / 1e9;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (n) => Math.round(n).toLocaleString('en-US');

console.log(
  `mail outbound: node ${process.version}, ${os.cpus().length} CPUs, ${MESSAGES} messages of ${body.length} B per run, ` +
    `${CONNECTIONS} submission connections, ${ROUNDS} rounds A B, queues on the project's disk`,
);
console.log('| Figure | Server | Runs (s) | Of which submitting (s) | Delivered/s (median) | porter / Postfix |');
console.log('| --- | --- | --- | --- | --- | --- |');
for (const kind of ['drain', 'end to end']) {
  const rate = {};
  for (const server of ['porter', 'Postfix']) {
    const runs = results.filter((r) => r.kind === kind && r.server === server && r.delivered >= MESSAGES);
    if (runs.length) rate[server] = median(runs.map((r) => MESSAGES / r.seconds));
  }
  for (const server of ['porter', 'Postfix']) {
    const runs = results.filter((r) => r.kind === kind && r.server === server);
    if (!runs.length) continue;
    const ratio = server === 'porter' && rate.porter && rate.Postfix ? `${(rate.porter / rate.Postfix).toFixed(2)}×` : '';
    const submitting =
      kind === 'drain'
        ? `(filling: ${runs.map((r) => r.submitSeconds.toFixed(2)).join(', ')})`
        : runs.map((r) => r.submitSeconds.toFixed(2)).join(', ');
    console.log(
      `| ${kind} | ${server} | ${runs.map((r) => r.seconds.toFixed(2)).join(', ')} | ${submitting} ` +
        `| ${rate[server] ? fmt(rate[server]) : '–'} (${runs.map((r) => fmt(MESSAGES / r.seconds)).join(', ')}) | ${ratio} |`,
    );
  }
}
if (failed) process.exitCode = 1;
