// The SMTP-out server: `send` queues a message durably; workers deliver it by MX or smarthost, retry with backoff, and bounce failures.
import { promises as dns } from 'node:dns';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { hostname as osHostname } from 'node:os';
import { basename } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import type NodemailerModule from 'nodemailer';
import type { Logger } from '../../core/log.js';

// Loaded at the first delivery: a porter that only receives mail does not carry it in memory.
let nodemailer: typeof NodemailerModule | undefined;
async function loadNodemailer(): Promise<void> {
  nodemailer ??= (await import('nodemailer')).default;
}

import { fail, IpcError, type IpcHandlers, ok } from '../protocol.js';
import { buildBounce, enhancedStatus, type FailedRecipient } from './dsn.js';
import { type MxResolver, type MxTarget, RouteError, resolveTargets } from './mx.js';
import { type DeliveryRecord, type RecipientRecord, Spool } from './spool.js';

/** What `send` needs of the queue server (MailQueue satisfies it): the slot's message made durable, then handed over. */
export interface OutgoingQueue {
  push(queue: string, slot: string): Promise<string>;
  pop(queue: string): { readonly path: string; readonly lease: string };
  ack(lease: string): Promise<void>;
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
  /** The outbound spool (`tmp/`, `msg/`). */
  readonly dir: string;
  readonly log?: Logger;
  /** Where `send` finds its slots; without it `send` is refused and only `enqueue` queues. */
  readonly queue?: OutgoingQueue;
  /** The queue that slots for `send` come from (default `outgoing`). */
  readonly queueName?: string;
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
  /** Connections at once to one destination (host and port), reused between messages (default 5). */
  readonly connectionsPerDestination?: number;
  /** Messages being delivered at once, over all destinations (default 100). */
  readonly concurrency?: number;
  readonly connectionTimeoutMs?: number;
  readonly greetingTimeoutMs?: number;
  /** Silence from the server for this long (a stalled DATA, say) fails the attempt temporarily (default 300 s). */
  readonly socketTimeoutMs?: number;
  /** Connections to a destination unused this long are closed (default 60 s; Postfix's connection cache keeps them 2 s). */
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

/** A message as the spool holds it, for status pages and tests. */
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

interface SmtpError {
  readonly code?: string;
  readonly responseCode?: number;
  readonly response?: string;
  readonly message: string;
  readonly rejected?: readonly string[];
  readonly rejectedErrors?: readonly SmtpError[];
}

interface SendInfo {
  readonly accepted?: readonly unknown[];
  readonly rejected?: readonly unknown[];
  readonly rejectedErrors?: readonly SmtpError[];
  readonly response?: string;
}

interface Transport {
  sendMail(mail: { envelope: { from: string; to: string[] }; raw: Buffer; dkim?: object }): Promise<SendInfo>;
  close(): void;
}

const DAY = 24 * 60 * 60_000;
/** RFC 5321 mailbox, loosely: something@domain, nothing that would break the SMTP command line. */
const ADDRESS = /^[^\s<>@]+@(?:[^\s<>@[\]]+|\[[^\s<>\]]+\])$/;

function asSmtpError(error: unknown): SmtpError {
  if (typeof error === 'object' && error !== null) return error as SmtpError;
  return { message: String(error) };
}

function addressOf(value: unknown): string {
  return typeof value === 'string' ? value : String((value as { address?: unknown })?.address ?? value);
}

function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
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

/** A reply or error, as one line for records and bounces. */
function describe(error: SmtpError): string {
  return (error.response ?? error.message).replace(/\s+/g, ' ').trim();
}

/** Errors where nothing was said about the message: the next MX host may do better. */
function isConnectionFailure(error: SmtpError): boolean {
  if (error.responseCode === 421) return true;
  if (error.responseCode !== undefined) return false;
  return ['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'ETLS', 'ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH'].includes(error.code ?? '');
}

/** One recipient's outcome from a server's reply to it. */
function fromReply(address: string, error: SmtpError, remoteMta: string): Outcome {
  const code = error.responseCode;
  const permanent = code !== undefined && code >= 500 && code < 600;
  const status = enhancedStatus(error.response, code) ?? (permanent ? '5.0.0' : '4.0.0');
  return { kind: permanent ? 'permanent' : 'temporary', address, status, diagnostic: describe(error), remoteMta };
}

/**
 * Delivers queued mail to other servers. A message is queued by `send` (a slot of the queue
 * server) or `enqueue` (bytes); from then on it lives in this server's spool until every
 * recipient was delivered or failed. Recipients are grouped by domain, one SMTP transaction per
 * domain and attempt; each keeps its own state. Temporary failures wait `minimalBackoffMs`,
 * then twice as long each time up to `maximalBackoffMs`; a message still deferred after
 * `lifetimeMs` fails. Failed recipients are reported to the sender in one DSN per attempt.
 */
export class SmtpSender {
  readonly #options: SmtpSenderOptions;
  readonly #log: Logger | undefined;
  readonly #hostname: string;
  readonly #queueName: string;
  readonly #resolver: MxResolver;
  readonly #minimalBackoff: number;
  readonly #maximalBackoff: number;
  readonly #lifetime: number;
  readonly #concurrency: number;
  readonly #records = new Map<string, DeliveryRecord>();
  /** Messages being attempted now, by id. */
  readonly #active = new Map<string, Promise<void>>();
  readonly #transports = new Map<string, { readonly transport: Transport; busy: number; lastUsed: number }>();
  #sweeper: NodeJS.Timeout | undefined;
  /** Slot names of `send` calls whose pushed message has not been taken into the spool yet. */
  readonly #pending = new Map<string, { from: string; to: string[]; done: (error: unknown, id?: string) => void }>();
  #spool: Spool | undefined;
  #dkim: { domainName: string; keySelector: string; privateKey: string } | undefined;
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  #scheduled = false;
  #closing: Promise<void> | undefined;
  #draining: Promise<void> | undefined;
  #drainAgain = false;
  #state: 'new' | 'open' | 'closing' | 'closed' = 'new';

  constructor(options: SmtpSenderOptions) {
    this.#options = options;
    this.#log = options.log;
    this.#hostname = options.hostname ?? osHostname();
    this.#queueName = options.queueName ?? 'outgoing';
    this.#resolver = options.resolver ?? new dns.Resolver();
    this.#minimalBackoff = options.minimalBackoffMs ?? 300_000;
    this.#maximalBackoff = Math.max(options.maximalBackoffMs ?? 4_000_000, this.#minimalBackoff);
    this.#lifetime = options.lifetimeMs ?? 5 * DAY;
    this.#concurrency = Math.max(1, options.concurrency ?? 100);
  }

  /** Opens the spool, takes over what the last run left (deferred messages keep their schedule), and starts delivering. */
  async start(): Promise<void> {
    if (this.#state !== 'new') throw new Error('SmtpSender.start() called twice');
    if (this.#options.dkim) {
      const { domainName, keySelector, privateKeyFile } = this.#options.dkim;
      this.#dkim = { domainName, keySelector, privateKey: await readFile(privateKeyFile, 'utf8') };
    }
    const { spool, records } = await Spool.open(this.#options.dir, this.#log);
    this.#spool = spool;
    for (const record of records) this.#records.set(record.id, record);
    this.#state = 'open';
    const idle = this.#options.idleMs ?? 60_000;
    this.#sweeper = setInterval(() => this.#closeIdle(idle), Math.max(1_000, Math.min(idle, 30_000)));
    this.#sweeper.unref();
    if (records.length > 0) this.#log?.info({ messages: records.length }, 'outbound messages waiting after restart');
    // Pushed to the queue by a `send` that never heard back: nobody was told `ok`, so they go.
    if (this.#options.queue) await this.#drain();
    this.#schedule();
  }

  /**
   * `send: from ; to ; slot`: the slot (handed out by the queue server and written) is pushed,
   * moved into this spool with its delivery record, and only then answered with the message's
   * id in the spool. `to` may list several recipients, separated by commas.
   */
  async send(from: string, to: readonly string[], slot: string): Promise<string> {
    const queue = this.#options.queue;
    if (!queue) throw new IpcError('this SMTP-out server takes no slots; it has no queue');
    this.#assertOpen();
    const sender = normaliseAddress(from, 'sender');
    const recipients = this.#recipients(to);
    const name = basename(slot);
    if (this.#pending.has(name)) throw new IpcError(`slot ${name} is already being sent`);
    const taken = new Promise<string>((resolve, reject) => {
      this.#pending.set(name, { from: sender, to: recipients, done: (error, id) => (id !== undefined ? resolve(id) : reject(error)) });
    });
    // Registered before the push, so that whichever drain pops the message knows its envelope.
    taken.catch(() => {});
    try {
      await queue.push(this.#queueName, slot);
    } catch (error) {
      this.#pending.delete(name);
      throw error;
    }
    this.#drain().catch((error: unknown) => this.#log?.error({ err: error }, 'taking messages from the outgoing queue failed'));
    return taken;
  }

  /** Queues a message given as bytes (bounces, the mail plug); resolves once it is durable. Returns its id. */
  enqueue(from: string, to: readonly string[], message: Buffer | string): Promise<string> {
    this.#assertOpen();
    return this.#enqueue(from, to, message);
  }

  /** Also while closing: a bounce made by a delivery that finishes during `close()` must still be queued. */
  async #enqueue(from: string, to: readonly string[], message: Buffer | string): Promise<string> {
    if (!this.#spool || this.#state === 'closed') throw new IpcError('the SMTP-out server is not running');
    const record = this.#newRecord(normaliseAddress(from, 'sender'), this.#recipients(to));
    await this.#spool!.addBytes(record, message);
    this.#queued(record);
    return record.id;
  }

  /** The IPC message `send: from ; to ; slot`. */
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
    };
  }

  /** The messages in the spool now. */
  list(): QueuedMessage[] {
    return [...this.#records.values()].map((r) => ({
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
    this.#schedule();
  }

  /**
   * Stops starting deliveries, waits for those in flight up to `closeTimeoutMs`, and closes the
   * connections. Whatever was not finished stays in the spool with its record, for the next start.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const wasOpen = this.#state === 'open';
    this.#state = 'closing';
    clearTimeout(this.#timer);
    for (const pending of this.#pending.values()) pending.done(new IpcError('the SMTP-out server is closing'));
    this.#pending.clear();
    if (wasOpen) {
      const inflight = Promise.allSettled([...this.#active.values(), this.#draining]);
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
    for (const { transport } of this.#transports.values()) transport.close();
    this.#transports.clear();
  }

  #closeIdle(idleMs: number): void {
    const now = Date.now();
    for (const [key, entry] of this.#transports) {
      if (entry.busy > 0 || now - entry.lastUsed < idleMs) continue;
      this.#transports.delete(key);
      entry.transport.close();
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

  #newRecord(from: string, to: readonly string[]): DeliveryRecord {
    const now = Date.now();
    return {
      version: 1,
      id: this.#spool!.newId(),
      from,
      recipients: to.map((address) => ({ address, state: 'pending' })),
      queuedAt: now,
      attempts: 0,
      nextAttemptAt: now,
    };
  }

  #queued(record: DeliveryRecord): void {
    this.#records.set(record.id, record);
    this.#emit({ type: 'queued', id: record.id, from: record.from, recipients: record.recipients.map((r) => r.address) });
    this.#schedule();
  }

  /** Takes every message the queue holds for us into the spool; one drain at a time, re-run when asked meanwhile. */
  #drain(): Promise<void> {
    if (this.#draining) {
      this.#drainAgain = true;
      return this.#draining;
    }
    const run = async () => {
      do {
        this.#drainAgain = false;
        await this.#drainOnce();
      } while (this.#drainAgain && this.#state === 'open');
    };
    this.#draining = run().finally(() => {
      this.#draining = undefined;
    });
    return this.#draining;
  }

  async #drainOnce(): Promise<void> {
    const queue = this.#options.queue!;
    for (;;) {
      let popped: { path: string; lease: string };
      try {
        popped = queue.pop(this.#queueName);
      } catch (error) {
        if (error instanceof IpcError) return; // empty, or closing
        throw error;
      }
      const file = basename(popped.path);
      const slot = file.slice(file.indexOf('-') + 1);
      const pending = this.#pending.get(slot);
      this.#pending.delete(slot);
      if (!pending) {
        this.#log?.warn({ message: file }, 'a message in the outgoing queue without a `send`; it has no envelope and is removed');
        await queue.ack(popped.lease).catch(() => {});
        continue;
      }
      try {
        const record = this.#newRecord(pending.from, pending.to);
        await this.#spool!.addFile(record, popped.path);
        // The queue's copy was moved away; the ack only forgets the lease.
        await queue.ack(popped.lease).catch(() => {});
        this.#queued(record);
        pending.done(undefined, record.id);
      } catch (error) {
        this.#log?.error({ err: error, message: file }, 'could not take a message into the outbound spool');
        pending.done(error);
      }
    }
  }

  /** Starts what is due, as far as the concurrency allows, and sets the timer for the next. */
  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    // Once per turn of the event loop, however many messages were queued or finished in it: each run scans the spool's records.
    setImmediate(() => {
      this.#scheduled = false;
      this.#run();
    });
  }

  #run(): void {
    if (this.#state !== 'open') return;
    const now = Date.now();
    let next = Number.POSITIVE_INFINITY;
    for (const record of this.#records.values()) {
      if (this.#active.has(record.id)) continue;
      if (record.nextAttemptAt <= now && this.#active.size < this.#concurrency) {
        const attempt = this.#attempt(record)
          .catch((error: unknown) => {
            // Not a delivery failure (the spool, a bug): wait before trying again, rather than spin.
            record.nextAttemptAt = Date.now() + this.#minimalBackoff;
            this.#log?.error({ err: error, id: record.id }, 'delivery attempt failed unexpectedly');
          })
          .finally(() => {
            this.#active.delete(record.id);
            this.#schedule();
          });
        this.#active.set(record.id, attempt);
      } else if (record.nextAttemptAt > now) {
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
            this.#run();
          },
          Math.min(Math.max(0, next - now), 2 ** 31 - 1),
        );
      }
    }
  }

  async #attempt(record: DeliveryRecord): Promise<void> {
    const spool = this.#spool!;
    const message = await spool.readMessage(record.id);
    const pending = record.recipients.filter((r) => r.state === 'pending');
    const byDomain = new Map<string, string[]>();
    for (const r of pending) {
      const domain = domainOf(r.address);
      byDomain.set(domain, [...(byDomain.get(domain) ?? []), r.address]);
    }
    const outcomes = (await Promise.all([...byDomain].map(([domain, to]) => this.#deliver(record.from, domain, to, message)))).flat();
    // A close that timed out leaves the record as it was on disk: the next start tries again.
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
        await this.#bounce(record, failed, message);
      } catch (error) {
        // The sender must hear of it: the recipients stay pending and fail again at the next attempt.
        this.#log?.error({ err: error, id: record.id }, 'could not queue a bounce; the failed recipients will be tried again');
        for (const f of failed) record.recipients.find((r) => r.address === f.address)!.state = 'pending';
      }
    }
    if (record.recipients.every((r) => r.state !== 'pending')) {
      await spool.remove(record.id);
      this.#records.delete(record.id);
      this.#emit({ type: 'done', id: record.id });
      return;
    }
    await spool.save(record);
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
  async #deliver(from: string, domain: string, to: string[], message: Buffer): Promise<Outcome[]> {
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
    let last: SmtpError | undefined;
    let lastMta = '';
    await loadNodemailer();
    for (const { target, port } of targets) {
      const remoteMta = `${target.host}[${target.address}]:${port}`;
      let info: SendInfo;
      const entry = this.#transport(target, port);
      entry.busy++;
      try {
        info = await entry.transport.sendMail({
          envelope: { from, to },
          raw: message,
          ...(this.#dkim ? { dkim: this.#dkim } : {}),
        });
      } catch (caught) {
        const error = asSmtpError(caught);
        if (isConnectionFailure(error)) {
          last = error;
          lastMta = remoteMta;
          this.#log?.info({ domain, host: remoteMta, err: describe(error) }, 'could not deliver through this host; trying the next');
          continue;
        }
        if (error.rejectedErrors && error.rejected) return this.#perRecipient(to, [], error.rejected, error.rejectedErrors, remoteMta, '');
        // EAUTH and the like say nothing about the message: the smarthost may accept it later.
        if (error.responseCode === undefined || error.code === 'EAUTH') return everyone('temporary', '4.4.0', describe(error), remoteMta);
        return to.map((address) => fromReply(address, error, remoteMta));
      } finally {
        entry.busy--;
        entry.lastUsed = Date.now();
      }
      return this.#perRecipient(to, info.accepted ?? [], info.rejected ?? [], info.rejectedErrors ?? [], remoteMta, info.response ?? '');
    }
    const diagnostic = last ? `${lastMta}: ${describe(last)}` : `no host to deliver to for ${domain}`;
    return everyone('temporary', '4.4.1', diagnostic, lastMta || undefined);
  }

  #perRecipient(
    to: readonly string[],
    accepted: readonly unknown[],
    rejected: readonly unknown[],
    rejectedErrors: readonly SmtpError[],
    remoteMta: string,
    response: string,
  ): Outcome[] {
    const errors = new Map<string, SmtpError>();
    rejected.forEach((address, i) => {
      errors.set(addressOf(address), rejectedErrors[i] ?? { message: 'recipient rejected' });
    });
    const delivered = new Set(accepted.map(addressOf));
    return to.map((address): Outcome => {
      const error = errors.get(address);
      if (error) return fromReply(address, error, remoteMta);
      if (delivered.has(address)) return { kind: 'delivered', address, remoteMta, response };
      return { kind: 'temporary', address, status: '4.0.0', diagnostic: 'the server gave no answer for this recipient', remoteMta };
    });
  }

  /** One pooled transport per destination, kept for reuse between messages. */
  #transport(target: MxTarget, port: number): { transport: Transport; busy: number; lastUsed: number } {
    const key = `${target.host}|${target.address}|${port}`;
    const existing = this.#transports.get(key);
    if (existing) return existing;
    const o = this.#options;
    const smarthost = o.smarthost;
    const transport = (nodemailer as typeof NodemailerModule).createTransport({
      pool: true,
      host: target.address,
      port,
      name: this.#hostname,
      maxConnections: o.connectionsPerDestination ?? 5,
      maxMessages: Number.POSITIVE_INFINITY,
      connectionTimeout: o.connectionTimeoutMs ?? 30_000,
      greetingTimeout: o.greetingTimeoutMs ?? 300_000,
      socketTimeout: o.socketTimeoutMs ?? 300_000,
      secure: smarthost?.secure ?? false,
      requireTLS: smarthost?.requireTLS ?? false,
      ...(smarthost?.auth ? { auth: { user: smarthost.auth.user, pass: smarthost.auth.pass } } : {}),
      // MX hosts: opportunistic STARTTLS without verification, as Postfix's `may` level; the smarthost: verified unless configured.
      tls: {
        ...(isIP(target.host) === 0 ? { servername: target.host } : {}),
        ...(smarthost ? smarthost.tls : { rejectUnauthorized: false }),
      },
      logger: false,
    }) as unknown as Transport;
    const entry = { transport, busy: 0, lastUsed: Date.now() };
    this.#transports.set(key, entry);
    return entry;
  }

  #emit(event: DeliveryEvent): void {
    try {
      this.#options.onEvent?.(event);
    } catch (error) {
      this.#log?.warn({ err: error }, 'a delivery event listener failed');
    }
  }
}
