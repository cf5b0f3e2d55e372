/** Joyce long polling, tkbd's HTTP transport: channels of messages between the occupancy service and browsers or mirrors. */

/*
 * API
 *
 *   const joyce = new JoyceServer({ endpoint, pollTimeoutMs?, channelExpiryMs?, maxMessageBytes?, maxChannels?, log? });
 *   joyce.register(app, '/joyce');   // GET, POST and OPTIONS at /joyce and /joyce/ (call before the app listens)
 *   joyce.channelCount;              // open channels
 *   joyce.close();                   // answers pending polls, closes every session; later requests get 503
 *
 * Each new channel opens one Session on the endpoint; the channel is its ClientLink, so what the
 * service delivers is queued on the channel and answered on the channel's pending poll. The
 * server also closes itself when the Fastify app closes (a preClose hook), so that held polls are
 * answered before the connections go.
 *
 * The wire format is tkbd's (see shared/reference/joyce.md): a request carries `m`, a JSON list
 * `[token, message…]`, and is answered `[token, [message…], []]`, or `cb(…);` with a JSONP `c`.
 * Errors are `400 {"error": "…"}` (for JSONP: `400 cb({"error": "…"});`).
 */
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import pino from 'pino';
import type { Logger } from '../../../core/log.js';
import type { ClientLink, OccupancyEndpoint, Serialized, Session } from '../protocol.js';

export interface JoyceServerOptions {
  /** The service; each new channel opens one session on it. */
  readonly endpoint: OccupancyEndpoint;
  /** A held poll is answered `[]` after this long. tkbd: 20 s. */
  readonly pollTimeoutMs?: number;
  /** A channel with no poll held for this long after its last answer is closed. tkbd: 20 s. */
  readonly channelExpiryMs?: number;
  /** The largest `m` accepted, in bytes (UTF-8); larger ones are answered 400. */
  readonly maxMessageBytes?: number;
  /** Requests that would open a channel beyond this many are answered 503. */
  readonly maxChannels?: number;
  readonly log?: Logger;
}

const DEFAULTS = {
  pollTimeoutMs: 20_000,
  channelExpiryMs: 20_000,
  maxMessageBytes: 64 * 1024,
  maxChannels: 100_000,
};

/** JSONP callbacks: dotted identifiers only (jQuery's `jQuery1710…_123` fits), so nothing hostile is ever reflected. */
const CALLBACK = /^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*$/;
const MAX_CALLBACK_LENGTH = 128;
/** Tokens a client may choose: visible ASCII. tkbd's own are 8 characters of base64. */
const TOKEN = /^[\x21-\x7e]{1,128}$/;
const LINE_SEPARATORS = /[\u2028\u2029]/g;

const JSON_TYPE = 'application/json; charset=utf-8';
const JSONP_TYPE = 'text/javascript; charset=utf-8';

/** A request whose answer is being held. */
interface Poll {
  readonly res: ServerResponse;
  readonly callback: string | undefined;
  readonly onClose: () => void;
}

/** A bad request: answered with `status` and `{"error": message}`. */
class RequestError extends Error {
  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

/** One Joyce channel: the session's link, the queue of messages not yet answered, and the held poll. */
class Channel implements ClientLink {
  readonly token: string;
  /** The start of every answer, `["token",[`, built once. */
  readonly head: string;
  session: Session | undefined;
  queue: Serialized[] = [];
  poll: Poll | undefined;
  /** Waiting in the server's list of channels to answer after this turn. */
  dirty = false;
  closed = false;
  /** The one timer: the poll timeout while a poll is held, the expiry otherwise. */
  timer: NodeJS.Timeout | undefined;
  timerMs = 0;
  readonly onTimer: () => void;
  readonly #events: ChannelEvents;

  constructor(token: string, events: ChannelEvents) {
    this.token = token;
    this.head = `[${JSON.stringify(token)},[`;
    this.#events = events;
    this.onTimer = () => events.timer(this);
  }

  deliver(messages: readonly Serialized[]): void {
    if (this.closed) return;
    for (const m of messages) this.queue.push(m);
    if (this.poll && !this.dirty) this.#events.dirty(this);
  }
}

/** What a channel tells its server: one object shared by all channels. */
interface ChannelEvents {
  timer(channel: Channel): void;
  dirty(channel: Channel): void;
}

export class JoyceServer {
  readonly #endpoint: OccupancyEndpoint;
  readonly #pollTimeoutMs: number;
  readonly #expiryMs: number;
  readonly #maxBytes: number;
  readonly #maxChannels: number;
  readonly #log: Logger;
  readonly #channels = new Map<string, Channel>();
  /** Channels with new messages and a held poll, answered together once the current turn ends. */
  #dirty: Channel[] = [];
  #flushQueued = false;
  #closed = false;
  readonly #events: ChannelEvents = { timer: (channel) => this.#timeout(channel), dirty: (channel) => this.#markDirty(channel) };
  readonly #flush = () => this.#flushDirty();

  constructor(options: JoyceServerOptions) {
    this.#endpoint = options.endpoint;
    this.#pollTimeoutMs = options.pollTimeoutMs ?? DEFAULTS.pollTimeoutMs;
    this.#expiryMs = options.channelExpiryMs ?? DEFAULTS.channelExpiryMs;
    this.#maxBytes = options.maxMessageBytes ?? DEFAULTS.maxMessageBytes;
    this.#maxChannels = options.maxChannels ?? DEFAULTS.maxChannels;
    this.#log = options.log ?? pino({ level: 'silent' });
  }

  get channelCount(): number {
    return this.#channels.size;
  }

  /** Adds the Joyce routes at `path` and `path/`. Call before the app listens. */
  register(app: FastifyInstance, path: string): void {
    const base = path.replace(/\/+$/, '');
    const urls = base === '' ? ['/'] : [base, `${base}/`];
    // A form-encoded `m` can be three times its decoded size.
    const bodyLimit = this.#maxBytes * 3 + 1024;
    app.addHook('preClose', async () => this.close());
    // Its own scope: the body parsers and error handler below must not change the app's other routes.
    app.register(async (scope) => {
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('*', { parseAs: 'string', bodyLimit }, (_req, body, done) => done(null, body));
      scope.setErrorHandler((error: FastifyError, request, reply) => {
        // Fastify's own rejections (body too large, malformed Content-Type) in Joyce's error shape.
        const message = error.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? `the request body is larger than ${bodyLimit} bytes` : error.message;
        this.#log.debug({ err: error, url: request.url }, 'joyce: request rejected');
        this.#sendError(reply, undefined, new RequestError(message));
      });
      for (const url of urls) {
        scope.route({ method: 'GET', url, exposeHeadRoute: false, handler: (req, reply) => this.#get(req, reply) });
        scope.route({ method: 'POST', url, bodyLimit, handler: (req, reply) => this.#post(req, reply) });
        scope.route({ method: 'OPTIONS', url, handler: (req, reply) => this.#options(req, reply) });
      }
    });
  }

  /** Answers every held poll with what is queued, closes every session and stops all timers. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const channel of this.#channels.values()) {
      if (channel.poll) this.#answer(channel);
      this.#closeChannel(channel);
    }
    this.#channels.clear();
    this.#dirty = [];
  }

  #markDirty(channel: Channel): void {
    channel.dirty = true;
    this.#dirty.push(channel);
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      // After the current turn, so that everything one push (or one request) delivers goes in one answer.
      queueMicrotask(this.#flush);
    }
  }

  #flushDirty(): void {
    this.#flushQueued = false;
    const dirty = this.#dirty;
    this.#dirty = [];
    for (const channel of dirty) {
      channel.dirty = false;
      if (channel.poll && channel.queue.length > 0) this.#answer(channel);
    }
  }

  // Requests

  #get(request: FastifyRequest, reply: FastifyReply): void {
    const query = request.query as Record<string, string | string[] | undefined>;
    let callback: string | undefined;
    try {
      callback = checkCallback(query.c);
      const m = query.m;
      if (m === undefined) throw new RequestError('missing the parameter m (a JSON list: [token, message…])');
      if (typeof m !== 'string') throw new RequestError('the parameter m is given more than once');
      this.#dispatch(reply, m, callback);
    } catch (error) {
      this.#sendError(reply, callback, error);
    }
  }

  #post(request: FastifyRequest, reply: FastifyReply): void {
    const query = request.query as Record<string, string | string[] | undefined>;
    let callback: string | undefined;
    try {
      callback = checkCallback(query.c);
      const body = typeof request.body === 'string' ? request.body : '';
      const type = mediaType(request.headers['content-type']);
      let m: string;
      if (type === 'application/x-www-form-urlencoded') {
        const form = new URLSearchParams(body);
        const ms = form.getAll('m');
        if (ms.length === 0) throw new RequestError('missing the form field m (a JSON list: [token, message…])');
        if (ms.length > 1) throw new RequestError('the form field m is given more than once');
        m = ms[0] as string;
        if (callback === undefined) callback = checkCallback(form.getAll('c'));
      } else if (type === '' || type === 'application/json' || type === 'text/plain' || /^application\/[\w.+-]*\+json$/.test(type)) {
        m = body;
      } else {
        throw new RequestError(`unsupported content type ${type}: send JSON, or a form with the field m`);
      }
      this.#dispatch(reply, m, callback);
    } catch (error) {
      this.#sendError(reply, callback, error);
    }
  }

  #options(request: FastifyRequest, reply: FastifyReply): void {
    const origin = request.headers.origin;
    const requested = request.headers['access-control-request-headers'];
    reply.header('access-control-allow-origin', origin ?? '*');
    reply.header('access-control-allow-methods', 'POST, GET, OPTIONS');
    if (requested !== undefined) reply.header('access-control-allow-headers', requested);
    reply.header('access-control-max-age', '1728000');
    reply.header('vary', 'Origin, Access-Control-Request-Headers');
    reply.code(200).send('');
  }

  /** Parses `m` and acts on it; throws a RequestError for what the client must fix. */
  #dispatch(reply: FastifyReply, m: string, callback: string | undefined): void {
    if (this.#closed) throw new RequestError('the server is shutting down', 503);
    // UTF-8 never takes fewer bytes than UTF-16 code units, so the cheap test first.
    if (m.length > this.#maxBytes || Buffer.byteLength(m) > this.#maxBytes) {
      throw new RequestError(`m is larger than ${this.#maxBytes} bytes`);
    }
    let data: unknown = null;
    if (m !== '') {
      try {
        data = JSON.parse(m);
      } catch (error) {
        throw new RequestError(`m is not valid JSON: ${(error as Error).message.slice(0, 200)}`);
      }
    }
    if (data === null) data = [];
    if (!Array.isArray(data)) throw new RequestError('m must be a JSON list: [token, message…]');
    const token: unknown = data.length === 0 ? null : data[0];
    if (token !== null && (typeof token !== 'string' || !TOKEN.test(token))) {
      throw new RequestError('the token (the first element of m) must be null or a string of 1 to 128 visible ASCII characters');
    }

    let channel = token === null ? undefined : this.#channels.get(token);
    const created = channel === undefined;
    if (channel === undefined) channel = this.#open(token ?? this.#newToken());

    // tkbd holds one poll per channel: an older one is answered now, with what is queued.
    if (channel.poll) this.#answer(channel);
    const res = reply.raw;
    reply.hijack();
    const target = channel;
    const poll: Poll = { res, callback, onClose: () => this.#abandoned(target, poll) };
    channel.poll = poll;
    res.on('close', poll.onClose);
    this.#arm(channel, this.#pollTimeoutMs);

    // A new channel is answered at once with its welcome; what the request carried is answered on the next poll, as tkbd does.
    if (created) this.#answer(channel);
    for (let i = 1; i < data.length; i++) {
      try {
        channel.session?.handle(data[i]);
      } catch (error) {
        this.#log.warn({ err: error, token: channel.token }, 'joyce: the session failed on a message');
      }
      if (channel.closed) return;
    }
    if (channel.poll === poll && channel.queue.length > 0) this.#answer(channel);
  }

  #open(token: string): Channel {
    if (this.#channels.size >= this.#maxChannels) throw new RequestError('too many open channels; try again later', 503);
    const channel = new Channel(token, this.#events);
    this.#channels.set(token, channel);
    try {
      channel.session = this.#endpoint.openSession(channel);
    } catch (error) {
      this.#channels.delete(token);
      channel.closed = true;
      this.#log.error({ err: error }, 'joyce: could not open a session');
      throw new RequestError('the service could not open a channel', 500);
    }
    this.#log.debug({ token }, 'joyce: channel opened');
    return channel;
  }

  #newToken(): string {
    for (;;) {
      const token = randomBytes(12).toString('base64url');
      if (!this.#channels.has(token)) return token;
    }
  }

  // Answers and timers

  /** Answers the held poll with everything queued, and starts the channel's expiry. */
  #answer(channel: Channel): void {
    const poll = channel.poll;
    if (!poll) return;
    channel.poll = undefined;
    poll.res.off('close', poll.onClose);
    if (poll.res.destroyed) {
      // The client is gone: keep the messages for its next poll.
      this.#arm(channel, this.#expiryMs);
      return;
    }
    const queue = channel.queue;
    channel.queue = [];
    // Concatenated from each message's one shared serialisation: no stringify per client.
    let body = channel.head;
    for (let i = 0; i < queue.length; i++) body += i === 0 ? (queue[i] as Serialized).json : `,${(queue[i] as Serialized).json}`;
    body += '],[]]';
    if (poll.callback === undefined) write(poll.res, 200, JSON_TYPE, body);
    else write(poll.res, 200, JSONP_TYPE, `${poll.callback}(${body.replace(LINE_SEPARATORS, escapeSeparator)});`);
    if (!channel.closed) this.#arm(channel, this.#expiryMs);
  }

  /** The client closed a held poll: nothing is lost, the queue waits for its next one. */
  #abandoned(channel: Channel, poll: Poll): void {
    if (channel.poll !== poll || poll.res.writableEnded) return;
    channel.poll = undefined;
    if (!channel.closed) this.#arm(channel, this.#expiryMs);
  }

  #timeout(channel: Channel): void {
    if (channel.closed) return;
    if (channel.poll) {
      this.#answer(channel);
      return;
    }
    this.#log.debug({ token: channel.token }, 'joyce: channel expired');
    this.#channels.delete(channel.token);
    this.#closeChannel(channel);
  }

  #closeChannel(channel: Channel): void {
    channel.closed = true;
    channel.queue = [];
    if (channel.timer) clearTimeout(channel.timer);
    channel.timer = undefined;
    try {
      channel.session?.close();
    } catch (error) {
      this.#log.warn({ err: error, token: channel.token }, 'joyce: the session failed to close');
    }
  }

  /** One timer per channel, re-armed in place: no allocation per poll while the durations agree. */
  #arm(channel: Channel, ms: number): void {
    if (channel.timer && channel.timerMs === ms) {
      channel.timer.refresh();
      return;
    }
    if (channel.timer) clearTimeout(channel.timer);
    channel.timer = setTimeout(channel.onTimer, ms);
    channel.timer.unref();
    channel.timerMs = ms;
  }

  // Errors

  #sendError(reply: FastifyReply, callback: string | undefined, error: unknown): void {
    let status = 500;
    let message = 'internal error';
    if (error instanceof RequestError) {
      status = error.status;
      message = error.message;
    } else {
      this.#log.error({ err: error }, 'joyce: request failed');
    }
    if (reply.sent) return;
    const body = JSON.stringify({ error: message });
    reply.code(status).header('access-control-allow-origin', '*').header('cache-control', 'no-store');
    if (callback === undefined) reply.type(JSON_TYPE).send(body);
    else reply.type(JSONP_TYPE).send(`${callback}(${body.replace(LINE_SEPARATORS, escapeSeparator)});`);
  }
}

/** The JSONP callback, if one is asked for; a hostile one is refused (and not echoed). */
function checkCallback(value: string | string[] | undefined): string | undefined {
  if (Array.isArray(value)) {
    if (value.length > 1) throw new RequestError('the parameter c is given more than once');
    value = value[0];
  }
  if (value === undefined || value === '') return undefined;
  if (value.length > MAX_CALLBACK_LENGTH || !CALLBACK.test(value)) {
    throw new RequestError(`the JSONP callback c must be a dotted JavaScript identifier of at most ${MAX_CALLBACK_LENGTH} characters`);
  }
  return value;
}

function mediaType(header: string | undefined): string {
  if (header === undefined) return '';
  const i = header.indexOf(';');
  return (i === -1 ? header : header.slice(0, i)).trim().toLowerCase();
}

/** U+2028 and U+2029 are valid in JSON but end a line in older JavaScript engines. */
function escapeSeparator(c: string): string {
  return c === '\u2028' ? '\\u2028' : '\\u2029';
}

function write(res: ServerResponse, status: number, type: string, body: string): void {
  try {
    res.writeHead(status, {
      'content-type': type,
      'content-length': Buffer.byteLength(body),
      'access-control-allow-origin': '*',
      'cache-control': 'no-store',
    });
    res.end(body);
  } catch {
    // The socket went away between the check and the write; the client will poll again.
  }
}
