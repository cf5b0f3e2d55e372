// The crash test: while smtp-source and our own SMTP clients send thousands of messages, porter is
// killed with SIGKILL; after a restart every message that got its 250 after DATA is in the mailbox
// (duplicates are allowed and counted, loss is not).
import { type ChildProcess, spawn } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { createConnection, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { porter, porterExit, type Run } from '../helpers/cli.js';
import { tempDir } from '../helpers/host.js';
import { ensureMailTools, SMTP_SOURCE_PATH } from '../peers/mail-tools.js';

const USER = 'u@example.org';
const PASSWORD = 'x';
/** Kill porter once this many of our own messages have been acknowledged. */
const KILL_AFTER = 500;
/** Our own SMTP connections sending in parallel (smtp-source adds 20 more). */
const CLIENTS = 12;

let dir: string;
let removeDir: (() => Promise<void>) | undefined;
const children: ChildProcess[] = [];
const sockets: Socket[] = [];

const CONFIG = `store: sqlite:porter.db
hooks:
  mail:
    path: mail.MailHook
    config:
      domains: [example.org]
      spool: spool
      mailboxes: mail
      smtp:
        hostname: mx.example.org
        listeners:
          - {address: '127.0.0.1:0', mode: smtp}
      pop3: '127.0.0.1:0'
`;

/** Starts `porter run` and resolves with its SMTP and POP3 ports once it prints them. */
async function startPorter(config: string): Promise<{ run: Run; smtp: number; pop3: number }> {
  const run = porter(['run', config]);
  children.push(run.child);
  await run.waitFor(/mail pop3 127\.0\.0\.1:\d+/, 20_000);
  const smtp = Number(/mail smtp 127\.0\.0\.1:(\d+)/.exec(run.stdout)?.[1]);
  const pop3 = Number(/mail pop3 127\.0\.0\.1:(\d+)/.exec(run.stdout)?.[1]);
  expect(smtp).toBeGreaterThan(0);
  expect(pop3).toBeGreaterThan(0);
  return { run, smtp, pop3 };
}

/** A line-oriented conversation over one socket: `next()` resolves with the next complete reply (multi-line replies joined). */
function conversation(socket: Socket): { next(): Promise<string> } {
  let buffer = '';
  let reply: string[] = [];
  const replies: string[] = [];
  const waiting: { resolve(r: string): void; reject(e: Error): void }[] = [];
  let failure: Error | undefined;
  const settle = () => {
    while (replies.length > 0 && waiting.length > 0) waiting.shift()!.resolve(replies.shift()!);
    if (failure) for (const w of waiting.splice(0)) w.reject(failure);
  };
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    for (let end = buffer.indexOf('\r\n'); end >= 0; end = buffer.indexOf('\r\n')) {
      const line = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      reply.push(line);
      // SMTP: `250-…` continues, `250 …` ends; POP3 replies are single lines here.
      if (line[3] !== '-') {
        replies.push(reply.join('\n'));
        reply = [];
      }
    }
    settle();
  });
  const fail = (error: Error) => {
    failure ??= error;
    settle();
  };
  socket.on('error', fail);
  socket.on('close', () => fail(new Error('connection closed')));
  return {
    next: () =>
      new Promise<string>((resolve, reject) => {
        waiting.push({ resolve, reject });
        settle();
      }),
  };
}

function connect(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    sockets.push(socket);
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

async function expectReply(talk: { next(): Promise<string> }, code: string): Promise<string> {
  const reply = await talk.next();
  if (!reply.startsWith(code)) throw new Error(`expected ${code}, got ${JSON.stringify(reply)}`);
  return reply;
}

function message(id: string): string {
  return (
    `From: sender@remote.test\r\nTo: ${USER}\r\nSubject: crash test ${id}\r\nX-Test-Id: ${id}\r\n\r\n` +
    `message ${id}\r\n${'a line of body text to give the message some weight\r\n'.repeat(8)}`
  );
}

/** One SMTP transaction on an open session; resolves once the 250 after DATA has arrived. */
async function transaction(socket: Socket, talk: { next(): Promise<string> }, id: string): Promise<void> {
  socket.write('MAIL FROM:<sender@remote.test>\r\n');
  await expectReply(talk, '250');
  socket.write(`RCPT TO:<${USER}>\r\n`);
  await expectReply(talk, '250');
  socket.write('DATA\r\n');
  await expectReply(talk, '354');
  socket.write(`${message(id)}.\r\n`);
  await expectReply(talk, '250');
}

async function session(port: number): Promise<{ socket: Socket; talk: { next(): Promise<string> } }> {
  const socket = await connect(port);
  const talk = conversation(socket);
  await expectReply(talk, '220');
  socket.write('EHLO client.test\r\n');
  await expectReply(talk, '250');
  return { socket, talk };
}

/**
 * Sends messages numbered from a shared counter over one connection at a time, reconnecting after
 * every `perSession` messages, until `stop()` says so or the server goes away.
 */
async function sender(
  port: number,
  next: () => number,
  stop: () => boolean,
  acknowledged: Set<number>,
  inFlight: Set<number>,
): Promise<void> {
  const perSession = 50;
  try {
    while (!stop()) {
      const { socket, talk } = await session(port);
      for (let i = 0; i < perSession && !stop(); i++) {
        const id = next();
        inFlight.add(id);
        await transaction(socket, talk, String(id));
        inFlight.delete(id);
        acknowledged.add(id);
      }
      socket.write('QUIT\r\n');
      socket.end();
    }
  } catch {
    // The server was killed: this sender is done; its message in flight stays in `inFlight`.
  }
}

/** The X-Test-Id of every message file in the user's maildir, with how often each appears. */
async function mailbox(): Promise<{ files: number; ids: Map<string, number> }> {
  const ids = new Map<string, number>();
  let files = 0;
  for (const sub of ['new', 'cur']) {
    const folder = join(dir, 'mail', USER, sub);
    const names = await readdir(folder).catch(() => [] as string[]);
    for (const name of names) {
      files++;
      const text = await readFile(join(folder, name), 'latin1');
      const id = /^X-Test-Id: (\S+)$/m.exec(text)?.[1];
      if (id !== undefined) ids.set(id, (ids.get(id) ?? 0) + 1);
    }
  }
  return { files, ids };
}

async function count(folder: string): Promise<number> {
  return (await readdir(folder).catch(() => [] as string[])).length;
}

async function queued(): Promise<number> {
  return (await readdir(join(dir, 'spool', 'queues', 'incoming', 'new')).catch(() => [] as string[])).length;
}

async function killAndWait(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeEach(async () => {
  await ensureMailTools();
  ({ dir, remove: removeDir } = await tempDir());
}, 120_000);

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(children.splice(0).map(killAndWait));
  await removeDir?.();
  removeDir = undefined;
});

describe('mail.MailHook under kill -9', () => {
  it('delivers every message it acknowledged, after a SIGKILL in the middle of thousands', async () => {
    const config = join(dir, 'porter.yaml');
    await writeFile(config, CONFIG);
    const added = await porterExit(['user', '-c', config, 'add', USER, '--password', PASSWORD]);
    expect(added.code, added.stderr).toBe(0);

    const first = await startPorter(config);

    // Background load: 20 parallel smtp-source sessions, 3000 messages in all.
    const source = spawn(
      SMTP_SOURCE_PATH,
      ['-s', '20', '-m', '3000', '-l', '1024', '-f', 'load@remote.test', '-t', USER, `127.0.0.1:${first.smtp}`],
      { stdio: 'ignore' },
    );
    children.push(source);

    // Our own clients: what got a 250 after DATA is recorded in `acknowledged`.
    const acknowledged = new Set<number>();
    const inFlight = new Set<number>();
    let counter = 0;
    let killed = false;
    const senders = Array.from({ length: CLIENTS }, () =>
      sender(
        first.smtp,
        () => ++counter,
        () => killed,
        acknowledged,
        inFlight,
      ),
    );
    const deadline = Date.now() + 20_000;
    while (acknowledged.size < KILL_AFTER) {
      if (Date.now() > deadline) throw new Error(`only ${acknowledged.size} acknowledged in 20 s; stderr:\n${first.run.stderr}`);
      await sleep(5);
    }
    // The kill lands while every client has a transaction under way.
    first.run.child.kill('SIGKILL');
    const sourceWasRunning = source.exitCode === null;
    await first.run.exited;
    await killAndWait(source);
    killed = true;
    // Replies the process wrote before it died may still be read now: they count as acknowledged.
    await Promise.all(senders);
    expect(sourceWasRunning).toBe(true);
    const unsure = [...inFlight];
    const beforeRestart = await mailbox();
    const queuedAtRestart = await queued();

    // Restart on the same config and wait until the incoming queue is delivered.
    const second = await startPorter(config);
    let last = -1;
    let stableSince = Date.now();
    const end = Date.now() + 30_000;
    for (;;) {
      const { files } = await mailbox();
      const waiting = await queued();
      if (files !== last) {
        last = files;
        stableSince = Date.now();
      } else if (waiting === 0 && Date.now() - stableSince > 1_000) break;
      if (Date.now() > end) throw new Error(`delivery did not settle in 30 s: ${files} files, ${waiting} queued`);
      await sleep(200);
    }

    const after = await mailbox();
    const lost = [...acknowledged].filter((id) => !after.ids.has(String(id)));
    let duplicates = 0;
    for (const count of after.ids.values()) duplicates += count - 1;
    const unsureDelivered = unsure.filter((id) => after.ids.has(String(id))).length;
    const figures = {
      acknowledged: acknowledged.size,
      inFlightAtKill: unsure.length,
      inFlightDelivered: unsureDelivered,
      testIdsInMailbox: after.ids.size,
      duplicates,
      filesBeforeRestart: beforeRestart.files,
      queuedAtRestart,
      filesAfterRestart: after.files,
      smtpSourceMessages: after.files - [...after.ids.values()].reduce((a, b) => a + b, 0),
      queueTmpLeft: await count(join(dir, 'spool', 'queues', 'incoming', 'tmp')),
      maildirTmpLeft: await count(join(dir, 'mail', USER, 'tmp')),
    };
    console.log(`crash test: ${JSON.stringify(figures)}`);
    expect(lost, `lost after the restart: ${JSON.stringify(figures)}`).toEqual([]);
    expect(acknowledged.size).toBeGreaterThanOrEqual(KILL_AFTER);
    // The restart really had something to do: the queue held accepted mail at the kill.
    expect(queuedAtRestart + beforeRestart.files).toBeGreaterThan(0);
    // Nothing appears that nobody sent.
    for (const id of after.ids.keys()) expect(Number(id)).toBeLessThanOrEqual(counter);

    // The restarted porter answers normally: a new message is accepted and delivered, and POP3 counts the mailbox.
    const { socket, talk } = await session(second.smtp);
    await transaction(socket, talk, 'after-restart');
    socket.write('QUIT\r\n');
    await expectReply(talk, '221');
    const delivered = Date.now() + 10_000;
    while (!(await mailbox()).ids.has('after-restart')) {
      if (Date.now() > delivered) throw new Error('the message sent after the restart was not delivered');
      await sleep(100);
    }
    const pop = await connect(second.pop3);
    const popTalk = conversation(pop);
    await expectReply(popTalk, '+OK');
    pop.write(`USER ${USER}\r\n`);
    await expectReply(popTalk, '+OK');
    pop.write(`PASS ${PASSWORD}\r\n`);
    await expectReply(popTalk, '+OK');
    pop.write('STAT\r\n');
    const stat = await expectReply(popTalk, '+OK');
    expect(Number(stat.split(' ')[1])).toBe(after.files + 1);
    pop.write('QUIT\r\n');
    await expectReply(popTalk, '+OK');
    expect(second.run.child.exitCode).toBeNull();
  }, 60_000);
});
