// SMTP out's own client on the wire, against smtp-server (a full SMTP server implementation) and smtp-sink: pipelining, reuse, dot-stuffing, EHLO/HELO, STARTTLS, AUTH, SIZE, SMTPUTF8, per-recipient replies, hold.
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MailQueue } from '../../src/mail/queue/index.js';
import { formatEnvelope } from '../../src/mail/smtp-in/envelope.js';
import { type DeliveryEvent, dataBytes, SmtpSender, type SmtpSenderOptions } from '../../src/mail/smtp-out/index.js';
import { until } from '../helpers/wait.js';

const run = promisify(execFile);

interface Received {
  readonly from: string;
  readonly to: readonly string[];
  readonly data: Buffer;
  readonly secure: boolean;
  readonly user: string | undefined;
  readonly session: string;
}

/** A real SMTP server on 127.0.0.1:0 that keeps what it receives, and counts connections. */
async function server(
  options: Partial<SMTPServerOptions> & { rcpt?: (address: string) => { code: number; message: string } | undefined } = {},
): Promise<{ port: number; received: Received[]; connections: () => number; close: () => Promise<void> }> {
  const received: Received[] = [];
  let connections = 0;
  const { rcpt, ...rest } = options;
  const smtp = new SMTPServer({
    logger: false,
    disableReverseLookup: true,
    authOptional: true,
    ...rest,
    onConnect(_session, callback) {
      connections++;
      callback();
    },
    onRcptTo(address, _session, callback) {
      const refusal = rcpt?.(address.address);
      if (refusal) callback(Object.assign(new Error(refusal.message), { responseCode: refusal.code }));
      else callback();
    },
    onData(stream, session: SMTPServerSession, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          data: Buffer.concat(chunks),
          secure: session.secure,
          user: session.user as string | undefined,
          session: session.id,
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  const port = (smtp.server.address() as { port: number }).port;
  return {
    port,
    received,
    connections: () => connections,
    close: () => new Promise<void>((resolve) => smtp.close(() => resolve())),
  };
}

const MESSAGE = ['From: alice@good.test', 'To: bob@good.test', 'Subject: client test', '', 'Hello.', ''].join('\r\n');

let dir: string;
let cert: { cert: Buffer; key: Buffer };
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  const certDir = await mkdtemp(join(tmpdir(), 'porter-smtp-out-cert-'));
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=localhost',
    '-days',
    '2',
    '-keyout',
    join(certDir, 'key.pem'),
    '-out',
    join(certDir, 'cert.pem'),
  ]);
  cert = { cert: await readFile(join(certDir, 'cert.pem')), key: await readFile(join(certDir, 'key.pem')) };
  await rm(certDir, { recursive: true, force: true });
}, 60_000);

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'porter-smtp-out-client-'));
  await chmod(dir, 0o755);
});

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  await rm(dir, { recursive: true, force: true });
});

async function open(options: Partial<SmtpSenderOptions>): Promise<{ sender: SmtpSender; events: DeliveryEvent[] }> {
  const events: DeliveryEvent[] = [];
  const sender = new SmtpSender({
    dir: join(dir, 'out'),
    hostname: 'porter.test',
    minimalBackoffMs: 100,
    maximalBackoffMs: 200,
    socketTimeoutMs: 5_000,
    closeTimeoutMs: 2_000,
    onEvent: (event) => events.push(event),
    ...options,
  });
  await sender.start();
  closers.push(() => sender.close());
  return { sender, events };
}

async function peer(options: Parameters<typeof server>[0] = {}): ReturnType<typeof server> {
  const s = await server(options);
  closers.push(s.close);
  return s;
}

const done = (events: DeliveryEvent[], n: number) => until(() => events.filter((e) => e.type === 'done').length >= n, 15_000);

describe('dataBytes', () => {
  it('ends lines with CRLF, doubles leading dots, and leaves clean messages alone', () => {
    const clean = Buffer.from('a\r\nb\r\n');
    expect(dataBytes(clean)).toBe(clean);
    expect(dataBytes(Buffer.from('.a\n..b\r\nc\rd')).toString()).toBe('..a\r\n...b\r\nc\r\nd\r\n');
    expect(dataBytes(Buffer.from('x\r\n.\r\n')).toString()).toBe('x\r\n..\r\n');
  });
});

describe('SMTP out on the wire', () => {
  it('sends many messages over few reused connections, pipelined, each arriving whole', async () => {
    const smtp = await peer();
    const { sender, events } = await open({ smarthost: { host: '127.0.0.1', port: smtp.port }, connectionsPerDestination: 2 });
    const n = 60;
    await Promise.all(
      Array.from({ length: n }, (_, i) => sender.enqueue('alice@good.test', [`u${i}@good.test`], `${MESSAGE}message ${i}\r\n`)),
    );
    await done(events, n);
    expect(smtp.received).toHaveLength(n);
    expect(smtp.connections()).toBeLessThanOrEqual(2);
    for (let i = 0; i < n; i++) {
      const got = smtp.received.find((r) => r.to[0] === `u${i}@good.test`)!;
      expect(got.data.toString()).toBe(`${MESSAGE}message ${i}\r\n`);
      expect(got.from).toBe('alice@good.test');
    }
  });

  it('turns bare line ends into CRLF and dot-stuffs, so the server gets the lines as they were', async () => {
    const smtp = await peer();
    const { sender, events } = await open({ smarthost: { host: '127.0.0.1', port: smtp.port } });
    await sender.enqueue('alice@good.test', ['bob@good.test'], 'Subject: dots\n\n.\n..two\n.three\nlast');
    await done(events, 1);
    expect(smtp.received[0]!.data.toString()).toBe('Subject: dots\r\n\r\n.\r\n..two\r\n.three\r\nlast\r\n');
  });

  it('works without PIPELINING, and falls back to HELO when EHLO is refused', async () => {
    const plain = await peer({ hidePIPELINING: true });
    const old = await peer({ disabledCommands: ['EHLO'] });
    const first = await open({ smarthost: { host: '127.0.0.1', port: plain.port } });
    await Promise.all([1, 2, 3].map((i) => first.sender.enqueue('alice@good.test', [`u${i}@good.test`], MESSAGE)));
    await done(first.events, 3);
    expect(plain.received).toHaveLength(3);
    await first.sender.close();
    const second = await open({ dir: join(dir, 'out2'), smarthost: { host: '127.0.0.1', port: old.port } });
    await second.sender.enqueue('alice@good.test', ['bob@good.test'], MESSAGE);
    await done(second.events, 1);
    expect(old.received).toHaveLength(1);
  });

  it('uses STARTTLS when offered, without checking the certificate of an MX host', async () => {
    const smtp = await peer({ ...cert });
    const { sender, events } = await open({
      mxPort: smtp.port,
      resolver: {
        resolveMx: async () => [{ exchange: 'mx.good.test', priority: 10 }],
        resolve4: async () => ['127.0.0.1'],
        resolve6: async () => Promise.reject(Object.assign(new Error('ENODATA'), { code: 'ENODATA' })),
      },
    });
    await sender.enqueue('alice@good.test', ['bob@good.test'], MESSAGE);
    await done(events, 1);
    expect(smtp.received[0]!.secure).toBe(true);
  });

  for (const method of ['PLAIN', 'LOGIN'] as const) {
    it(`logs in to a smarthost with AUTH ${method} after the required STARTTLS`, async () => {
      const smtp = await peer({
        ...cert,
        authMethods: [method],
        authOptional: false,
        onAuth(auth, _session, callback) {
          if (auth.username === 'relay-user' && auth.password === 'relay pass') callback(null, { user: auth.username });
          else callback(Object.assign(new Error('bad login'), { responseCode: 535 }));
        },
      });
      const { sender, events } = await open({
        smarthost: {
          host: '127.0.0.1',
          port: smtp.port,
          requireTLS: true,
          auth: { user: 'relay-user', pass: 'relay pass' },
          tls: { rejectUnauthorized: false },
        },
      });
      await sender.enqueue('alice@good.test', ['bob@good.test'], MESSAGE);
      await done(events, 1);
      expect(smtp.received[0]).toMatchObject({ user: 'relay-user', secure: true });
    });
  }

  it('defers when the smarthost refuses the login, and when it does not offer the required STARTTLS', async () => {
    const smtp = await peer({ ...cert, authMethods: ['PLAIN'], authOptional: false, onAuth: (_a, _s, cb) => cb(new Error('no')) });
    const plain = await peer({ hideSTARTTLS: true });
    const first = await open({
      smarthost: { host: '127.0.0.1', port: smtp.port, auth: { user: 'u', pass: 'p' }, tls: { rejectUnauthorized: false } },
    });
    await first.sender.enqueue('alice@good.test', ['bob@good.test'], MESSAGE);
    await until(() => first.events.some((e) => e.type === 'deferred'), 10_000);
    expect(first.events.find((e) => e.type === 'deferred')).toMatchObject({ diagnostic: expect.stringMatching(/535/) });
    await first.sender.close();
    const second = await open({ dir: join(dir, 'out2'), smarthost: { host: '127.0.0.1', port: plain.port, requireTLS: true } });
    await second.sender.enqueue('alice@good.test', ['bob@good.test'], MESSAGE);
    await until(() => second.events.some((e) => e.type === 'deferred'), 10_000);
    expect(second.events.find((e) => e.type === 'deferred')).toMatchObject({ diagnostic: expect.stringMatching(/STARTTLS/) });
    expect(plain.received).toEqual([]);
  });

  it('bounces at once what is too big for the server (SIZE) or needs SMTPUTF8 it does not offer', async () => {
    const small = await peer({ size: 100, hideSMTPUTF8: true });
    const bounces: string[] = [];
    const { sender, events } = await open({
      smarthost: { host: '127.0.0.1', port: small.port },
      bounce: async (_to, message) => void bounces.push(message.toString()),
    });
    await sender.enqueue('alice@good.test', ['bob@good.test'], `${MESSAGE}${'x'.repeat(200)}\r\n`);
    await sender.enqueue('alice@good.test', ['jörg@good.test'], MESSAGE);
    await done(events, 2);
    const failed = events.filter((e) => e.type === 'failed');
    expect(failed.map((e) => e.status).sort()).toEqual(['5.3.4', '5.6.7']);
    expect(bounces).toHaveLength(2);
    expect(small.received).toEqual([]);
  });

  it('keeps each recipient’s own reply: one delivered, one bounced, one deferred and then delivered', async () => {
    let soft = true;
    const smtp = await peer({
      rcpt: (address) => {
        if (address === 'gone@good.test') return { code: 550, message: '5.1.1 no such user' };
        if (address === 'busy@good.test' && soft) return { code: 451, message: '4.2.1 try later' };
        return undefined;
      },
    });
    const queue = await MailQueue.open({ dir: join(dir, 'queue'), queues: ['outgoing'] });
    closers.push(() => queue.close());
    const bounces: string[] = [];
    const { sender, events } = await open({
      queue,
      smarthost: { host: '127.0.0.1', port: smtp.port },
      bounce: async (_to, message) => void bounces.push(message.toString()),
    });
    const slot = queue.slot('outgoing');
    const to = ['ok@good.test', 'gone@good.test', 'busy@good.test'];
    await writeFile(
      slot,
      Buffer.concat([
        formatEnvelope({
          id: 'relayed-1',
          received: Date.now(),
          client: '127.0.0.1',
          from: 'alice@good.test',
          to: to.map((address) => ({ address })),
          eightBit: false,
          smtpUtf8: false,
        }),
        Buffer.from(MESSAGE),
      ]),
    );
    await queue.push('outgoing', slot);
    await until(() => events.some((e) => e.type === 'deferred'), 10_000);
    // Taken from the queue; only the deferred recipient's copy is kept, in SMTP out's spool.
    await until(() => queue.stats('outgoing').leased === 0);
    expect(queue.stats('outgoing')).toMatchObject({ ready: 0, leased: 0 });
    expect((await readdir(join(dir, 'out', 'msg'))).length).toBe(2);
    expect(sender.list()[0]!.recipients.map((r) => [r.address, r.state])).toEqual([
      ['ok@good.test', 'delivered'],
      ['gone@good.test', 'failed'],
      ['busy@good.test', 'pending'],
    ]);
    expect(bounces).toHaveLength(1);
    expect(bounces[0]).toMatch(/gone@good\.test/);
    soft = false;
    await done(events, 1);
    expect(smtp.received.map((r) => r.to)).toEqual([['ok@good.test'], ['busy@good.test']]);
    expect(await readdir(join(dir, 'out', 'msg'))).toEqual([]);
  });

  it('holds delivery until released, over IPC too', async () => {
    const smtp = await peer();
    const queue = await MailQueue.open({ dir: join(dir, 'queue'), queues: ['outgoing'] });
    closers.push(() => queue.close());
    const { sender, events } = await open({ queue, hold: true, smarthost: { host: '127.0.0.1', port: smtp.port } });
    const { hold } = sender.handlers();
    expect(await hold!({ name: 'hold', params: [] })).toEqual({ ok: true, value: 'on' });
    for (let i = 0; i < 5; i++) {
      const slot = queue.slot('outgoing');
      await writeFile(slot, MESSAGE);
      await sender.send('alice@good.test', [`u${i}@good.test`], slot);
    }
    await sender.enqueue('alice@good.test', ['spooled@good.test'], MESSAGE);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(smtp.received).toEqual([]);
    expect(queue.stats('outgoing').ready).toBe(5);
    expect(await hold!({ name: 'hold', params: ['sideways'] })).toMatchObject({ ok: false });
    expect(await hold!({ name: 'hold', params: ['off'] })).toEqual({ ok: true, value: 'off' });
    await done(events, 6);
    expect(smtp.received).toHaveLength(6);
  });
});
