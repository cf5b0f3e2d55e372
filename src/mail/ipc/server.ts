/** The IPC server: serves the handlers of one or more mail servers on a Unix socket and, with a token, on TCP. */

/*
 * API
 *
 *   const server = new IpcServer({ handlers: [queue.handlers, mailbox.handlers], path?, tcp?: { host?, port, token }, log,
 *                                  limits?, shapes?, closeGraceMs? });
 *   await server.listen();   // the socket file (0600) and the TCP port; throws if another server holds the path
 *   server.tcpPort;          // the port bound (useful with port 0)
 *   await server.close();    // stops accepting, lets running requests finish (closeGraceMs), ends connections, removes the socket file
 *
 * Requests on one connection are handled one after another and answered in their order, however
 * many the client sends ahead (pipelining). A handler's IpcError and its `fail(…)` become
 * `error: MESSAGE`; any other exception is logged and answered `error: internal error`. Bad input
 * gets `error: …` and the connection goes on, except a raw body whose length cannot be read,
 * after which the stream is out of step and the connection is closed. On TCP the first line must
 * be `token: SECRET` (answered `ok`); anything else is answered `error: …` and the connection closed.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '../../core/log.js';
import { sameSecret } from '../../core/secret.js';
import { fail, IpcError, type IpcHandlers, type IpcReply, type IpcRequest, ok } from '../protocol.js';
import { listenTcp, listenUnix, removeUnixSocket } from './address.js';
import { encodeReply, type IpcLimits, type MessageShape, type ParsedRequest, RequestParser, replyShapeOf, SHAPES } from './codec.js';

export interface IpcServerOptions {
  /** The handler maps of the servers this process runs; a name offered by two of them is an error. */
  readonly handlers: IpcHandlers | readonly IpcHandlers[];
  /** The Unix socket to listen on. */
  readonly path?: string;
  /** TCP, for servers in other hosts. The host defaults to 127.0.0.1; the token is required. */
  readonly tcp?: { readonly host?: string; readonly port: number; readonly token: string };
  readonly log: Logger;
  readonly limits?: Partial<IpcLimits>;
  /** Raw operations beyond the seed's (`store`, `retr`, `list`). */
  readonly shapes?: Readonly<Record<string, MessageShape>>;
  /** How long close() lets a running request finish before its connection is cut. */
  readonly closeGraceMs?: number;
}

type Handler = IpcHandlers[string];

const DEFAULT_CLOSE_GRACE_MS = 5_000;
/** A TCP client that has not presented its token by then is disconnected, so that idle strangers cannot hold connections. */
const TOKEN_TIMEOUT_MS = 10_000;
/** Requests read ahead of the one running; beyond this the socket stops being read until they are answered. */
const MAX_QUEUED = 256;

/** Merges handler maps into one; two servers answering the same message is a wiring mistake, caught at start. */
export function mergeHandlers(maps: readonly IpcHandlers[]): Map<string, Handler> {
  const merged = new Map<string, Handler>();
  for (const map of maps) {
    for (const [name, handler] of Object.entries(map)) {
      const key = name.toLowerCase();
      if (merged.has(key)) throw new Error(`two IPC handlers for "${key}"`);
      merged.set(key, handler);
    }
  }
  return merged;
}

const delay = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms).unref();
  });

export class IpcServer {
  readonly #options: IpcServerOptions;
  readonly #handlers: Map<string, Handler>;
  readonly #shapes: Readonly<Record<string, MessageShape>>;
  readonly #log: Logger;
  readonly #connections = new Set<Connection>();
  readonly #servers: Server[] = [];
  #socketIno: number | undefined;
  #tcpPort: number | undefined;
  #closing = false;

  constructor(options: IpcServerOptions) {
    if (!options.path && !options.tcp) throw new TypeError('an IPC server needs a socket path or a TCP port');
    if (options.tcp && !options.tcp.token) throw new TypeError('IPC over TCP needs a token');
    this.#options = options;
    this.#handlers = mergeHandlers(Array.isArray(options.handlers) ? options.handlers : [options.handlers as IpcHandlers]);
    this.#shapes = { ...SHAPES, ...options.shapes };
    this.#log = options.log;
  }

  get tcpPort(): number | undefined {
    return this.#tcpPort;
  }

  async listen(): Promise<void> {
    if (this.#servers.length > 0 || this.#closing) throw new Error('the IPC server was already started');
    try {
      if (this.#options.path) {
        const server = this.#createServer(false);
        this.#servers.push(server);
        this.#socketIno = await listenUnix(server, this.#options.path);
        this.#log.info({ path: this.#options.path }, 'IPC listening');
      }
      const tcp = this.#options.tcp;
      if (tcp) {
        const server = this.#createServer(true);
        this.#servers.push(server);
        await listenTcp(server, tcp.host ?? '127.0.0.1', tcp.port);
        const address = server.address();
        this.#tcpPort = typeof address === 'object' && address ? address.port : tcp.port;
        this.#log.info({ host: tcp.host ?? '127.0.0.1', port: this.#tcpPort }, 'IPC listening');
      }
    } catch (error) {
      await this.close();
      throw error;
    }
  }

  async close(): Promise<void> {
    this.#closing = true;
    const stopped = this.#servers.splice(0).map((server) => new Promise<void>((resolve) => server.close(() => resolve())));
    const grace = this.#options.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS;
    await Promise.all([...this.#connections].map((connection) => connection.close(grace)));
    await Promise.all(stopped);
    if (this.#options.path && this.#socketIno !== undefined) {
      await removeUnixSocket(this.#options.path, this.#socketIno);
      this.#socketIno = undefined;
    }
  }

  #createServer(tcp: boolean): Server {
    // Half-open: a client may send its requests and end its side (`… | nc -U`), and still read the replies.
    const server = createServer({ allowHalfOpen: true }, (socket) => {
      if (this.#closing) {
        socket.destroy();
        return;
      }
      const connection = new Connection(socket, {
        token: tcp ? this.#options.tcp?.token : undefined,
        limits: this.#options.limits,
        shapes: this.#shapes,
        log: this.#log,
        answer: (request) => this.#answer(request),
      });
      this.#connections.add(connection);
      socket.once('close', () => this.#connections.delete(connection));
    });
    server.on('error', (error) => this.#log.error({ err: error }, 'IPC listener failed'));
    return server;
  }

  async #answer(request: IpcRequest): Promise<Buffer[]> {
    const handler = this.#handlers.get(request.name);
    const shape = replyShapeOf(request.name, this.#shapes);
    if (!handler) return encodeReply(fail(`unknown message "${request.name}"`));
    let reply: IpcReply;
    try {
      reply = await handler(request);
      if (typeof reply !== 'object' || reply === null || typeof reply.ok !== 'boolean')
        throw new TypeError('the handler returned no reply');
    } catch (error) {
      if (error instanceof IpcError) return encodeReply(fail(error.message));
      this.#log.error({ err: error, message: request.name }, 'IPC handler failed');
      return encodeReply(fail('internal error'));
    }
    return encodeReply(reply, reply.ok ? shape : 'plain');
  }
}

interface ConnectionOptions {
  /** Set on TCP: the first line must present it. */
  readonly token: string | undefined;
  readonly limits: Partial<IpcLimits> | undefined;
  readonly shapes: Readonly<Record<string, MessageShape>>;
  readonly log: Logger;
  readonly answer: (request: IpcRequest) => Promise<Buffer[]>;
}

/** One client: its parser, the requests read ahead, and the one being answered. */
class Connection {
  readonly #socket: Socket;
  readonly #options: ConnectionOptions;
  readonly #parser: RequestParser;
  readonly #queue: ParsedRequest[] = [];
  #authenticated: boolean;
  #running: Promise<void> | undefined;
  #closing = false;

  constructor(socket: Socket, options: ConnectionOptions) {
    this.#socket = socket;
    this.#options = options;
    this.#parser = new RequestParser(options.limits, options.shapes);
    this.#authenticated = options.token === undefined;
    if (!this.#authenticated) {
      const timer = setTimeout(() => {
        if (this.#authenticated || this.#closing) return;
        void this.#write(encodeReply(fail('no token within 10 s'))).then(() => this.#end());
      }, TOKEN_TIMEOUT_MS);
      timer.unref();
      socket.once('close', () => clearTimeout(timer));
    }
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (error) => options.log.debug({ err: error }, 'IPC connection failed'));
    socket.on('end', () => {
      // The client is done sending; answer what it sent, then finish our side.
      void (this.#running ?? Promise.resolve()).then(() => this.#socket.end());
    });
  }

  /** Waits up to `graceMs` for the request being answered, then ends the connection. */
  async close(graceMs: number): Promise<void> {
    this.#closing = true;
    this.#queue.length = 0;
    // Reading on (and dropping what comes) lets the client's end of the connection arrive.
    this.#socket.resume();
    if (this.#running) await Promise.race([this.#running, delay(graceMs)]);
    if (this.#socket.destroyed) return;
    const closed = new Promise<void>((resolve) => this.#socket.once('close', () => resolve()));
    this.#socket.end();
    // A client that does not finish its side within a second is cut.
    await Promise.race([closed, delay(1_000)]);
    this.#socket.destroy();
  }

  #onData(chunk: Buffer): void {
    if (this.#closing) return;
    for (const item of this.#parser.push(chunk)) this.#queue.push(item);
    if (this.#queue.length > MAX_QUEUED) this.#socket.pause();
    if (!this.#running && this.#queue.length > 0) {
      this.#running = this.#pump()
        .catch((error: unknown) => {
          this.#options.log.error({ err: error }, 'IPC connection failed');
          this.#socket.destroy();
        })
        .finally(() => {
          this.#running = undefined;
        });
    }
  }

  async #pump(): Promise<void> {
    for (;;) {
      const item = this.#queue.shift();
      if (item === undefined || this.#closing || this.#socket.destroyed) return;
      if (this.#queue.length < MAX_QUEUED / 2 && this.#socket.isPaused() && !this.#closing) this.#socket.resume();
      if (item.kind === 'error') {
        await this.#write(encodeReply(fail(item.error.message)));
        if (item.error.fatal) return this.#end();
        continue;
      }
      if (!this.#authenticated) {
        await this.#authenticate(item.request);
        continue;
      }
      if (item.request.name === 'token') {
        // The socket file's mode guards Unix connections; a client that sends a token anyway is not refused.
        await this.#write(encodeReply(ok()));
        continue;
      }
      await this.#write(await this.#options.answer(item.request));
    }
  }

  async #authenticate(request: IpcRequest): Promise<void> {
    const token = this.#options.token as string;
    if (request.name === 'token' && request.params.length === 1 && sameSecret(request.params[0] as string, token)) {
      this.#authenticated = true;
      await this.#write(encodeReply(ok()));
      return;
    }
    const reason = request.name === 'token' ? 'wrong token' : 'a "token: SECRET" line must come first';
    this.#options.log.warn({ remote: this.#socket.remoteAddress }, `IPC connection refused: ${reason}`);
    await this.#write(encodeReply(fail(reason)));
    this.#end();
  }

  #end(): void {
    this.#closing = true;
    this.#queue.length = 0;
    this.#socket.end();
  }

  /** Writes a reply, waiting while the client is slow to read so that replies cannot pile up in memory. */
  async #write(parts: readonly Buffer[]): Promise<void> {
    let full = false;
    for (const part of parts) {
      if (this.#socket.destroyed || this.#socket.writableEnded) return;
      if (part.length > 0) full = !this.#socket.write(part) || full;
    }
    if (full && !this.#socket.destroyed) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.#socket.off('drain', done);
          this.#socket.off('close', done);
          resolve();
        };
        this.#socket.on('drain', done);
        this.#socket.on('close', done);
      });
    }
  }
}
