// The mail hook in a real host: swaks in, Python's poplib out, relaying to an smtp-sink smarthost, and a restart.
import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { join } from 'node:path';
import { type Host, resolveConfig } from 'porter';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueueWorker } from '../../src/hooks/mail/delivery.js';
import type { MailHook } from '../../src/hooks/mail/index.js';
import { MailUsers } from '../../src/mail/auth/index.js';
import { IpcClient } from '../../src/mail/ipc/index.js';
import { MailQueue } from '../../src/mail/queue/index.js';
import { formatEnvelope } from '../../src/mail/smtp-in/index.js';
import { captureLogging, openHost, tempDir } from '../helpers/host.js';
import { freePort } from '../helpers/wait.js';
import { ensureMailTools, popMessages, SMTP_SINK_PATH, swaks } from '../peers/mail-tools.js';

const PASSWORD = 'correct horse battery staple';
const IPC_TOKEN = 'a-token-of-sixteen-or-more';

let dir: string;
let removeDir: () => Promise<void>;
let host: Host | undefined;
let sink: ChildProcess | undefined;
let sinkPort: number;
let sinkDump: string;

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

function document(): Record<string, unknown> {
  return {
    hooks: {
      mail: {
        path: 'mail.MailHook',
        config: {
          domains: ['example.org'],
          smtp: {
            hostname: 'mx.example.org',
            listeners: [
              { address: '127.0.0.1:0', mode: 'smtp' },
              { address: '127.0.0.1:0', mode: 'submission', 'allow-insecure-auth': true },
            ],
          },
          pop3: '127.0.0.1:0',
          ipc: { socket: 'mail.sock', tcp: { address: '127.0.0.1:0', token: IPC_TOKEN } },
          outbound: { hostname: 'mx.example.org', smarthost: { host: '127.0.0.1', port: sinkPort }, backoff: { min: 1, max: 2 } },
        },
      },
    },
  };
}

async function start(): Promise<MailHook> {
  host = (await openHost(document(), dir)).host;
  const hook = host.hooks.get('mail') as MailHook;
  expect(hook.state).toBe('active');
  return hook;
}

function port(hook: MailHook, mode: 'smtp' | 'submission'): number {
  const listener = hook.listeners.smtp.find((l) => l.mode === mode);
  if (!listener) throw new Error(`no ${mode} listener`);
  return listener.port;
}

/** Every message in the user's mailbox, through Python's poplib (dot-unstuffed, lines joined by CRLF). */
const pop = (hook: MailHook, user: string): Promise<string[]> => popMessages(hook.listeners.pop3[0]!.port, user, PASSWORD);

const swaksTo = (p: number, args: readonly string[]) =>
  swaks(['--server', '127.0.0.1', '--port', String(p), '--helo', 'client.test', ...args]);

beforeAll(async () => {
  await ensureMailTools();
  ({ dir, remove: removeDir } = await tempDir());
  // smtp-sink drops to `nobody`, which must be able to reach and write its dump folder.
  await chmod(dir, 0o755);
  sinkDump = join(dir, 'sink');
  await mkdir(sinkDump);
  await chmod(sinkDump, 0o777);
  sinkPort = await freePort();
  sink = spawn(SMTP_SINK_PATH, ['-u', 'nobody', '-d', `${sinkDump}/%H%M%S.`, `127.0.0.1:${sinkPort}`, '256'], { stdio: 'ignore' });
  await until('smtp-sink', async () => ((await answers(sinkPort)) ? true : undefined), 5_000);
  await start();
  const users = new MailUsers(host!.store);
  await users.add('alice@example.org', PASSWORD);
  await users.add('bob@example.org', PASSWORD);
}, 120_000);

afterAll(async () => {
  await host?.close();
  if (sink && sink.exitCode === null) {
    const exited = new Promise((resolve) => sink!.once('exit', resolve));
    sink.kill('SIGTERM');
    await exited;
  }
  await removeDir?.();
});

describe('mail.MailHook', () => {
  const body = `hello alice ${Math.random().toString(36).slice(2)}`;

  it('announces its listeners, takes mail by SMTP and serves it by POP3', async () => {
    const hook = host!.hooks.get('mail') as MailHook;
    expect(host!.served).toContain(`mail smtp 127.0.0.1:${port(hook, 'smtp')}`);
    expect(host!.served).toContain(`mail submission 127.0.0.1:${port(hook, 'submission')}`);
    expect(host!.served).toContain(`mail pop3 127.0.0.1:${hook.listeners.pop3[0]!.port}`);
    const sent = await swaksTo(port(hook, 'smtp'), [
      '--from',
      'carol@remote.test',
      '--to',
      'alice@example.org',
      '--header',
      'Subject: porter mail hook',
      '--body',
      body,
    ]);
    expect(sent.code, sent.output).toBe(0);
    const messages = await until('the message in the mailbox', async () => {
      const got = await pop(hook, 'alice@example.org');
      return got.length > 0 ? got : undefined;
    });
    expect(messages).toHaveLength(1);
    const text = messages[0]!;
    expect(text).toMatch(/^Delivered-To: alice@example\.org\r\nReceived: from client\.test/);
    expect(text).toContain('Subject: porter mail hook');
    expect(text.slice(text.indexOf('\r\n\r\n') + 4).trimEnd()).toBe(body);
    // Acknowledged: nothing is left in the incoming queue.
    expect(await readdir(join(dir, 'spool', 'queues', 'incoming', 'new'))).toEqual([]);
    expect(await pop(hook, 'bob@example.org')).toEqual([]);
  });

  it('refuses an unknown local recipient with 550', async () => {
    const hook = host!.hooks.get('mail') as MailHook;
    const result = await swaksTo(port(hook, 'smtp'), ['--from', 'carol@remote.test', '--to', 'nobody@example.org']);
    expect(result.code).not.toBe(0);
    expect(result.output).toMatch(/<\*\* 550 5\.1\.1 <nobody@example\.org>/);
  });

  it('refuses to relay without authentication', async () => {
    const hook = host!.hooks.get('mail') as MailHook;
    for (const mode of ['smtp', 'submission'] as const) {
      const result = await swaksTo(port(hook, mode), ['--from', 'alice@example.org', '--to', 'dave@elsewhere.test']);
      expect(result.code).not.toBe(0);
      expect(result.output).toMatch(mode === 'smtp' ? /<\*\* 554 5\.7\.1 <dave@elsewhere\.test>: Relay access denied/ : /5\.7\.0/);
    }
    expect(await readdir(sinkDump)).toEqual([]);
  });

  it('relays an authenticated submission to a remote address through the smarthost', async () => {
    const hook = host!.hooks.get('mail') as MailHook;
    const marker = `to dave ${Math.random().toString(36).slice(2)}`;
    const result = await swaksTo(port(hook, 'submission'), [
      '--auth',
      'PLAIN',
      '--auth-user',
      'alice@example.org',
      '--auth-password',
      PASSWORD,
      '--from',
      'alice@example.org',
      '--to',
      'dave@elsewhere.test',
      '--body',
      marker,
    ]);
    expect(result.code, result.output).toBe(0);
    const dumped = await until('the message at the smarthost', async () => {
      for (const file of await readdir(sinkDump)) {
        const text = await readFile(join(sinkDump, file), 'utf8');
        if (text.includes(marker)) return text;
      }
      return undefined;
    });
    expect(dumped).toContain('dave@elsewhere.test');
    expect(dumped).toContain('alice@example.org');
    await until('the outbound spool to empty', async () => (hook.sender?.list().length === 0 ? true : undefined));
    expect(await readdir(join(dir, 'spool', 'queues', 'outgoing', 'new'))).toEqual([]);
  });

  it("answers every role's messages on IPC, and `send` delivers through the smarthost", async () => {
    const hook = host!.hooks.get('mail') as MailHook;
    const socket = join(dir, 'mail.sock');
    expect(host!.served).toContain(`mail ipc ${socket}`);
    const client = new IpcClient({ address: socket });
    const tcp = new IpcClient({ address: `tcp:127.0.0.1:${hook.listeners.ipcTcpPort}`, token: IPC_TOKEN });
    try {
      expect(await client.request('verify', ['alice@example.org'])).toEqual({ ok: true });
      expect(await tcp.request('verify', ['nobody@example.org'])).toEqual({ ok: false, error: 'no such user' });
      const listed = await client.request('list', ['alice@example.org']);
      expect(listed).toMatchObject({ ok: true, value: '1' });
      const marker = `sent over ipc ${Math.random().toString(36).slice(2)}`;
      const slot = await client.request('slot', ['send']);
      if (!slot.ok || slot.value === undefined) throw new Error(`no slot: ${JSON.stringify(slot)}`);
      await writeFile(slot.value, `From: alice@example.org\r\nTo: erin@elsewhere.test\r\nSubject: ipc\r\n\r\n${marker}\r\n`);
      const sent = await client.request('send', ['alice@example.org', 'erin@elsewhere.test', slot.value]);
      expect(sent.ok, JSON.stringify(sent)).toBe(true);
      await until('the IPC message at the smarthost', async () => {
        for (const file of await readdir(sinkDump)) if ((await readFile(join(sinkDump, file), 'utf8')).includes(marker)) return true;
        return undefined;
      });
    } finally {
      await client.close();
      await tcp.close();
    }
  });

  it('keeps delivered mail across a restart, and delivers what the queue held at stop', async () => {
    await host!.close();
    host = undefined;
    // A message accepted (pushed) but not yet delivered when porter stopped.
    const queue = await MailQueue.open({ dir: join(dir, 'spool', 'queues'), queues: ['incoming', 'outgoing', 'send'] });
    const slot = queue.slot('incoming');
    const envelope = formatEnvelope({
      id: 'left-over',
      received: Date.now(),
      client: '127.0.0.1',
      from: 'carol@remote.test',
      to: [{ address: 'bob@example.org', user: 'bob@example.org' }],
      eightBit: false,
      smtpUtf8: false,
    });
    await writeFile(slot, Buffer.concat([envelope, Buffer.from('Subject: left over\r\n\r\nstill here\r\n')]));
    await queue.push('incoming', slot);
    await queue.close();

    const hook = await start();
    const messages = await pop(hook, 'alice@example.org');
    expect(messages).toHaveLength(1);
    expect(messages[0]).toContain(body);
    const bobs = await until('the left-over message', async () => {
      const got = await pop(hook, 'bob@example.org');
      return got.length > 0 ? got : undefined;
    });
    expect(bobs[0]).toMatch(/Subject: left over\r\n\r\nstill here$/);
  });

  it('fails to start cleanly when a listener cannot bind: nothing is left listening', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const busy = (taken.address() as { port: number }).port;
    const other = await tempDir();
    const doc = document() as { hooks: { mail: { config: Record<string, unknown> } } };
    doc.hooks.mail.config.pop3 = `127.0.0.1:${busy}`;
    delete doc.hooks.mail.config.ipc;
    const second = (await openHost(doc, other.dir)).host;
    try {
      const hook = second.hooks.get('mail') as MailHook;
      expect(hook.state).toBe('failed');
      expect(hook.listeners.smtp).toEqual([]);
    } finally {
      await second.close();
      await new Promise<void>((resolve) => taken.close(() => resolve()));
      await other.remove();
    }
  });
});

describe('the mail config', () => {
  it('reports mistakes by their place, and a role that needs another in the same process', async () => {
    const config = {
      domains: ['example.org'],
      roles: ['auth', 'pop3'],
      pop3: [{ address: 'nowhere', 'implicit-tls': true }],
      ipc: { tcp: { address: '127.0.0.1:7000', token: 'short' } },
      outbound: { backoff: { min: 10, max: 5 } },
    };
    const failure = await resolveConfig({ store: 'sqlite::memory:', hooks: { mail: { path: 'mail.MailHook', config } } }).catch(
      (error: Error) => error,
    );
    const lines = (failure as Error).message.split('\n');
    expect(lines).toEqual(
      expect.arrayContaining([
        'hooks.mail.config.pop3[0].address: invalid listen address "nowhere": expected host:port or [ipv6]:port',
        'hooks.mail.config.pop3[0].implicit-tls: implicit-tls needs tls (cert and key)',
        'hooks.mail.config.ipc.tcp.token: the IPC token must be at least 16 characters',
        'hooks.mail.config.outbound.backoff.max: backoff.max must not be smaller than backoff.min',
        'hooks.mail.config.roles: role "pop3" needs "mailbox" in the same process (a POP3 session\'s lock and numbering are not on the IPC wire)',
      ]),
    );
  });

  it('fills in the defaults', async () => {
    const resolved = await resolveConfig(
      { store: 'sqlite::memory:', hooks: { mail: { path: 'mail.MailHook', config: { domains: ['Example.ORG.'], roles: ['auth'] } } } },
      { baseDir: '/srv/porter' },
    );
    expect(resolved.hooks[0]!.config).toMatchObject({
      domains: ['example.org'],
      spool: 'spool',
      mailboxes: 'mail',
      pop3: [],
      outbound: { backoff: { min: 300, max: 4000 }, lifetime: 432_000 },
    });
  });
});

describe('QueueWorker', () => {
  it('gives a failed message back after a backoff and acknowledges it once handled', async () => {
    const { dir: spool, remove } = await tempDir();
    const queue = await MailQueue.open({ dir: spool, queues: ['incoming'] });
    const { logging, records } = captureLogging();
    const attempts: number[] = [];
    const worker = new QueueWorker({
      queue,
      name: 'incoming',
      log: logging.get('test.worker'),
      minBackoffMs: 50,
      handle: async (_path, done) => {
        attempts.push(Date.now());
        if (!done.has('first')) done.add('first');
        if (attempts.length < 3) throw new Error('disk full');
        expect(done).toEqual(new Set(['first']));
      },
    });
    try {
      worker.start();
      const slot = queue.slot('incoming');
      await writeFile(slot, 'x');
      await queue.push('incoming', slot);
      await until('three attempts', async () => (attempts.length >= 3 && queue.stats('incoming').leased === 0 ? true : undefined), 5_000);
      expect(queue.stats('incoming')).toMatchObject({ ready: 0, leased: 0 });
      expect(attempts[2]! - attempts[1]!).toBeGreaterThanOrEqual(90);
      expect(records.filter((r) => r.msg.startsWith('handling a queued message failed'))).toHaveLength(2);
    } finally {
      await worker.stop();
      await queue.close();
      await remove();
    }
  });
});
