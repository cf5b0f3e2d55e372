// The SMTP receiver against real clients (swaks) and raw sockets, over the real MailQueue on a temporary spool.
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MailQueue } from '../../src/mail/queue/index.js';
import {
  type BoundListener,
  type ListenerMode,
  MessageFilter,
  readSpooled,
  type SmtpInConfigInput,
  SmtpReceiver,
  type Spool,
  smtpInConfigSchema,
  type Users,
} from '../../src/mail/smtp-in/index.js';
import { ensureMailTools, SMTP_SOURCE_PATH, swaks } from '../peers/mail-tools.js';

const run = promisify(execFile);
const MAX_SIZE = 64 * 1024;
const MAX_RCPTS = 5;

/** Users in memory: alice and bob of example.org, known by their local part. */
class TestUsers implements Users {
  readonly #passwords = new Map([
    ['alice', 'alice-secret'],
    ['bob', 'bob-secret'],
    ...Array.from({ length: MAX_RCPTS + 1 }, (_, i): [string, string] => [`user${i}`, `user${i}-secret`]),
  ]);

  async verify(name: string): Promise<boolean> {
    return this.#passwords.has(name.toLowerCase());
  }

  async authenticate(name: string, password: string): Promise<string | undefined> {
    const user = name.toLowerCase();
    return this.#passwords.get(user) === password ? user : undefined;
  }
}

/** Collects the receiver's log records. */
function memoryLog(): { log: pino.Logger; records: Record<string, unknown>[] } {
  const records: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line) records.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: 'info' }, sink), records };
}

/** A raw SMTP client: write lines, read whole replies (multi-line ones joined). */
class RawClient {
  readonly socket: Socket;
  #buffer = '';
  readonly #lines: string[] = [];
  #wake: (() => void) | undefined;
  closed = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setEncoding('latin1');
    socket.on('data', (data: string) => {
      this.#buffer += data;
      let at = this.#buffer.indexOf('\r\n');
      while (at >= 0) {
        this.#lines.push(this.#buffer.slice(0, at));
        this.#buffer = this.#buffer.slice(at + 2);
        at = this.#buffer.indexOf('\r\n');
      }
      this.#wake?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.#wake?.();
    });
    socket.on('error', () => {});
  }

  static async open(port: number): Promise<RawClient> {
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((done, fail) => {
      socket.once('connect', done);
      socket.once('error', fail);
    });
    return new RawClient(socket);
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** The next reply: its lines joined by newlines, e.g. `250-a\n250 b`. */
  async reply(timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    const lines: string[] = [];
    for (;;) {
      const line = this.#lines.shift();
      if (line !== undefined) {
        lines.push(line);
        if (line[3] !== '-') return lines.join('\n');
        continue;
      }
      if (this.closed) throw new Error(`connection closed; got ${JSON.stringify(lines)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no reply within ${timeoutMs} ms; got ${JSON.stringify(lines)}`);
      await new Promise<void>((done) => {
        const timer = setTimeout(done, left);
        this.#wake = () => {
          clearTimeout(timer);
          done();
        };
      });
      this.#wake = undefined;
    }
  }

  async command(line: string): Promise<string> {
    this.write(`${line}\r\n`);
    return this.reply();
  }

  /** Greeting, EHLO (or LHLO), MAIL FROM: ready for RCPT. */
  async start(from = 'carol@remote.test', hello = 'EHLO client.test'): Promise<void> {
    expect(await this.reply()).toMatch(/^220 /);
    expect(await this.command(hello)).toMatch(/^250 /m);
    expect(await this.command(`MAIL FROM:<${from}>`)).toMatch(/^250 /);
  }

  close(): void {
    this.socket.destroy();
  }
}

let dir: string;
let queue: MailQueue;
let receiver: SmtpReceiver;
let logRecords: Record<string, unknown>[];
let certFile: string;
let keyFile: string;

function port(mode: ListenerMode, starttls?: boolean): number {
  const found = receiver.listeners.find((l: BoundListener) => l.mode === mode && (starttls === undefined || l.starttls === starttls));
  if (!found) throw new Error(`no ${mode} listener`);
  return found.port;
}

async function queued(name: string): Promise<string[]> {
  return (await readdir(join(dir, 'spool', name, 'new'))).sort().map((file) => join(dir, 'spool', name, 'new', file));
}

async function slotsLeft(): Promise<number> {
  let n = 0;
  for (const name of ['incoming', 'outgoing']) n += (await readdir(join(dir, 'spool', name, 'tmp'))).length;
  return n;
}

function config(extra: Partial<SmtpInConfigInput> = {}): SmtpInConfigInput {
  return {
    hostname: 'mx.example.org',
    domains: ['example.org'],
    listeners: [
      { address: '127.0.0.1:0', mode: 'smtp' },
      { address: '127.0.0.1:0', mode: 'submission', tls: { cert: certFile, key: keyFile } },
      { address: '127.0.0.1:0', mode: 'lmtp' },
      { address: '127.0.0.1:0', mode: 'submission', 'allow-insecure-auth': true },
    ],
    'max-message-size': MAX_SIZE,
    'max-recipients': MAX_RCPTS,
    ...extra,
  };
}

const swaksTo = (mode: ListenerMode, args: readonly string[], starttls?: boolean) =>
  swaks(['--server', '127.0.0.1', '--port', String(port(mode, starttls)), '--helo', 'client.test', ...args]);

beforeAll(async () => {
  await ensureMailTools();
  dir = await mkdtemp(join(tmpdir(), 'porter-smtp-in-'));
  certFile = join(dir, 'cert.pem');
  keyFile = join(dir, 'key.pem');
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    keyFile,
    '-out',
    certFile,
    '-days',
    '1',
    '-subj',
    '/CN=mx.example.org',
  ]);
  // holdBytes 0: every push writes its file in new/ before the 250, so the tests can read what
  // was queued there (with the default, a message pushed in-process may live only in the journal
  // and in memory until it is popped; test/mail/queue.test.ts covers that).
  queue = await MailQueue.open({ dir: join(dir, 'spool'), queues: ['incoming', 'outgoing'], holdBytes: 0 });
  const { log, records } = memoryLog();
  logRecords = records;
  receiver = new SmtpReceiver({ config: smtpInConfigSchema.parse(config()), spool: queue, users: new TestUsers(), log });
  await receiver.open();
});

afterAll(async () => {
  await receiver?.close();
  await queue?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('SmtpReceiver with swaks', () => {
  it('takes a message for a local user into the incoming queue, and answers 250 with the queue id', async () => {
    const before = (await queued('incoming')).length;
    const result = await swaksTo('smtp', ['--from', 'carol@remote.test', '--to', 'alice@example.org', '--body', 'hello alice']);
    expect(result.code, result.output).toBe(0);
    const files = await queued('incoming');
    expect(files.length).toBe(before + 1);
    const last = files.at(-1)!;
    expect(result.output).toContain(`250 2.0.0 Ok: queued as ${last.split('/').at(-1)}`);
    const { envelope, message } = await readSpooled(last);
    expect(envelope.from).toBe('carol@remote.test');
    expect(envelope.to).toEqual([{ address: 'alice@example.org', user: 'alice' }]);
    expect(envelope.client).toBe('127.0.0.1');
    const text = message.toString();
    expect(text).toMatch(/^Received: from client\.test \(\[127\.0\.0\.1\]\)\r\n\tby mx\.example\.org \(porter\) with ESMTP id /);
    expect(text).toContain('hello alice');
    expect(text).not.toMatch(/[^\r]\n/);
    const line = logRecords.find((r) => r.msg === 'message queued' && r.id === envelope.id);
    expect(line).toMatchObject({ level: 30, from: 'carol@remote.test', rcpts: 1 });
    expect(line?.size).toBeGreaterThan(0);
  });

  it('refuses an unknown local user with 550 5.1.1', async () => {
    const result = await swaksTo('smtp', ['--from', 'carol@remote.test', '--to', 'nobody@example.org']);
    expect(result.code).not.toBe(0);
    expect(result.output).toMatch(/<\*\* 550 5\.1\.1 <nobody@example\.org>/);
  });

  it('is not an open relay: another domain is refused without authentication', async () => {
    const before = (await queued('outgoing')).length;
    const smtp = await swaksTo('smtp', ['--from', 'carol@remote.test', '--to', 'dave@elsewhere.test']);
    expect(smtp.code).not.toBe(0);
    expect(smtp.output).toMatch(/<\*\* 554 5\.7\.1 <dave@elsewhere\.test>: Relay access denied/);
    // Even with a local sender, and on the submission port without AUTH.
    const local = await swaksTo('smtp', ['--from', 'alice@example.org', '--to', 'dave@elsewhere.test']);
    expect(local.output).toMatch(/554 5\.7\.1/);
    const submission = await swaksTo('submission', ['-tls', '--from', 'alice@example.org', '--to', 'dave@elsewhere.test'], true);
    expect(submission.code).not.toBe(0);
    expect(submission.output).toMatch(/<~\* 530 5\.7\.0 Authentication required/);
    expect((await queued('outgoing')).length).toBe(before);
  });

  for (const method of ['PLAIN', 'LOGIN']) {
    it(`relays for a user authenticated with AUTH ${method} after STARTTLS (self-signed certificate)`, async () => {
      const before = (await queued('outgoing')).length;
      const result = await swaksTo(
        'submission',
        [
          '-tls',
          '--auth',
          method,
          '--auth-user',
          'alice',
          '--auth-password',
          'alice-secret',
          '--from',
          'alice@example.org',
          '--to',
          'dave@elsewhere.test',
        ],
        true,
      );
      expect(result.code, result.output).toBe(0);
      expect(result.output).toMatch(/<~ {2}235 /);
      expect(result.output).toMatch(/TLS started with cipher TLSv1\.[23]/);
      const files = await queued('outgoing');
      expect(files.length).toBe(before + 1);
      const { envelope, message } = await readSpooled(files.at(-1)!);
      expect(envelope.auth).toBe('alice');
      expect(envelope.to).toEqual([{ address: 'dave@elsewhere.test' }]);
      expect(message.toString()).toMatch(/with ESMTPSA id/);
    });
  }

  it('takes AUTH without TLS on a loopback submission listener with allow-insecure-auth', async () => {
    const result = await swaksTo(
      'submission',
      [
        '--auth',
        'PLAIN',
        '--auth-user',
        'bob',
        '--auth-password',
        'bob-secret',
        '--from',
        'bob@example.org',
        '--to',
        'dave@elsewhere.test',
      ],
      false,
    );
    expect(result.code, result.output).toBe(0);
    expect(result.output).toMatch(/<- {2}235 /);
    expect(result.output).not.toContain('STARTTLS');
    const { envelope } = await readSpooled((await queued('outgoing')).at(-1)!);
    expect(envelope.auth).toBe('bob');
  });

  it('refuses a wrong password with 535', async () => {
    const result = await swaksTo(
      'submission',
      [
        '-tls',
        '--auth',
        'PLAIN',
        '--auth-user',
        'alice',
        '--auth-password',
        'wrong',
        '--from',
        'alice@example.org',
        '--to',
        'dave@elsewhere.test',
      ],
      true,
    );
    expect(result.code).not.toBe(0);
    expect(result.output).toMatch(/<~\* 535 5\.7\.8/);
  });

  it('speaks PIPELINING, and advertises 8BITMIME, SMTPUTF8 and SIZE', async () => {
    const result = await swaksTo('smtp', ['--pipeline', '--from', 'carol@remote.test', '--to', 'alice@example.org,bob@example.org']);
    expect(result.code, result.output).toBe(0);
    for (const feature of ['PIPELINING', '8BITMIME', 'SMTPUTF8', `SIZE ${MAX_SIZE}`])
      expect(result.output).toMatch(new RegExp(`250[- ]${feature}\r?\n`));
    expect(result.output).not.toContain('AUTH');
    expect(result.output).toMatch(/250 2\.0\.0 Ok: queued as/);
    const { envelope } = await readSpooled((await queued('incoming')).at(-1)!);
    expect(envelope.to.map((r) => r.user)).toEqual(['alice', 'bob']);
  });

  it('delivers over LMTP with one reply per recipient', async () => {
    const result = await swaks([
      '--server',
      '127.0.0.1',
      '--port',
      String(port('lmtp')),
      '--protocol',
      'LMTP',
      '--from',
      'carol@remote.test',
      '--to',
      'alice@example.org,bob@example.org',
    ]);
    expect(result.code, result.output).toBe(0);
    expect(result.output.match(/<- {2}250 2\.0\.0 Ok: queued as/g)?.length).toBe(2);
  });
});

describe('SmtpReceiver under load', () => {
  it('queues every message of a burst from smtp-source', async () => {
    const before = (await queued('incoming')).length;
    await run(SMTP_SOURCE_PATH, [
      '-l',
      '1024',
      '-m',
      '300',
      '-s',
      '10',
      '-d',
      '-f',
      'carol@remote.test',
      '-t',
      'alice@example.org',
      `127.0.0.1:${port('smtp')}`,
    ]);
    expect((await queued('incoming')).length).toBe(before + 300);
    expect(await slotsLeft()).toBe(0);
  });
});

describe('SmtpReceiver on raw sockets', () => {
  it('greets at once, without the 100 ms early-talker wait', async () => {
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      const client = await RawClient.open(port('smtp'));
      expect(await client.reply()).toMatch(/^220 mx\.example\.org ESMTP porter/);
      times.push(performance.now() - started);
      client.close();
    }
    times.sort((a, b) => a - b);
    expect(times[2]).toBeLessThan(50);
  });

  it('refuses an open relay and an unknown user at RCPT', async () => {
    const client = await RawClient.open(port('smtp'));
    await client.start();
    expect(await client.command('RCPT TO:<dave@elsewhere.test>')).toMatch(/^554 5\.7\.1 /);
    expect(await client.command('RCPT TO:<nobody@example.org>')).toMatch(/^550 5\.1\.1 /);
    expect(await client.command('RCPT TO:<Alice@Example.ORG>')).toMatch(/^250 /);
    expect(await client.command('AUTH PLAIN AGFsaWNlAGFsaWNlLXNlY3JldA==')).toMatch(/^50[02] /);
    client.close();
  });

  it('refuses AUTH before STARTTLS on submission', async () => {
    const client = await RawClient.open(port('submission', true));
    expect(await client.reply()).toMatch(/^220 /);
    const ehlo = await client.command('EHLO client.test');
    expect(ehlo).toContain('STARTTLS');
    expect(await client.command('AUTH PLAIN AGFsaWNlAGFsaWNlLXNlY3JldA==')).toMatch(/^538 /);
    client.close();
  });

  it('answers 452 to recipients beyond the limit', async () => {
    const client = await RawClient.open(port('smtp'));
    await client.start();
    for (let i = 0; i < MAX_RCPTS; i++) expect(await client.command(`RCPT TO:<user${i}@example.org>`)).toMatch(/^250 /);
    expect(await client.command(`RCPT TO:<user${MAX_RCPTS}@example.org>`)).toMatch(/^452 /);
    // A repeated address is the same recipient, not one more.
    expect(await client.command('RCPT TO:<user0@example.org>')).toMatch(/^250 /);
    client.close();
  });

  it('refuses a message over SIZE counted on the stream with 552, and stores nothing', async () => {
    const before = (await queued('incoming')).length;
    const client = await RawClient.open(port('smtp'));
    await client.start();
    expect(await client.command('RCPT TO:<alice@example.org>')).toMatch(/^250 /);
    expect(await client.command('DATA')).toMatch(/^354 /);
    const line = `${'x'.repeat(70)}\r\n`;
    client.write(`Subject: big\r\n\r\n${line.repeat(Math.ceil((MAX_SIZE * 2) / line.length))}.\r\n`);
    expect(await client.reply()).toMatch(/^552 5\.3\.4 /);
    // The session goes on.
    expect(await client.command('RSET')).toMatch(/^250 /);
    expect(await client.command('MAIL FROM:<carol@remote.test> SIZE=999999999')).toMatch(/^552 /);
    client.close();
    expect((await queued('incoming')).length).toBe(before);
    expect(await slotsLeft()).toBe(0);
  });

  it('refuses NUL bytes and over-long lines with 554 5.6.0, and stores nothing', async () => {
    const before = (await queued('incoming')).length;
    const client = await RawClient.open(port('smtp'));
    await client.start();
    expect(await client.command('RCPT TO:<alice@example.org>')).toMatch(/^250 /);
    expect(await client.command('DATA')).toMatch(/^354 /);
    client.write(Buffer.from('Subject: nul\r\n\r\nbefore\0after\r\n.\r\n', 'latin1'));
    expect(await client.reply()).toMatch(/^554 5\.6\.0 Message contains NUL bytes/);
    expect(await client.command('MAIL FROM:<carol@remote.test>')).toMatch(/^250 /);
    expect(await client.command('RCPT TO:<alice@example.org>')).toMatch(/^250 /);
    expect(await client.command('DATA')).toMatch(/^354 /);
    client.write(`Subject: long\r\n\r\n${'y'.repeat(999)}\r\n.\r\n`);
    expect(await client.reply()).toMatch(/^554 5\.6\.0 Message has a line longer than 998 octets/);
    client.close();
    expect((await queued('incoming')).length).toBe(before);
    expect(await slotsLeft()).toBe(0);
  });

  it('stores bare LF and lone CR as CRLF, and keeps 8-bit and UTF-8 bytes (8BITMIME, SMTPUTF8)', async () => {
    const client = await RawClient.open(port('smtp'));
    expect(await client.reply()).toMatch(/^220 /);
    client.socket.setEncoding('utf8');
    expect(await client.command('EHLO client.test')).toMatch(/^250 /m);
    expect(await client.command('MAIL FROM:<jürgen@bücher.test> BODY=8BITMIME SMTPUTF8')).toMatch(/^250 /);
    expect(await client.command('RCPT TO:<alice@example.org>')).toMatch(/^250 /);
    expect(await client.command('DATA')).toMatch(/^354 /);
    client.write(Buffer.from('Subject: Grüße\nX-A: 1\rX-B: 2\r\n\r\nÄpfel und Birnen\n.\n', 'utf8'));
    // A bare-LF dot does not end the data (only CRLF.CRLF does: no SMTP smuggling); it is a line of the message.
    await expect(client.reply(300)).rejects.toThrow(/no reply/);
    client.write('end\r\n.\r\n');
    const reply = await client.reply();
    expect(reply).toMatch(/^250 2\.0\.0 Ok: queued as /);
    client.close();
    const { envelope, message } = await readSpooled((await queued('incoming')).at(-1)!);
    expect(envelope).toMatchObject({ from: 'jürgen@bücher.test', eightBit: true, smtpUtf8: true });
    const body = message.toString('utf8');
    expect(body).toContain('Subject: Grüße\r\nX-A: 1\r\nX-B: 2\r\n\r\nÄpfel und Birnen\r\n.\r\nend\r\n');
  });
});

describe('SmtpReceiver and the queue', () => {
  it('answers 250 only after push has resolved', async () => {
    const events: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((done) => {
      release = done;
    });
    const slow: Spool = {
      slot: (name) => queue.slot(name),
      async push(name, slot) {
        events.push('push started');
        await gate;
        const path = await queue.push(name, slot);
        events.push('push resolved');
        return path;
      },
    };
    const slowReceiver = new SmtpReceiver({
      config: smtpInConfigSchema.parse({ ...config(), listeners: [{ address: '127.0.0.1:0' }] }),
      spool: slow,
      users: new TestUsers(),
    });
    await slowReceiver.open();
    try {
      const client = await RawClient.open(slowReceiver.listeners[0]!.port);
      await client.start();
      expect(await client.command('RCPT TO:<bob@example.org>')).toMatch(/^250 /);
      expect(await client.command('DATA')).toMatch(/^354 /);
      client.write('Subject: wait\r\n\r\nfor the disk\r\n.\r\n');
      await expect(client.reply(400)).rejects.toThrow(/no reply/);
      expect(events).toEqual(['push started']);
      const replied = client.reply().then((reply) => {
        events.push('250 received');
        return reply;
      });
      release();
      expect(await replied).toMatch(/^250 2\.0\.0 Ok: queued as /);
      expect(events).toEqual(['push started', 'push resolved', '250 received']);
      client.close();
    } finally {
      release();
      await slowReceiver.close();
    }
  });

  it('closes gracefully: idle sessions get 421, a message under way is finished first', async () => {
    let release!: () => void;
    const gate = new Promise<void>((done) => {
      release = done;
    });
    let pushing!: () => void;
    const pushStarted = new Promise<void>((done) => {
      pushing = done;
    });
    const slow: Spool = {
      slot: (name) => queue.slot(name),
      async push(name, slot) {
        pushing();
        await gate;
        return queue.push(name, slot);
      },
    };
    const closing = new SmtpReceiver({
      config: smtpInConfigSchema.parse({ ...config(), listeners: [{ address: '127.0.0.1:0' }] }),
      spool: slow,
      users: new TestUsers(),
    });
    await closing.open();
    const listenPort = closing.listeners[0]!.port;
    const idle = await RawClient.open(listenPort);
    expect(await idle.reply()).toMatch(/^220 /);
    const busy = await RawClient.open(listenPort);
    await busy.start();
    expect(await busy.command('RCPT TO:<bob@example.org>')).toMatch(/^250 /);
    expect(await busy.command('DATA')).toMatch(/^354 /);
    busy.write('Subject: last\r\n\r\nbefore closing\r\n.\r\n');
    await pushStarted;
    const closed = closing.close();
    expect(await idle.reply()).toMatch(/^421 /);
    release();
    expect(await busy.reply()).toMatch(/^250 2\.0\.0 Ok: queued as /);
    await closed;
    await expect(RawClient.open(listenPort)).rejects.toThrow();
  });
});

describe('MessageFilter', () => {
  async function filter(chunks: readonly string[], maxLineLength = 998): Promise<{ out: string; problem: string | undefined }> {
    const f = new MessageFilter({ maxBytes: 1_000_000, maxLineLength });
    const out: Buffer[] = [];
    f.on('data', (chunk: Buffer) => out.push(chunk));
    const ended = new Promise((done) => f.on('end', done));
    for (const chunk of chunks) f.write(Buffer.from(chunk, 'latin1'));
    f.end();
    await ended;
    return { out: Buffer.concat(out).toString('latin1'), problem: f.problem?.kind };
  }

  it('makes every line end CRLF, across chunk boundaries', async () => {
    expect(await filter(['a\r', '\nb\n', 'c\r', 'd\r\n'])).toEqual({ out: 'a\r\nb\r\nc\r\nd\r\n', problem: undefined });
    expect(await filter(['a\r\r\n\n\r'])).toEqual({ out: 'a\r\n\r\n\r\n\r\n', problem: undefined });
  });

  it('counts line length across chunks', async () => {
    expect((await filter(['abc', 'def\r\n'], 6)).problem).toBeUndefined();
    expect((await filter(['abc', 'defg\r\n'], 6)).problem).toBe('line');
    expect((await filter(['abc\0'])).problem).toBe('nul');
  });
});

describe('smtpInConfigSchema', () => {
  it('refuses cleartext AUTH off loopback and a submission listener without TLS', () => {
    const bad = smtpInConfigSchema.safeParse({
      domains: ['example.org'],
      listeners: [
        { address: '0.0.0.0:587', mode: 'submission', 'allow-insecure-auth': true },
        { address: '0.0.0.0:588', mode: 'submission' },
        { address: 'nonsense', mode: 'smtp' },
      ],
    });
    expect(bad.success).toBe(false);
    const messages = bad.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`) ?? [];
    expect(messages).toEqual(
      expect.arrayContaining([
        'listeners.0.allow-insecure-auth: only on a loopback address, not 0.0.0.0',
        expect.stringMatching(/^listeners\.1\.tls: a submission listener needs tls/),
        expect.stringMatching(/^listeners\.2\.address: invalid listen address/),
      ]),
    );
  });
});

describe('sender-bcc', () => {
  it('copies what an authenticated sender submits to the configured address, blind, and not what others send as them', async () => {
    const bccDir = await mkdtemp(join(tmpdir(), 'porter-smtp-bcc-'));
    const spool = await MailQueue.open({ dir: join(bccDir, 'spool'), queues: ['incoming', 'outgoing'], holdBytes: 0 });
    const bccReceiver = new SmtpReceiver({
      config: smtpInConfigSchema.parse(
        config({
          listeners: [
            { address: '127.0.0.1:0', mode: 'smtp' },
            { address: '127.0.0.1:0', mode: 'submission', 'allow-insecure-auth': true },
          ],
          'sender-bcc': { 'bob@example.org': 'alice@example.org' },
        }),
      ),
      spool,
      users: new TestUsers(),
    });
    await bccReceiver.open();
    const portOf = (mode: ListenerMode) => bccReceiver.listeners.find((l: BoundListener) => l.mode === mode)?.port as number;
    const inQueue = async (name: string) =>
      Promise.all((await readdir(join(bccDir, 'spool', name, 'new'))).map((f) => readSpooled(join(bccDir, 'spool', name, 'new', f))));
    try {
      const submitted = await swaks([
        ...['--server', '127.0.0.1', '--port', String(portOf('submission')), '--helo', 'client.test'],
        ...['--auth', 'PLAIN', '--auth-user', 'bob', '--auth-password', 'bob-secret'],
        ...['--from', 'bob@example.org', '--to', 'dave@elsewhere.test', '--header', 'Subject: to dave'],
      ]);
      expect(submitted.code, submitted.output).toBe(0);
      // Not authenticated, with bob's address as sender: no copy.
      const forged = await swaks([
        ...['--server', '127.0.0.1', '--port', String(portOf('smtp')), '--helo', 'client.test'],
        ...['--from', 'bob@example.org', '--to', 'user1@example.org', '--header', 'Subject: forged'],
      ]);
      expect(forged.code, forged.output).toBe(0);
      const outgoing = await inQueue('outgoing');
      expect(outgoing.map((m) => m.envelope.to.map((r) => r.address))).toEqual([['dave@elsewhere.test']]);
      const incoming = await inQueue('incoming');
      const rcpts = incoming.map((m) => m.envelope.to.map((r) => r.address)).sort();
      expect(rcpts).toEqual([['alice@example.org'], ['user1@example.org']]);
      const copy = incoming.find((m) => m.envelope.to[0]?.address === 'alice@example.org');
      expect(copy?.message.toString()).toContain('Subject: to dave');
      expect(copy?.message.toString()).not.toMatch(/^(To|Cc|Bcc):.*alice/im); // blind: the headers are the sender's
    } finally {
      await bccReceiver.close();
      await spool.close();
      await rm(bccDir, { recursive: true, force: true });
    }
  });
});
