// The SMTP, submission and LMTP listeners: recipients checked at RCPT, messages streamed into a queue slot, 250 only after push.
import { constants } from 'node:fs';
import { type FileHandle, open, readFile, unlink } from 'node:fs/promises';
import type net from 'node:net';
import { hostname as machineName } from 'node:os';
import { basename, resolve } from 'node:path';
import { Writable } from 'node:stream';
import type tls from 'node:tls';
import {
  SMTPServer,
  type SMTPServerAddress,
  type SMTPServerAuthentication,
  type SMTPServerAuthenticationResponse,
  type SMTPServerConnectionInfo,
  type SMTPServerDataResult,
  type SMTPServerDataStream,
  type SMTPServerOptions,
  type SMTPServerSession,
} from 'smtp-server';
import { SMTPConnection, type SMTPConnectionOptions } from 'smtp-server/lib/smtp-connection.js';
import type { Logger } from '../../core/log.js';
import { type ListenerConfig, type ListenerMode, parseListenAddress, type SmtpInConfig } from './config.js';
import { type EnvelopeRecipient, formatEnvelope } from './envelope.js';
import { MessageFilter, type MessageProblem } from './filter.js';

/** Messages for the local domains' users: the mailbox server's input. */
export const INCOMING_QUEUE = 'incoming';
/** Messages an authenticated user sends to other domains: SMTP out's input. */
export const OUTGOING_QUEUE = 'outgoing';

/** The queue server as the receiver uses it; `MailQueue` is one. */
export interface Spool {
  /** A new file path for one message; the receiver creates and writes it. */
  slot(queue: string): string | Promise<string>;
  /** Makes the written slot a durable message and resolves with its path in the queue. */
  push(queue: string, slot: string): Promise<string>;
  /**
   * Optional: makes a message held in memory a durable message at once (no slot file). The
   * receiver uses it for messages smaller than `FLUSH_BYTES`; `MailQueue` has it.
   */
  pushMessage?(queue: string, data: readonly Buffer[]): Promise<string>;
}

/** The auth server as the receiver uses it; `MailUsers` is one. */
export interface Users {
  /**
   * Whether a mail user of this name (a local part or a full address) exists. `fresh`: ask the
   * store, not a recent answer (for delivery, which must see a user removed a moment ago).
   */
  verify(name: string, options?: { readonly fresh?: boolean }): Promise<boolean>;
  /** The canonical user name if the password is right, else undefined. */
  authenticate(name: string, password: string): Promise<string | undefined>;
}

export interface SmtpReceiverOptions {
  readonly config: SmtpInConfig;
  readonly spool: Spool;
  readonly users: Users;
  readonly log?: Logger;
  /** Relative `tls` file names resolve against this folder (the config file's); default: the working folder. */
  readonly baseDir?: string;
}

/** A listener once it listens; `port` is the real one when the config asked for port 0. */
export interface BoundListener {
  readonly mode: ListenerMode;
  readonly host: string;
  readonly port: number;
  readonly starttls: boolean;
}

interface Rcpt {
  /** The mail user of a local recipient; undefined for a recipient in another domain. */
  readonly user: string | undefined;
}

interface Listening {
  readonly server: SMTPServer;
  readonly bound: BoundListener;
}

/** A reply to the client; the text carries its own enhanced status code (RFC 3463). */
class SmtpReply extends Error {
  constructor(
    readonly responseCode: number,
    message: string,
  ) {
    super(message);
  }
}

const NO_USER = Symbol('no user');

/**
 * smtp-server holds every new session for 100 ms before its greeting, to catch clients that talk
 * first; porter answers at once (a pipelining client that talks early still gets the library's
 * `421 You talk too soon`). This is the library's own `connect`, without the timer.
 */
class PromptServer extends SMTPServer {
  override connect(socket: net.Socket | tls.TLSSocket, socketOptions?: SMTPConnectionOptions | null): void {
    const connection = new SMTPConnection(this, socket, socketOptions);
    this.connections.add(connection);
    connection.on('error', (error: Error) => this._onError(error));
    connection.on('connect', (info: SMTPServerConnectionInfo) => this._onClientConnect(info));
    connection._setListeners(() => {
      const max = this.options.maxClients;
      if (max && this.connections.size > max) {
        connection.send(421, `${connection.name} Too many connected clients, try again in a moment`, false);
        return;
      }
      connection.connectionReady();
    });
  }
}

/** Small messages go to disk in one write; larger ones in pieces of this size, never whole. */
const FLUSH_BYTES = 64 * 1024;

/**
 * Writes the message into every slot as it arrives (one slot per queue the recipients need),
 * each behind its own head (envelope record and Received header). The slots are opened only
 * when the message outgrows `FLUSH_BYTES`; a smaller one stays in memory (`held`) when `keep`
 * is set, for the queue's `pushMessage`. A write error is remembered and the rest of the
 * message is read and dropped, so that the client gets its reply (451) at the end of DATA
 * rather than a broken connection.
 */
class SlotWriter extends Writable {
  error: unknown;
  /** Set when opening the slots failed (the queue is unavailable), as opposed to writing them. */
  openFailed = false;
  /** The whole message, when it stayed in memory. */
  held: Buffer[] | undefined;
  slots: readonly Slot[] = [];
  readonly #openSlots: () => Promise<Slot[]>;
  readonly #keep: boolean;
  #heads: (Buffer | undefined)[] = [];
  #opened = false;
  #pending: Buffer[] = [];
  #size = 0;

  constructor(openSlots: () => Promise<Slot[]>, keep: boolean) {
    super();
    this.#openSlots = openSlots;
    this.#keep = keep;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    if (this.error !== undefined) {
      done();
      return;
    }
    this.#pending.push(chunk);
    this.#size += chunk.length;
    if (this.#size < FLUSH_BYTES) done();
    else this.#flush().then(() => done());
  }

  override _final(done: (error?: Error | null) => void): void {
    if (this.#keep && !this.#opened && this.error === undefined) {
      this.held = this.#pending;
      this.#pending = [];
      done();
      return;
    }
    this.#flush().then(() => done());
  }

  async #flush(): Promise<void> {
    if (this.error !== undefined) return;
    if (!this.#opened) {
      this.#opened = true;
      try {
        this.slots = await this.#openSlots();
        this.#heads = this.slots.map((slot) => slot.head);
      } catch (error) {
        this.error = error;
        this.openFailed = true;
        return;
      }
    }
    const data = this.#pending.length === 1 ? this.#pending[0]! : Buffer.concat(this.#pending);
    this.#pending = [];
    this.#size = 0;
    try {
      await Promise.all(
        this.slots.map((slot, i) => {
          const head = this.#heads[i];
          this.#heads[i] = undefined;
          return writeAll(slot.handle, head ? Buffer.concat([head, data]) : data);
        }),
      );
    } catch (error) {
      this.error = error;
    }
  }
}

async function writeAll(handle: FileHandle, data: Buffer): Promise<void> {
  let offset = 0;
  while (offset < data.length) offset += (await handle.write(data, offset)).bytesWritten;
}

/** Resolves when the message is written through; rejects when the client leaves in the middle of it. */
function pump(source: SMTPServerDataStream, filter: MessageFilter, writer: SlotWriter): Promise<void> {
  return new Promise((done, fail) => {
    source.once('error', fail);
    source.once('close', () => {
      if (!source.readableEnded) fail(new Error('the session ended in the middle of the message'));
    });
    writer.once('finish', done);
    source.pipe(filter).pipe(writer);
  });
}

interface Slot {
  readonly queue: string;
  readonly path: string;
  readonly handle: FileHandle;
  /** The envelope record and Received header, written before the message. */
  readonly head: Buffer;
}

/**
 * porter's SMTP server: one smtp-server per configured listener.
 *
 * * RCPT: a recipient in a local domain must be a mail user (`550 5.1.1` otherwise); any other
 *   recipient needs an authenticated session (`554 5.7.1` otherwise): porter is never an open
 *   relay. Only submission listeners offer AUTH, and only after STARTTLS unless
 *   `allow-insecure-auth` (loopback only).
 * * DATA: the message streams through `MessageFilter` into a queue slot, `incoming` for local
 *   recipients and `outgoing` for the rest (both when a message has both), behind an envelope
 *   record (envelope.ts) and a Received header. After the end of data the slot is pushed, and the
 *   250 is sent only once every push resolved, that is once the message is on disk.
 * * LMTP answers once per recipient after DATA, each with its queue's outcome.
 */
export class SmtpReceiver {
  readonly #config: SmtpInConfig;
  readonly #spool: Spool;
  readonly #users: Users;
  readonly #log: Logger | undefined;
  readonly #baseDir: string;
  readonly #name: string;
  readonly #domains: ReadonlySet<string>;
  readonly #listening: Listening[] = [];
  /** Per session: recipients accepted so far, by lower-cased address. */
  readonly #rcpts = new WeakMap<SMTPServerSession, Map<string, Rcpt>>();
  /** Sessions in the middle of a message (DATA to reply), by session id. */
  readonly #busy = new Map<string, Promise<unknown>>();
  #closing = false;

  constructor(options: SmtpReceiverOptions) {
    this.#config = options.config;
    this.#spool = options.spool;
    this.#users = options.users;
    this.#log = options.log;
    this.#baseDir = options.baseDir ?? process.cwd();
    this.#name = options.config.hostname ?? machineName();
    this.#domains = new Set(options.config.domains);
  }

  /** Where the listeners listen, in config order (after `open`). */
  get listeners(): readonly BoundListener[] {
    return this.#listening.map((l) => l.bound);
  }

  /** Starts every listener; if one cannot listen, those already started are closed and the error thrown. */
  async open(): Promise<void> {
    try {
      for (const listener of this.#config.listeners) this.#listening.push(await this.#listen(listener));
    } catch (error) {
      await this.close();
      throw error;
    }
  }

  /**
   * Stops listening, tells idle sessions `421` at once, and lets sessions in the middle of a
   * message finish it (its push and its reply) for up to `close-timeout`; then the rest get 421.
   */
  async close(): Promise<void> {
    this.#closing = true;
    const closed = this.#listening.map(({ server }) => new Promise<void>((done) => server.close(() => done())));
    for (const { server } of this.#listening) {
      for (const connection of server.connections)
        if (!this.#busy.has(connection.id)) connection.send(421, `${this.#name} Service shutting down`);
    }
    await Promise.all(closed);
    await Promise.allSettled([...this.#busy.values()]);
    this.#listening.length = 0;
  }

  async #listen(listener: ListenerConfig): Promise<Listening> {
    const { host, port } = parseListenAddress(listener.address);
    const mode = listener.mode;
    const tlsFiles = listener.tls
      ? { key: await readFile(resolve(this.#baseDir, listener.tls.key)), cert: await readFile(resolve(this.#baseDir, listener.tls.cert)) }
      : undefined;
    const disabled: string[] = [];
    if (mode !== 'submission') disabled.push('AUTH');
    // Without a certificate of its own smtp-server would offer STARTTLS with its built-in test key.
    if (!tlsFiles) disabled.push('STARTTLS');
    const insecureAuth = listener['allow-insecure-auth'];
    const options: SMTPServerOptions = {
      name: this.#name,
      banner: 'porter',
      logger: false,
      lmtp: mode === 'lmtp',
      disableReverseLookup: true,
      size: this.#config['max-message-size'],
      maxRecipients: this.#config['max-recipients'],
      maxClients: this.#config['max-clients'],
      socketTimeout: this.#config['idle-timeout'] * 1000,
      closeTimeout: this.#config['close-timeout'] * 1000,
      disabledCommands: disabled,
      authMethods: ['PLAIN', 'LOGIN'],
      authRequiredMessage: '5.7.0 Authentication required',
      allowInsecureAuth: insecureAuth,
      ...(tlsFiles ? { ...tlsFiles, minVersion: 'TLSv1.2' as const } : {}),
      onConnect: (_session, callback) => {
        if (this.#closing) callback(new SmtpReply(421, `${this.#name} Service shutting down`));
        else callback();
      },
      onAuth: (auth, session, callback) => {
        this.#auth(auth, session, insecureAuth).then(
          (response) => callback(null, response),
          (error: unknown) => callback(asReply(error, 454, '4.7.0 Temporary authentication failure')),
        );
      },
      onRcptTo: (address, session, callback) => {
        this.#rcpt(address, session).then(
          () => callback(),
          (error: unknown) => callback(asReply(error, 451, '4.3.0 Recipient check failed, try again later')),
        );
      },
      onData: (stream, session, callback) => {
        const work = this.#receive(stream, session, mode);
        this.#busy.set(session.id, work);
        work.then(
          (result) => callback(null, result),
          (error: unknown) => callback(asReply(error, 451, '4.3.0 Local error in processing, try again later')),
        );
        work
          .catch(() => {})
          .finally(() => {
            this.#busy.delete(session.id);
            if (this.#closing) setImmediate(() => this.#dismiss(server, session.id));
          });
      },
    };
    const server = new PromptServer(options);
    server.on('error', (error: Error) => this.#log?.debug({ err: error, mode }, 'smtp session error'));
    await new Promise<void>((done, fail) => {
      const failed = (error: Error) => fail(new Error(`cannot listen for ${mode} on ${listener.address}: ${error.message}`));
      server.server.once('error', failed);
      server.listen(port, host, () => {
        server.server.off('error', failed);
        done();
      });
    });
    const address = server.server.address() as net.AddressInfo;
    const bound: BoundListener = { mode, host: address.address, port: address.port, starttls: tlsFiles !== undefined };
    this.#log?.info({ mode, host: bound.host, port: bound.port, starttls: bound.starttls }, 'smtp listener ready');
    return { server, bound };
  }

  #dismiss(server: SMTPServer, id: string): void {
    for (const connection of server.connections) if (connection.id === id) connection.send(421, `${this.#name} Service shutting down`);
  }

  async #auth(
    auth: SMTPServerAuthentication,
    session: SMTPServerSession,
    insecureAuth: boolean,
  ): Promise<SMTPServerAuthenticationResponse> {
    // smtp-server allows cleartext AUTH whenever STARTTLS is unavailable; porter does not.
    if (!session.secure && !insecureAuth)
      return { message: '5.7.11 Encryption required for requested authentication mechanism', responseCode: 538 };
    if (auth.method !== 'PLAIN' && auth.method !== 'LOGIN')
      return { message: '5.5.4 Unsupported authentication mechanism', responseCode: 504 };
    const name = auth.username ?? '';
    const password = typeof auth.password === 'string' ? auth.password : '';
    // A PLAIN authorization identity other than the login would mean acting as someone else.
    if (auth.authzid && auth.authzid !== name) return { message: '5.7.8 Authentication credentials invalid', responseCode: 535 };
    const user = await this.#users.authenticate(name, password);
    if (user === undefined) {
      this.#log?.info({ session: session.id, client: session.remoteAddress, user: name }, 'smtp authentication failed');
      return { message: '5.7.8 Authentication credentials invalid', responseCode: 535 };
    }
    return { user };
  }

  async #rcpt(address: SMTPServerAddress, session: SMTPServerSession): Promise<void> {
    const addr = address.address;
    const at = addr.lastIndexOf('@');
    const domain = at < 0 ? undefined : addr.slice(at + 1).toLowerCase();
    let rcpt: Rcpt;
    // A bare local part (`postmaster`) is local, as RFC 5321 §4.1.1.3 has it.
    if (domain === undefined || this.#domains.has(domain)) {
      const user = await this.#localUser(addr, at < 0 ? addr : addr.slice(0, at));
      if (user === NO_USER) throw new SmtpReply(550, `5.1.1 <${addr}>: Recipient address rejected: no such user here`);
      rcpt = { user };
    } else {
      if (typeof session.user !== 'string') throw new SmtpReply(554, `5.7.1 <${addr}>: Relay access denied`);
      rcpt = { user: undefined };
    }
    let rcpts = this.#rcpts.get(session);
    if (!rcpts) {
      rcpts = new Map();
      this.#rcpts.set(session, rcpts);
    }
    rcpts.set(addr.toLowerCase(), rcpt);
  }

  /** The user a local address belongs to: one named by the whole address, else by its local part. */
  async #localUser(address: string, localPart: string): Promise<string | typeof NO_USER> {
    if (address !== localPart && (await this.#users.verify(address))) return address.toLowerCase();
    if (await this.#users.verify(localPart)) return localPart.toLowerCase();
    return NO_USER;
  }

  /** `sender-bcc`: a blind copy of what an authenticated user sends, to the address configured for the envelope sender. */
  async #senderBcc(session: SMTPServerSession, from: string, byQueue: Map<string, EnvelopeRecipient[]>): Promise<void> {
    if (typeof session.user !== 'string' || !from) return;
    const bcc = this.#config['sender-bcc'][from.toLowerCase()];
    if (!bcc || session.envelope.rcptTo.some((r) => r.address.toLowerCase() === bcc.toLowerCase())) return;
    const at = bcc.lastIndexOf('@');
    const local = this.#domains.has(bcc.slice(at + 1).toLowerCase());
    const user = local ? await this.#localUser(bcc, bcc.slice(0, at)) : NO_USER;
    if (local && user === NO_USER) {
      this.#log?.warn({ sender: from, bcc }, 'sender-bcc names a local address with no mailbox; no copy kept');
      return;
    }
    const queue = user === NO_USER ? OUTGOING_QUEUE : INCOMING_QUEUE;
    const list = byQueue.get(queue) ?? [];
    byQueue.set(queue, list);
    list.push(user === NO_USER ? { address: bcc } : { address: bcc, user });
  }

  async #receive(stream: SMTPServerDataStream, session: SMTPServerSession, mode: ListenerMode): Promise<string | SMTPServerDataResult[]> {
    const id = `${session.id}.${session.transaction}`;
    const accepted = this.#rcpts.get(session);
    const byQueue = new Map<string, EnvelopeRecipient[]>();
    const queueOf: string[] = [];
    for (const { address } of session.envelope.rcptTo) {
      const rcpt = accepted?.get(address.toLowerCase());
      // Every recipient passed #rcpt; one that did not must never fall through to `outgoing` (a relay).
      if (!rcpt) throw new SmtpReply(451, '4.3.0 Recipient state lost, try again later');
      const user = rcpt.user;
      const queue = user === undefined ? OUTGOING_QUEUE : INCOMING_QUEUE;
      queueOf.push(queue);
      const list = byQueue.get(queue) ?? [];
      byQueue.set(queue, list);
      list.push(user === undefined ? { address } : { address, user });
    }
    const mailFrom = session.envelope.mailFrom;
    const from = mailFrom ? mailFrom.address : '';
    // The copy joins a queue, not `queueOf`: that lists the client's own recipients, for LMTP's replies.
    await this.#senderBcc(session, from, byQueue);
    const received = Date.now();
    const head = Buffer.from(this.#receivedHeader(session, id, received), 'utf8');

    const heads = [...byQueue].map(([queue, rcpts]) => {
      const record = formatEnvelope({
        id,
        received,
        client: session.remoteAddress,
        ...(typeof session.user === 'string' ? { auth: session.user } : {}),
        from,
        to: rcpts,
        eightBit: session.envelope.bodyType === '8bitmime',
        smtpUtf8: session.envelope.smtpUtf8 === true,
      });
      return { queue, head: Buffer.concat([record, head]) };
    });
    const openSlots = async (): Promise<Slot[]> => {
      const slots: Slot[] = [];
      try {
        for (const { queue, head } of heads) {
          const path = await this.#spool.slot(queue);
          const handle = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
          slots.push({ queue, path, handle, head });
        }
      } catch (error) {
        await discard(slots);
        throw error;
      }
      return slots;
    };

    const filter = new MessageFilter({ maxBytes: this.#config['max-message-size'], maxLineLength: this.#config['max-line-length'] });
    const writer = new SlotWriter(openSlots, this.#spool.pushMessage !== undefined);
    try {
      await pump(stream, filter, writer);
    } catch (error) {
      await discard(writer.slots);
      this.#log?.info({ err: error, id }, 'message not received to its end');
      throw new SmtpReply(451, '4.3.0 Message not received to its end');
    }
    if (stream.sizeExceeded) filter.sizeExceeded();
    if (filter.problem || writer.error !== undefined) {
      await discard(writer.slots);
      if (filter.problem) {
        this.#log?.info({ id, from, rcpts: queueOf.length, problem: filter.problem.kind }, 'message refused');
        throw refusal(filter.problem);
      }
      if (writer.openFailed) {
        this.#log?.error({ err: writer.error, id }, 'cannot open a queue slot');
        throw new SmtpReply(451, '4.3.0 Queue unavailable, try again later');
      }
      this.#log?.error({ err: writer.error, id }, 'cannot write a message to the queue');
      throw new SmtpReply(451, '4.3.0 Cannot write the message, try again later');
    }

    const pushed = new Map<string, { ok: true; id: string } | { ok: false }>();
    const held = writer.held;
    if (held) {
      // Small enough to have stayed in memory: straight into the queue's journal, no slot file.
      await Promise.all(
        heads.map(async ({ queue, head }) => {
          try {
            pushed.set(queue, { ok: true, id: basename(await this.#spool.pushMessage!(queue, [head, ...held])) });
          } catch (error) {
            this.#log?.error({ err: error, id, queue }, 'queue push failed');
            pushed.set(queue, { ok: false });
          }
        }),
      );
    } else {
      const slots = writer.slots;
      const closedAll = await Promise.allSettled(slots.map((s) => s.handle.close()));
      const closeFailed = closedAll.find((r) => r.status === 'rejected');
      if (closeFailed) {
        await discard(slots);
        this.#log?.error({ err: closeFailed.reason, id }, 'cannot write a message to the queue');
        throw new SmtpReply(451, '4.3.0 Cannot write the message, try again later');
      }
      await Promise.all(
        slots.map(async (slot) => {
          try {
            pushed.set(slot.queue, { ok: true, id: basename(await this.#spool.push(slot.queue, slot.path)) });
          } catch (error) {
            this.#log?.error({ err: error, id, queue: slot.queue }, 'queue push failed');
            await unlink(slot.path).catch(() => {});
            pushed.set(slot.queue, { ok: false });
          }
        }),
      );
    }
    const queued = [...pushed.values()].flatMap((p) => (p.ok ? [p.id] : []));
    if (this.#log?.isLevelEnabled('info'))
      this.#log.info(
        {
          id,
          from,
          rcpts: queueOf.length,
          size: filter.bytes,
          queued,
          client: session.remoteAddress,
          ...(session.user ? { user: session.user } : {}),
        },
        queued.length === pushed.size ? 'message queued' : 'message not queued',
      );

    const failed = () => new SmtpReply(451, '4.3.0 Queue write failed, try again later');
    if (mode === 'lmtp') {
      return queueOf.map((queue) => {
        const result = pushed.get(queue);
        return result?.ok ? `2.0.0 Ok: queued as ${result.id}` : failed();
      });
    }
    // One reply covers every recipient: a 250 must mean all of them are safe. The client sends
    // again after a 451, so a queue that did take the message gets it twice (a duplicate, never a loss).
    if (queued.length !== pushed.size) throw failed();
    return `2.0.0 Ok: queued as ${queued.join(' ')}`;
  }

  #receivedHeader(session: SMTPServerSession, id: string, when: number): string {
    const helo = session.hostNameAppearsAs || 'unknown';
    const forRcpt = session.envelope.rcptTo.length === 1 ? `\r\n\tfor <${session.envelope.rcptTo[0]!.address}>` : '';
    return `Received: from ${helo} (${session.clientHostname})\r\n\tby ${this.#name} (porter) with ${session.transmissionType} id ${id}${forRcpt};\r\n\t${rfc5322Date(when)}\r\n`;
  }
}

function refusal(problem: MessageProblem): SmtpReply {
  switch (problem.kind) {
    case 'nul':
      return new SmtpReply(554, '5.6.0 Message contains NUL bytes');
    case 'line':
      return new SmtpReply(554, `5.6.0 Message has a line longer than ${problem.limit} octets`);
    case 'size':
      return new SmtpReply(552, `5.3.4 Message exceeds fixed maximum message size ${problem.limit}`);
  }
}

function asReply(error: unknown, code: number, text: string): SmtpReply {
  return error instanceof SmtpReply ? error : new SmtpReply(code, text);
}

async function discard(slots: readonly Slot[]): Promise<void> {
  await Promise.allSettled(slots.map((s) => s.handle.close()));
  await Promise.allSettled(slots.map((s) => unlink(s.path)));
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `Mon, 23 Nov 2026 12:40:53 +0000` (RFC 5322 §3.3), in UTC. */
function rfc5322Date(ms: number): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${DAYS[d.getUTCDay()]}, ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`;
}
