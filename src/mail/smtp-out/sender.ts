// The SMTP-out server: delivers what the mail queues hold by MX or smarthost, keeps deferred mail in its own spool with a retry schedule, and bounces failures.

import { promises as dns } from 'node:dns';
import { closeSync, constants, existsSync, fstatSync, openSync, readSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { hostname as osHostname } from 'node:os';
import { basename, isAbsolute, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import type { ConnectionOptions } from 'node:tls';
import type { Logger } from '../../core/log.js';
import { fail, IpcError, type IpcHandlers, ok } from '../protocol.js';
import { EnvelopeError, formatEnvelope, parseEnvelope } from '../smtp-in/envelope.js';
import { type Reply, SmtpClientError, type TransactionResult } from './client.js';
import { buildBounce, enhancedStatus, type FailedRecipient } from './dsn.js';
import { type MxResolver, type MxTarget, RouteError, resolveTargets } from './mx.js';
import { ConnectionPool } from './pool.js';
import { type DeliveryRecord, isSpoolId, type RecipientRecord, Spool } from './spool.js';

/**
 * What SMTP out needs of the queue server (MailQueue satisfies it). It consumes queues whose
 * messages start with an envelope record (what SMTP in writes, and what `send` puts before the
 * bytes of its slot): pop, read, deliver, ack.
 */
export interface OutgoingQueue {
  /** The spool folder: a queue's slots are `DIR/QUEUE/tmp/SLOT`. */
  readonly dir: string;
  push(queue: string, slot: string): Promise<string>;
  /**
   * Answers at once: SMTP out pops only a queue in its own process (see the mail hook for one in
   * another). With `file: false` a message the queue holds in memory stays there, for `contents`.
   */
  pop(queue: string, options?: { readonly file?: boolean }): { readonly path: string; readonly lease: string };
  /** A popped message's bytes, from memory when the queue still holds them (MailQueue); without it, SMTP out reads the file. */
  contents?(queue: string, path: string): Promise<Buffer>;
  ack(lease: string): Promise<void>;
  release(lease: string): void;
  stats(queue: string): { readonly ready: number };
  subscribe(queue: string, listener: (queue: string) => void): void;
  unsubscribe(queue: string, listener: (queue: string) => void): boolean;
}

export interface SmarthostOptions {
  readonly host: string;
  /** Default 25; 465 wants `secure`, 587 usually `requireTLS` and `auth`. */
  readonly port?: number;
  readonly auth?: { readonly user: string; readonly pass: string };
  /** TLS from the first byte (port 465). */
  readonly secure?: boolean;
  /** Refuse to send unless STARTTLS succeeds. */
  readonly requireTLS?: boolean;
  readonly tls?: ConnectionOptions;
}

export interface DkimOptions {
  readonly domainName: string;
  readonly keySelector: string;
  /** A PEM file with the private key. */
  readonly privateKeyFile: string;
}

export interface SmtpSenderOptions {
  /** The deferred spool (`tmp/`, `msg/`): messages waiting for a retry, and bounces. */
  readonly dir: string;
  readonly log?: Logger;
  /** The queue server to consume; without it `send` is refused and only `enqueue` queues. */
  readonly queue?: OutgoingQueue;
  /** The queue `send` pushes its slots into (default `outgoing`). */
  readonly queueName?: string;
  /** The queues to deliver from, each message with its envelope record (default: `queueName` alone). */
  readonly queues?: readonly string[];
  /** Start held: nothing is delivered until `hold(false)` (Postfix's `defer_transports`, or `postsuper -h`). */
  readonly hold?: boolean;
  /** The name said in EHLO and in bounces (default: the machine's host name). */
  readonly hostname?: string;
  /** Send everything through this relay instead of looking up MX records. */
  readonly smarthost?: SmarthostOptions;
  /** DNS for MX delivery (default: the system's resolver). */
  readonly resolver?: MxResolver;
  /** The port MX hosts are reached on (default 25; tests point it elsewhere). */
  readonly mxPort?: number;
  /** Postfix's minimal_backoff_time: the first retry waits this long, each later one twice the last (default 300 s). */
  readonly minimalBackoffMs?: number;
  /** Postfix's maximal_backoff_time: retries never wait longer (default 4000 s). */
  readonly maximalBackoffMs?: number;
  /** Postfix's maximal_queue_lifetime: after this, a message still deferred is bounced (default 5 days). */
  readonly lifetimeMs?: number;
  /** Connections at once to one destination (address and port), reused between messages (default 20, Postfix's smtp_destination_concurrency_limit). */
  readonly connectionsPerDestination?: number;
  /** Messages being delivered at once, over all destinations, each read whole into memory (default 100). */
  readonly concurrency?: number;
  /** Postfix's smtp_connect_timeout (default 30 s). */
  readonly connectionTimeoutMs?: number;
  /** Postfix's smtp_helo_timeout: the greeting and EHLO (default 300 s). */
  readonly greetingTimeoutMs?: number;
  /** Silence from the server for this long after a command fails the attempt temporarily (default 300 s; twice that after the final dot). */
  readonly socketTimeoutMs?: number;
  /** Connections to a destination unused this long are closed (default 60 s). */
  readonly idleMs?: number;
  /** How long `close()` waits for deliveries in flight (default 10 s). */
  readonly closeTimeoutMs?: number;
  readonly dkim?: DkimOptions;
  /**
   * Where bounces go. Default: queued here, from the null sender, for delivery like any message.
   * A host with local mailboxes passes a function that stores bounces for local senders.
   */
  readonly bounce?: (to: string, message: Buffer) => Promise<void>;
  /** Hears every change of a message's state: for metrics, logs and tests. */
  readonly onEvent?: (event: DeliveryEvent) => void;
}

export type DeliveryEvent =
  | { readonly type: 'queued'; readonly id: string; readonly from: string; readonly recipients: readonly string[] }
  | { readonly type: 'delivered'; readonly id: string; readonly recipient: string; readonly remoteMta: string; readonly response: string }
  | {
      readonly type: 'deferred';
      readonly id: string;
      readonly recipient: string;
      readonly diagnostic: string;
      readonly nextAttemptAt: number;
    }
  | { readonly type: 'failed'; readonly id: string; readonly recipient: string; readonly status: string; readonly diagnostic: string }
  | { readonly type: 'bounced'; readonly id: string; readonly to: string; readonly recipients: readonly string[] }
  /** A failure of a message from the null sender: it is not bounced (a bounce of a bounce could loop). */
  | { readonly type: 'dropped'; readonly id: string; readonly recipients: readonly string[] }
  | { readonly type: 'done'; readonly id: string };

/** A message SMTP out holds (being delivered, or deferred), for status pages and tests. */
export interface QueuedMessage {
  readonly id: string;
  readonly from: string;
  readonly recipients: readonly Readonly<RecipientRecord>[];
  readonly queuedAt: number;
  readonly attempts: number;
  readonly nextAttemptAt: number;
}

type Outcome =
  | { readonly kind: 'delivered'; readonly address: string; readonly remoteMta: string; readonly response: string }
  | {
      readonly kind: 'temporary' | 'permanent';
      readonly address: string;
      readonly status: string;
      readonly diagnostic: string;
      readonly remoteMta?: string;
    };

const DAY = 24 * 60 * 60_000;
/** RFC 5321 mailbox, loosely: something@domain, nothing that would break the SMTP command line. */
const ADDRESS = /^[^\s<>@]+@(?:[^\s<>@[\]]+|\[[^\s<>\]]+\])$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: bytes outside ASCII are what is looked for
const NOT_ASCII = /[^\u0000-\u007f]/;

function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}

function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String((error as { code: unknown }).code) : undefined;
}

/** Checks an address from a client; `''` and `<>` are the null sender where allowed. */
export function normaliseAddress(value: string, what: 'sender' | 'recipient'): string {
  let address = value.trim();
  if (address.startsWith('<') && address.endsWith('>')) address = address.slice(1, -1).trim();
  if (address === '' && what === 'sender') return '';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (!ADDRESS.test(address) || /[\u0000-\u001f\u007f]/.test(address) || address.length > 320) {
    throw new IpcError(`invalid ${what} address "${value}"`);
  }
  return address;
}

/** One recipient's outcome from a server's reply about it. */
function fromReply(address: string, reply: Reply, remoteMta: string): Outcome {
  const permanent = reply.code >= 500 && reply.code < 600;
  const status = enhancedStatus(reply.text, reply.code) ?? (permanent ? '5.0.0' : '4.0.0');
  return { kind: permanent ? 'permanent' : 'temporary', address, status, diagnostic: reply.text, remoteMta };
}

function isClientError(error: unknown): error is SmtpClientError {
  return error instanceof SmtpClientError;
}

/** Each recipient's outcome from one transaction's replies. */
function outcomes(to: readonly string[], result: TransactionResult, remoteMta: string): Outcome[] {
  return to.map((address, i): Outcome => {
    if (result.mail.code !== 250) return fromReply(address, result.mail, remoteMta);
    const reply = result.recipients[i]!;
    if (reply.code !== 250 && reply.code !== 251) return fromReply(address, reply, remoteMta);
    const final = result.data ?? result.dataCommand;
    if (!final)
      return { kind: 'temporary', address, status: '4.0.0', diagnostic: 'the server gave no answer for this recipient', remoteMta };
    if (final.code === 250) return { kind: 'delivered', address, remoteMta, response: final.text };
    return fromReply(address, final, remoteMta);
  });
}

/** Whether the bytes hold anything beyond 7-bit ASCII (declared as BODY=8BITMIME where the server offers it). */
function hasEightBit(message: Buffer): boolean {
  for (let i = 0; i < message.length; i++) if (message[i]! > 0x7f) return true;
  return false;
}

/** Queued messages up to this size are read synchronously. */
const SMALL_FILE = 256 * 1024;

/**
 * A queued message's bytes. A small one (most mail) is read synchronously: the file was just
 * written and is in the page cache, and four system calls in place cost far less than four trips
 * through libuv's thread pool, which at thousands of messages a second was the larger share of
 * delivery's CPU time. A large one is read asynchronously, so as not to stall the event loop.
 */
async function readQueued(path: string): Promise<Buffer> {
  const fd = openSync(path, 'r');
  let size: number;
  try {
    size = fstatSync(fd).size;
    if (size <= SMALL_FILE) {
      const data = Buffer.allocUnsafe(size);
      let read = 0;
      while (read < size) {
        const n = readSync(fd, data, read, size - read, read);
        if (n === 0) break;
        read += n;
      }
      return read === size ? data : data.subarray(0, read);
    }
  } finally {
    closeSync(fd);
  }
  return readFile(path);
}

let dkimModule: typeof import('nodemailer/lib/dkim').default | undefined;

async function streamBytes(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks);
}

/**
 * Delivers mail to other servers. Messages come from the queue server (`queues`: SMTP in's
 * `outgoing`, and the queue `send` pushes into) and are delivered straight from the queue file:
 * pop, read, deliver, ack. Only a message that is not finished after its attempt (a recipient
 * deferred) is written into this server's own spool with its delivery record, and retried from
 * there: after `minimalBackoffMs`, then twice as long each time up to `maximalBackoffMs`; one
 * still deferred after `lifetimeMs` fails. Recipients are grouped by domain, one SMTP
 * transaction per domain and attempt, each keeping its own state. Failed recipients are reported
 * to the sender in one DSN per attempt, made durable before the message is acknowledged.
 */
export class SmtpSender {
  readonly #options: SmtpSenderOptions;
  readonly #log: Logger | undefined;
  readonly #hostname: string;
  readonly #queueName: string;
  readonly #queues: readonly string[];
  readonly #resolver: MxResolver;
  readonly #minimalBackoff: number;
  readonly #maximalBackoff: number;
  readonly #lifetime: number;
  readonly #concurrency: number;
  /** Deferred messages in the spool, by id. */
  readonly #records = new Map<string, DeliveryRecord>();
  /** Messages being attempted now, by id: from the queue or the spool. */
  readonly #active = new Map<string, { readonly record: DeliveryRecord; readonly work: Promise<void> }>();
  /** Acknowledgements under way, which `close()` lets finish. */
  readonly #acks = new Set<Promise<void>>();
  readonly #pools = new Map<string, ConnectionPool>();
  /** Slots being taken by `send` now: a second `send` of one is refused. */
  readonly #sending = new Set<string>();
  readonly #listener = (): void => this.#schedule();
  #sweeper: NodeJS.Timeout | undefined;
  #spool: Spool | undefined;
  #dkim: { domainName: string; keySelector: string; privateKey: string } | undefined;
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  #scheduled = false;
  /** The spool's records changed (added, attempted, made due): the next run looks through them. */
  #recordsChanged = true;
  /** Which queue to pop first next time, so that one does not starve the others. */
  #nextQueue = 0;
  #held: boolean;
  #closing: Promise<void> | undefined;
  #state: 'new' | 'open' | 'closing' | 'closed' = 'new';

  constructor(options: SmtpSenderOptions) {
    this.#options = options;
    this.#log = options.log;
    this.#hostname = options.hostname ?? osHostname();
    this.#queueName = options.queueName ?? 'outgoing';
    this.#queues = options.queues ?? [this.#queueName];
    this.#resolver = options.resolver ?? new dns.Resolver();
    this.#minimalBackoff = options.minimalBackoffMs ?? 300_000;
    this.#maximalBackoff = Math.max(options.maximalBackoffMs ?? 4_000_000, this.#minimalBackoff);
    this.#lifetime = options.lifetimeMs ?? 5 * DAY;
    this.#concurrency = Math.max(1, options.concurrency ?? 100);
    this.#held = options.hold ?? false;
  }

  /** Opens the spool, takes over what the last run left (deferred messages keep their schedule), and starts delivering. */
  async start(): Promise<void> {
    if (this.#state !== 'new') throw new Error('SmtpSender.start() called twice');
    if (this.#options.dkim) {
      const { domainName, keySelector, privateKeyFile } = this.#options.dkim;
      this.#dkim = { domainName, keySelector, privateKey: await readFile(privateKeyFile, 'utf8') };
      dkimModule ??= (await import('nodemailer/lib/dkim')).default;
    }
    const { spool, records } = await Spool.open(this.#options.dir, this.#log);
    this.#spool = spool;
    for (const record of records) this.#records.set(record.id, record);
    this.#state = 'open';
    const idle = this.#options.idleMs ?? 60_000;
    this.#sweeper = setInterval(() => this.#closeIdle(idle), Math.max(1_000, Math.min(idle, 30_000)));
    this.#sweeper.unref();
    if (records.length > 0) this.#log?.info({ messages: records.length }, 'deferred outbound messages waiting after restart');
    const queue = this.#options.queue;
    if (queue) for (const name of this.#queues) queue.subscribe(name, this.#listener);
    if (this.#held) this.#log?.warn('outbound delivery is on hold: nothing is sent until it is released');
    this.#schedule();
  }

  /**
   * `send: from ; to ; slot`: the slot (handed out by the queue server for queue `queueName`, and
   * written) gets an envelope record before its bytes and is pushed; once the queue has made it
   * durable, the answer is the message's id. `to` may list several recipients.
   */
  async send(from: string, to: readonly string[], slot: string): Promise<string> {
    const queue = this.#options.queue;
    if (!queue) throw new IpcError('this SMTP-out server takes no slots; it has no queue');
    this.#assertOpen();
    const sender = normaliseAddress(from, 'sender');
    const recipients = this.#recipients(to);
    const name = basename(slot);
    const path = join(resolve(queue.dir), this.#queueName, 'tmp', name);
    if (slot.includes('\0') || (isAbsolute(slot) ? resolve(slot) !== path : slot !== name)) {
      throw new IpcError(`${slot} is not a slot of queue ${this.#queueName}`);
    }
    if (this.#sending.has(name)) throw new IpcError(`slot ${name} is already being sent`);
    this.#sending.add(name);
    try {
      const id = this.#spool!.newId();
      await this.#addEnvelope(path, name, id, sender, recipients);
      await queue.push(this.#queueName, path);
      return id;
    } finally {
      this.#sending.delete(name);
    }
  }

  /** Writes the envelope record in front of the slot's bytes, in place: the queue pushes the slot file itself. */
  async #addEnvelope(path: string, name: string, id: string, from: string, to: readonly string[]): Promise<void> {
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      // O_NOFOLLOW: a slot must be the file the client wrote, not a link to something else.
      handle = await open(path, constants.O_RDWR | constants.O_NOFOLLOW);
    } catch (error) {
      const code = errorCode(error);
      if (code === 'ENOENT') throw new IpcError(`slot ${name} has not been written`);
      if (code === 'ELOOP') throw new IpcError(`slot ${name} is a symbolic link, not a message`);
      throw error;
    }
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) throw new IpcError(`slot ${name} is not a regular file`);
      if (stat.nlink !== 1) throw new IpcError(`slot ${name} has other links; write the message into the slot itself`);
      const message = Buffer.alloc(stat.size);
      await handle.read(message, 0, stat.size, 0);
      const envelope = formatEnvelope({
        id,
        received: Date.now(),
        client: 'ipc',
        from,
        to: to.map((address) => ({ address })),
        eightBit: hasEightBit(message),
        smtpUtf8: NOT_ASCII.test(from) || to.some((address) => NOT_ASCII.test(address)),
      });
      // The file only grows, so writing the whole from the start leaves nothing of the old one behind.
      await handle.write(Buffer.concat([envelope, message]), 0, envelope.length + message.length, 0);
    } finally {
      await handle.close();
    }
  }

  /** Queues a message given as bytes (bounces, the mail plug) in the spool; resolves once it is durable. Returns its id. */
  enqueue(from: string, to: readonly string[], message: Buffer | string): Promise<string> {
    this.#assertOpen();
    return this.#enqueue(from, to, message);
  }

  /** Also while closing: a bounce made by a delivery that finishes during `close()` must still be queued. */
  async #enqueue(from: string, to: readonly string[], message: Buffer | string): Promise<string> {
    if (!this.#spool || this.#state === 'closed') throw new IpcError('the SMTP-out server is not running');
    const record = this.#newRecord(this.#spool.newId(), normaliseAddress(from, 'sender'), this.#recipients(to), Date.now());
    const bytes = typeof message === 'string' ? Buffer.from(message, 'utf8') : message;
    if (hasEightBit(bytes)) record.eightBit = true;
    await this.#spool.addBytes(record, bytes);
    this.#emitQueued(record);
    this.#addRecord(record);
    return record.id;
  }

  /** The IPC messages `send: from ; to ; slot`, `hold: on|off` and `flush`. */
  handlers(): IpcHandlers {
    return {
      send: async (request) => {
        if (request.params.length !== 3) {
          return fail(`"send" expects 3 parameters (from ; to ; slot), got ${request.params.length}`);
        }
        const [from, to, slot] = request.params as [string, string, string];
        try {
          return ok(await this.send(from, to.split(','), slot.trim()));
        } catch (error) {
          if (error instanceof IpcError) return fail(error.message);
          throw error;
        }
      },
      hold: async (request) => {
        const [value] = request.params;
        if (request.params.length > 1 || (value !== undefined && value !== 'on' && value !== 'off')) {
          return fail('"hold" expects no parameter (to ask), or on or off');
        }
        if (value !== undefined) this.hold(value === 'on');
        return ok(this.held ? 'on' : 'off');
      },
      flush: async () => {
        this.flush();
        return ok();
      },
    };
  }

  /** Whether delivery is on hold. */
  get held(): boolean {
    return this.#held;
  }

  /**
   * Holds delivery (nothing new is started; what is in flight finishes) or releases it. Held
   * mail waits in the queues and the spool, and is delivered when released.
   */
  hold(on: boolean): void {
    if (this.#held === on) return;
    this.#held = on;
    this.#log?.info(on ? 'outbound delivery put on hold' : 'outbound delivery released');
    if (!on) {
      this.#recordsChanged = true;
      this.#schedule();
    }
  }

  /** The messages SMTP out holds now: being delivered, and deferred. */
  list(): QueuedMessage[] {
    const records = new Map<string, DeliveryRecord>(this.#records);
    for (const [id, { record }] of this.#active) records.set(id, record);
    return [...records.values()].map((r) => ({
      id: r.id,
      from: r.from,
      recipients: r.recipients.map((x) => ({ ...x })),
      queuedAt: r.queuedAt,
      attempts: r.attempts,
      nextAttemptAt: r.nextAttemptAt,
    }));
  }

  /** Makes every deferred message due now (Postfix's `postqueue -f`). */
  flush(): void {
    const now = Date.now();
    for (const record of this.#records.values()) record.nextAttemptAt = Math.min(record.nextAttemptAt, now);
    this.#recordsChanged = true;
    this.#schedule();
  }

  /**
   * Stops starting deliveries, waits for those in flight up to `closeTimeoutMs`, and closes the
   * connections. What was not finished stays where it was: in the queue (its lease lapses with
   * the queue server) or in the spool with its record, for the next start.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const wasOpen = this.#state === 'open';
    this.#state = 'closing';
    clearTimeout(this.#timer);
    const queue = this.#options.queue;
    if (queue && wasOpen) for (const name of this.#queues) queue.unsubscribe(name, this.#listener);
    if (wasOpen) {
      const inflight = Promise.allSettled([...[...this.#active.values()].map((a) => a.work), ...this.#acks]);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), this.#options.closeTimeoutMs ?? 10_000);
      });
      const result = await Promise.race([inflight, timeout]);
      clearTimeout(timer);
      if (result === 'timeout')
        this.#log?.warn({ messages: this.#active.size }, 'deliveries still running at close; they will be tried again at the next start');
    }
    this.#state = 'closed';
    clearInterval(this.#sweeper);
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((pool) => pool.close()));
  }

  #closeIdle(idleMs: number): void {
    for (const [key, pool] of this.#pools) {
      if (pool.closeIdle(idleMs) && Date.now() - pool.lastUsed >= idleMs) this.#pools.delete(key);
    }
  }

  #assertOpen(): void {
    if (this.#state !== 'open')
      throw new IpcError(this.#state === 'new' ? 'the SMTP-out server has not started' : 'the SMTP-out server is closing');
  }

  #recipients(to: readonly string[]): string[] {
    const list = [
      ...new Set(
        to
          .map((x) => x.trim())
          .filter((x) => x !== '')
          .map((x) => normaliseAddress(x, 'recipient')),
      ),
    ];
    if (list.length === 0) throw new IpcError('no recipients');
    return list;
  }

  #newRecord(id: string, from: string, to: readonly string[], queuedAt: number): DeliveryRecord {
    return {
      version: 1,
      id,
      from,
      recipients: to.map((address) => ({ address, state: 'pending' })),
      queuedAt,
      attempts: 0,
      nextAttemptAt: Date.now(),
    };
  }

  #emitQueued(record: DeliveryRecord): void {
    this.#emit({ type: 'queued', id: record.id, from: record.from, recipients: record.recipients.map((r) => r.address) });
  }

  #addRecord(record: DeliveryRecord): void {
    this.#records.set(record.id, record);
    this.#recordsChanged = true;
    this.#schedule();
  }

  /** Starts what is due, once per turn of the event loop however many things happened in it. */
  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#run();
    });
  }

  #run(): void {
    if (this.#state !== 'open' || this.#held) return;
    if (this.#recordsChanged) this.#runRecords();
    this.#runQueues();
  }

  /** Deferred messages whose time has come, as far as the concurrency allows; the timer for the next. */
  #runRecords(): void {
    this.#recordsChanged = false;
    const now = Date.now();
    let next = Number.POSITIVE_INFINITY;
    for (const record of this.#records.values()) {
      if (this.#active.has(record.id)) continue;
      if (record.nextAttemptAt <= now && this.#active.size < this.#concurrency) {
        this.#track(record, this.#attemptSpooled(record));
      } else {
        // Due but no room: looked at again when a delivery finishes.
        if (record.nextAttemptAt <= now) this.#recordsChanged = true;
        next = Math.min(next, record.nextAttemptAt);
      }
    }
    if (next !== this.#timerAt) {
      clearTimeout(this.#timer);
      this.#timerAt = next;
      if (Number.isFinite(next)) {
        // setTimeout's limit is about 24.8 days; the timer is re-armed after it fires anyway.
        this.#timer = setTimeout(
          () => {
            this.#timerAt = Number.POSITIVE_INFINITY;
            this.#recordsChanged = true;
            this.#run();
          },
          Math.min(Math.max(0, next - now), 2 ** 31 - 1),
        );
      }
    }
  }

  /** Pops the queues in turn while there is room. */
  #runQueues(): void {
    const queue = this.#options.queue;
    if (!queue) return;
    let empty = 0;
    while (this.#active.size < this.#concurrency && empty < this.#queues.length) {
      const name = this.#queues[this.#nextQueue % this.#queues.length]!;
      this.#nextQueue++;
      let popped: { readonly path: string; readonly lease: string };
      try {
        // Asked first: a refused pop is an exception, which costs more than the question.
        if (queue.stats(name).ready === 0) {
          empty++;
          continue;
        }
        // From memory when the queue can: no write of a file only to read it back and unlink it.
        popped = queue.contents ? queue.pop(name, { file: false }) : queue.pop(name);
      } catch (error) {
        // Empty, or the queue server is closing; a push calls us again.
        if (!(error instanceof IpcError)) this.#log?.error({ err: error, queue: name }, 'cannot pop');
        empty++;
        continue;
      }
      empty = 0;
      this.#fromQueue(queue, popped, name);
    }
  }

  #track(record: DeliveryRecord, attempt: Promise<void>): void {
    const work = attempt
      .catch((error: unknown) => {
        this.#log?.error({ err: error, id: record.id }, 'delivery attempt failed unexpectedly');
      })
      .finally(() => {
        this.#active.delete(record.id);
        // Only now, no longer active, will a run arm the timer for its next attempt.
        this.#recordsChanged = true;
        this.#schedule();
      });
    this.#active.set(record.id, { record, work });
  }

  /** A message popped from a queue: read, attempted, and acknowledged once it is delivered, bounced, or deferred into the spool. */
  #fromQueue(queue: OutgoingQueue, popped: { readonly path: string; readonly lease: string }, name: string): void {
    // The record is filled in once the file is read; until then it stands for the message under its file name.
    const record = this.#newRecord(basename(popped.path), '', [], Date.now());
    // What close() waits for; assigned below, before the work reaches its first await's continuation.
    let tracked!: Promise<void>;
    const work = (async () => {
      let data: Buffer;
      try {
        data = queue.contents ? await queue.contents(name, popped.path) : await readQueued(popped.path);
      } catch (error) {
        if (errorCode(error) !== 'ENOENT') throw error;
        this.#log?.warn({ message: basename(popped.path) }, 'a queued message disappeared before delivery');
        await this.#ack(queue, popped.lease);
        return;
      }
      let parsed: ReturnType<typeof parseEnvelope>;
      try {
        parsed = parseEnvelope(data);
      } catch (error) {
        if (!(error instanceof EnvelopeError)) throw error;
        // A message read from memory has no file to move: its bytes are written there instead.
        const kept = existsSync(popped.path)
          ? await this.#spool!.quarantine(popped.path)
          : await this.#spool!.quarantineBytes(basename(popped.path), data);
        this.#log?.error({ message: basename(popped.path), kept, err: error }, 'a queued message without a readable envelope; set aside');
        await this.#ack(queue, popped.lease);
        return;
      }
      const { envelope, bodyOffset } = parsed;
      const message = data.subarray(bodyOffset);
      const id = isSpoolId(envelope.id) ? envelope.id : this.#spool!.newId();
      this.#active.delete(record.id);
      const real: DeliveryRecord = {
        ...this.#newRecord(
          id,
          envelope.from,
          envelope.to.map((r) => r.address),
          envelope.received,
        ),
        ...(envelope.eightBit ? { eightBit: true } : {}),
        ...(envelope.smtpUtf8 ? { smtpUtf8: true } : {}),
      };
      this.#active.set(id, { record: real, work: tracked });
      let finished = false;
      this.#emitQueued(real);
      try {
        await this.#attempt(real, message);
        // A close that timed out: the message stays in the queue, whose lease lapses, and is sent at the next start.
        if (this.#state === 'closed') return;
        if (real.recipients.some((r) => r.state === 'pending')) {
          // Deferred: only now is a copy made, with its record, for the retries.
          await this.#spool!.addBytes(real, message);
          this.#records.set(real.id, real);
          this.#recordsChanged = true;
        } else {
          finished = true;
        }
      } catch (error) {
        // Not a delivery failure (the spool, a bug): the message goes back to the queue after a pause.
        this.#log?.error({ err: error, id: real.id }, 'delivery attempt failed unexpectedly; the message stays queued');
        const timer = setTimeout(
          () => {
            try {
              queue.release(popped.lease);
            } catch {
              // The lease ran out first, or the queue closed: the message is back anyway.
            }
          },
          Math.min(this.#minimalBackoff, 60_000),
        );
        timer.unref();
        return;
      } finally {
        this.#active.delete(id);
        if (this.#records.has(id)) this.#recordsChanged = true;
        this.#schedule();
      }
      await this.#ack(queue, popped.lease);
      if (finished) this.#emit({ type: 'done', id });
    })();
    tracked = work
      .catch((error: unknown) => this.#log?.error({ err: error, message: basename(popped.path) }, 'taking a queued message failed'))
      .finally(() => {
        if (this.#active.get(record.id)?.record === record) this.#active.delete(record.id);
        this.#schedule();
      });
    this.#active.set(record.id, { record, work: tracked });
  }

  #ack(queue: OutgoingQueue, lease: string): Promise<void> {
    const ack = queue.ack(lease).catch((error: unknown) => {
      // Handled but not deleted: it comes back after its lease and is sent again (a duplicate, not a loss).
      this.#log?.warn({ err: error }, 'cannot acknowledge a handled message');
    });
    this.#acks.add(ack);
    void ack.finally(() => this.#acks.delete(ack));
    return ack;
  }

  /** A deferred message's retry, from the spool: removed when finished, its record saved otherwise. */
  async #attemptSpooled(record: DeliveryRecord): Promise<void> {
    const spool = this.#spool!;
    let message: Buffer;
    try {
      message = await spool.readMessage(record.id);
    } catch (error) {
      record.nextAttemptAt = Date.now() + this.#minimalBackoff;
      this.#recordsChanged = true;
      throw error;
    }
    try {
      await this.#attempt(record, message);
    } catch (error) {
      // Not a delivery failure (a bug, a full disk): wait before trying again, rather than spin.
      record.nextAttemptAt = Date.now() + this.#minimalBackoff;
      throw error;
    } finally {
      this.#recordsChanged = true;
    }
    // A close that timed out leaves the record as it was on disk: the next start tries again.
    if (this.#state === 'closed') return;
    if (record.recipients.every((r) => r.state !== 'pending')) {
      await spool.remove(record.id);
      this.#records.delete(record.id);
      this.#active.delete(record.id);
      this.#emit({ type: 'done', id: record.id });
      return;
    }
    await spool.save(record);
  }

  /**
   * One attempt for every pending recipient: the record's states, attempts and next attempt are
   * updated, failures bounced (durably, before this resolves).
   */
  async #attempt(record: DeliveryRecord, original: Buffer): Promise<void> {
    const pending = record.recipients.filter((r) => r.state === 'pending');
    const byDomain = new Map<string, string[]>();
    for (const r of pending) {
      const domain = domainOf(r.address);
      const list = byDomain.get(domain);
      if (list) list.push(r.address);
      else byDomain.set(domain, [r.address]);
    }
    const message = this.#dkim ? await this.#sign(original) : original;
    const outcomes =
      byDomain.size === 1
        ? await this.#deliver(
            record,
            [...byDomain][0]![0],
            pending.map((r) => r.address),
            message,
          )
        : (await Promise.all([...byDomain].map(([domain, to]) => this.#deliver(record, domain, to, message)))).flat();
    if (this.#state === 'closed') return;
    const now = Date.now();
    record.attempts++;
    const expired = now - record.queuedAt >= this.#lifetime;
    const delay = Math.min(this.#maximalBackoff, this.#minimalBackoff * 2 ** Math.min(record.attempts - 1, 52));
    // The last try falls on the lifetime's end, not after it.
    record.nextAttemptAt = Math.min(now + delay, record.queuedAt + this.#lifetime);
    const failed: FailedRecipient[] = [];
    for (const outcome of outcomes) {
      const r = record.recipients.find((x) => x.address === outcome.address)!;
      if (outcome.kind === 'delivered') {
        r.state = 'delivered';
        r.status = '2.0.0';
        r.diagnostic = outcome.response;
        r.remoteMta = outcome.remoteMta;
        this.#emit({ type: 'delivered', id: record.id, recipient: r.address, remoteMta: outcome.remoteMta, response: outcome.response });
        continue;
      }
      r.diagnostic = outcome.diagnostic;
      r.status = outcome.status;
      if (outcome.remoteMta !== undefined) r.remoteMta = outcome.remoteMta;
      if (outcome.kind === 'permanent' || expired) {
        r.state = 'failed';
        // Expiry keeps the 4.x.x status (what was last seen), as Postfix's "delivery temporarily suspended … expired" bounce does.
        const diagnostic =
          outcome.kind === 'permanent' ? outcome.diagnostic : `message expired in queue; last error: ${outcome.diagnostic}`;
        const status = outcome.kind === 'permanent' ? outcome.status : outcome.status.startsWith('4.') ? '4.4.7' : outcome.status;
        failed.push({ address: r.address, status, diagnostic, ...(r.remoteMta ? { remoteMta: r.remoteMta } : {}) });
        this.#emit({ type: 'failed', id: record.id, recipient: r.address, status, diagnostic });
      } else {
        this.#emit({
          type: 'deferred',
          id: record.id,
          recipient: r.address,
          diagnostic: outcome.diagnostic,
          nextAttemptAt: record.nextAttemptAt,
        });
      }
    }
    if (failed.length > 0) {
      try {
        await this.#bounce(record, failed, original);
      } catch (error) {
        // The sender must hear of it: the recipients stay pending and fail again at the next attempt.
        this.#log?.error({ err: error, id: record.id }, 'could not queue a bounce; the failed recipients will be tried again');
        for (const f of failed) record.recipients.find((r) => r.address === f.address)!.state = 'pending';
      }
    }
  }

  async #sign(message: Buffer): Promise<Buffer> {
    const dkim = new dkimModule!(this.#dkim!);
    return streamBytes(dkim.sign(message));
  }

  /** Reports failed recipients to the sender; a failure of a bounce goes nowhere. The bounce is durable before the record changes. */
  async #bounce(record: DeliveryRecord, failed: FailedRecipient[], message: Buffer): Promise<void> {
    const addresses = failed.map((f) => f.address);
    if (record.from === '') {
      this.#log?.warn({ id: record.id, recipients: addresses }, 'a bounce could not be delivered; it is dropped');
      this.#emit({ type: 'dropped', id: record.id, recipients: addresses });
      return;
    }
    const bounce = buildBounce({
      hostname: this.#hostname,
      to: record.from,
      queueId: record.id,
      arrivalDate: new Date(record.queuedAt),
      recipients: failed,
      original: message,
    });
    if (this.#options.bounce) await this.#options.bounce(record.from, bounce);
    else await this.#enqueue('', [record.from], bounce);
    this.#log?.info({ id: record.id, to: record.from, recipients: addresses }, 'bounced');
    this.#emit({ type: 'bounced', id: record.id, to: record.from, recipients: addresses });
  }

  /** One SMTP transaction for the recipients of one domain: through the smarthost, or the domain's MX hosts in order. */
  async #deliver(record: DeliveryRecord, domain: string, to: readonly string[], message: Buffer): Promise<Outcome[]> {
    const everyone = (kind: 'temporary' | 'permanent', status: string, diagnostic: string, remoteMta?: string): Outcome[] =>
      to.map((address) => ({ kind, address, status, diagnostic, ...(remoteMta ? { remoteMta } : {}) }));
    let targets: { target: MxTarget; port: number }[];
    const smarthost = this.#options.smarthost;
    if (smarthost) {
      targets = [{ target: { host: smarthost.host, address: smarthost.host }, port: smarthost.port ?? 25 }];
    } else {
      try {
        targets = (await resolveTargets(this.#resolver, domain)).map((target) => ({ target, port: this.#options.mxPort ?? 25 }));
      } catch (error) {
        if (error instanceof RouteError) return everyone(error.permanent ? 'permanent' : 'temporary', error.status, error.message);
        throw error;
      }
    }
    // RFC 6531: an address beyond ASCII can only go to a server that offers SMTPUTF8.
    const needsUtf8 = NOT_ASCII.test(record.from) || to.some((address) => NOT_ASCII.test(address));
    let last: SmtpClientError | undefined;
    let lastMta = '';
    const options = { eightBit: record.eightBit === true, smtpUtf8: needsUtf8 || record.smtpUtf8 === true };
    for (let i = 0, retried = false; i < targets.length; i++) {
      const { target, port } = targets[i]!;
      const remoteMta = `${target.host}[${target.address}]:${port}`;
      try {
        return await this.#pool(target, port).transaction(async (connection) => {
          const limit = connection.sizeLimit;
          if (limit !== undefined && limit > 0 && message.length > limit) {
            return everyone(
              'permanent',
              '5.3.4',
              `message size ${message.length} exceeds the size limit ${limit} of ${remoteMta}`,
              remoteMta,
            );
          }
          if (needsUtf8 && !connection.offers('SMTPUTF8')) {
            return everyone('permanent', '5.6.7', `${remoteMta} does not offer SMTPUTF8, which the addresses need`, remoteMta);
          }
          const result = await connection.send(record.from, to, message, options);
          return outcomes(to, result, remoteMta);
        });
      } catch (error) {
        if (!isClientError(error)) throw error;
        if (error.kind === 'auth' || (error.kind === 'tls' && smarthost?.requireTLS)) {
          // Says nothing about the message: the relay may take it later.
          return everyone('temporary', error.kind === 'auth' ? '4.7.0' : '4.7.5', error.message, remoteMta);
        }
        if (error.unanswered && !retried) {
          // Nothing of it reached the server (a cached connection had closed, or broke under the transaction before): once more, on another.
          retried = true;
          i--;
          continue;
        }
        retried = false;
        // Nothing was said about the message: the next host may do better.
        last = error;
        lastMta = remoteMta;
        this.#log?.info({ domain, host: remoteMta, err: error.message }, 'could not deliver through this host; trying the next');
      }
    }
    const diagnostic = last ? `${lastMta}: ${last.reply?.text ?? last.message}` : `no host to deliver to for ${domain}`;
    return everyone('temporary', last?.kind === 'timeout' ? '4.4.2' : '4.4.1', diagnostic, lastMta || undefined);
  }

  /** The connections to one destination, shared by every message going there. */
  #pool(target: MxTarget, port: number): ConnectionPool {
    const key = `${target.host}|${target.address}|${port}`;
    const existing = this.#pools.get(key);
    if (existing) return existing;
    const o = this.#options;
    const smarthost = o.smarthost;
    const pool = new ConnectionPool(
      {
        address: target.address,
        port,
        host: target.host,
        name: this.#hostname,
        secure: smarthost?.secure ?? false,
        requireTls: smarthost?.requireTLS ?? false,
        ...(smarthost?.auth ? { auth: smarthost.auth } : {}),
        // Opportunistic STARTTLS is not verified, as at Postfix's `may` level (unverified TLS beats plain text); TLS that is
        // required (`requireTLS`, `secure`) is verified unless the smarthost's own TLS options say otherwise.
        tls: {
          ...(isIP(target.host) === 0 ? { servername: target.host } : {}),
          rejectUnauthorized: smarthost?.requireTLS === true || smarthost?.secure === true,
          ...smarthost?.tls,
        },
        connectTimeoutMs: o.connectionTimeoutMs ?? 30_000,
        greetingTimeoutMs: o.greetingTimeoutMs ?? 300_000,
        replyTimeoutMs: o.socketTimeoutMs ?? 300_000,
      },
      o.connectionsPerDestination ?? 20,
    );
    this.#pools.set(key, pool);
    return pool;
  }

  #emit(event: DeliveryEvent): void {
    try {
      this.#options.onEvent?.(event);
    } catch (error) {
      this.#log?.warn({ err: error }, 'a delivery event listener failed');
    }
  }
}
