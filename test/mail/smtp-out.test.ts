// SMTP out against real smtp-sink processes: smarthost and MX delivery, retries, stalls, bounces, expiry, restart, DKIM; MX logic with a fake resolver.
import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ParsedMail, simpleParser } from 'mailparser';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MailQueue } from '../../src/mail/queue/index.js';
import {
  buildBounce,
  type DeliveryEvent,
  type MxResolver,
  RouteError,
  resolveTargets,
  SmtpSender,
  type SmtpSenderOptions,
} from '../../src/mail/smtp-out/index.js';
import { freePort, until } from '../helpers/wait.js';
import { ensureMailTools, SMTP_SINK_PATH } from '../peers/mail-tools.js';

const MESSAGE = [
  'From: Alice <alice@good.test>',
  'To: Bob <bob@good.test>',
  'Subject: porter outbound test',
  'Message-ID: <outbound-test@good.test>',
  '',
  'Hello from porter.',
  '',
].join('\r\n');

async function listening(host: string, port: number, ms = 5_000): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ host, port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (up) return;
    if (Date.now() > until) throw new Error(`smtp-sink did not listen on ${host}:${port}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A fake remote MX: smtp-sink with the given flags, dumping every message it accepts to its own folder. */
class Sink {
  readonly dump: string;
  #child: ChildProcess | undefined;

  constructor(
    readonly host: string,
    readonly port: number,
    dir: string,
  ) {
    this.dump = join(dir, `dump-${host}-${port}-${Math.random().toString(36).slice(2)}`);
  }

  async start(flags: readonly string[] = []): Promise<void> {
    await mkdir(this.dump, { recursive: true });
    // smtp-sink drops to `nobody`, which must be able to write the dumps.
    await chmod(this.dump, 0o777);
    const child = spawn(SMTP_SINK_PATH, ['-u', 'nobody', '-d', `${this.dump}/%H%M%S.`, ...flags, `${this.host}:${this.port}`, '256'], {
      stdio: 'ignore',
    });
    this.#child = child;
    sinks.add(this);
    await listening(this.host, this.port);
  }

  async stop(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    sinks.delete(this);
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }

  /** Restarts with other flags on the same address: the remote "changes its mind". */
  async restart(flags: readonly string[] = []): Promise<void> {
    await this.stop();
    await this.start(flags);
  }

  /** Messages received whole: smtp-sink opens a dump file at MAIL FROM, so an aborted transaction leaves a partial one. */
  async messages(): Promise<string[]> {
    const files = (await readdir(this.dump)).sort();
    const texts = await Promise.all(files.map((file) => readFile(join(this.dump, file), 'utf8')));
    return texts.filter((text) => /\r?\n\r?\n/.test(text.slice(text.indexOf('\nReceived:'))));
  }
}

const sinks = new Set<Sink>();
let dir: string;
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  await ensureMailTools();
}, 300_000);

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'porter-smtp-out-'));
  await chmod(dir, 0o755);
});

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  await Promise.all([...sinks].map((sink) => sink.stop()));
  await rm(dir, { recursive: true, force: true });
});

/** Events seen by a sender, and a way to wait for one. */
class Events {
  readonly seen: DeliveryEvent[] = [];
  #waiters: (() => void)[] = [];

  readonly listener = (event: DeliveryEvent): void => {
    this.seen.push(event);
    for (const wake of this.#waiters.splice(0)) wake();
  };

  of<T extends DeliveryEvent['type']>(type: T): Extract<DeliveryEvent, { type: T }>[] {
    return this.seen.filter((e): e is Extract<DeliveryEvent, { type: T }> => e.type === type);
  }

  async until(what: string, test: () => boolean, ms = 15_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!test()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; events: ${JSON.stringify(this.seen)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 200));
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

async function openSender(options: Partial<SmtpSenderOptions>, events = new Events()): Promise<{ sender: SmtpSender; events: Events }> {
  const sender = new SmtpSender({
    dir: join(dir, 'out'),
    hostname: 'porter.test',
    minimalBackoffMs: 150,
    maximalBackoffMs: 600,
    socketTimeoutMs: 5_000,
    closeTimeoutMs: 2_000,
    onEvent: events.listener,
    ...options,
  });
  await sender.start();
  closers.push(() => sender.close());
  return { sender, events };
}

async function openQueue(): Promise<MailQueue> {
  const queue = await MailQueue.open({ dir: join(dir, 'queue'), queues: ['outgoing'] });
  closers.push(() => queue.close());
  return queue;
}

/** The seed's flow: `slot: outgoing`, write the message there, `send: from ; to ; slot`. */
async function sendThroughQueue(queue: MailQueue, sender: SmtpSender, from: string, to: string[], text = MESSAGE): Promise<string> {
  const slot = queue.slot('outgoing');
  await writeFile(slot, text);
  return sender.send(from, to, slot);
}

/** Every name below 127.0.0.0/8 resolves as the test says; the sinks listen on those addresses. */
function fakeResolver(zone: {
  mx?: Record<string, { exchange: string; priority: number }[]>;
  a?: Record<string, string[]>;
  aaaa?: Record<string, string[]>;
  nxdomain?: string[];
  servfail?: string[];
}): MxResolver {
  const error = (code: string) => Object.assign(new Error(code), { code });
  const lookup = <T>(table: Record<string, T[]> | undefined, name: string): Promise<T[]> => {
    if (zone.servfail?.includes(name)) return Promise.reject(error('ESERVFAIL'));
    if (zone.nxdomain?.includes(name)) return Promise.reject(error('ENOTFOUND'));
    const found = table?.[name];
    return found ? Promise.resolve(found) : Promise.reject(error('ENODATA'));
  };
  return {
    resolveMx: (name) => lookup(zone.mx, name),
    resolve4: (name) => lookup(zone.a, name),
    resolve6: (name) => lookup(zone.aaaa, name),
  };
}

/** smtp-sink prepends its own X-* and Received lines; the message follows them. */
function dumped(text: string): { mailFrom: string; rcpts: string[]; message: string } {
  const mailFrom = /^X-Mail-Args: (.*)$/m.exec(text)?.[1] ?? '';
  const rcpts = [...text.matchAll(/^X-Rcpt-Args: (.*)$/gm)].map((m) => m[1]!);
  return { mailFrom, rcpts, message: text };
}

/**
 * A part of the bounce by its content type. mailparser shows `message/delivery-status` only
 * inlined into `text`, so the report's parts are split by its boundary here, after mailparser
 * has checked the whole.
 */
function part(mail: ParsedMail, raw: Buffer | string, type: string): string {
  const contentType = mail.headers.get('content-type') as { value: string; params: Record<string, string> };
  expect(contentType.value).toBe('multipart/report');
  expect(contentType.params['report-type']).toBe('delivery-status');
  const boundary = contentType.params.boundary!;
  const sections = raw.toString().split(`--${boundary}`).slice(1, -1);
  expect(raw.toString()).toContain(`--${boundary}--`);
  const types = sections.map((section) => /^Content-Type: ([^;\r\n]+)/im.exec(section)?.[1]);
  expect(types).toEqual(['text/plain', 'message/delivery-status', 'text/rfc822-headers']);
  const found = sections[types.indexOf(type)];
  if (found === undefined) throw new Error(`no ${type} part`);
  return found.slice(found.search(/\r?\n\r?\n/)).trim();
}

describe('MX resolution', () => {
  it('orders MX hosts by preference and lists their addresses', async () => {
    const resolver = fakeResolver({
      mx: {
        'a.test': [
          { exchange: 'mx2.a.test', priority: 20 },
          { exchange: 'MX1.a.test.', priority: 10 },
        ],
      },
      a: { 'mx1.a.test': ['192.0.2.1'], 'mx2.a.test': ['192.0.2.2'] },
      aaaa: { 'mx1.a.test': ['2001:db8::1'] },
    });
    expect(await resolveTargets(resolver, 'a.test')).toEqual([
      { host: 'mx1.a.test', address: '192.0.2.1' },
      { host: 'mx1.a.test', address: '2001:db8::1' },
      { host: 'mx2.a.test', address: '192.0.2.2' },
    ]);
  });

  it('falls back to the domain’s own A and AAAA records when it has no MX', async () => {
    const resolver = fakeResolver({ a: { 'plain.test': ['192.0.2.7'] }, aaaa: { 'plain.test': ['2001:db8::7'] } });
    expect(await resolveTargets(resolver, 'plain.test')).toEqual([
      { host: 'plain.test', address: '192.0.2.7' },
      { host: 'plain.test', address: '2001:db8::7' },
    ]);
  });

  it('treats a null MX, a missing domain and a domain without addresses as permanent; a DNS failure as temporary', async () => {
    const resolver = fakeResolver({
      mx: { 'null.test': [{ exchange: '', priority: 0 }], 'dangling.test': [{ exchange: 'nowhere.test', priority: 5 }] },
      nxdomain: ['gone.test'],
      servfail: ['broken.test'],
    });
    const failure = async (domain: string) => {
      try {
        await resolveTargets(resolver, domain);
      } catch (error) {
        if (error instanceof RouteError) return { permanent: error.permanent, status: error.status };
        throw error;
      }
      throw new Error(`${domain} resolved`);
    };
    expect(await failure('null.test')).toEqual({ permanent: true, status: '5.1.10' });
    expect(await failure('gone.test')).toEqual({ permanent: true, status: '5.1.2' });
    expect(await failure('dangling.test')).toEqual({ permanent: true, status: '5.4.4' });
    expect(await failure('empty.test')).toEqual({ permanent: true, status: '5.4.4' });
    expect(await failure('broken.test')).toEqual({ permanent: false, status: '4.4.3' });
  });

  it('takes an address literal as it is', async () => {
    expect(await resolveTargets(fakeResolver({}), '[127.0.0.1]')).toEqual([{ host: '127.0.0.1', address: '127.0.0.1' }]);
    expect(await resolveTargets(fakeResolver({}), '[IPv6:::1]')).toEqual([{ host: '::1', address: '::1' }]);
  });
});

describe('the bounce', () => {
  it('is a multipart/report with the delivery status and the original headers', async () => {
    const bounce = buildBounce({
      hostname: 'porter.test',
      to: 'alice@good.test',
      queueId: 'abc-0123456789abcdef',
      arrivalDate: new Date('2026-11-23T10:00:00Z'),
      recipients: [{ address: 'x@bad.test', status: '5.1.1', diagnostic: '550 5.1.1 no such user', remoteMta: 'mx.bad.test' }],
      original: Buffer.from(MESSAGE),
    });
    const text = bounce.toString('utf8');
    expect(text).toMatch(/^Content-Type: multipart\/report; report-type=delivery-status;/m);
    expect(text.replace(/\r\n/g, '')).not.toMatch(/\n/);
    const mail = await simpleParser(bounce);
    expect(mail.to && 'text' in mail.to ? mail.to.text : '').toBe('alice@good.test');
    const status = part(mail, bounce, 'message/delivery-status');
    expect(status).toMatch(/Final-Recipient: rfc822; x@bad\.test/);
    expect(status).toMatch(/Status: 5\.1\.1/);
    expect(status).toMatch(/Diagnostic-Code: smtp; 550 5\.1\.1 no such user/);
    const headers = mail.attachments.find((a) => a.contentType === 'text/rfc822-headers')!.content.toString();
    expect(headers).toContain('Subject: porter outbound test');
    expect(headers).not.toContain('Hello from porter');
  });
});

describe('SmtpSender against smtp-sink', () => {
  it('delivers through a smarthost and removes the message', async () => {
    const sink = new Sink('127.0.0.1', await freePort(), dir);
    await sink.start();
    const queue = await openQueue();
    const { sender, events } = await openSender({ queue, smarthost: { host: '127.0.0.1', port: sink.port } });
    await sendThroughQueue(queue, sender, 'alice@good.test', ['bob@good.test', 'carol@other.test']);
    await events.until('done', () => events.of('done').length === 1);
    // Delivered straight from the queue, and acknowledged there: no copy was made in SMTP out's spool.
    await until(() => queue.stats('outgoing').leased === 0);
    expect(queue.stats('outgoing')).toMatchObject({ ready: 0, leased: 0 });
    expect(await readdir(join(queue.dir, 'outgoing', 'new'))).toEqual([]);
    expect(
      events
        .of('delivered')
        .map((e) => e.recipient)
        .sort(),
    ).toEqual(['bob@good.test', 'carol@other.test']);
    expect(sender.list()).toEqual([]);
    expect(await readdir(join(dir, 'out', 'msg'))).toEqual([]);
    const got = (await sink.messages()).map(dumped);
    // One transaction per domain, even through one smarthost.
    expect(got).toHaveLength(2);
    expect(got.flatMap((m) => m.rcpts).sort()).toEqual(['<bob@good.test>', '<carol@other.test>']);
    expect(got[0]!.mailFrom).toBe('<alice@good.test>');
    expect(got[0]!.message).toContain('Subject: porter outbound test');
  });

  it('reuses connections, at most `connectionsPerDestination` to one destination', async () => {
    const sink = new Sink('127.0.0.1', await freePort(), dir);
    await sink.start();
    // A counting relay in front of the sink: smtp-sink does not say how many connections it took.
    let connections = 0;
    let open = 0;
    let mostOpen = 0;
    const relay = createServer((client) => {
      connections++;
      mostOpen = Math.max(mostOpen, ++open);
      const upstream = createConnection({ host: '127.0.0.1', port: sink.port });
      client.pipe(upstream).pipe(client);
      const done = () => {
        client.destroy();
        upstream.destroy();
      };
      client.once('close', () => {
        open--;
        done();
      });
      upstream.once('close', done);
      client.on('error', done);
      upstream.on('error', done);
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise<void>((resolve) => relay.close(() => resolve())));
    const relayPort = (relay.address() as { port: number }).port;
    const { sender, events } = await openSender({ smarthost: { host: '127.0.0.1', port: relayPort }, connectionsPerDestination: 2 });
    await Promise.all(Array.from({ length: 20 }, (_, i) => sender.enqueue('alice@good.test', [`user${i}@good.test`], MESSAGE)));
    await events.until('20 deliveries', () => events.of('done').length === 20);
    expect(await sink.messages()).toHaveLength(20);
    expect(mostOpen).toBeLessThanOrEqual(2);
    expect(connections).toBeLessThanOrEqual(2);
  });

  it('takes concurrent sends from the queue, each answered with its own message', async () => {
    const sink = new Sink('127.0.0.1', await freePort(), dir);
    await sink.start();
    const queue = await openQueue();
    const { sender, events } = await openSender({ queue, smarthost: { host: '127.0.0.1', port: sink.port } });
    const ids = await Promise.all(
      Array.from({ length: 30 }, (_, i) => sendThroughQueue(queue, sender, 'alice@good.test', [`u${i}@good.test`])),
    );
    expect(new Set(ids).size).toBe(30);
    await events.until('30 deliveries', () => events.of('done').length === 30);
    expect(
      events
        .of('done')
        .map((e) => e.id)
        .sort(),
    ).toEqual([...ids].sort());
    await until(() => queue.stats('outgoing').leased === 0);
    expect(queue.stats('outgoing')).toMatchObject({ ready: 0, leased: 0 });
    const rcpts = (await sink.messages()).map((m) => dumped(m).rcpts[0]).sort();
    expect(rcpts).toEqual(Array.from({ length: 30 }, (_, i) => `<u${i}@good.test>`).sort());
  });

  it('close() waits for deliveries only so long, and loses nothing', async () => {
    const sink = new Sink('127.0.0.1', await freePort(), dir);
    await sink.start(['-w', '3']);
    const first = await openSender({ smarthost: { host: '127.0.0.1', port: sink.port }, closeTimeoutMs: 300 });
    const id = await first.sender.enqueue('alice@good.test', ['bob@good.test'], MESSAGE);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const started = Date.now();
    await first.sender.close();
    expect(Date.now() - started).toBeLessThan(2_000);
    await sink.restart();
    const second = await openSender({ smarthost: { host: '127.0.0.1', port: sink.port } });
    expect(second.sender.list().map((m) => m.id)).toEqual([id]);
    await second.events.until('delivery', () => second.events.of('done').length === 1);
    expect(await sink.messages()).toHaveLength(1);
  });

  it('answers the IPC message `send` and refuses bad parameters', async () => {
    const sink = new Sink('127.0.0.1', await freePort(), dir);
    await sink.start();
    const queue = await openQueue();
    const { sender, events } = await openSender({ queue, smarthost: { host: '127.0.0.1', port: sink.port } });
    const { send } = sender.handlers();
    expect(await send!({ name: 'send', params: ['alice@good.test', 'bob@good.test'] })).toMatchObject({ ok: false });
    const slot = queue.slot('outgoing');
    expect(await send!({ name: 'send', params: ['alice@good.test', 'not an address', slot] })).toEqual({
      ok: false,
      error: 'invalid recipient address "not an address"',
    });
    expect(await send!({ name: 'send', params: ['alice@good.test', 'bob@good.test', '/etc/passwd'] })).toMatchObject({ ok: false });
    await writeFile(slot, MESSAGE);
    expect(await send!({ name: 'send', params: ['<alice@good.test>', 'bob@good.test, dan@good.test', slot] })).toMatchObject({ ok: true });
    await events.until('done', () => events.of('done').length === 1);
    expect((await sink.messages()).map(dumped)[0]!.rcpts).toEqual(['<bob@good.test>', '<dan@good.test>']);
  });

  it('retries a temporary failure (4xx) and delivers once the remote accepts', async () => {
    const sink = new Sink('127.0.0.1', await freePort(), dir);
    await sink.start(['-r', 'RCPT']);
    const { sender, events } = await openSender({ smarthost: { host: '127.0.0.1', port: sink.port } });
    await sender.enqueue('alice@good.test', ['bob@good.test'], MESSAGE);
    await events.until('a deferral', () => events.of('deferred').length >= 1);
    expect(events.of('deferred')[0]!.diagnostic).toMatch(/^450 /);
    const record = sender.list()[0]!;
    expect(record.recipients[0]).toMatchObject({ state: 'pending', status: '4.3.0' });
    await sink.restart();
    await events.until('delivery', () => events.of('done').length === 1);
    expect(events.of('bounced')).toEqual([]);
    expect(await sink.messages()).toHaveLength(1);
  });

  it('retries after a 421 and a dropped connection', async () => {
    const sink = new Sink('127.0.0.1', await freePort(), dir);
    await sink.start(['-Q', 'MAIL']);
    const { sender, events } = await openSender({ smarthost: { host: '127.0.0.1', port: sink.port } });
    await sender.enqueue('alice@good.test', ['bob@good.test'], MESSAGE);
    await events.until('a deferral', () => events.of('deferred').length >= 1);
    expect(events.of('deferred')[0]!.diagnostic).toMatch(/421/);
    await sink.restart(['-q', 'DATA']);
    await events.until('a second deferral', () => events.of('deferred').length >= 2);
    await sink.restart();
    await events.until('delivery', () => events.of('done').length === 1);
    expect(events.of('failed')).toEqual([]);
  });

  it('times out a stalled server and delivers on a later attempt', async () => {
    const sink = new Sink('127.0.0.1', await freePort(), dir);
    await sink.start(['-w', '5']);
    const { sender, events } = await openSender({ smarthost: { host: '127.0.0.1', port: sink.port }, socketTimeoutMs: 500 });
    await sender.enqueue('alice@good.test', ['bob@good.test'], MESSAGE);
    await events.until('a deferral', () => events.of('deferred').length >= 1);
    expect(events.of('deferred')[0]!.diagnostic).toMatch(/time/i);
    await sink.restart();
    await events.until('delivery', () => events.of('done').length === 1);
    expect(await sink.messages()).toHaveLength(1);
  });

  it('bounces a permanent failure to the sender by MX, and delivers the other domain', async () => {
    const port = await freePort();
    const good = new Sink('127.0.0.1', port, dir);
    const bad = new Sink('127.0.0.2', port, dir);
    await good.start();
    await bad.start(['-f', 'RCPT']);
    const resolver = fakeResolver({
      mx: { 'good.test': [{ exchange: 'mx.good.test', priority: 10 }], 'bad.test': [{ exchange: 'mx.bad.test', priority: 10 }] },
      a: { 'mx.good.test': ['127.0.0.1'], 'mx.bad.test': ['127.0.0.2'] },
    });
    const queue = await openQueue();
    const { sender, events } = await openSender({ queue, resolver, mxPort: port });
    await sendThroughQueue(queue, sender, 'alice@good.test', ['bob@good.test', 'x@bad.test']);
    await events.until('the original and its bounce done', () => events.of('done').length === 2);
    expect(events.of('failed').map((e) => [e.recipient, e.status])).toEqual([['x@bad.test', '5.3.0']]);
    expect(events.of('bounced')).toMatchObject([{ to: 'alice@good.test', recipients: ['x@bad.test'] }]);
    const got = (await good.messages()).map(dumped);
    expect(got).toHaveLength(2);
    const original = got.find((m) => m.mailFrom === '<alice@good.test>')!;
    expect(original.rcpts).toEqual(['<bob@good.test>']);
    const bounce = got.find((m) => m.mailFrom === '<>')!;
    expect(bounce.rcpts).toEqual(['<alice@good.test>']);
    const mail = await simpleParser(bounce.message);
    expect(mail.subject).toBe('Undelivered Mail Returned to Sender');
    expect(mail.headers.get('content-type')).toMatchObject({ value: 'multipart/report', params: { 'report-type': 'delivery-status' } });
    const status = part(mail, bounce.message, 'message/delivery-status');
    expect(status).toMatch(/Reporting-MTA: dns; porter\.test/);
    expect(status).toMatch(/Final-Recipient: rfc822; x@bad\.test/);
    expect(status).toMatch(/Action: failed/);
    expect(status).toMatch(/Status: 5\.3\.0/);
    expect(status).toMatch(/Remote-MTA: dns; mx\.bad\.test\[127\.0\.0\.2\]/);
    expect(status).toMatch(/Diagnostic-Code: smtp; 500 5\.3\.0/);
    expect(part(mail, bounce.message, 'text/rfc822-headers')).toContain('Message-ID: <outbound-test@good.test>');
    expect(mail.text).toContain('<x@bad.test>: 500 5.3.0');
  });

  it('bounces a null MX at once', async () => {
    const resolver = fakeResolver({ mx: { 'null.test': [{ exchange: '.', priority: 0 }] } });
    const bounces: { to: string; message: Buffer }[] = [];
    const { sender, events } = await openSender({ resolver, bounce: async (to, message) => void bounces.push({ to, message }) });
    await sender.enqueue('alice@good.test', ['nobody@null.test'], MESSAGE);
    await events.until('done', () => events.of('done').length === 1);
    expect(events.of('failed')).toMatchObject([{ recipient: 'nobody@null.test', status: '5.1.10' }]);
    expect(bounces).toHaveLength(1);
    expect(part(await simpleParser(bounces[0]!.message), bounces[0]!.message, 'message/delivery-status')).toMatch(/Status: 5\.1\.10/);
  });

  it('bounces a message still deferred at the end of its lifetime', async () => {
    const sink = new Sink('127.0.0.1', await freePort(), dir);
    await sink.start(['-r', 'RCPT']);
    const bounces: { to: string; message: Buffer }[] = [];
    const { sender, events } = await openSender({
      smarthost: { host: '127.0.0.1', port: sink.port },
      minimalBackoffMs: 100,
      maximalBackoffMs: 200,
      lifetimeMs: 700,
      bounce: async (to, message) => void bounces.push({ to, message }),
    });
    await sender.enqueue('alice@good.test', ['bob@good.test'], MESSAGE);
    await events.until('expiry', () => events.of('done').length === 1);
    expect(events.of('deferred').length).toBeGreaterThanOrEqual(2);
    expect(events.of('failed')).toMatchObject([{ recipient: 'bob@good.test', status: '4.4.7' }]);
    expect(bounces.map((b) => b.to)).toEqual(['alice@good.test']);
    const status = part(await simpleParser(bounces[0]!.message), bounces[0]!.message, 'message/delivery-status');
    expect(status).toMatch(/Status: 4\.4\.7/);
    expect(status).toMatch(/expired/);
    expect(await sink.messages()).toEqual([]);
  });

  it('never bounces a message from the null sender', async () => {
    const sink = new Sink('127.0.0.1', await freePort(), dir);
    await sink.start(['-f', 'RCPT']);
    const { sender, events } = await openSender({ smarthost: { host: '127.0.0.1', port: sink.port } });
    await sender.enqueue('<>', ['alice@good.test'], MESSAGE);
    await events.until('done', () => events.of('done').length === 1);
    expect(events.of('dropped')).toMatchObject([{ recipients: ['alice@good.test'] }]);
    expect(events.of('bounced')).toEqual([]);
    expect(sender.list()).toEqual([]);
  });

  it('keeps unfinished messages across a restart and delivers them after it', async () => {
    const port = await freePort();
    const queue = await openQueue();
    const first = await openSender({ queue, smarthost: { host: '127.0.0.1', port } });
    // Nothing listens yet: connection refused, a temporary failure.
    await sendThroughQueue(queue, first.sender, 'alice@good.test', ['bob@good.test']);
    await first.events.until('a deferral', () => first.events.of('deferred').length >= 1);
    const before = first.sender.list();
    expect(before).toMatchObject([{ from: 'alice@good.test', attempts: 1 }]);
    await first.sender.close();
    const sink = new Sink('127.0.0.1', port, dir);
    await sink.start();
    const second = await openSender({ queue, smarthost: { host: '127.0.0.1', port } });
    expect(second.sender.list().map((m) => m.id)).toEqual(before.map((m) => m.id));
    await second.events.until('delivery', () => second.events.of('done').length === 1);
    expect((await sink.messages()).map(dumped)[0]!.rcpts).toEqual(['<bob@good.test>']);
  });

  it('signs with DKIM when a key is configured', async () => {
    const sink = new Sink('127.0.0.1', await freePort(), dir);
    await sink.start();
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const keyFile = join(dir, 'dkim.pem');
    await writeFile(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const { sender, events } = await openSender({
      smarthost: { host: '127.0.0.1', port: sink.port },
      dkim: { domainName: 'good.test', keySelector: 'porter', privateKeyFile: keyFile },
    });
    await sender.enqueue('alice@good.test', ['bob@good.test'], MESSAGE);
    await events.until('done', () => events.of('done').length === 1);
    const [got] = await sink.messages();
    expect(got).toMatch(/^DKIM-Signature: .*d=good\.test/m);
    expect(got).toMatch(/s=porter/);
  });
});
