// A lean SMTP client for delivery: one connection, EHLO/HELO, STARTTLS, AUTH, then pipelined transactions (RFC 2920) until it is closed.
import { connect as netConnect, type Socket } from 'node:net';
import { type ConnectionOptions, type TLSSocket, connect as tlsConnect } from 'node:tls';

/** One reply: its code and its lines joined by spaces (the text said to people, in records and bounces). */
export interface Reply {
  readonly code: number;
  readonly text: string;
}

/**
 * Why a connection failed, for the caller's decision: `connection` (refused, reset, closed, a
 * 421), `timeout`, `tls`, `auth`, `protocol` (an answer that makes no sense). None of these said
 * anything about one message, so the message is tried again later, or at the next MX host.
 */
export type ClientErrorKind = 'connection' | 'timeout' | 'tls' | 'auth' | 'protocol';

export class SmtpClientError extends Error {
  constructor(
    message: string,
    readonly kind: ClientErrorKind,
    /** The server's reply, when there was one (a 421, a refused AUTH). */
    readonly reply?: Reply,
    /**
     * The transaction failed before the server answered any of its commands: nothing of it was
     * taken, and it may be tried again at once on another connection (the connection was found
     * closed, or died under the transaction pipelined before this one).
     */
    readonly unanswered = false,
  ) {
    super(message);
  }
}

export interface SmtpClientOptions {
  /** The address to connect to. */
  readonly address: string;
  readonly port: number;
  /** The name the address was found under: TLS's servername, and what errors say. */
  readonly host: string;
  /** The name said in EHLO. */
  readonly name: string;
  /** TLS from the first byte (port 465). */
  readonly secure?: boolean;
  /** Refuse to go on unless STARTTLS succeeds; otherwise STARTTLS is used when offered, and a failed handshake falls back to plain text. */
  readonly requireTls?: boolean;
  /** Never try STARTTLS (the fallback after a failed handshake). */
  readonly noTls?: boolean;
  readonly tls?: ConnectionOptions;
  readonly auth?: { readonly user: string; readonly pass: string };
  /** Postfix's smtp_connect_timeout (30 s). */
  readonly connectTimeoutMs: number;
  /** Postfix's smtp_helo_timeout (300 s): waiting for the greeting and EHLO's reply. */
  readonly greetingTimeoutMs: number;
  /** Waiting for any other reply (Postfix: 300 s for MAIL and RCPT, 600 s after the final dot). */
  readonly replyTimeoutMs: number;
}

/** What one transaction got: MAIL FROM's reply, one reply per recipient (in order), and the final reply to the message when it was sent. */
export interface TransactionResult {
  readonly mail: Reply;
  readonly recipients: readonly Reply[];
  /** Undefined when the message was not sent (MAIL or every RCPT refused, or DATA refused: see `dataCommand`). */
  readonly data?: Reply;
  /** DATA's own reply when it was not 354. */
  readonly dataCommand?: Reply;
}

export interface TransactionOptions {
  /** Declare BODY=8BITMIME when the server offers it. */
  readonly eightBit?: boolean;
  /** Declare SMTPUTF8; the caller checked the server offers it. */
  readonly smtpUtf8?: boolean;
}

interface Waiter {
  readonly resolve: (reply: Reply) => void;
  readonly reject: (error: SmtpClientError) => void;
  readonly timeoutMs: number;
}

const CRLF = Buffer.from('\r\n');
const DOT_CRLF = Buffer.from('.\r\n');

/**
 * The message as it goes on the wire after DATA: every line ending CRLF (a bare LF or CR becomes
 * CRLF), a dot at the start of a line doubled (RFC 5321 §4.5.2), the whole ending with CRLF. A
 * message that needs none of it (what SMTP in spools) is returned as it is, without a copy.
 */
export function dataBytes(message: Buffer): Buffer {
  let clean = message.length === 0 || message[0] !== 0x2e;
  if (clean) {
    for (let i = message.indexOf(0x0a); i !== -1; i = message.indexOf(0x0a, i + 1)) {
      if (i === 0 || message[i - 1] !== 0x0d || message[i + 1] === 0x2e) {
        clean = false;
        break;
      }
    }
  }
  if (clean) {
    for (let i = message.indexOf(0x0d); i !== -1; i = message.indexOf(0x0d, i + 1)) {
      if (message[i + 1] !== 0x0a) {
        clean = false;
        break;
      }
    }
  }
  const endsWithCrlf = message.length >= 2 && message[message.length - 2] === 0x0d && message[message.length - 1] === 0x0a;
  if (clean) return endsWithCrlf || message.length === 0 ? message : Buffer.concat([message, CRLF]);
  const out: number[] = [];
  let lineStart = true;
  for (let i = 0; i < message.length; i++) {
    const byte = message[i]!;
    if (byte === 0x0d || byte === 0x0a) {
      out.push(0x0d, 0x0a);
      if (byte === 0x0d && message[i + 1] === 0x0a) i++;
      lineStart = true;
      continue;
    }
    if (lineStart && byte === 0x2e) out.push(0x2e);
    out.push(byte);
    lineStart = false;
  }
  if (!lineStart) out.push(0x0d, 0x0a);
  return Buffer.from(out);
}

/** The EHLO keywords and their parameters, upper-cased: `SIZE` → `10240000`, `AUTH` → `PLAIN LOGIN`. */
function extensions(lines: readonly string[]): Map<string, string> {
  const found = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const [keyword, ...rest] = line.trim().split(/\s+/);
    if (keyword) found.set(keyword.toUpperCase(), rest.join(' ').toUpperCase());
  }
  return found;
}

/**
 * One SMTP connection to one server. `open()` connects and says hello (with STARTTLS and AUTH as
 * configured); `send()` runs one transaction, pipelined when the server offers PIPELINING, and
 * leaves the connection ready for the next one; `close()` says QUIT. Replies are read in order
 * as they come, so pipelined commands need no special handling beyond writing them together.
 *
 * With PIPELINING a second transaction may start as soon as the first has written its final
 * dot (`accepting`): RFC 2920 lets the message content open a group of commands, so the next
 * MAIL, RCPT and DATA go out with the dot, in the same write when the caller starts the next
 * transaction from `onAccepting`. The server then answers the dot and the next commands in one
 * go: one round trip and about one system call a message instead of two.
 * After any error the connection is dead (`usable` is false) and the caller opens a new one.
 */
export class SmtpConnection {
  readonly #options: SmtpClientOptions;
  #socket: Socket | TLSSocket | undefined;
  #buffer = '';
  /** Lines of the reply being read. */
  #lines: string[] = [];
  readonly #waiters: Waiter[] = [];
  #timer: NodeJS.Timeout | undefined;
  #error: SmtpClientError | undefined;
  #ext = new Map<string, string>();
  #tls = false;
  /** The transaction that is writing (commands sent, its dot not yet): no other may start. */
  #writer: object | undefined;
  /** Transactions started and not yet answered in full: at most two, the second behind the first's dot. */
  #outstanding = 0;
  #lastLines: string[] = [];
  #closed = false;
  /** When the last transaction ended, for closing connections left idle. */
  lastActive = Date.now();
  /** Called when another transaction may start (its predecessor wrote its dot, or finished). A transaction started from here shares the dot's write. */
  onAccepting: (() => void) | undefined;
  /** Called once, when the connection is closed or fails. */
  onClose: (() => void) | undefined;

  private constructor(options: SmtpClientOptions) {
    this.#options = options;
  }

  /** Connects and gets ready for transactions. A failed opportunistic STARTTLS handshake is tried once more without TLS, as Postfix does. */
  static async open(options: SmtpClientOptions): Promise<SmtpConnection> {
    const connection = new SmtpConnection(options);
    try {
      await connection.#open();
      return connection;
    } catch (error) {
      connection.destroy();
      if (error instanceof SmtpClientError && error.kind === 'tls' && !options.requireTls && !options.secure && !options.noTls) {
        return SmtpConnection.open({ ...options, noTls: true });
      }
      throw error;
    }
  }

  /** Whether the connection can take another transaction. */
  get usable(): boolean {
    return this.#socket !== undefined && this.#error === undefined && !this.#socket.destroyed;
  }

  /** Whether a transaction may start now: nothing is being written, and at most one is waiting for its last reply (with PIPELINING). */
  get accepting(): boolean {
    return this.usable && this.#writer === undefined && this.#outstanding < (this.#ext.has('PIPELINING') ? 2 : 1);
  }

  /** Transactions waiting for replies. */
  get outstanding(): number {
    return this.#outstanding;
  }

  /** Whether TLS protects it (implicit or STARTTLS). */
  get encrypted(): boolean {
    return this.#tls;
  }

  /** The size limit the server announced with SIZE, if any (0 means none). */
  get sizeLimit(): number | undefined {
    const size = this.#ext.get('SIZE');
    if (size === undefined) return undefined;
    const n = Number(size);
    return Number.isFinite(n) ? n : undefined;
  }

  offers(keyword: string): boolean {
    return this.#ext.has(keyword);
  }

  async #open(): Promise<void> {
    const o = this.#options;
    await this.#connect();
    const greeting = await this.#read(o.greetingTimeoutMs);
    if (greeting.code !== 220)
      throw new SmtpClientError(`${o.host} greeted with: ${greeting.code} ${greeting.text}`, 'connection', greeting);
    await this.#hello();
    if (!this.#tls && !o.noTls && (this.#ext.has('STARTTLS') || o.requireTls)) {
      if (!this.#ext.has('STARTTLS')) {
        throw new SmtpClientError(`TLS is required, but ${o.host} does not offer STARTTLS`, 'tls');
      }
      const reply = await this.#command('STARTTLS', o.replyTimeoutMs);
      if (reply.code === 220) {
        await this.#startTls();
        await this.#hello();
      } else if (o.requireTls) {
        throw new SmtpClientError(`TLS is required, but ${o.host} refused STARTTLS: ${reply.code} ${reply.text}`, 'tls', reply);
      }
    }
    if (o.auth) await this.#authenticate(o.auth);
  }

  #connect(): Promise<void> {
    const o = this.#options;
    return new Promise((resolve, reject) => {
      const servername = /^[0-9.]+$|:/.test(o.host) ? undefined : o.host;
      const socket: Socket | TLSSocket = o.secure
        ? tlsConnect({ host: o.address, port: o.port, ...(servername ? { servername } : {}), ...o.tls })
        : netConnect({ host: o.address, port: o.port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new SmtpClientError(`connecting to ${o.host}[${o.address}]:${o.port} timed out`, 'timeout'));
      }, o.connectTimeoutMs);
      const failed = (error: Error) => {
        clearTimeout(timer);
        reject(new SmtpClientError(`connecting to ${o.host}[${o.address}]:${o.port}: ${error.message}`, o.secure ? 'tls' : 'connection'));
      };
      socket.once('error', failed);
      socket.once(o.secure ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        socket.off('error', failed);
        this.#tls = o.secure === true;
        this.#attach(socket);
        resolve();
      });
    });
  }

  #attach(socket: Socket | TLSSocket): void {
    this.#socket = socket;
    socket.setNoDelay(true);
    // Read as latin1 (one char a byte, never split), decoded as UTF-8 per reply: a TLS upgrade needs the socket without an encoding.
    socket.on('data', (chunk: Buffer) => this.#onData(chunk.toString('latin1')));
    socket.on('error', (error) => this.#fail(new SmtpClientError(`${this.#options.host}: ${error.message}`, 'connection')));
    socket.on('close', () => this.#fail(new SmtpClientError(`${this.#options.host} closed the connection`, 'connection')));
  }

  #startTls(): Promise<void> {
    const o = this.#options;
    const plain = this.#socket!;
    plain.removeAllListeners('data');
    plain.removeAllListeners('error');
    plain.removeAllListeners('close');
    return new Promise((resolve, reject) => {
      const servername = /^[0-9.]+$|:/.test(o.host) ? undefined : o.host;
      const secure = tlsConnect({ socket: plain, ...(servername ? { servername } : {}), ...o.tls });
      const timer = setTimeout(() => {
        secure.destroy();
        reject(new SmtpClientError(`TLS handshake with ${o.host} timed out`, 'tls'));
      }, o.greetingTimeoutMs);
      secure.once('error', (error) => {
        clearTimeout(timer);
        reject(new SmtpClientError(`TLS handshake with ${o.host} failed: ${error.message}`, 'tls'));
      });
      secure.once('secureConnect', () => {
        clearTimeout(timer);
        secure.removeAllListeners('error');
        this.#tls = true;
        this.#attach(secure);
        resolve();
      });
    });
  }

  /** EHLO, or HELO when the server does not know EHLO (a 5xx): then it offers no extensions. */
  async #hello(): Promise<void> {
    const o = this.#options;
    const ehlo = await this.#command(`EHLO ${o.name}`, o.greetingTimeoutMs);
    if (ehlo.code === 250) {
      this.#ext = extensions(this.#lastLines);
      return;
    }
    if (ehlo.code >= 500 && !this.#tls && !o.requireTls && !o.auth) {
      const helo = await this.#command(`HELO ${o.name}`, o.greetingTimeoutMs);
      if (helo.code === 250) {
        this.#ext = new Map();
        return;
      }
      throw new SmtpClientError(`${o.host} refused HELO: ${helo.code} ${helo.text}`, 'protocol', helo);
    }
    throw new SmtpClientError(`${o.host} refused EHLO: ${ehlo.code} ${ehlo.text}`, ehlo.code === 421 ? 'connection' : 'protocol', ehlo);
  }

  async #authenticate(auth: { readonly user: string; readonly pass: string }): Promise<void> {
    const o = this.#options;
    const mechanisms = (this.#ext.get('AUTH') ?? '').split(/\s+/);
    let reply: Reply;
    if (mechanisms.includes('PLAIN')) {
      reply = await this.#command(`AUTH PLAIN ${Buffer.from(`\0${auth.user}\0${auth.pass}`, 'utf8').toString('base64')}`, o.replyTimeoutMs);
    } else if (mechanisms.includes('LOGIN')) {
      reply = await this.#command('AUTH LOGIN', o.replyTimeoutMs);
      if (reply.code === 334) reply = await this.#command(Buffer.from(auth.user, 'utf8').toString('base64'), o.replyTimeoutMs);
      if (reply.code === 334) reply = await this.#command(Buffer.from(auth.pass, 'utf8').toString('base64'), o.replyTimeoutMs);
    } else {
      throw new SmtpClientError(`${o.host} offers no AUTH mechanism porter knows (PLAIN, LOGIN)${this.#tls ? '' : ' without TLS'}`, 'auth');
    }
    if (reply.code !== 235) throw new SmtpClientError(`${o.host} refused the login: ${reply.code} ${reply.text}`, 'auth', reply);
  }

  /**
   * One transaction. With PIPELINING, MAIL, every RCPT and DATA go in one write and their replies
   * are read in order; otherwise one command at a time. A transaction that did not end with the
   * message accepted or refused after its dot is reset (RSET), so the connection can be reused.
   */
  async send(from: string, recipients: readonly string[], message: Buffer, options: TransactionOptions = {}): Promise<TransactionResult> {
    if (!this.usable) {
      const error = this.#error ?? new SmtpClientError(`the connection to ${this.#options.host} is closed`, 'connection');
      throw new SmtpClientError(error.message, error.kind, error.reply, true);
    }
    if (!this.accepting) throw new Error('SmtpConnection.send() while another transaction is writing');
    const writer = {};
    this.#writer = writer;
    this.#outstanding++;
    let answered = false;
    const progress = {
      answered: () => {
        answered = true;
      },
      wrote: () => {
        if (this.#writer === writer) this.#writer = undefined;
      },
    };
    try {
      return await this.#transaction(from, recipients, message, options, progress);
    } catch (error) {
      if (!answered && error instanceof SmtpClientError && !error.unanswered) {
        throw new SmtpClientError(error.message, error.kind, error.reply, true);
      }
      throw error;
    } finally {
      progress.wrote();
      this.#outstanding--;
      this.lastActive = Date.now();
      if (this.accepting) this.onAccepting?.();
    }
  }

  async #transaction(
    from: string,
    recipients: readonly string[],
    message: Buffer,
    options: TransactionOptions,
    progress: { readonly answered: () => void; readonly wrote: () => void },
  ): Promise<TransactionResult> {
    const timeout = this.#options.replyTimeoutMs;
    const body = dataBytes(message);
    let mailCommand = `MAIL FROM:<${from}>`;
    if (this.#ext.has('SIZE')) mailCommand += ` SIZE=${body.length}`;
    if (options.eightBit && this.#ext.has('8BITMIME')) mailCommand += ' BODY=8BITMIME';
    if (options.smtpUtf8 && this.#ext.has('SMTPUTF8')) mailCommand += ' SMTPUTF8';
    const commands = [mailCommand, ...recipients.map((to) => `RCPT TO:<${to}>`), 'DATA'];
    let mail: Reply;
    const replies: Reply[] = [];
    let dataCommand: Reply;
    if (this.#ext.has('PIPELINING')) {
      const pending = commands.map(() => this.#expect(timeout));
      pending[0]!.then(progress.answered, () => {});
      this.#write(`${commands.join('\r\n')}\r\n`);
      const all = await Promise.all(pending);
      mail = all[0]!;
      replies.push(...all.slice(1, -1));
      dataCommand = all.at(-1)!;
    } else {
      mail = await this.#command(commands[0]!, timeout);
      progress.answered();
      if (mail.code !== 250) {
        await this.#reset();
        return { mail, recipients: recipients.map(() => mail) };
      }
      for (const command of commands.slice(1, -1)) replies.push(await this.#command(command, timeout));
      if (!replies.some((r) => r.code === 250 || r.code === 251)) {
        await this.#reset();
        return { mail, recipients: replies };
      }
      dataCommand = await this.#command('DATA', timeout);
    }
    const accepted = mail.code === 250 && replies.some((r) => r.code === 250 || r.code === 251);
    if (dataCommand.code !== 354) {
      await this.#reset();
      return { mail, recipients: mail.code === 250 ? replies : recipients.map(() => mail), dataCommand };
    }
    if (!accepted) {
      // A server that says 354 though it took no recipient: an empty message ends the transaction; nothing was delivered.
      const pending = this.#expect(timeout);
      this.#write('.\r\n');
      await pending;
      return { mail, recipients: mail.code === 250 ? replies : recipients.map(() => mail), dataCommand };
    }
    // Postfix waits 600 s for the reply after the dot (smtp_data_done_timeout): twice the reply timeout.
    const pending = this.#expect(timeout * 2);
    const socket = this.#socket!;
    // The dot, and whatever the next transaction writes from onAccepting, leave in one write.
    socket.cork();
    socket.write(body);
    socket.write(DOT_CRLF);
    progress.wrote();
    try {
      if (this.accepting) this.onAccepting?.();
    } finally {
      socket.uncork();
    }
    const data = await pending;
    return { mail, recipients: replies, data };
  }

  /** RSET after a transaction that did not finish; if that fails too, the connection is given up. */
  async #reset(): Promise<void> {
    const reply = await this.#command('RSET', this.#options.replyTimeoutMs);
    if (reply.code !== 250) this.destroy();
  }

  /** Says QUIT, waits briefly for the answer, and closes. */
  async close(): Promise<void> {
    if (!this.usable) {
      this.destroy();
      return;
    }
    try {
      // Nothing depends on the answer: a server slow to give it is not waited for long.
      await this.#command('QUIT', Math.min(this.#options.replyTimeoutMs, 1_000));
    } catch {
      // Closing anyway.
    }
    this.destroy();
  }

  destroy(): void {
    const socket = this.#socket;
    this.#fail(new SmtpClientError(`the connection to ${this.#options.host} was closed`, 'connection'));
    socket?.destroy();
  }

  #write(text: string): void {
    this.#socket!.write(text);
  }

  #command(line: string, timeoutMs: number): Promise<Reply> {
    const reply = this.#expect(timeoutMs);
    if (!this.#error) this.#write(`${line}\r\n`);
    return reply;
  }

  /** The next reply, once read; a 421 (the server is going away) also ends the connection. */
  #expect(timeoutMs: number): Promise<Reply> {
    if (this.#error) return Promise.reject(this.#error);
    return new Promise<Reply>((resolve, reject) => {
      this.#waiters.push({ resolve, reject, timeoutMs });
      if (this.#waiters.length === 1) this.#arm();
    });
  }

  #read(timeoutMs: number): Promise<Reply> {
    return this.#expect(timeoutMs);
  }

  /** The timer runs for the oldest reply awaited: silence that long fails the connection. */
  #arm(): void {
    clearTimeout(this.#timer);
    const head = this.#waiters[0];
    if (!head) {
      this.#timer = undefined;
      return;
    }
    this.#timer = setTimeout(() => {
      const error = new SmtpClientError(`timed out after ${head.timeoutMs / 1000} s waiting for ${this.#options.host}'s reply`, 'timeout');
      this.#fail(error);
      this.#socket?.destroy();
    }, head.timeoutMs);
  }

  #onData(chunk: string): void {
    this.#buffer += chunk;
    for (;;) {
      const end = this.#buffer.indexOf('\n');
      if (end < 0) break;
      const line = this.#buffer.slice(0, end).replace(/\r$/, '');
      this.#buffer = this.#buffer.slice(end + 1);
      this.#onLine(line);
    }
    if (this.#buffer.length > 64 * 1024) {
      this.#fail(new SmtpClientError(`${this.#options.host} sent a reply line longer than 64 KiB`, 'protocol'));
      this.#socket?.destroy();
    }
  }

  #onLine(line: string): void {
    if (!/^\d{3}(?:[ -]|$)/.test(line)) {
      this.#fail(
        new SmtpClientError(`${this.#options.host} sent something that is not an SMTP reply: "${line.slice(0, 100)}"`, 'protocol'),
      );
      this.#socket?.destroy();
      return;
    }
    this.#lines.push(line);
    if (line[3] === '-') return;
    const lines = this.#lines;
    this.#lines = [];
    const code = Number(line.slice(0, 3));
    const text = Buffer.from(lines.map((l) => l.slice(4).trim()).join(' '), 'latin1').toString('utf8');
    const reply: Reply = { code, text: `${code} ${text}`.trim() };
    this.#lastLines = lines.map((l) => l.slice(4));
    const waiter = this.#waiters.shift();
    if (waiter) {
      this.#arm();
      waiter.resolve(reply);
    }
    if (code === 421) {
      // Replies to commands still in flight will not come; the caller sees the 421 where it was given.
      this.#fail(new SmtpClientError(`${this.#options.host}: ${reply.text}`, 'connection', reply));
      this.#socket?.destroy();
    }
  }

  #fail(error: SmtpClientError): void {
    this.#error ??= error;
    if (!this.#closed) {
      this.#closed = true;
      // After the caller's handlers: a pool hearing of it removes the connection.
      queueMicrotask(() => this.onClose?.());
    }
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const waiter of this.#waiters.splice(0)) waiter.reject(this.#error);
  }
}
