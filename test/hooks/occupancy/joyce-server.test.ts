// The Joyce long-poll server: tkbd's wire format, token and scheduling rules, and every kind of bad request.
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { JoyceServer, type JoyceServerOptions } from '../../../src/hooks/occupancy/joyce/server.js';
import {
  type ClientLink,
  type OccupancyEndpoint,
  type PcState,
  Serialized,
  type ServerMessage,
  type Session,
} from '../../../src/hooks/occupancy/protocol.js';

const WELCOME = new Serialized({ type: 'welcome', protocols: [1] });
const TAGS = new Serialized({ type: 'tags', version: 1, tags: ['hg'] });

/** Stands in for the occupancy service: answers a few requests, errors on the rest, like the real one. */
class FakeEndpoint implements OccupancyEndpoint {
  seq = 0;
  readonly sessions: FakeSession[] = [];
  occupation: Record<string, PcState> = { hg1pc1: 'wf', hg1pc2: 'lu' };
  version = 3;
  failOpen = false;

  openSession(link: ClientLink): Session {
    if (this.failOpen) throw new Error('no sessions today');
    const session = new FakeSession(this, link);
    this.sessions.push(session);
    link.deliver([WELCOME, TAGS], this.seq);
    return session;
  }

  /** Like a push: one serialisation, delivered to every open session. */
  push(update: Record<string, PcState>): Serialized {
    Object.assign(this.occupation, update);
    this.version++;
    this.seq++;
    const message = new Serialized({ type: 'occupation_update', version: this.version, update });
    for (const s of this.sessions) if (!s.closed) s.link.deliver([message], this.seq);
    return message;
  }

  get open(): FakeSession[] {
    return this.sessions.filter((s) => !s.closed);
  }
}

class FakeSession implements Session {
  readonly handled: unknown[] = [];
  closed = false;
  throwOn: string | undefined;

  constructor(
    readonly endpoint: FakeEndpoint,
    readonly link: ClientLink,
  ) {}

  handle(message: unknown): void {
    this.handled.push(message);
    const send = (m: ServerMessage) => this.link.deliver([new Serialized(m)], this.endpoint.seq);
    const type = typeof message === 'object' && message !== null ? (message as { type?: unknown }).type : undefined;
    if (type !== undefined && type === this.throwOn) throw new Error('session bug');
    if (type === 'get_occupation') {
      send({ type: 'occupation', version: this.endpoint.version, occupation: { ...this.endpoint.occupation } });
    } else if (type === 'get_historic_updates') {
      const { offset, count } = message as { offset: unknown; count: unknown };
      if (typeof offset !== 'number' || typeof count !== 'number') {
        send({ type: 'error', message: 'get_historic_updates: offset and count must be numbers', request: message });
      } else send({ type: 'historic_updates', offset, count, updates: [] });
    } else if (type === 'set_msgFilter') {
      // accepted silently, as tkbd does
    } else {
      send({ type: 'error', message: `unknown message ${JSON.stringify(message)}`, request: message });
    }
  }

  close(): void {
    this.closed = true;
  }
}

interface Answer {
  status: number;
  type: string | null;
  text: string;
  headers: Headers;
}

let app: FastifyInstance | undefined;
let joyce: JoyceServer | undefined;
let endpoint: FakeEndpoint;
let base: string;

async function start(options: Partial<JoyceServerOptions> = {}, path = '/joyce'): Promise<void> {
  endpoint = new FakeEndpoint();
  // As porter's web server does: close() must not wait for clients' idle keep-alive sockets.
  app = fastify({ forceCloseConnections: true });
  joyce = new JoyceServer({ endpoint, ...options });
  joyce.register(app, path);
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}

afterEach(async () => {
  await app?.close();
  app = undefined;
  joyce = undefined;
});

async function answer(res: Response): Promise<Answer> {
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text(), headers: res.headers };
}

function get(query: Record<string, string>, path = '/joyce/'): Promise<Answer> {
  return fetch(`${base}${path}?${new URLSearchParams(query)}`).then(answer);
}

/** GET with `m` set to `data` as JSON. */
function send(data: unknown, path = '/joyce/'): Promise<Answer> {
  return get({ m: JSON.stringify(data) }, path);
}

function post(body: string, contentType?: string, path = '/joyce'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { 'content-length': Buffer.byteLength(body) };
    if (contentType !== undefined) headers['content-type'] = contentType;
    const req = httpRequest(`${base}${path}`, { method: 'POST', headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        text += c;
      });
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          type: res.headers['content-type'] ?? null,
          text,
          headers: new Headers(res.headers as Record<string, string>),
        }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

type Reply = [string, Record<string, unknown>[], unknown[]];
const parse = (a: Answer): Reply => JSON.parse(a.text) as Reply;
const types = (a: Answer): unknown[] => parse(a)[1].map((m) => m.type);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A channel opened the way tkb.js opens one; returns its token. */
async function open(): Promise<string> {
  const a = await send(null);
  expect(types(a)).toEqual(['welcome', 'tags']);
  return parse(a)[0];
}

/** Resolves once the server has `n` more held polls than before: held polls are invisible from outside, so wait a little. */
const held = () => sleep(50);

describe('JoyceServer: the wire format', () => {
  it('opens a channel on m=null, answering at once [token, [welcome, tags], []] as JSON with CORS', async () => {
    await start();
    const a = await send(null);
    expect(a.status).toBe(200);
    expect(a.type).toMatch(/^application\/json/);
    expect(a.headers.get('access-control-allow-origin')).toBe('*');
    const [token, messages, streams] = parse(a);
    expect(token).toMatch(/^[\w-]{16}$/);
    expect(messages).toEqual([
      { type: 'welcome', protocols: [1] },
      { type: 'tags', version: 1, tags: ['hg'] },
    ]);
    expect(streams).toEqual([]);
    expect(a.text).toBe(`[${JSON.stringify(token)},[${WELCOME.json},${TAGS.json}],[]]`);
    expect(joyce?.channelCount).toBe(1);
  });

  it('opens a new channel for [], an empty m, [null] and an empty POST body, each with its own token', async () => {
    await start();
    const answers = [await send([]), await get({ m: '' }), await send([null]), await post(''), await post('', 'application/json')];
    for (const a of answers) expect(types(a)).toEqual(['welcome', 'tags']);
    expect(new Set(answers.map((a) => parse(a)[0])).size).toBe(5);
    expect(endpoint.sessions).toHaveLength(5);
  });

  it('answers JSONP as text/javascript cb(…); and ignores other parameters such as jQuery’s _', async () => {
    await start();
    const a = await get({ m: 'null', c: 'jQuery17105_1337', _: '1337' });
    expect(a.status).toBe(200);
    expect(a.type).toMatch(/^text\/javascript/);
    expect(a.text).toMatch(/^jQuery17105_1337\(\[".*"\],?/);
    expect(a.text.endsWith(');')).toBe(true);
    const inner = JSON.parse(a.text.slice('jQuery17105_1337('.length, -2)) as Reply;
    expect(inner[1].map((m) => m.type)).toEqual(['welcome', 'tags']);
    // Dotted names are fine.
    expect((await get({ m: 'null', c: 'tkb.channels.cb_1' })).text).toMatch(/^tkb\.channels\.cb_1\(/);
  });

  it('serves PATH and PATH/ alike, and a channel is the same on both', async () => {
    await start();
    const token = parse(await send(null, '/joyce'))[0];
    const a = await send([token, { type: 'get_occupation' }], '/joyce/');
    expect(parse(a)[0]).toBe(token);
    expect(types(a)).toEqual(['occupation']);
    expect(endpoint.sessions).toHaveLength(1);
  });

  it('works at the root path', async () => {
    await start({}, '/');
    expect(types(await send(null, '/'))).toEqual(['welcome', 'tags']);
  });

  it('takes POST as a form (m=…) or as a raw JSON body, with or without a content type', async () => {
    await start();
    const token = await open();
    const form = await post(
      `m=${encodeURIComponent(JSON.stringify([token, { type: 'get_occupation' }]))}&_=1`,
      'application/x-www-form-urlencoded',
    );
    expect(form.status).toBe(200);
    expect(types(form)).toEqual(['occupation']);
    const raw = await post(JSON.stringify([token, { type: 'get_occupation' }]), 'application/json; charset=utf-8');
    expect(types(raw)).toEqual(['occupation']);
    // tkbd's own mirror posts without a content type.
    const bare = await post(JSON.stringify([token, { type: 'get_occupation' }]));
    expect(types(bare)).toEqual(['occupation']);
    const text = await post(JSON.stringify([token, { type: 'get_occupation' }]), 'text/plain');
    expect(types(text)).toEqual(['occupation']);
    // A form may carry the JSONP callback too.
    const jsonp = await post(
      `m=${encodeURIComponent(JSON.stringify([token, { type: 'get_occupation' }]))}&c=cb`,
      'application/x-www-form-urlencoded',
    );
    expect(jsonp.text).toMatch(/^cb\(/);
  });

  it('answers a CORS preflight, echoing Origin and the requested headers', async () => {
    await start();
    const res = await fetch(`${base}/joyce`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://board.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type, x-thing',
      },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://board.example');
    expect(res.headers.get('access-control-allow-methods')).toBe('POST, GET, OPTIONS');
    expect(res.headers.get('access-control-allow-headers')).toBe('content-type, x-thing');
    expect(res.headers.get('access-control-max-age')).toBe('1728000');
    expect(endpoint.sessions).toHaveLength(0);
  });

  it('builds answers from each message’s one serialisation, never serialising again', async () => {
    await start();
    const token = await open();
    const poll = send([token]);
    await held();
    // A serialisation that differs from JSON.stringify(message) shows it is used verbatim.
    const shared = new Serialized(
      { type: 'occupation_update', version: 9, update: { a: 'o' } },
      '{"type":"occupation_update","version":9,"update":{"a":"o"},"x":1}',
    );
    endpoint.sessions[0]?.link.deliver([shared], 1);
    expect((await poll).text).toBe(`[${JSON.stringify(token)},[${shared.json}],[]]`);
  });

  it('escapes U+2028 and U+2029 in JSONP for older script engines', async () => {
    await start();
    const token = await open();
    endpoint.sessions[0]?.link.deliver([new Serialized({ type: 'error', message: 'a\u2028b\u2029c' })], 1);
    const a = await get({ m: JSON.stringify([token]), c: 'cb' });
    expect(a.text).toContain('a\\u2028b\\u2029c');
    expect(a.text).not.toMatch(/[\u2028\u2029]/);
  });
});

describe('JoyceServer: tokens and channels', () => {
  it('flattens [token, msg1, msg2…] into messages for the session, in order', async () => {
    await start();
    const token = await open();
    const batch = [
      { type: 'set_msgFilter', occupation: null },
      { type: 'get_occupation' },
      { type: 'get_historic_updates', offset: 0, count: 2 },
    ];
    const a = await send([token, ...batch]);
    expect(endpoint.sessions[0]?.handled).toEqual(batch);
    expect(types(a)).toEqual(['occupation', 'historic_updates']);
  });

  it('makes an unknown token a new channel with that token, starting with a fresh welcome', async () => {
    await start();
    const a = await send(['mirror-chosen-token', { type: 'get_occupation' }]);
    expect(parse(a)[0]).toBe('mirror-chosen-token');
    // Answered at once with the welcome; what the request carried comes on the next poll, as in tkbd.
    expect(types(a)).toEqual(['welcome', 'tags']);
    expect(endpoint.sessions[0]?.handled).toEqual([{ type: 'get_occupation' }]);
    const next = await send(['mirror-chosen-token']);
    expect(types(next)).toEqual(['occupation']);
    expect(endpoint.sessions).toHaveLength(1);
  });

  it('makes [null, msg…] a new channel that handles the messages (how tkb.js starts)', async () => {
    await start();
    const a = await send([null, { type: 'set_msgFilter', occupation: null }, { type: 'get_occupation' }]);
    const token = parse(a)[0];
    expect(types(a)).toEqual(['welcome', 'tags']);
    expect(types(await send([token]))).toEqual(['occupation']);
  });

  it('expires a channel with no poll held for channelExpiryMs after its last answer; its token then starts afresh', async () => {
    await start({ channelExpiryMs: 150 });
    const token = await open();
    await sleep(400);
    expect(joyce?.channelCount).toBe(0);
    expect(endpoint.sessions[0]?.closed).toBe(true);
    const again = await send([token]);
    expect(parse(again)[0]).toBe(token);
    expect(types(again)).toEqual(['welcome', 'tags']);
    expect(endpoint.sessions).toHaveLength(2);
  });

  it('keeps a channel alive while it polls', async () => {
    await start({ channelExpiryMs: 200, pollTimeoutMs: 100 });
    const token = await open();
    for (let i = 0; i < 4; i++) expect(types(await send([token]))).toEqual([]);
    expect(joyce?.channelCount).toBe(1);
    expect(endpoint.sessions[0]?.closed).toBe(false);
  });

  it('refuses new channels beyond maxChannels with 503, and keeps the old ones', async () => {
    await start({ maxChannels: 2 });
    const token = await open();
    await open();
    const a = await send(null);
    expect(a.status).toBe(503);
    expect(JSON.parse(a.text)).toEqual({ error: expect.stringMatching(/too many/) });
    expect(types(await send([token, { type: 'get_occupation' }]))).toEqual(['occupation']);
  });
});

describe('JoyceServer: scheduling', () => {
  it('holds a poll until messages arrive, then answers with everything delivered in that turn', async () => {
    await start();
    const token = await open();
    const poll = send([token]);
    await held();
    endpoint.push({ hg1pc1: 'wu' });
    endpoint.push({ hg1pc2: 'lf' });
    const a = await poll;
    expect(parse(a)[1]).toEqual([
      { type: 'occupation_update', version: 4, update: { hg1pc1: 'wu' } },
      { type: 'occupation_update', version: 5, update: { hg1pc2: 'lf' } },
    ]);
  });

  it('answers at once when messages are queued', async () => {
    await start();
    const token = await open();
    endpoint.push({ hg1pc1: 'o' });
    const started = Date.now();
    expect(types(await send([token]))).toEqual(['occupation_update']);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('answers a held poll with [] after pollTimeoutMs', async () => {
    await start({ pollTimeoutMs: 150 });
    const token = await open();
    const started = Date.now();
    const a = await send([token]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(130);
    expect(a.text).toBe(`[${JSON.stringify(token)},[],[]]`);
  });

  it('answers an older held poll at once when a newer request arrives; the newer one gets what it asked for', async () => {
    await start();
    const token = await open();
    const order: string[] = [];
    const poll = send([token]).then((a) => {
      order.push('poll');
      return a;
    });
    await held();
    const ask = send([token, { type: 'get_occupation' }]).then((a) => {
      order.push('ask');
      return a;
    });
    const [p, q] = await Promise.all([poll, ask]);
    expect(types(p)).toEqual([]);
    expect(types(q)).toEqual(['occupation']);
    expect(order).toEqual(['poll', 'ask']);
  });

  it('answers an older held poll with what is queued, and keeps the newer one held', async () => {
    await start();
    const token = await open();
    const first = send([token]);
    await held();
    // Queue without waking the held poll: deliver and supersede it in the same turn.
    const message = new Serialized({ type: 'tags', version: 2, tags: ['hg', 'lib'] });
    endpoint.sessions[0]?.link.deliver([message], 1);
    const second = send([token]);
    expect(types(await first)).toEqual(['tags']);
    let secondDone = false;
    void second.then(() => {
      secondDone = true;
    });
    await sleep(150);
    expect(secondDone).toBe(false);
    endpoint.push({ hg1pc1: 'lx' });
    expect(types(await second)).toEqual(['occupation_update']);
  });

  it('answers each request of a burst with the messages it asked for, the held poll first', async () => {
    await start();
    const token = await open();
    const order: string[] = [];
    const track = (name: string, a: Promise<Answer>) =>
      a.then((got) => {
        order.push(name);
        return got;
      });
    const poll = track('poll', send([token]));
    await held();
    const burst = [0, 1, 2, 3, 4].map((i) => track(`ask${i}`, send([token, { type: 'get_historic_updates', offset: i, count: 1 }])));
    const answers = await Promise.all(burst);
    // Each reply carries the answer to its own request, whatever order the requests arrived in.
    for (const [i, a] of answers.entries()) expect(parse(a)[1]).toEqual([{ type: 'historic_updates', offset: i, count: 1, updates: [] }]);
    expect(types(await poll)).toEqual([]);
    expect(order[0]).toBe('poll');
    // Nothing is held now: a push waits for the next poll.
    endpoint.push({ hg1pc1: 'wf' });
    expect(types(await send([token]))).toEqual(['occupation_update']);
  });

  it('keeps messages for the next poll when a held poll is abandoned by its client', async () => {
    await start();
    const token = await open();
    const abort = new AbortController();
    const poll = fetch(`${base}/joyce?m=${encodeURIComponent(JSON.stringify([token]))}`, { signal: abort.signal });
    await held();
    abort.abort();
    await expect(poll).rejects.toThrow();
    await held();
    endpoint.push({ hg1pc1: 'wu' });
    expect(types(await send([token]))).toEqual(['occupation_update']);
  });

  it('answers 2,000 held polls from one push', async () => {
    await start();
    const tokens = await Promise.all(Array.from({ length: 2000 }, () => send(null).then((a) => parse(a)[0])));
    const polls = tokens.map((t) => send([t]));
    await sleep(500);
    const message = endpoint.push({ hg1pc1: 'wu' });
    const answers = await Promise.all(polls);
    for (const [i, a] of answers.entries()) expect(a.text).toBe(`[${JSON.stringify(tokens[i])},[${message.json}],[]]`);
  });
});

describe('JoyceServer: bad requests', () => {
  async function expectError(a: Answer | Promise<Answer>, pattern: RegExp, status = 400): Promise<void> {
    const got = await a;
    expect(got.status).toBe(status);
    expect(got.type).toMatch(/^application\/json/);
    expect(JSON.parse(got.text)).toEqual({ error: expect.stringMatching(pattern) });
  }

  it('answers a missing m, or m given twice, with 400 and a JSON error', async () => {
    await start();
    await expectError(get({}), /missing the parameter m/);
    const jsonp = await get({ c: 'cb', x: '1' });
    expect(jsonp.status).toBe(400);
    expect(jsonp.text).toMatch(/^cb\(\{"error":"missing the parameter m.*"\}\);$/);
    await expectError(fetch(`${base}/joyce?m=null&m=null`).then(answer), /more than once/);
    await expectError(post('_=1', 'application/x-www-form-urlencoded'), /missing the form field m/);
  });

  it('answers malformed JSON, a body that is not a list and a bad token with 400', async () => {
    await start();
    await expectError(get({ m: '[tok' }), /not valid JSON/);
    await expectError(get({ m: '{"type":"get_occupation"}' }), /must be a JSON list/);
    await expectError(get({ m: '5' }), /must be a JSON list/);
    await expectError(get({ m: '"tok"' }), /must be a JSON list/);
    await expectError(post('[nope]', 'application/json'), /not valid JSON/);
    await expectError(send([5]), /token/);
    await expectError(send([{}]), /token/);
    await expectError(send(['']), /token/);
    await expectError(send(['x'.repeat(129)]), /token/);
    await expectError(send(['has space']), /token/);
    expect(endpoint.sessions).toHaveLength(0);
  });

  it('answers a JSONP error with the callback and an error object', async () => {
    await start();
    const a = await get({ m: '[tok', c: 'cb' });
    expect(a.status).toBe(400);
    expect(a.type).toMatch(/^text\/javascript/);
    expect(a.text).toMatch(/^cb\(\{"error":"m is not valid JSON.*"\}\);$/);
  });

  it('refuses hostile JSONP callback names without reflecting them', async () => {
    await start();
    const hostile = ['alert(1)//', 'x;alert(1)', '<script>', 'a..b', '1abc', 'a.', 'a b', 'cb\u2028', 'a'.repeat(129), 'constructor["x"]'];
    for (const c of hostile) {
      const a = await get({ m: 'null', c });
      expect(a.status).toBe(400);
      expect(a.type).toMatch(/^application\/json/);
      expect(JSON.parse(a.text)).toEqual({ error: expect.stringMatching(/JSONP callback/) });
      expect(a.text).not.toContain(c);
    }
    await expectError(fetch(`${base}/joyce?m=null&c=a&c=b`).then(answer), /more than once/);
    expect(endpoint.sessions).toHaveLength(0);
  });

  it('answers an oversized m with 400, by GET, form or raw body', async () => {
    await start({ maxMessageBytes: 1000 });
    const big = JSON.stringify([null, { type: 'set_msgFilter', occupation: ['x'.repeat(1000)] }]);
    await expectError(get({ m: big }), /larger than 1000 bytes/);
    await expectError(post(big, 'application/json'), /larger than 1000 bytes/);
    await expectError(post(`m=${encodeURIComponent(big)}`, 'application/x-www-form-urlencoded'), /larger than 1000 bytes/);
    // Multi-byte characters count as the bytes they take.
    await expectError(send([null, { type: 'x', s: 'é'.repeat(600) }]), /larger than 1000 bytes/);
    // Far beyond the body limit Fastify stops reading; still a 400 in Joyce's shape.
    await expectError(post('x'.repeat(10_000), 'application/json'), /larger than/);
    expect(endpoint.sessions).toHaveLength(0);
    expect(types(await send(null))).toEqual(['welcome', 'tags']);
  });

  it('answers an unsupported content type with 400', async () => {
    await start();
    await expectError(post('--b\r\n\r\n--b--', 'multipart/form-data; boundary=b'), /unsupported content type multipart\/form-data/);
    await expectError(post('<m/>', 'application/xml'), /unsupported content type application\/xml/);
  });

  it('passes unknown and malformed messages in a valid batch to the session, which answers error; the channel keeps working', async () => {
    await start();
    const token = await open();
    const a = await send([
      token,
      { type: 'reboot_everything' },
      { type: 'get_historic_updates', offset: 'zero', count: [] },
      42,
      null,
      [{ type: 'get_occupation' }],
      { type: 'get_occupation' },
    ]);
    const messages = parse(a)[1];
    expect(messages.map((m) => m.type)).toEqual(['error', 'error', 'error', 'error', 'error', 'occupation']);
    expect(messages[0]).toMatchObject({ message: expect.stringMatching(/unknown message/), request: { type: 'reboot_everything' } });
    expect(messages[1]).toMatchObject({ message: expect.stringMatching(/offset and count/) });
    expect(types(await send([token, { type: 'get_occupation' }]))).toEqual(['occupation']);
  });

  it('survives a session that throws, and a service that cannot open a session', async () => {
    await start();
    const token = await open();
    const session = endpoint.sessions[0] as FakeSession;
    session.throwOn = 'get_tagMap';
    const a = await send([token, { type: 'get_tagMap' }, { type: 'get_occupation' }]);
    expect(types(a)).toEqual(['occupation']);
    endpoint.failOpen = true;
    await expectError(send(null), /could not open a channel/, 500);
    endpoint.failOpen = false;
    expect(types(await send([token, { type: 'get_occupation' }]))).toEqual(['occupation']);
    expect(joyce?.channelCount).toBe(1);
  });

  it('does not create channels for HEAD or unknown paths', async () => {
    await start();
    expect((await fetch(`${base}/joyce?m=null`, { method: 'HEAD' })).status).toBe(404);
    expect((await fetch(`${base}/joyce/s?m=null`)).status).toBe(404);
    expect(endpoint.sessions).toHaveLength(0);
  });
});

describe('JoyceServer: closing', () => {
  it('close() answers held polls, closes sessions, and refuses later requests with 503', async () => {
    await start();
    const token = await open();
    const poll = send([token]);
    await held();
    joyce?.close();
    expect(types(await poll)).toEqual([]);
    expect(endpoint.sessions[0]?.closed).toBe(true);
    expect(joyce?.channelCount).toBe(0);
    const a = await send([token]);
    expect(a.status).toBe(503);
    expect(JSON.parse(a.text)).toEqual({ error: expect.stringMatching(/shutting down/) });
  });

  it('answers held polls when the Fastify app closes', async () => {
    await start();
    const token = await open();
    const poll = send([token]);
    await held();
    await app?.close();
    app = undefined;
    expect(types(await poll)).toEqual([]);
    expect(endpoint.sessions[0]?.closed).toBe(true);
  });

  it('keeps no timer holding the process open', async () => {
    await start();
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const tokens = await Promise.all([1, 2, 3, 4, 5].map(() => open()));
    const polls = tokens.map((t) => send([t]));
    await held();
    expect(joyce?.channelCount).toBe(5);
    expect(timers()).toBeLessThanOrEqual(before);
    joyce?.close();
    await Promise.all(polls);
  });
});
