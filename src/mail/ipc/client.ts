/** The IPC client: requests to a mail server over its Unix socket or TCP, pipelined on one connection and answered in order. */

/*
 * API
 *
 *   const client = new IpcClient({ address: '/run/porter/queue.sock' | 'tcp:host:port', token?, timeoutMs?, log?, limits?, shapes? });
 *   await client.request('slot', ['incoming']);              // → { ok: true, value: '/…/spool/…' } or { ok: false, error }
 *   await client.request('store', [to, rcpt, String(body.length)], body);
 *   await client.ask('pop', ['incoming']);                   // the same, but an `error:` reply throws IpcError
 *   await client.close();
 *
 * The connection opens with the first request (on TCP it sends `token: SECRET` first). Requests
 * may be sent without waiting; replies come back in the same order. A request without a reply
 * within timeoutMs rejects with PORTER_ERR_TIMEOUT and ends the connection, since a late reply
 * would be taken for the next request's; so does a broken connection or a reply out of format
 * (IpcConnectionError). Every request waiting on that connection rejects with it, and the next
 * request opens a new connection. An idle client does not keep the process alive.
 */
import type { Socket } from 'node:net';
import pino from 'pino';
import { PorterError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { IpcError, type IpcReply, type IpcRequest } from '../protocol.js';
import { connectTo, formatAddress, type IpcAddress, parseAddress } from './address.js';
import { encodeRequest, type IpcLimits, type MessageShape, ReplyParser, replyShapeOf, SHAPES } from './codec.js';

export interface IpcClientOptions {
  /** `/path/to.sock`, `unix:/path`, or `tcp:host:port`. */
  readonly address: string | IpcAddress;
  /** Required by servers on TCP; not sent on Unix sockets. */
  readonly token?: string;
  /** How long a request may wait for its reply, from when it is sent. */
  readonly timeoutMs?: number;
  readonly log?: Logger;
  readonly limits?: Partial<IpcLimits>;
  /** Raw operations beyond the seed's; must match the server's. */
  readonly shapes?: Readonly<Record<string, MessageShape>>;
}

export type IpcOkReply = Extract<IpcReply, { ok: true }>;

/** The connection failed, closed, or carried something that is not the protocol. */
export class IpcConnectionError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'IpcConnectionError';
  }
}

const DEFAULT_TIMEOUT_MS = 30_000;

interface Pending {
  readonly resolve: (reply: IpcReply) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

interface Link {
  readonly socket: Socket;
  readonly parser: ReplyParser;
  readonly pending: Pending[];
  failed: boolean;
}

export class IpcClient {
  readonly #address: IpcAddress;
  readonly #name: string;
  readonly #token: string | undefined;
  readonly #timeoutMs: number;
  readonly #log: Logger;
  readonly #limits: Partial<IpcLimits> | undefined;
  readonly #shapes: Readonly<Record<string, MessageShape>>;
  #link: Link | undefined;
  #closed = false;

  constructor(options: IpcClientOptions) {
    this.#address = typeof options.address === 'string' ? parseAddress(options.address) : options.address;
    this.#name = formatAddress(this.#address);
    this.#token = options.token;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#log = options.log ?? pino({ level: 'silent' });
    this.#limits = options.limits;
    this.#shapes = { ...SHAPES, ...options.shapes };
  }

  /**
   * Sends one request. Its `ok` or `error` reply resolves; only a failure of the connection, a
   * timeout or a misuse (a body the message does not take, or of another length than announced) rejects.
   */
  request(name: string, params: readonly string[] = [], body?: Buffer, options: { readonly timeoutMs?: number } = {}): Promise<IpcReply> {
    if (this.#closed) return Promise.reject(new IpcConnectionError('the IPC client is closed'));
    let parts: Buffer[];
    try {
      this.#checkBody(name.toLowerCase(), params, body);
      parts = encodeRequest(body === undefined ? { name, params } : { name, params, body });
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#send(parts, replyShapeOf(name.toLowerCase(), this.#shapes), options.timeoutMs ?? this.#timeoutMs, name);
  }

  /** Like request, but an `error: …` reply throws IpcError with its message. */
  async ask(name: string, params: readonly string[] = [], body?: Buffer): Promise<IpcOkReply> {
    const reply = await this.request(name, params, body);
    if (!reply.ok) throw new IpcError(reply.error);
    return reply;
  }

  /** Ends the connection; requests still waiting reject. */
  async close(): Promise<void> {
    this.#closed = true;
    const link = this.#link;
    if (!link) return;
    this.#fail(link, new IpcConnectionError('the IPC client is closed'));
  }

  #checkBody(name: string, params: readonly string[], body: Buffer | undefined): void {
    const index = this.#shapes[name]?.body;
    if (body !== undefined && index === undefined) throw new TypeError(`"${name}" takes no raw body`);
    if (index === undefined) return;
    const announced = params[index];
    if (body === undefined && announced !== undefined) throw new TypeError(`"${name}" announces ${announced} bytes but no body was given`);
    if (body !== undefined && announced !== String(body.length)) {
      throw new TypeError(`"${name}" announces ${announced ?? 'no'} bytes but the body has ${body.length}`);
    }
  }

  #send(parts: readonly Buffer[], shape: ReturnType<typeof replyShapeOf>, timeoutMs: number, name: string): Promise<IpcReply> {
    const link = this.#link ?? this.#connect();
    return new Promise<IpcReply>((resolve, reject) => {
      const timer = setTimeout(
        () => this.#fail(link, new PorterError('PORTER_ERR_TIMEOUT', `no reply to "${name}" from ${this.#name} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      link.pending.push({ resolve, reject, timer });
      link.parser.expect(shape);
      link.socket.ref();
      for (const part of parts) link.socket.write(part);
    });
  }

  #connect(): Link {
    const socket = connectTo(this.#address);
    const link: Link = { socket, parser: new ReplyParser(this.#limits), pending: [], failed: false };
    this.#link = link;
    socket.on('data', (chunk: Buffer) => {
      let replies: IpcReply[];
      try {
        replies = link.parser.push(chunk);
      } catch (error) {
        this.#fail(link, new IpcConnectionError(`${this.#name}: ${(error as Error).message}`, { cause: error }));
        return;
      }
      for (const reply of replies) {
        const pending = link.pending.shift();
        if (!pending) break;
        clearTimeout(pending.timer);
        pending.resolve(reply);
      }
      if (link.pending.length === 0) socket.unref();
    });
    socket.on('error', (error) =>
      this.#fail(link, new IpcConnectionError(`IPC connection to ${this.#name} failed: ${error.message}`, { cause: error })),
    );
    socket.on('close', () => this.#fail(link, new IpcConnectionError(`IPC connection to ${this.#name} closed`)));
    if (this.#address.kind === 'tcp' && this.#token !== undefined) {
      // The token's reply is waited for like any other, so requests sent behind it stay in step.
      const token = this.#send(
        encodeRequest({ name: 'token', params: [this.#token] } satisfies IpcRequest),
        'plain',
        this.#timeoutMs,
        'token',
      );
      token.then(
        (reply) => {
          if (!reply.ok) this.#fail(link, new IpcConnectionError(`${this.#name} refused the token: ${reply.error}`));
        },
        () => undefined,
      );
    }
    return link;
  }

  /** Ends a link and rejects everything waiting on it; the next request opens another. */
  #fail(link: Link, error: Error): void {
    if (this.#link === link) this.#link = undefined;
    if (link.failed) return;
    link.failed = true;
    if (link.pending.length > 0) this.#log.debug({ err: error }, 'IPC connection dropped');
    for (const pending of link.pending.splice(0)) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
    link.socket.destroy();
  }
}
