// The POP3 server (RFC 1939, with CAPA, UIDL, TOP, RESP-CODES, AUTH PLAIN, STLS) over the mailboxes and the mail users.
import { once } from 'node:events';
import net, { type AddressInfo } from 'node:net';
import tls from 'node:tls';
import type { Logger } from '../../core/log.js';
import { normaliseUserName, printable } from '../auth/names.js';
import { MailboxError, type Mailboxes, type MailboxSnapshot } from '../mailbox/mailboxes.js';
import { dotStuff, head } from '../mailbox/message.js';

/** Who may log in: `MailUsers` is one. Answers the canonical user name, or undefined. */
export interface Pop3Authenticator {
  authenticate(name: string, password: string): Promise<string | undefined>;
}

export interface Pop3ServerOptions {
  readonly mailboxes: Mailboxes;
  readonly users: Pop3Authenticator;
  readonly log?: Logger;
  /** Certificate and key: offers STLS (or, with `implicitTls`, speaks TLS from the start, as on port 995). */
  readonly tls?: tls.SecureContextOptions;
  readonly implicitTls?: boolean;
  /** Refuse USER, PASS and AUTH until the connection is encrypted. Needs `tls`. Default false. */
  readonly requireTls?: boolean;
  /** RFC 1939 §3: an autologout timer of at least 10 minutes. Default 10 minutes. */
  readonly idleTimeoutMs?: number;
  /** Unknown commands, commands in the wrong state, syntax errors and failed logins before the server hangs up. Default 10. */
  readonly maxBadCommands?: number;
  /** Longest command line in octets, CRLF included. Default 1024 (RFC 2449's 255, with room for AUTH PLAIN). */
  readonly maxLineLength?: number;
  /** Pause after a failed login, to slow down guessing. Default 1000 ms. */
  readonly authFailureDelayMs?: number;
  /** Connections served at once; more are refused with `-ERR [SYS/TEMP]`. Default 200. */
  readonly maxConnections?: number;
}

type State = 'authorization' | 'transaction' | 'update';

const CRLF = '\r\n';
/** Pipelined commands held before the socket stops reading. */
const MAX_QUEUED_LINES = 64;
/** How long a hung-up client may take to read our last words before the socket is destroyed. */
const LINGER_MS = 10_000;

export class Pop3Server {
  readonly #options: Pop3ServerOptions;
  readonly #secureContext: tls.SecureContext | undefined;
  readonly #server: net.Server;
  readonly #sessions = new Set<Session>();

  constructor(options: Pop3ServerOptions) {
    if (options.requireTls && !options.tls) throw new Error('requireTls needs a tls certificate and key');
    if (options.implicitTls && !options.tls) throw new Error('implicitTls needs a tls certificate and key');
    this.#options = options;
    this.#secureContext = options.tls ? tls.createSecureContext(options.tls) : undefined;
    this.#server = options.implicitTls
      ? tls.createServer({ secureContext: this.#secureContext }, (socket) => this.#accept(socket, true))
      : net.createServer((socket) => this.#accept(socket, false));
    this.#server.on('error', (error) => options.log?.error({ err: error }, 'pop3 server error'));
  }

  /** Starts listening; port 0 picks a free port, which the result names. */
  async listen(host: string, port: number): Promise<AddressInfo> {
    this.#server.listen(port, host);
    await once(this.#server, 'listening');
    const address = this.#server.address() as AddressInfo;
    this.#options.log?.info({ host: address.address, port: address.port }, 'pop3 server listening');
    return address;
  }

  /** Stops listening and hangs up on every session; deletions of unfinished sessions are not applied. */
  async close(): Promise<void> {
    const closed = this.#server.listening ? new Promise<void>((resolve) => this.#server.close(() => resolve())) : Promise.resolve();
    for (const session of this.#sessions) session.shutdown();
    await closed;
  }

  #accept(socket: net.Socket, secure: boolean): void {
    const limit = this.#options.maxConnections ?? 200;
    if (this.#sessions.size >= limit) {
      socket.on('error', () => undefined);
      socket.end(`-ERR [SYS/TEMP] too many connections, try again later${CRLF}`);
      return;
    }
    const session = new Session(socket, secure, this.#options, this.#secureContext, () => this.#sessions.delete(session));
    this.#sessions.add(session);
  }
}

class Session {
  #socket: net.Socket;
  #secure: boolean;
  readonly #options: Pop3ServerOptions;
  readonly #secureContext: tls.SecureContext | undefined;
  readonly #onClose: () => void;
  readonly #log: Logger | undefined;
  readonly #maxLine: number;
  #state: State = 'authorization';
  #buffer: Buffer = Buffer.alloc(0);
  /** Complete lines not handled yet: commands run one at a time, in order (pipelining). */
  readonly #lines: string[] = [];
  #running = false;
  #closed = false;
  #bad = 0;
  /** The name given by USER, waiting for PASS. */
  #user: string | undefined;
  /** AUTH PLAIN sent without an initial response: the next line is the credentials. */
  #awaitingSasl = false;
  #snapshot: MailboxSnapshot | undefined;
  #release: (() => void) | undefined;
  readonly #onData = (chunk: Buffer): void => this.#receive(chunk);

  constructor(
    socket: net.Socket,
    secure: boolean,
    options: Pop3ServerOptions,
    secureContext: tls.SecureContext | undefined,
    onClose: () => void,
  ) {
    this.#socket = socket;
    this.#secure = secure;
    this.#options = options;
    this.#secureContext = secureContext;
    this.#onClose = onClose;
    this.#log = options.log?.child({ pop3: `${socket.remoteAddress}:${socket.remotePort}` });
    this.#maxLine = options.maxLineLength ?? 1024;
    this.#attach(socket);
    this.#write(`+OK porter POP3 server ready${CRLF}`);
  }

  /** The server is closing: say so and hang up, without the UPDATE state. */
  shutdown(): void {
    if (this.#closed) return;
    this.#write(`-ERR [SYS/TEMP] server shutting down${CRLF}`);
    this.#end();
  }

  #attach(socket: net.Socket): void {
    socket.on('data', this.#onData);
    socket.on('error', (error) => this.#log?.debug({ err: error }, 'pop3 connection error'));
    socket.on('close', () => this.#finish());
    socket.setNoDelay(true);
    socket.setTimeout(this.#options.idleTimeoutMs ?? 10 * 60_000);
    socket.on('timeout', () => {
      if (this.#closed) return;
      this.#write(`-ERR [SYS/TEMP] idle for too long, closing${CRLF}`);
      this.#end();
    });
  }

  #receive(chunk: Buffer) {
    if (this.#closed) return;
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    for (;;) {
      const lf = this.#buffer.indexOf(0x0a);
      if (lf < 0) break;
      if (lf + 1 > this.#maxLine) return this.#tooLong();
      const end = lf > 0 && this.#buffer[lf - 1] === 0x0d ? lf - 1 : lf;
      this.#lines.push(this.#buffer.toString('utf8', 0, end));
      this.#buffer = this.#buffer.subarray(lf + 1);
    }
    // A client that pipelines faster than commands run waits in TCP, not in our memory.
    if (this.#lines.length >= MAX_QUEUED_LINES) this.#socket.pause();
    if (this.#buffer.length > this.#maxLine) return this.#tooLong();
    void this.#run();
  }

  #tooLong(): void {
    this.#write(`-ERR line too long (the limit is ${this.#maxLine} octets), closing${CRLF}`);
    this.#end();
  }

  async #run(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      while (!this.#closed && this.#lines.length > 0) {
        const line = this.#lines.shift()!;
        try {
          await this.#command(line);
        } catch (error) {
          this.#log?.error({ err: error }, 'pop3 command failed');
          this.#write(`-ERR [SYS/TEMP] internal error${CRLF}`);
        }
      }
    } finally {
      this.#running = false;
    }
    // Not after STLS: the plain socket stays paused for good, and the TLS socket reads on its own.
    if (!this.#closed && this.#socket.isPaused() && this.#lines.length === 0 && this.#socket.listenerCount('data') > 0)
      this.#socket.resume();
  }

  async #command(line: string): Promise<void> {
    if (this.#awaitingSasl) {
      this.#awaitingSasl = false;
      if (line === '*') return this.#bad_('authentication cancelled');
      return this.#saslPlain(line);
    }
    const space = line.indexOf(' ');
    const keyword = (space < 0 ? line : line.slice(0, space)).toUpperCase();
    const rest = space < 0 ? '' : line.slice(space + 1);
    const args = rest === '' ? [] : rest.split(' ');

    if (keyword === 'CAPA') return this.#capa();
    if (keyword === 'QUIT') return this.#quit();
    if (this.#state === 'authorization') {
      switch (keyword) {
        case 'USER':
          return this.#userCommand(args);
        case 'PASS':
          // The password is the rest of the line: it may contain spaces.
          return this.#pass(rest);
        case 'AUTH':
          return this.#auth(args);
        case 'STLS':
          return this.#stls(args);
        case 'APOP':
          return this.#bad_('APOP is not supported; use USER/PASS or AUTH PLAIN');
        case 'STAT':
        case 'LIST':
        case 'RETR':
        case 'DELE':
        case 'NOOP':
        case 'RSET':
        case 'TOP':
        case 'UIDL':
          return this.#bad_(`${keyword} is only allowed after logging in`);
        default:
          return this.#bad_(unknown(keyword));
      }
    }
    const snapshot = this.#snapshot!;
    switch (keyword) {
      case 'STAT': {
        if (args.length !== 0) return this.#bad_('STAT takes no arguments');
        const { count, size } = snapshot.stat();
        return this.#write(`+OK ${count} ${size}${CRLF}`);
      }
      case 'LIST':
      case 'UIDL': {
        if (args.length > 1) return this.#bad_(`${keyword} takes at most one argument`);
        const show = (m: { number: number; size: number; uid: string }) => `${m.number} ${keyword === 'LIST' ? m.size : m.uid}`;
        if (args.length === 1) {
          const number = this.#number(args[0]!);
          if (number === undefined) return;
          return this.#withMessage(() => this.#write(`+OK ${show(snapshot.info(number))}${CRLF}`));
        }
        const { count, size } = snapshot.stat();
        const lines = snapshot.messages.map((m) => `${show(m)}${CRLF}`).join('');
        const title = keyword === 'LIST' ? `${count} messages (${size} octets)` : `${count} messages`;
        return this.#write(`+OK ${title}${CRLF}${lines}.${CRLF}`);
      }
      case 'RETR': {
        if (args.length !== 1) return this.#bad_('RETR takes one argument: a message number');
        const number = this.#number(args[0]!);
        if (number === undefined) return;
        return this.#withMessage(async () => {
          const message = await snapshot.read(number);
          await this.#writeBody(`+OK ${message.length} octets${CRLF}`, dotStuff(message));
        });
      }
      case 'TOP': {
        if (args.length !== 2) return this.#bad_('TOP takes two arguments: a message number and a number of lines');
        const number = this.#number(args[0]!);
        if (number === undefined) return;
        if (!/^\d{1,9}$/.test(args[1]!)) return this.#bad_(`"${args[1]}" is not a number of lines`);
        const lines = Number(args[1]);
        return this.#withMessage(async () => {
          const message = await snapshot.read(number);
          await this.#writeBody(`+OK top of message ${number} follows${CRLF}`, dotStuff(head(message, lines)));
        });
      }
      case 'DELE': {
        if (args.length !== 1) return this.#bad_('DELE takes one argument: a message number');
        const number = this.#number(args[0]!);
        if (number === undefined) return;
        return this.#withMessage(() => {
          snapshot.markDeleted(number);
          this.#write(`+OK message ${number} deleted${CRLF}`);
        });
      }
      case 'NOOP':
        if (args.length !== 0) return this.#bad_('NOOP takes no arguments');
        return this.#write(`+OK${CRLF}`);
      case 'RSET': {
        if (args.length !== 0) return this.#bad_('RSET takes no arguments');
        snapshot.reset();
        const { count, size } = snapshot.stat();
        return this.#write(`+OK maildrop has ${count} messages (${size} octets)${CRLF}`);
      }
      case 'USER':
      case 'PASS':
      case 'AUTH':
      case 'APOP':
      case 'STLS':
        return this.#bad_(`${keyword} is not allowed after logging in`);
      default:
        return this.#bad_(unknown(keyword));
    }
  }

  #capa(): void {
    const plaintextOk = this.#secure || !this.#options.requireTls;
    const caps = ['TOP', 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING'];
    if (this.#state === 'authorization' && plaintextOk) caps.push('USER', 'SASL PLAIN');
    if (this.#state === 'authorization' && this.#secureContext && !this.#secure) caps.push('STLS');
    caps.push('IMPLEMENTATION porter');
    this.#write(`+OK capability list follows${CRLF}${caps.map((c) => `${c}${CRLF}`).join('')}.${CRLF}`);
  }

  #userCommand(args: readonly string[]) {
    if (!this.#plaintextAllowed()) return;
    if (args.length !== 1 || args[0] === '') return this.#bad_('USER takes one argument: a user name');
    this.#user = args[0];
    // The same answer for every name: USER must not tell which users exist.
    this.#write(`+OK send PASS${CRLF}`);
  }

  async #pass(password: string): Promise<void> {
    if (!this.#plaintextAllowed()) return;
    const user = this.#user;
    this.#user = undefined;
    if (user === undefined) return this.#bad_('send USER first');
    if (password === '') return this.#bad_('PASS takes one argument: the password');
    await this.#login(user, password);
  }

  async #auth(args: readonly string[]): Promise<void> {
    if (args.length === 0) {
      // RFC 1734's listing form, which some clients still send.
      return this.#write(`+OK${CRLF}PLAIN${CRLF}.${CRLF}`);
    }
    if (!this.#plaintextAllowed()) return;
    if (args[0]!.toUpperCase() !== 'PLAIN') return this.#bad_(`unsupported mechanism "${printable(args[0]!, 40)}"; use PLAIN`);
    if (args.length > 2) return this.#bad_('AUTH PLAIN takes at most one initial response');
    if (args.length === 1) {
      this.#awaitingSasl = true;
      return this.#write(`+ ${CRLF}`);
    }
    // RFC 4422: `=` is an empty initial response.
    return this.#saslPlain(args[1] === '=' ? '' : args[1]!);
  }

  async #saslPlain(encoded: string): Promise<void> {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(encoded) || encoded.length % 4 !== 0) return this.#bad_('invalid base64 in AUTH PLAIN');
    const parts = Buffer.from(encoded, 'base64').toString('utf8').split('\0');
    if (parts.length !== 3 || parts[1] === '' || parts[2] === '') return this.#bad_('AUTH PLAIN needs authzid NUL authcid NUL password');
    const [authzid, authcid, password] = parts as [string, string, string];
    if (authzid !== '' && !sameUser(authzid, authcid)) {
      this.#write(`-ERR [AUTH] logging in as another user is not supported${CRLF}`);
      return this.#countBad();
    }
    await this.#login(authcid, password);
  }

  async #login(name: string, password: string): Promise<void> {
    const user = await this.#options.users.authenticate(name, password);
    if (user === undefined) {
      this.#log?.warn({ user: printable(name) }, 'pop3 login failed');
      const delay = this.#options.authFailureDelayMs ?? 1000;
      if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
      if (this.#closed) return;
      this.#write(`-ERR [AUTH] invalid user name or password${CRLF}`);
      return this.#countBad();
    }
    const release = this.#options.mailboxes.lock(user);
    if (!release) {
      this.#write(`-ERR [IN-USE] the mailbox of ${user} is in use by another session${CRLF}`);
      return;
    }
    try {
      this.#snapshot = await this.#options.mailboxes.snapshot(user);
    } catch (error) {
      release();
      this.#log?.error({ err: error, user }, 'pop3 could not open a mailbox');
      this.#write(`-ERR [SYS/TEMP] cannot open the mailbox${CRLF}`);
      return;
    }
    if (this.#closed) {
      release();
      return;
    }
    this.#release = release;
    this.#state = 'transaction';
    const { count, size } = this.#snapshot.stat();
    this.#log?.info({ user, messages: count }, 'pop3 login');
    this.#write(`+OK ${user} has ${count} messages (${size} octets)${CRLF}`);
  }

  #stls(args: readonly string[]) {
    if (args.length !== 0) return this.#bad_('STLS takes no arguments');
    if (!this.#secureContext) return this.#bad_('STLS is not offered here');
    if (this.#secure) return this.#bad_('the connection is already encrypted');
    const raw = this.#socket;
    raw.off('data', this.#onData);
    raw.pause();
    // Whatever the client sent after STLS came in the clear: drop it, never run it as if encrypted.
    this.#buffer = Buffer.alloc(0);
    this.#lines.length = 0;
    this.#user = undefined;
    raw.write(`+OK begin TLS negotiation${CRLF}`, () => {
      if (this.#closed) return;
      raw.removeAllListeners('timeout');
      raw.setTimeout(0);
      const secure = new tls.TLSSocket(raw, { isServer: true, secureContext: this.#secureContext });
      this.#socket = secure;
      this.#secure = true;
      secure.on('secure', () => this.#log?.debug('pop3 connection encrypted'));
      this.#attach(secure);
    });
  }

  async #quit(): Promise<void> {
    if (this.#state === 'transaction') {
      this.#state = 'update';
      let removed = 0;
      let failed = false;
      try {
        removed = await this.#snapshot!.commit();
      } catch (error) {
        failed = true;
        this.#log?.error({ err: error, user: this.#snapshot!.user }, 'pop3 could not remove deleted messages');
      }
      this.#releaseLock();
      this.#write(
        failed
          ? `-ERR [SYS/TEMP] some deleted messages were not removed${CRLF}`
          : `+OK porter POP3 server signing off (${removed} messages deleted)${CRLF}`,
      );
    } else {
      this.#write(`+OK porter POP3 server signing off${CRLF}`);
    }
    this.#end();
  }

  /** Runs an action on a message, answering MailboxError (no such message, deleted) with -ERR. */
  async #withMessage(action: () => void | Promise<void>): Promise<void> {
    try {
      await action();
    } catch (error) {
      if (!(error instanceof MailboxError)) throw error;
      this.#write(`-ERR ${error.message}${CRLF}`);
    }
  }

  #number(text: string): number | undefined {
    if (!/^\d{1,9}$/.test(text)) {
      this.#bad_(`"${printable(text, 40)}" is not a message number`);
      return undefined;
    }
    return Number(text);
  }

  #plaintextAllowed(): boolean {
    if (this.#secure || !this.#options.requireTls) return true;
    this.#write(`-ERR [AUTH] log in only after STLS${CRLF}`);
    this.#countBad();
    return false;
  }

  /** Answers -ERR to a command that should not have been sent, and counts it. */
  #bad_(text: string): void {
    this.#write(`-ERR ${text}${CRLF}`);
    this.#countBad();
  }

  #countBad(): void {
    this.#bad++;
    if (this.#bad >= (this.#options.maxBadCommands ?? 10)) {
      this.#write(`-ERR too many bad commands, closing${CRLF}`);
      this.#end();
    }
  }

  #write(text: string): void {
    if (!this.#closed) this.#socket.write(text);
  }

  /**
   * A status line and a large body in one write (two would meet Nagle and delayed ACKs: 40 ms a
   * message), with back-pressure so a slow client does not pile replies up in memory.
   */
  async #writeBody(status: string, body: Buffer): Promise<void> {
    if (this.#closed) return;
    if (!this.#socket.write(Buffer.concat([Buffer.from(status, 'latin1'), body]))) {
      // Listeners are removed either way: a long session must not gather one per reply.
      const done = new AbortController();
      const wait = (event: string) => once(this.#socket, event, { signal: done.signal }).catch(() => undefined);
      await Promise.race([wait('drain'), wait('close')]);
      done.abort();
    }
  }

  #end(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.end();
    // A client that never reads must not keep the socket open forever.
    const socket = this.#socket;
    setTimeout(() => socket.destroy(), LINGER_MS).unref();
    this.#finish();
  }

  #finish(): void {
    this.#closed = true;
    this.#releaseLock();
    this.#onClose();
  }

  #releaseLock(): void {
    this.#release?.();
    this.#release = undefined;
  }
}

function unknown(keyword: string): string {
  return keyword === '' ? 'empty command' : `unknown command "${printable(keyword, 40)}"`;
}

function sameUser(a: string, b: string): boolean {
  try {
    return normaliseUserName(a) === normaliseUserName(b);
  } catch {
    return false;
  }
}
