// The WebSocket and SSE streams against a real listening server and a small stand-in endpoint.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { connect as netConnect, type Socket } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import {
  type ClientLink,
  type OccupancyEndpoint,
  Serialized,
  type ServerMessage,
  type Session,
  type StreamOptions,
} from '../../../src/hooks/occupancy/protocol.js';
import { OccupancyStreams, type OccupancyStreamsOptions } from '../../../src/hooks/occupancy/stream.js';
import { until } from '../../helpers/wait.js';

const WELCOME = new Serialized({ type: 'welcome', protocols: [1] });

class FakeSession implements Session {
  readonly handled: unknown[] = [];
  closed = false;
  readonly link: ClientLink;
  readonly options: StreamOptions | undefined;
  readonly #endpoint: FakeEndpoint;

  constructor(endpoint: FakeEndpoint, link: ClientLink, options: StreamOptions | undefined) {
    this.#endpoint = endpoint;
    this.link = link;
    this.options = options;
  }

  handle(message: unknown): void {
    this.handled.push(message);
    if (typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'get_tag_names') {
      this.link.deliver([new Serialized({ type: 'tags', version: 1, tags: ['hg', 'lab'] })], this.#endpoint.seq);
    }
  }

  close(): void {
    this.closed = true;
  }
}

/** Keeps the last few updates, so that resuming works for a while and then needs a reload. */
class FakeEndpoint implements OccupancyEndpoint {
  seq = 0;
  readonly sessions: FakeSession[] = [];
  readonly #held: { seq: number; messages: Serialized[] }[] = [];
  readonly #keep = 5;

  openSession(link: ClientLink, options?: StreamOptions): Session {
    const session = new FakeSession(this, link, options);
    this.sessions.push(session);
    const since = options?.since;
    const oldest = this.#held[0]?.seq ?? this.seq + 1;
    if (since !== undefined && since >= oldest - 1 && since <= this.seq) {
      const missed = this.#held.filter((h) => h.seq > since).flatMap((h) => h.messages);
      link.deliver([WELCOME, ...missed], this.seq);
    } else if (since !== undefined) {
      link.deliver([WELCOME, new Serialized({ type: 'reload', seq: this.seq }), this.#state()], this.seq);
    } else {
      link.deliver([WELCOME, this.#state()], this.seq);
    }
    return session;
  }

  /** One update to every open session, serialised once. */
  publish(...messages: ServerMessage[]): Serialized[] {
    this.seq += 1;
    const serialized = messages.map((m) => new Serialized(m));
    this.#held.push({ seq: this.seq, messages: serialized });
    if (this.#held.length > this.#keep) this.#held.shift();
    for (const session of this.open()) session.link.deliver(serialized, this.seq);
    return serialized;
  }

  open(): FakeSession[] {
    return this.sessions.filter((s) => !s.closed);
  }

  #state(): Serialized {
    return new Serialized({ type: 'occupation', version: this.seq, occupation: { hg001pc01: 'wf' } });
  }
}

const update = (n: number): ServerMessage => ({ type: 'occupation_update', version: n, update: { hg001pc01: n % 2 ? 'wu' : 'wf' } });

interface Running {
  app: FastifyInstance;
  endpoint: FakeEndpoint;
  streams: OccupancyStreams;
  port: number;
  http: string;
  ws: string;
}

const running: Running[] = [];
const opened: { close(): void }[] = [];

afterEach(async () => {
  for (const c of opened.splice(0)) c.close();
  for (const r of running.splice(0)) await r.app.close();
  vi.restoreAllMocks();
});

async function start(options: Partial<OccupancyStreamsOptions> = {}, prepare?: (app: FastifyInstance) => Promise<void>): Promise<Running> {
  const app = Fastify({ logger: false });
  await prepare?.(app);
  app.get('/hello', async () => ({ hello: 'world' }));
  const endpoint = new FakeEndpoint();
  const streams = new OccupancyStreams(endpoint, { log: pino({ level: 'silent' }), ...options });
  await streams.register(app, '/occupancy');
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const r = { app, endpoint, streams, port, http: `http://127.0.0.1:${port}/occupancy`, ws: `ws://127.0.0.1:${port}/occupancy` };
  running.push(r);
  return r;
}

interface Frame {
  seq: number;
  messages: ServerMessage[];
}

/** A WebSocket client that queues what it receives. */
class Client {
  readonly socket: WebSocket;
  readonly raw: string[] = [];
  #read = 0;
  #waiters: (() => void)[] = [];
  closed: Promise<{ code: number; reason: string }>;

  private constructor(socket: WebSocket) {
    this.socket = socket;
    socket.on('message', (data) => {
      this.raw.push(data.toString());
      for (const w of this.#waiters.splice(0)) w();
    });
    this.closed = new Promise((resolve) => socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  static async open(url: string, options?: WebSocket.ClientOptions): Promise<Client> {
    const socket = new WebSocket(url, options);
    opened.push({ close: () => socket.terminate() });
    const client = new Client(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    return client;
  }

  async next(): Promise<Frame> {
    while (this.#read >= this.raw.length) {
      await withTimeout(new Promise<void>((resolve) => this.#waiters.push(resolve)), 2000, 'a frame');
    }
    return JSON.parse(this.raw[this.#read++]!) as Frame;
  }

  send(value: unknown): void {
    this.socket.send(typeof value === 'string' ? value : JSON.stringify(value));
  }
}

/** An EventSource-like reader over node:http: events and comments as they arrive. */
class SseReader {
  readonly events: { id?: string; data: string }[] = [];
  readonly comments: string[] = [];
  response!: IncomingMessage;
  ended: Promise<void>;
  #buffer = '';
  #request: ReturnType<typeof httpRequest>;
  #waiters: (() => void)[] = [];

  private constructor(url: string, headers: Record<string, string>) {
    let end!: () => void;
    this.ended = new Promise((resolve) => {
      end = resolve;
    });
    this.#request = httpRequest(url, { headers: { accept: 'text/event-stream', ...headers } });
    this.#request.on('error', () => end());
    this.#request.on('response', (res) => {
      this.response = res;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => this.#feed(chunk));
      res.on('end', end);
      res.on('close', end);
      res.on('error', end);
      for (const w of this.#waiters.splice(0)) w();
    });
    this.#request.end();
    opened.push({ close: () => this.#request.destroy() });
  }

  static async open(url: string, headers: Record<string, string> = {}): Promise<SseReader> {
    const reader = new SseReader(url, headers);
    await reader.#until(() => reader.response !== undefined);
    return reader;
  }

  close(): void {
    this.#request.destroy();
  }

  async event(n: number): Promise<{ id?: string; messages: ServerMessage[] }> {
    await this.#until(() => this.events.length > n);
    const e = this.events[n]!;
    return { id: e.id, messages: JSON.parse(e.data) as ServerMessage[] };
  }

  async comment(): Promise<string> {
    await this.#until(() => this.comments.length > 0);
    return this.comments[0]!;
  }

  #feed(chunk: string): void {
    this.#buffer += chunk;
    let i = this.#buffer.indexOf('\n\n');
    while (i !== -1) {
      const block = this.#buffer.slice(0, i);
      this.#buffer = this.#buffer.slice(i + 2);
      const event: { id?: string; data: string[] } = { data: [] };
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) this.comments.push(line);
        else if (line.startsWith('id: ')) event.id = line.slice(4);
        else if (line.startsWith('data: ')) event.data.push(line.slice(6));
      }
      if (event.data.length > 0) this.events.push({ id: event.id, data: event.data.join('\n') });
      i = this.#buffer.indexOf('\n\n');
    }
    for (const w of this.#waiters.splice(0)) w();
  }

  async #until(done: () => boolean): Promise<void> {
    while (!done()) await withTimeout(new Promise<void>((resolve) => this.#waiters.push(resolve)), 2000, 'an SSE chunk');
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The status an upgrade or a plain GET is refused with. */
function refusal(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      socket.terminate();
    });
    socket.on('open', () => reject(new Error('the upgrade was accepted')));
    socket.on('error', () => undefined);
  });
}

describe('WebSocket stream', () => {
  it('takes the filter and the resume point from the URL', async () => {
    const r = await start();
    await Client.open(`${r.ws}/ws?tags=hg,%20lab,hg`);
    await Client.open(`${r.ws}/ws`);
    await Client.open(`${r.ws}/ws?tags=`);
    const [tagged, all, none] = r.endpoint.sessions;
    expect(tagged!.options).toEqual({
      filter: { occupation: ['hg', 'lab'], schedule: ['hg', 'lab'], roomMap: ['hg', 'lab'] },
      since: undefined,
    });
    expect(all!.options).toEqual({ filter: { occupation: null, schedule: null, roomMap: null }, since: undefined });
    expect(none!.options?.filter).toEqual({ occupation: [], schedule: [], roomMap: [] });
    r.endpoint.publish(update(1));
    await Client.open(`${r.ws}/ws?since=1`);
    expect(r.endpoint.sessions[3]!.options?.since).toBe(1);
  });

  it('sends each delivery as one frame {"seq","messages"} made of the serialised messages', async () => {
    const r = await start();
    const client = await Client.open(`${r.ws}/ws`);
    expect(await client.next()).toEqual({
      seq: 0,
      messages: [
        { type: 'welcome', protocols: [1] },
        { type: 'occupation', version: 0, occupation: { hg001pc01: 'wf' } },
      ],
    });
    const sent = r.endpoint.publish(update(1), { type: 'tags', version: 2, tags: ['hg'] });
    await client.next();
    expect(client.raw[1]).toBe(`{"seq":1,"messages":[${sent[0]!.json},${sent[1]!.json}]}`);
  });

  it('does no JSON work per client: every client of a delivery gets the same bytes', async () => {
    const r = await start();
    const clients = await Promise.all(Array.from({ length: 30 }, () => Client.open(`${r.ws}/ws?tags=hg`)));
    await Promise.all(clients.map((c) => c.next()));
    const serialized = [new Serialized(update(7))];
    const stringify = vi.spyOn(JSON, 'stringify');
    for (const session of r.endpoint.open()) session.link.deliver(serialized, 7);
    expect(stringify).not.toHaveBeenCalled();
    stringify.mockRestore();
    const frames = await Promise.all(
      clients.map(async (c) => {
        await c.next();
        return c.raw[1];
      }),
    );
    expect(new Set(frames)).toEqual(new Set([`{"seq":7,"messages":[${serialized[0]!.json}]}`]));
  });

  it('resumes from since: missed updates while they are held, else reload and the full state', async () => {
    const r = await start();
    const first = await Client.open(`${r.ws}/ws`);
    await first.next();
    r.endpoint.publish(update(1));
    const seen = await first.next();
    expect(seen.seq).toBe(1);
    first.socket.close();
    await first.closed;
    await until(() => r.streams.clients.ws === 0, 3000);
    expect(r.endpoint.sessions[0]!.closed).toBe(true);

    r.endpoint.publish(update(2));
    r.endpoint.publish(update(3));
    const back = await Client.open(`${r.ws}/ws?since=${seen.seq}`);
    expect(await back.next()).toEqual({ seq: 3, messages: [{ type: 'welcome', protocols: [1] }, update(2), update(3)] });

    for (let n = 4; n <= 12; n++) r.endpoint.publish(update(n));
    const late = await Client.open(`${r.ws}/ws?since=3`);
    const frame = await late.next();
    expect(frame.seq).toBe(12);
    expect(frame.messages.map((m) => m.type)).toEqual(['welcome', 'reload', 'occupation']);
  });

  it('passes client messages, single or in an array, to the session and answers bad JSON with an error', async () => {
    const r = await start();
    const client = await Client.open(`${r.ws}/ws`);
    await client.next();
    r.endpoint.publish(update(1));
    await client.next();
    client.send({ type: 'set_msgFilter', occupation: ['hg'] });
    client.send([{ type: 'get_occupation' }, { type: 'get_tag_names' }]);
    expect(await client.next()).toEqual({ seq: 1, messages: [{ type: 'tags', version: 1, tags: ['hg', 'lab'] }] });
    client.send('{"type": nope');
    const error = await client.next();
    expect(error.seq).toBe(1);
    expect(error.messages).toEqual([{ type: 'error', message: 'malformed JSON' }]);
    expect(r.endpoint.sessions[0]!.handled).toEqual([
      { type: 'set_msgFilter', occupation: ['hg'] },
      { type: 'get_occupation' },
      { type: 'get_tag_names' },
    ]);
    expect(client.socket.readyState).toBe(WebSocket.OPEN);
  });

  it('refuses a bad since before the upgrade', async () => {
    const r = await start();
    expect(await refusal(`${r.ws}/ws?since=-3`)).toBe(400);
    expect(await refusal(`${r.ws}/ws?since=abc`)).toBe(400);
    expect(r.endpoint.sessions).toHaveLength(0);
  });

  it('closes a message larger than the limit', async () => {
    const r = await start({ maxClientMessage: 1024 });
    const client = await Client.open(`${r.ws}/ws`);
    client.send({ type: 'get_occupation', padding: 'x'.repeat(4096) });
    expect((await client.closed).code).toBe(1009);
    await until(() => r.endpoint.sessions[0]!.closed, 3000);
  });

  it('drops a client that stops reading instead of buffering for it', async () => {
    const r = await start({ maxBuffered: 256 * 1024, closeTimeout: 200 });
    const healthy = await Client.open(`${r.ws}/ws`);
    await healthy.next();
    const stalled = await stalledUpgrade(r.port, '/occupancy/ws');
    await until(() => r.endpoint.sessions.length === 2, 3000);
    const slow = r.endpoint.sessions[1]!;
    const big = 'x'.repeat(512 * 1024);
    let published = 0;
    while (!slow.closed && published < 200) {
      r.endpoint.publish({ type: 'error', message: big });
      published += 1;
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(slow.closed).toBe(true);
    await until(() => r.streams.clients.ws === 1, 3000);
    expect(healthy.socket.readyState).toBe(WebSocket.OPEN);
    for (let i = 0; i < published; i++) expect((await healthy.next()).seq).toBe(i + 1);
    stalled.destroy();
  });

  it('terminates sockets that stop answering pings', async () => {
    const r = await start({ pingInterval: 100 });
    const alive = await Client.open(`${r.ws}/ws`);
    const dead = await Client.open(`${r.ws}/ws`, { autoPong: false });
    const { code } = await withTimeout(dead.closed, 2000, 'the dead socket to be reaped');
    expect(code).toBe(1006);
    await until(() => r.endpoint.sessions[1]!.closed, 3000);
    expect(alive.socket.readyState).toBe(WebSocket.OPEN);
    expect(r.endpoint.sessions[0]!.closed).toBe(false);
  });
});

describe('SSE stream', () => {
  it('sends one event per delivery with the seq as its id, with the right headers', async () => {
    const r = await start();
    const reader = await SseReader.open(`${r.http}/stream?tags=lab`);
    expect(reader.response.statusCode).toBe(200);
    expect(reader.response.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(reader.response.headers['cache-control']).toContain('no-cache');
    expect(reader.response.headers['x-accel-buffering']).toBe('no');
    expect(r.endpoint.sessions[0]!.options?.filter?.occupation).toEqual(['lab']);
    const first = await reader.event(0);
    expect(first.id).toBe('0');
    expect(first.messages[0]).toEqual({ type: 'welcome', protocols: [1] });
    r.endpoint.publish(update(1), update(2));
    expect(await reader.event(1)).toEqual({ id: '1', messages: [update(1), update(2)] });
  });

  it('resumes from Last-Event-ID, which wins over since in the URL', async () => {
    const r = await start();
    for (let n = 1; n <= 4; n++) r.endpoint.publish(update(n));
    const reader = await SseReader.open(`${r.http}/stream?since=1`, { 'last-event-id': '3' });
    expect(r.endpoint.sessions[0]!.options?.since).toBe(3);
    expect(await reader.event(0)).toEqual({ id: '4', messages: [{ type: 'welcome', protocols: [1] }, update(4)] });
    const bySince = await SseReader.open(`${r.http}/stream?since=2`);
    expect((await bySince.event(0)).messages).toEqual([{ type: 'welcome', protocols: [1] }, update(3), update(4)]);
  });

  it('refuses a bad since with 400', async () => {
    const r = await start();
    const res = await fetch(`${r.http}/stream?since=1e3`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(/since/);
  });

  it('sends heartbeat comments', async () => {
    const r = await start({ heartbeatInterval: 50 });
    const reader = await SseReader.open(`${r.http}/stream`);
    expect(await reader.comment()).toBe(':');
  });

  it('closes the session when the client goes away', async () => {
    const r = await start();
    const reader = await SseReader.open(`${r.http}/stream`);
    await reader.event(0);
    expect(r.streams.clients.sse).toBe(1);
    reader.close();
    await until(() => r.endpoint.sessions[0]!.closed && r.streams.clients.sse === 0, 3000);
  });

  it('drops a client that stops reading', async () => {
    const r = await start({ maxBuffered: 256 * 1024 });
    const stalled = await stalledRequest(r.port, '/occupancy/stream');
    await until(() => r.endpoint.sessions.length === 1, 3000);
    const slow = r.endpoint.sessions[0]!;
    const big = 'x'.repeat(512 * 1024);
    for (let i = 0; i < 200 && !slow.closed; i++) {
      r.endpoint.publish({ type: 'error', message: big });
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(slow.closed).toBe(true);
    await until(() => r.streams.clients.sse === 0, 3000);
    stalled.destroy();
  });
});

describe('OccupancyStreams', () => {
  it('close() ends every socket, stream and session, and refuses new clients', async () => {
    const r = await start();
    const client = await Client.open(`${r.ws}/ws`);
    const reader = await SseReader.open(`${r.http}/stream`);
    await reader.event(0);
    await r.streams.close();
    expect((await client.closed).code).toBe(1001);
    await withTimeout(reader.ended, 2000, 'the SSE stream to end');
    expect(r.endpoint.sessions.every((s) => s.closed)).toBe(true);
    expect(r.streams.clients).toEqual({ ws: 0, sse: 0 });
    expect(await refusal(`${r.ws}/ws`)).toBe(503);
    expect((await fetch(`${r.http}/stream`)).status).toBe(503);
  });

  it('closes its streams when the web server closes', async () => {
    const r = await start();
    const reader = await SseReader.open(`${r.http}/stream`);
    await reader.event(0);
    await withTimeout(r.app.close(), 2000, 'the server to close');
    running.splice(running.indexOf(r), 1);
    expect(r.endpoint.sessions[0]!.closed).toBe(true);
  });

  it('leaves other routes alone, and refuses an upgrade to a path it does not serve', async () => {
    const r = await start({});
    expect(await (await fetch(`http://127.0.0.1:${r.port}/hello`)).json()).toEqual({ hello: 'world' });
    const client = await Client.open(`${r.ws}/ws`);
    expect((await client.next()).seq).toBe(0);
    const refused = await new Promise<number | undefined>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${r.port}/elsewhere`);
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode));
      ws.on('error', () => resolve(undefined));
    });
    expect(refused).toBe(404);
  });
});

/** A WebSocket upgrade whose client never reads a byte. */
async function stalledUpgrade(port: number, path: string): Promise<Socket> {
  return stalled(
    port,
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  );
}

/** A GET whose client never reads a byte. */
async function stalledRequest(port: number, path: string): Promise<Socket> {
  return stalled(port, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`);
}

async function stalled(port: number, head: string): Promise<Socket> {
  const socket = netConnect(port, '127.0.0.1');
  opened.push({ close: () => socket.destroy() });
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.pause();
  socket.on('error', () => undefined);
  socket.write(head);
  return socket;
}
