#!/usr/bin/env node
// Mail server figures that need no peer: IPC `slot` + `push` round trips per second against the
// durable queue over a Unix socket (each push fsyncs), and the time Python's poplib takes to
// RETR 1,000 messages of 10 KB from porter's POP3 server.
// Usage: npm run build && node bench/mail-servers.mjs [seconds]
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import { MailUsers } from '../dist/mail/auth/index.js';
import { IpcClient, IpcServer } from '../dist/mail/ipc/index.js';
import { Mailboxes } from '../dist/mail/mailbox/index.js';
import { Pop3Server } from '../dist/mail/pop3/index.js';
import { MailQueue } from '../dist/mail/queue/index.js';
import { Store } from '../dist/services/store/index.js';

const SECONDS = Number(process.argv[2] ?? 5);
const log = pino({ level: 'silent' });
const dir = await mkdtemp(join(process.cwd(), '.bench-mail-')); // on the project's disk, like data/spool
const run = promisify(execFile);

// IPC: slot, write 1 KiB, push, by 1 client at a time and by 20 and 50 in flight.
const queue = await MailQueue.open({ dir: join(dir, 'spool'), queues: ['incoming'], log });
const socket = join(dir, 'mail.sock');
const server = new IpcServer({ handlers: queue.handlers(), path: socket, log });
await server.listen();
const message = Buffer.alloc(1024, 'x');
async function roundTrips(inFlight) {
  const clients = Array.from({ length: Math.min(inFlight, 8) }, () => new IpcClient({ address: socket }));
  let done = 0;
  const deadline = Date.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: inFlight }, async (_, i) => {
      const client = clients[i % clients.length];
      while (Date.now() < deadline) {
        const slot = await client.ask('slot', ['incoming']);
        await writeFile(slot.value, message);
        await client.ask('push', ['incoming', slot.value]);
        done++;
      }
    }),
  );
  for (const c of clients) await c.close();
  return done / SECONDS;
}
const ipc = [];
for (const n of [1, 20, 50]) ipc.push([n, await roundTrips(n)]);
await server.close();
await queue.close();

// POP3: 1,000 messages of 10 KB, retrieved by poplib.
const store = await Store.open(`sqlite:${join(dir, 'users.db')}`, { baseDir: dir, log });
const users = await MailUsers.open(store, { log });
await users.add('alice', 'bench-password');
const mailboxes = new Mailboxes({ root: join(dir, 'mail'), log, deliveredTo: false });
const body = Buffer.from(`Subject: bench\r\n\r\n${`${'0123456789abcdef'.repeat(4)}\r\n`.repeat(155)}`); // 10 KB in lines of 64
for (let i = 0; i < 1000; i++) await mailboxes.store('alice', 'alice', body);
const pop3 = new Pop3Server({ mailboxes, users, log, authFailureDelayMs: 0 });
const address = await pop3.listen('127.0.0.1', 0);
const script = `
import poplib, time
p = poplib.POP3('127.0.0.1', ${address.port})
p.user('alice'); p.pass_('bench-password')
n = len(p.list()[1])
t = time.perf_counter()
total = 0
for i in range(1, n + 1):
    total += len(b'\\r\\n'.join(p.retr(i)[1]))
print(n, total, time.perf_counter() - t)
p.quit()
`;
const { stdout } = await run('python3', ['-c', script]);
const [count, bytes, seconds] = stdout.trim().split(' ').map(Number);
await pop3.close();
await store.close();
await rm(dir, { recursive: true, force: true });

console.log(`mail servers: node ${process.version}, ${os.cpus().length} CPUs, spool on the project's disk`);
for (const [n, perSecond] of ipc)
  console.log(`IPC slot + write 1 KiB + push (durable), ${n} in flight: ${Math.round(perSecond).toLocaleString('en-GB')} messages/s`);
console.log(`POP3: poplib RETR of ${count} messages (${(bytes / 1e6).toFixed(1)} MB) in ${(seconds * 1000).toFixed(0)} ms`);
