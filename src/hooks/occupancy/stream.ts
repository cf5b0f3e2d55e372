/**
 * The occupancy board's WebSocket and Server-Sent Events streams, resumable by sequence number.
 *
 * API:
 *   const streams = new OccupancyStreams(endpoint, { log });
 *   await streams.register(app, '/occupancy');   // before the app listens
 *   streams.clients                              // { ws, sse }: open connections
 *   await streams.close();                       // also runs when the app closes
 *
 * Wire format (both take `?tags=a,b` — the filter for occupation, roomMap and schedule; absent
 * means everything, empty means nothing — and `?since=N`, the last seq the client has seen):
 *   GET BASE/ws      one text frame per delivery: {"seq":N,"messages":[…]}. The client may send
 *                    a tkbd client message, or an array of them, as a text frame.
 *   GET BASE/stream  text/event-stream, one event per delivery: `id: N` and `data: […]` (the
 *                    messages as a JSON array, one line). EventSource's Last-Event-ID wins over
 *                    `since`. A `:` comment every 15 s keeps proxies from closing it.
 * A resuming client gets the updates it missed or `{"type":"reload","seq":N}` then the full
 * state. A client that reads too slowly is dropped (WebSocket close 1013, SSE connection reset)
 * and should reconnect with `since`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import type { Logger } from '../../core/log.js';
import { onUpgrade, refuseUpgrade } from '../../services/http/upgrade.js';
import type { ClientLink, MessageFilter, OccupancyEndpoint, Serialized, Session, TagFilter } from './protocol.js';

export interface OccupancyStreamsOptions {
  readonly log: Logger;
  /** Bytes a client may have waiting to be sent before it is dropped. Default 1 MiB. */
  readonly maxBuffered?: number;
  /** Milliseconds between WebSocket pings; a socket that missed the previous pong is terminated. Default 30 s. */
  readonly pingInterval?: number;
  /** Milliseconds between SSE heartbeat comments. Default 15 s. */
  readonly heartbeatInterval?: number;
  /** Largest client message over a WebSocket, in bytes. Default 64 KiB. */
  readonly maxClientMessage?: number;
  /** Milliseconds a closing WebSocket gets for the close handshake before it is terminated. Default 5 s. */
  readonly closeTimeout?: number;
  /** Most open streams (WebSocket and SSE together); more are answered 503. Default 50,000. */
  readonly maxClients?: number;
  /** The reconnection delay EventSource clients are told (`retry:`), ms. Default 2 s. */
  readonly sseRetry?: number;
}

/** WebSocket close codes the streams use. */
export const CLOSE_CODES = { goingAway: 1001, policy: 1008, tooBig: 1009, internal: 1011, tryAgainLater: 1013 } as const;

interface StreamParams {
  readonly filter: MessageFilter;
  readonly since: number | undefined;
}

type Parsed = { ok: true; params: StreamParams } | { ok: false; error: string };

interface Context {
  readonly log: Logger;
  readonly maxBuffered: number;
  readonly closeTimeout: number;
  readonly wsFrames: FrameCache;
  readonly sseFrames: FrameCache;
}

// Server frames are not masked, so one Buffer can be written to every socket as it is.
const SEND_TEXT = { binary: false, compress: false, fin: true } as const;
const HEARTBEAT = Buffer.from(':\n\n');
const CACHE_SLOTS = 16;

export class OccupancyStreams {
  readonly #endpoint: OccupancyEndpoint;
  readonly #log: Logger;
  readonly #ctx: Context;
  readonly #pingInterval: number;
  readonly #heartbeatInterval: number;
  readonly #maxClientMessage: number;
  readonly #maxClients: number;
  readonly #sseRetry: number;
  readonly #ws = new Set<WsClient>();
  readonly #sse = new Set<SseClient>();
  #pingTimer: NodeJS.Timeout | undefined;
  #heartbeatTimer: NodeJS.Timeout | undefined;
  #closing: Promise<void> | undefined;

  constructor(endpoint: OccupancyEndpoint, options: OccupancyStreamsOptions) {
    this.#endpoint = endpoint;
    this.#log = options.log;
    this.#pingInterval = options.pingInterval ?? 30_000;
    this.#heartbeatInterval = options.heartbeatInterval ?? 15_000;
    this.#maxClientMessage = options.maxClientMessage ?? 64 * 1024;
    this.#maxClients = options.maxClients ?? 50_000;
    this.#sseRetry = options.sseRetry ?? 2_000;
    this.#ctx = {
      log: options.log,
      maxBuffered: options.maxBuffered ?? 1024 * 1024,
      closeTimeout: options.closeTimeout ?? 5_000,
      wsFrames: new FrameCache(wsFrame),
      sseFrames: new FrameCache(sseFrame),
    };
  }

  /** Open connections by kind. */
  get clients(): { ws: number; sse: number } {
    return { ws: this.#ws.size, sse: this.#sse.size };
  }

  /**
   * Adds `BASE/ws` (an upgrade route on the app's server) and `BASE/stream` to `app`. Call
   * before the app is ready.
   */
  async register(app: FastifyInstance, base = '/occupancy'): Promise<void> {
    const prefix = base.replace(/\/+$/, '');
    // Refused before the upgrade, so a WebSocket client sees the status and the reason.
    const refusal = (query: unknown): { status: number; error: string } | undefined => {
      if (this.#closing) return { status: 503, error: 'the occupancy streams are closed' };
      if (this.#ws.size + this.#sse.size >= this.#maxClients) return { status: 503, error: 'too many clients' };
      const parsed = parseParams(query);
      return parsed.ok ? undefined : { status: 400, error: parsed.error };
    };
    const preValidation = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
      const refused = refusal(request.query);
      return refused ? reply.code(refused.status).send({ error: refused.error }) : undefined;
    };
    // WebSockets bypass Fastify (see services/http/upgrade.ts): no request object per socket.
    const wss = new WebSocketServer({ noServer: true, maxPayload: this.#maxClientMessage, perMessageDeflate: false });
    onUpgrade(app.server, `${prefix}/ws`, (request, socket, head) => {
      const query = queryOf(request.url);
      const refused = refusal(query);
      if (refused) {
        refuseUpgrade(socket, refused.status, refused.error);
        return;
      }
      wss.handleUpgrade(request, socket, head, (ws) => this.#acceptWs(ws, query));
    });
    app.get(`${prefix}/stream`, { preValidation }, (request, reply) => this.#acceptSse(request, reply));
    // The web server closes before the hooks: end the streams first, or it waits on them.
    app.addHook('preClose', async () => {
      await this.close();
    });
    this.#startTimers();
  }

  /** Closes every socket, stream and session; later connections are refused with 503. */
  close(): Promise<void> {
    this.#closing ??= this.#closeAll();
    return this.#closing;
  }

  async #closeAll(): Promise<void> {
    clearInterval(this.#pingTimer);
    clearInterval(this.#heartbeatTimer);
    const closed: Promise<void>[] = [];
    for (const client of this.#ws) closed.push(client.shutdown(CLOSE_CODES.goingAway, 'server closing'));
    for (const client of this.#sse) client.shutdown();
    await Promise.all(closed);
  }

  #startTimers(): void {
    if (this.#pingTimer || this.#closing) return;
    // One timer each for all clients: per-client timers would cost 10,000 timers at scale.
    this.#pingTimer = setInterval(() => {
      for (const client of this.#ws) client.ping();
    }, this.#pingInterval).unref();
    this.#heartbeatTimer = setInterval(() => {
      for (const client of this.#sse) client.heartbeat();
    }, this.#heartbeatInterval).unref();
  }

  #acceptWs(socket: WebSocket, query: Record<string, string | string[]>): void {
    const parsed = parseParams(query);
    if (!parsed.ok || this.#closing) {
      socket.close(parsed.ok ? CLOSE_CODES.goingAway : CLOSE_CODES.policy, parsed.ok ? 'server closing' : parsed.error);
      return;
    }
    const client = new WsClient(this.#ctx, socket, this.#maxClientMessage);
    this.#ws.add(client);
    socket.on('close', () => {
      client.gone();
      this.#ws.delete(client);
    });
    socket.on('error', (err) => {
      this.#log.debug({ err: err.message }, 'occupancy websocket error');
      socket.terminate();
    });
    socket.on('pong', () => client.pong());
    socket.on('message', (data, isBinary) => client.receive(data, isBinary));
    client.attach(this.#open(client, parsed.params));
  }

  #acceptSse(request: FastifyRequest, reply: FastifyReply): void {
    const parsed = parseParams(request.query);
    if (!parsed.ok) {
      reply.code(400).send({ error: parsed.error });
      return;
    }
    const headers = {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no',
      'access-control-allow-origin': '*',
    };
    if (request.method === 'HEAD') {
      reply.headers(headers).code(200).send();
      return;
    }
    const lastEventId = parseSeq(request.headers['last-event-id']);
    const params = lastEventId === undefined ? parsed.params : { ...parsed.params, since: lastEventId };
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { ...headers, connection: 'keep-alive' });
    res.write(`retry: ${this.#sseRetry}\n\n`);
    const client = new SseClient(this.#ctx, res);
    this.#sse.add(client);
    res.on('close', () => {
      client.gone();
      this.#sse.delete(client);
    });
    client.attach(this.#open(client, params));
  }

  #open(link: ClientLink, params: StreamParams): Session | undefined {
    try {
      return this.#endpoint.openSession(link, { filter: params.filter, since: params.since });
    } catch (err) {
      this.#log.error({ err }, 'could not open an occupancy session');
      return undefined;
    }
  }
}

/** What WebSocket and SSE clients share: the session, and being closed once. */
abstract class StreamClient implements ClientLink {
  protected readonly ctx: Context;
  protected session: Session | undefined;
  /** No more deliveries: the client was dropped, shut down or went away. */
  protected closed = false;
  /** The seq of the last delivery, for frames this transport makes up itself. */
  protected seq = 0;

  constructor(ctx: Context) {
    this.ctx = ctx;
  }

  abstract deliver(messages: readonly Serialized[], seq: number): void;
  protected abstract end(code: number, reason: string): void;

  /** Takes the session once the endpoint has opened it (it may have delivered already). */
  attach(session: Session | undefined): void {
    if (!session) {
      this.closed = true;
      this.end(CLOSE_CODES.internal, 'could not open a session');
      return;
    }
    this.session = session;
    // Dropped while the endpoint was still delivering the first messages.
    if (this.closed) this.gone();
  }

  /** The connection closed: stop the session. */
  gone(): void {
    this.closed = true;
    const session = this.session;
    this.session = undefined;
    session?.close();
  }

  /** Drops a client that cannot keep up, from inside a delivery. */
  protected drop(): void {
    if (this.closed) return;
    this.closed = true;
    this.ctx.log.info({ buffered: this.buffered() }, 'dropping a slow occupancy stream client');
    // The endpoint may be walking its sessions right now; close ours after it has finished.
    queueMicrotask(() => this.gone());
    this.end(CLOSE_CODES.tryAgainLater, 'too slow');
  }

  protected abstract buffered(): number;
}

class WsClient extends StreamClient {
  readonly #socket: WebSocket;
  readonly #maxMessage: number;
  #alive = true;
  #done: Promise<void> | undefined;

  constructor(ctx: Context, socket: WebSocket, maxMessage: number) {
    super(ctx);
    this.#socket = socket;
    this.#maxMessage = maxMessage;
  }

  deliver(messages: readonly Serialized[], seq: number): void {
    if (this.closed || this.#socket.readyState !== 1) return;
    if (this.#socket.bufferedAmount > this.ctx.maxBuffered) {
      this.drop();
      return;
    }
    this.seq = seq;
    this.#socket.send(this.ctx.wsFrames.get(messages, seq), SEND_TEXT);
  }

  receive(data: RawData, isBinary: boolean): void {
    this.#alive = true;
    if (this.closed || !this.session) return;
    const bytes = rawBytes(data);
    // The plugin's maxPayload applies only when this module registered it.
    if (bytes.length > this.#maxMessage) {
      this.end(CLOSE_CODES.tooBig, 'message too large');
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(bytes.toString('utf8'));
    } catch {
      this.#error(isBinary ? 'binary frames are not understood; send JSON text' : 'malformed JSON');
      return;
    }
    for (const message of Array.isArray(parsed) ? parsed : [parsed]) {
      try {
        this.session?.handle(message);
      } catch (err) {
        this.ctx.log.warn({ err }, 'an occupancy session failed on a client message');
        this.#error('the server could not handle the message', message);
      }
    }
  }

  ping(): void {
    if (this.#socket.readyState !== 1) return;
    // No pong since the last ping: the peer is gone without a FIN (a dead NAT, a sleeping laptop).
    if (!this.#alive) {
      this.#socket.terminate();
      return;
    }
    this.#alive = false;
    this.#socket.ping();
  }

  pong(): void {
    this.#alive = true;
  }

  /** Closes with `code`, terminating if the peer does not answer; resolves once the socket is closed. */
  shutdown(code: number, reason: string): Promise<void> {
    this.gone();
    this.end(code, reason);
    return this.#done ?? Promise.resolve();
  }

  protected buffered(): number {
    return this.#socket.bufferedAmount;
  }

  protected end(code: number, reason: string): void {
    if (this.#done) return;
    const socket = this.#socket;
    if (socket.readyState === 3) {
      this.#done = Promise.resolve();
      return;
    }
    this.#done = new Promise((resolve) => {
      // The close frame waits behind whatever is buffered; a slow peer may never read it.
      const timer = setTimeout(() => socket.terminate(), this.ctx.closeTimeout).unref();
      socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    socket.close(code, reason);
  }

  #error(message: string, request?: unknown): void {
    if (this.#socket.readyState !== 1) return;
    const error = JSON.stringify(request === undefined ? { type: 'error', message } : { type: 'error', message, request });
    this.#socket.send(`{"seq":${this.seq},"messages":[${error}]}`, SEND_TEXT);
  }
}

class SseClient extends StreamClient {
  readonly #res: ServerResponse<IncomingMessage>;

  constructor(ctx: Context, res: ServerResponse<IncomingMessage>) {
    super(ctx);
    this.#res = res;
  }

  deliver(messages: readonly Serialized[], seq: number): void {
    if (this.closed || this.#res.destroyed) return;
    if (this.#res.writableLength > this.ctx.maxBuffered) {
      this.drop();
      return;
    }
    this.seq = seq;
    this.#res.write(this.ctx.sseFrames.get(messages, seq));
  }

  heartbeat(): void {
    if (this.closed || this.#res.destroyed) return;
    if (this.#res.writableLength > this.ctx.maxBuffered) {
      this.drop();
      return;
    }
    this.#res.write(HEARTBEAT);
  }

  shutdown(): void {
    this.gone();
    this.#res.end();
  }

  protected buffered(): number {
    return this.#res.writableLength;
  }

  protected end(): void {
    // SSE has no close code; resetting the connection makes EventSource reconnect with Last-Event-ID.
    this.#res.destroy();
  }
}

/**
 * The frames of recent deliveries. The endpoint hands every client of one filter the same
 * Serialized messages and seq, so all of them share one encoded Buffer.
 */
class FrameCache {
  readonly #build: (messages: readonly Serialized[], seq: number) => string;
  readonly #slots: { seq: number; messages: Serialized[]; frame: Buffer }[] = [];
  #next = 0;

  constructor(build: (messages: readonly Serialized[], seq: number) => string) {
    this.#build = build;
  }

  get(messages: readonly Serialized[], seq: number): Buffer {
    const n = this.#slots.length;
    // Newest first: consecutive clients almost always get what the previous one got.
    for (let i = 1; i <= n; i++) {
      const slot = this.#slots[(this.#next - i + n) % n]!;
      if (slot.seq === seq && sameMessages(slot.messages, messages)) return slot.frame;
    }
    const frame = Buffer.from(this.#build(messages, seq));
    // A copy: the endpoint may reuse its array for the next delivery.
    const slot = { seq, messages: messages.slice(), frame };
    if (n < CACHE_SLOTS) {
      this.#slots.push(slot);
      this.#next = this.#slots.length % CACHE_SLOTS;
    } else {
      this.#slots[this.#next] = slot;
      this.#next = (this.#next + 1) % CACHE_SLOTS;
    }
    return frame;
  }
}

function sameMessages(a: readonly Serialized[], b: readonly Serialized[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function joinJson(messages: readonly Serialized[]): string {
  let out = '';
  for (let i = 0; i < messages.length; i++) out += i === 0 ? messages[i]!.json : `,${messages[i]!.json}`;
  return out;
}

function wsFrame(messages: readonly Serialized[], seq: number): string {
  return `{"seq":${seq},"messages":[${joinJson(messages)}]}`;
}

function sseFrame(messages: readonly Serialized[], seq: number): string {
  let data = joinJson(messages);
  // JSON.stringify never emits a raw line break, but a hand-made Serialized.json might; a line
  // break between JSON tokens is whitespace, so continuing the data field keeps it valid.
  if (/[\r\n]/.test(data)) data = data.replace(/\r\n|\r|\n/g, '\ndata: ');
  return `id: ${seq}\ndata: [${data}]\n\n`;
}

function rawBytes(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/** `?tags=a,b&since=N` (tags may also repeat). */
export function parseParams(query: unknown): Parsed {
  const q = (typeof query === 'object' && query !== null ? query : {}) as Record<string, unknown>;
  let tags: TagFilter = null;
  if (q.tags !== undefined) {
    const values = Array.isArray(q.tags) ? q.tags : [q.tags];
    if (!values.every((v) => typeof v === 'string')) return { ok: false, error: 'tags must be a comma-separated list' };
    const list = (values as string[]).flatMap((v) => v.split(',')).map((t) => t.trim());
    tags = [...new Set(list.filter((t) => t !== ''))];
  }
  let since: number | undefined;
  if (q.since !== undefined && q.since !== '') {
    since = parseSeq(q.since);
    if (since === undefined) return { ok: false, error: 'since must be a sequence number (a non-negative integer)' };
  }
  return { ok: true, params: { filter: { occupation: tags, schedule: tags, roomMap: tags }, since } };
}

function parseSeq(value: unknown): number | undefined {
  if (typeof value !== 'string' || !/^\d{1,16}$/.test(value.trim())) return undefined;
  const n = Number(value.trim());
  return Number.isSafeInteger(n) ? n : undefined;
}

/** The query of a request URL as Fastify would parse it: repeated keys become lists. */
function queryOf(url: string | undefined): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const q = url?.indexOf('?') ?? -1;
  if (!url || q < 0) return out;
  for (const [key, value] of new URLSearchParams(url.slice(q + 1))) {
    const seen = out[key];
    out[key] = seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value];
  }
  return out;
}
