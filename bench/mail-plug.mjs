#!/usr/bin/env node
// Mail plug figures: mail to a bridged address → messages in a loopback room (in the mail hook's
// porter, and in a second porter over the IPC socket), the time from SMTP's 250 to the room for
// single mails, and room messages → mail stored in a local mailbox.
// Usage: npm run build && node bench/mail-plug.mjs [mails]   (needs smtp-source and swaks: Debian's postfix, swaks)
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Host, Logging, resolveConfig } from '../dist/index.js';
import { MailUsers } from '../dist/mail/auth/index.js';

const MAILS = Number(process.argv[2] ?? 1000);
const run = promisify(execFile);
const dir = await mkdtemp(join(process.cwd(), '.bench-mail-plug-')); // on the project's disk, like data/
const quiet = Logging.create({ version: 1, root: { level: 'ERROR' } });

async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function open(document, where) {
  await mkdir(where, { recursive: true });
  const config = await resolveConfig({ store: `sqlite:${join(where, 'porter.db')}`, ...document }, { baseDir: where });
  const host = new Host(config, { logging: quiet, announce: false });
  await host.open();
  return host;
}

async function until(probe, ms = 600_000) {
  const end = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const bridge = (address, room, plugConfig) => ({
  plugs: {
    email: { path: 'mail.MailPlug', config: { recipients: { [address]: ['alice@example.org'] }, ...plugConfig } },
    lab: { path: 'loopback.LoopbackPlug', config: { history: MAILS * 2 } },
  },
  channels: { box: { plug: 'email', source: address }, room: { plug: 'lab', source: room } },
  hooks: { bridge: { path: 'sync.SyncHook', config: { channels: { b: ['box', 'room'] } } } },
});

const smtpPort = await freePort();
const mailDoc = bridge('team@example.org', 'room', {});
mailDoc.hooks.mail = {
  path: 'mail.MailHook',
  config: {
    domains: ['example.org'],
    smtp: { hostname: 'mx.example.org', listeners: [{ address: `127.0.0.1:${smtpPort}`, mode: 'smtp' }] },
    pop3: '127.0.0.1:0',
    ipc: { socket: 'mail.sock' },
  },
};
const mailHost = await open(mailDoc, join(dir, 'mail'));
const users = new MailUsers(mailHost.store);
for (const name of ['team@example.org', 'desk@example.org', 'alice@example.org']) await users.add(name, 'bench password');
const ipcHost = await open(
  bridge('desk@example.org', 'counter', { ipc: { socket: join(dir, 'mail', 'mail.sock'), domains: ['example.org'] }, poll: 0.5 }),
  join(dir, 'ipc'),
);

async function inbound(host, to, room) {
  const lab = host.plugs.get('lab');
  const before = lab.history(room).length;
  const start = performance.now();
  const cpu = process.cpuUsage();
  await run('smtp-source', [
    '-c',
    '-l',
    '1024',
    '-m',
    String(MAILS),
    '-s',
    '10',
    '-f',
    'bob@outside.test',
    '-t',
    to,
    `127.0.0.1:${smtpPort}`,
  ]);
  const accepted = performance.now();
  await until(() => lab.history(room).length - before >= MAILS);
  const end = performance.now();
  const used = process.cpuUsage(cpu);
  return { total: (end - start) / 1000, afterSmtp: (end - accepted) / 1000, cpuMs: (used.user + used.system) / 1000 / MAILS };
}

async function latency(host, to, room, times = 10) {
  const lab = host.plugs.get('lab');
  const out = [];
  for (let i = 0; i < times; i++) {
    const mark = `latency ${i} ${Math.random()}`;
    const arrived = lab.waitFor(room, (m) => m.text?.toPlain().includes(mark) ?? false, 30_000);
    await run('swaks', ['--server', '127.0.0.1', '--port', String(smtpPort), '--from', 'bob@outside.test', '--to', to, '--body', mark]);
    const t = performance.now(); // swaks has had its 250
    await arrived;
    out.push(performance.now() - t);
  }
  out.sort((a, b) => a - b);
  return { median: out[Math.floor(out.length / 2)], max: out[out.length - 1] };
}

async function outbound() {
  const lab = mailHost.plugs.get('lab');
  const mailboxes = mailHost.hooks.get('mail').mailboxes;
  // Counted as the mailboxes store them: listing a growing maildir to count would cost more than the plug.
  let stored = 0;
  const off = mailboxes.onStored((user) => {
    if (user === 'alice@example.org') stored++;
  });
  const start = performance.now();
  const cpu = process.cpuUsage();
  for (let i = 0; i < MAILS; i++) lab.post('room', `outbound ${i}`, 'ada');
  await until(() => stored >= MAILS);
  off();
  const used = process.cpuUsage(cpu);
  return { seconds: (performance.now() - start) / 1000, cpuMs: (used.user + used.system) / 1000 / MAILS };
}

const rate = (n, s) => Math.round(n / s);
try {
  const inProcess = await inbound(mailHost, 'team@example.org', 'room');
  console.log(
    `in-process: ${MAILS} mails (1 KiB, smtp-source -s 10) → room in ${inProcess.total.toFixed(2)} s (${rate(MAILS, inProcess.total)}/s), ` +
      `${inProcess.afterSmtp.toFixed(2)} s after the last 250; ${inProcess.cpuMs.toFixed(2)} ms CPU a mail (SMTP in, delivery, plug, bridge)`,
  );
  const overIpc = await inbound(ipcHost, 'desk@example.org', 'counter');
  console.log(
    `over IPC:   ${MAILS} mails → room in ${overIpc.total.toFixed(2)} s (${rate(MAILS, overIpc.total)}/s), ${overIpc.afterSmtp.toFixed(2)} s after the last 250; ${overIpc.cpuMs.toFixed(2)} ms CPU a mail (both porters in this process)`,
  );
  const l1 = await latency(mailHost, 'team@example.org', 'room');
  const l2 = await latency(ipcHost, 'desk@example.org', 'counter');
  console.log(
    `250 → room, one mail at a time: in-process median ${l1.median.toFixed(0)} ms (max ${l1.max.toFixed(0)}); over IPC (poll 0.5 s) median ${l2.median.toFixed(0)} ms (max ${l2.max.toFixed(0)})`,
  );
  const out = await outbound();
  console.log(
    `room → mailbox: ${MAILS} messages mailed to a local user in ${out.seconds.toFixed(2)} s (${rate(MAILS, out.seconds)}/s), ${out.cpuMs.toFixed(2)} ms CPU a message`,
  );
} finally {
  await ipcHost.close();
  await mailHost.close();
  await rm(dir, { recursive: true, force: true });
}
