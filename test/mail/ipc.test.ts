// The mail servers' IPC layer: the wire format cut at every byte, the server and client on real sockets, and queue alerts.
import { spawn } from 'node:child_process';
import { lstat, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatAddress, parseAddress } from '../../src/mail/ipc/address.js';
import { AlertListener, AlertSender } from '../../src/mail/ipc/alerts.js';
import { IpcClient, IpcConnectionError } from '../../src/mail/ipc/client.js';
import {
  decodeParam,
  encodeParam,
  encodeReply,
  formatLine,
  IpcProtocolError,
  type ParsedRequest,
  parseLine,
  ReplyParser,
  RequestParser,
} from '../../src/mail/ipc/codec.js';
import { expectParams } from '../../src/mail/ipc/params.js';
import { IpcServer, type IpcServerOptions } from '../../src/mail/ipc/server.js';
import { fail, IpcError, type IpcHandlers, type IpcReply, type IpcRequest, ok } from '../../src/mail/protocol.js';

const silent = pino({ level: 'silent' });

/** Every way of cutting `bytes` in two, and one byte at a time. */
function cuts(bytes: Buffer): Buffer[][] {
  const all: Buffer[][] = [];
  for (let i = 0; i <= bytes.length; i++) all.push([bytes.subarray(0, i), bytes.subarray(i)]);
  all.push([...bytes].map((b) => Buffer.from([b])));
  return all;
}

function parseRequests(chunks: readonly Buffer[], parser = new RequestParser()): ParsedRequest[] {
  return chunks.flatMap((chunk) => parser.push(chunk));
}

/** A request as plain data, so that results compare with toEqual. */
function plain(item: ParsedRequest): unknown {
  if (item.kind === 'error') return { error: item.error.message, fatal: item.error.fatal };
  const { name, params, body } = item.request;
  return body === undefined ? { name, params } : { name, params, body: body.toString('latin1') };
}

describe('escaping', () => {
  const values = ['incoming', 'a;b', '100%', '%41', 'line\r\nbreak', ' padded\t', '\t', 'naïve ✉', '', 'x ; y', '%%;;'];

  it('round-trips every parameter through a line', () => {
    const { name, params } = parseLine(
      formatLine(
        'push',
        values.filter((v) => v !== ''),
      ),
    );
    expect(name).toBe('push');
    expect(params).toEqual(values.filter((v) => v !== ''));
    for (const value of values) expect(decodeParam(encodeParam(value))).toBe(value);
  });

  it('escapes only what would break the line, and blanks at the ends', () => {
    expect(formatLine('auth', ['john', 'pa;ss '])).toBe('auth: john ; pa%3Bss%20');
    expect(encodeParam('a;b%c\r\nd')).toBe('a%3Bb%25c%0D%0Ad');
    expect(encodeParam('  two sides ')).toBe('%20%20two sides%20');
    expect(formatLine('slot', ['incoming'])).toBe('slot: incoming');
    expect(formatLine('pop')).toBe('pop');
  });

  it('reads a stray % as itself', () => {
    expect(decodeParam('100%')).toBe('100%');
    expect(decodeParam('%zz%4')).toBe('%zz%4');
    expect(decodeParam('%3b%3B')).toBe(';;');
  });

  it('parses the seed notation loosely: any blanks around ;, CRs, upper-case names, a bare colon', () => {
    expect(parseLine('PUSH:incoming;/tmp/x')).toEqual({ name: 'push', params: ['incoming', '/tmp/x'] });
    expect(parseLine('  list :  user_john  ')).toEqual({ name: 'list', params: ['user_john'] });
    expect(parseLine('pop:')).toEqual({ name: 'pop', params: [] });
    expect(parseLine('pop')).toEqual({ name: 'pop', params: [] });
    expect(parseLine('send: a ;  ; c')).toEqual({ name: 'send', params: ['a', '', 'c'] });
  });

  it('refuses a line without a message name, quoting it', () => {
    expect(() => parseLine(': incoming')).toThrow(/malformed line ": incoming"/);
    expect(() => parseLine('two words: x')).toThrow(IpcProtocolError);
    expect(() => formatLine('two words')).toThrow(TypeError);
  });
});

describe('RequestParser', () => {
  const body = Buffer.from('Subject: hi\r\n\r\nok\nstore: x ; y ; 3\n\x00\xff;%\r\n', 'latin1');
  const stream = Buffer.concat([
    Buffer.from('slot: incoming\r\n\npush: incoming ; /spool/1\n'),
    Buffer.from(`store: john ; john@example.org ; ${body.length}\n`),
    body,
    Buffer.from('store: a ; b ; 0\nbad line: x\nlist: user_john\r\n'),
  ]);
  const expected = [
    { name: 'slot', params: ['incoming'] },
    { name: 'push', params: ['incoming', '/spool/1'] },
    { name: 'store', params: ['john', 'john@example.org', String(body.length)], body: body.toString('latin1') },
    { name: 'store', params: ['a', 'b', '0'], body: '' },
    { error: 'malformed line "bad line: x": expected "name: param ; param"', fatal: false },
    { name: 'list', params: ['user_john'] },
  ];

  it('gives the same requests however the bytes are cut', () => {
    for (const chunks of cuts(stream)) expect(parseRequests(chunks).map(plain)).toEqual(expected);
  });

  it('refuses an over-long line and reads on, whether it comes at once or byte by byte', () => {
    const input = Buffer.from(`pop: ${'x'.repeat(40)}\npop: q\nslot: ${'y'.repeat(34)}\r\n`);
    for (const chunks of cuts(input)) {
      const items = parseRequests(chunks, new RequestParser({ maxLineBytes: 40 })).map(plain);
      // The last line is 40 bytes without its CRLF: exactly at the limit.
      expect(items).toEqual([
        { error: 'line longer than 40 bytes', fatal: false },
        { name: 'pop', params: ['q'] },
        { name: 'slot', params: ['y'.repeat(34)] },
      ]);
    }
  });

  it('skips a body over the limit and reads on in step', () => {
    const input = Buffer.from('store: a ; b ; 12\nhello\nworld\npop: q\n');
    for (const chunks of cuts(input)) {
      expect(parseRequests(chunks, new RequestParser({ maxRawBytes: 11 })).map(plain)).toEqual([
        { error: '"store": 12 bytes exceed the limit of 11', fatal: false },
        { name: 'pop', params: ['q'] },
      ]);
    }
  });

  it('stops at a body length that cannot be read', () => {
    const parser = new RequestParser();
    const items = parseRequests([Buffer.from('store: a ; b ; -1\npop: q\n')], parser).map(plain);
    expect(items).toEqual([{ error: '"store": length "-1" is not a number of bytes; closing', fatal: true }]);
    expect(parser.dead).toBe(true);
    expect(parser.push(Buffer.from('pop: q\n'))).toEqual([]);
  });

  it('never throws on random bytes', () => {
    // A fixed generator, so that a failure can be replayed.
    let seed = 42;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const alphabet = Buffer.from('ab:; %\r\n\x00\xffstore0123456789');
    for (let round = 0; round < 300; round++) {
      const bytes = Buffer.from(
        Array.from({ length: Math.floor(random() * 200) }, () => alphabet[Math.floor(random() * alphabet.length)] as number),
      );
      const parser = new RequestParser({ maxLineBytes: 50, maxRawBytes: 20 });
      expect(() => parseRequests(cuts(bytes)[Math.floor(random() * bytes.length)] ?? [bytes], parser)).not.toThrow();
      const replies = new ReplyParser({ maxLineBytes: 50, maxRawBytes: 20 });
      replies.expect('lines');
      try {
        replies.push(bytes);
      } catch (error) {
        expect(error).toBeInstanceOf(IpcProtocolError);
      }
    }
  });

  it('passes a store without its length on without a body, for the handler to refuse', () => {
    expect(parseRequests([Buffer.from('store: a\n')]).map(plain)).toEqual([{ name: 'store', params: ['a'] }]);
  });
});

describe('ReplyParser', () => {
  const replies: [IpcReply, 'plain' | 'raw' | 'lines'][] = [
    [ok(), 'plain'],
    [ok('/spool/incoming/1'), 'plain'],
    [{ ok: true, body: Buffer.from('From: a\r\n\r\nok\n') }, 'raw'],
    [{ ok: true, lines: [formatLine('mailinfo', ['1', '120']), formatLine('mailinfo', ['2', '300'])] }, 'lines'],
    [fail('no such message'), 'raw'],
    [fail('no such user; sorry\nreally'), 'lines'],
    [{ ok: true, lines: [] }, 'lines'],
    [{ ok: true }, 'raw'],
  ];
  const stream = Buffer.concat(replies.flatMap(([reply, shape]) => encodeReply(reply, shape)));

  it('writes list and retr replies as the seed shows them', () => {
    expect(Buffer.concat(encodeReply(replies[3]?.[0] as IpcReply, 'lines')).toString()).toBe(
      'ok: 2\nmailinfo: 1 ; 120\nmailinfo: 2 ; 300\nok\n',
    );
    expect(Buffer.concat(encodeReply({ ok: true, body: Buffer.from('hello') }, 'raw')).toString()).toBe('ok: 5\nhello');
    expect(Buffer.concat(encodeReply(fail('a\nb'))).toString()).toBe('error: a%0Ab\n');
  });

  it('reads every reply in its shape however the bytes are cut', () => {
    const want = [
      { ok: true },
      { ok: true, value: '/spool/incoming/1' },
      { ok: true, value: '14', body: Buffer.from('From: a\r\n\r\nok\n') },
      { ok: true, value: '2', lines: ['mailinfo: 1 ; 120', 'mailinfo: 2 ; 300'] },
      { ok: false, error: 'no such message' },
      { ok: false, error: 'no such user; sorry\nreally' },
      { ok: true, value: '0', lines: [] },
      { ok: true, value: '0', body: Buffer.alloc(0) },
    ];
    for (const chunks of cuts(stream)) {
      const parser = new ReplyParser();
      for (const [, shape] of replies) parser.expect(shape);
      expect(chunks.flatMap((chunk) => parser.push(chunk))).toEqual(want);
    }
  });

  it('reads a bare "error", as the seed writes it', () => {
    const parser = new ReplyParser();
    parser.expect('plain');
    expect(parser.push(Buffer.from('error\r\n'))).toEqual([{ ok: false, error: '' }]);
  });

  it('throws on anything out of format', () => {
    const unexpected = new ReplyParser();
    expect(() => unexpected.push(Buffer.from('ok\n'))).toThrow(/no request is waiting/);
    const notOk = new ReplyParser();
    notOk.expect('plain');
    expect(() => notOk.push(Buffer.from('alert: incoming\n'))).toThrow(/expected "ok" or "error"/);
    const noSize = new ReplyParser();
    noSize.expect('raw');
    expect(() => noSize.push(Buffer.from('ok: many\n'))).toThrow(/expected "ok: NUMBER"/);
    const tooBig = new ReplyParser({ maxRawBytes: 10 });
    tooBig.expect('raw');
    expect(() => tooBig.push(Buffer.from('ok: 11\n'))).toThrow(/exceeds the limit/);
  });
});

describe('addresses', () => {
  it('reads socket paths and TCP addresses in every spelling, and nothing else', () => {
    expect(parseAddress('/run/porter/mail.sock')).toEqual({ kind: 'unix', path: '/run/porter/mail.sock' });
    expect(parseAddress('unix:./mail.sock')).toEqual({ kind: 'unix', path: './mail.sock' });
    for (const text of ['tcp:127.0.0.1:14001', 'tcp://127.0.0.1:14001', 'socket://127.0.0.1:14001']) {
      expect(parseAddress(text)).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 14001 });
    }
    expect(formatAddress(parseAddress('tcp:[::1]:7000'))).toBe('tcp:[::1]:7000');
    expect(() => parseAddress('mail.sock')).toThrow(TypeError);
    expect(() => parseAddress('tcp:host:99999')).toThrow(/port out of range/);
  });
});

describe('expectParams', () => {
  it('returns the parameters, or refuses naming them', () => {
    const request: IpcRequest = { name: 'push', params: ['incoming'] };
    expect(() => expectParams(request, ['queue', 'slot'])).toThrow(new IpcError('"push" expects 2 parameters (queue ; slot), got 1'));
    expect(() => expectParams(request, 0)).toThrow('"push" expects 0 parameters, got 1');
    const [queue] = expectParams(request, ['queue']);
    expect(queue).toBe('incoming');
  });
});

/** Writes `input` on a raw connection and collects what comes back until `until` is satisfied or the server closes. */
function talk(
  target: string | { port: number },
  input: string | Buffer,
  until: (text: string) => boolean = () => false,
): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket: Socket = typeof target === 'string' ? connect(target) : connect(target.port, '127.0.0.1');
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete answer; got ${JSON.stringify(text)}`));
    }, 5_000);
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1');
      if (until(text)) {
        clearTimeout(timer);
        socket.destroy();
        resolve({ text, closed: false });
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closed: true });
    });
    socket.write(input);
  });
}

const lineCount = (n: number) => (text: string) => text.split('\n').length > n;

describe('IpcServer and IpcClient', () => {
  let dir: string;
  let path: string;
  const servers: IpcServer[] = [];
  const clients: IpcClient[] = [];
  const stored: IpcRequest[] = [];
  const logged: string[] = [];
  let release: () => void = () => undefined;
  let hold: Promise<void>;

  const queue: IpcHandlers = {
    slot: async (request) => {
      const [name] = expectParams(request, ['queue']);
      if (name !== 'incoming') throw new IpcError(`no queue "${name}"`);
      return ok('/spool/incoming/1');
    },
    push: async (request) => {
      expectParams(request, ['queue', 'slot']);
      return ok();
    },
    echo: async (request) => {
      // Later requests finish sooner: the order of replies must still be the order of requests.
      const wait = Number(request.params[1] ?? 0);
      await new Promise((resolve) => setTimeout(resolve, wait));
      return ok(request.params[0]);
    },
    same: async (request) => ok(request.params[0]),
    hang: async () => {
      await hold;
      return ok('late');
    },
    boom: async () => {
      throw new Error('disk on fire');
    },
  };
  const mailbox: IpcHandlers = {
    store: async (request) => {
      expectParams(request, ['to', 'recipient', 'length']);
      stored.push(request);
      return ok();
    },
    retr: async (request) => {
      const [, number] = expectParams(request, ['username', 'number']);
      if (number !== '1') return fail(`no message ${number}`);
      return { ok: true, body: Buffer.from('From: a@example.org\r\n\r\nhello\r\n') };
    },
    list: async (request) => {
      expectParams(request, ['username']);
      return { ok: true, lines: [formatLine('mailinfo', ['1', '120']), formatLine('mailinfo', ['2', '300'])] };
    },
  };

  async function start(options: Partial<IpcServerOptions> = {}): Promise<IpcServer> {
    const log = pino({ level: 'error' }, { write: (line: string) => void logged.push(line) });
    const server = new IpcServer({ handlers: [queue, mailbox], path, log, closeGraceMs: 200, ...options });
    servers.push(server);
    await server.listen();
    return server;
  }

  function client(options: Partial<ConstructorParameters<typeof IpcClient>[0]> = {}): IpcClient {
    const c = new IpcClient({ address: path, timeoutMs: 2_000, ...options });
    clients.push(c);
    return c;
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'porter-ipc-'));
    path = join(dir, 'mail.sock');
    stored.length = 0;
    logged.length = 0;
    hold = new Promise((resolve) => {
      release = resolve;
    });
  });

  afterEach(async () => {
    release();
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all(servers.splice(0).map((s) => s.close()));
    await rm(dir, { recursive: true, force: true });
  });

  it('listens on a socket only its user can use, and removes it on close', async () => {
    const server = await start();
    const info = await stat(path);
    expect(info.isSocket()).toBe(true);
    expect(info.mode & 0o777).toBe(0o600);
    await server.close();
    await expect(lstat(path)).rejects.toThrow(/ENOENT/);
  });

  it('answers pipelined requests in order', async () => {
    await start();
    const lines = Array.from({ length: 20 }, (_, i) => `echo: ${i} ; ${20 - i}\n`).join('');
    const { text } = await talk(path, lines, lineCount(20));
    expect(text).toBe(Array.from({ length: 20 }, (_, i) => `ok: ${i}\n`).join(''));
    const c = client();
    const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => c.request('echo', [String(i), String(20 - i)])));
    expect(replies).toEqual(Array.from({ length: 20 }, (_, i) => ({ ok: true, value: String(i) })));
  });

  it('keeps order through many requests sent at once, and answers a client that has half-closed', async () => {
    await start();
    const input = Array.from({ length: 2_000 }, (_, i) => `same: ${i}\n`).join('');
    const { text } = await talk(path, input, lineCount(2_000));
    expect(text).toBe(Array.from({ length: 2_000 }, (_, i) => `ok: ${i}\n`).join(''));
    const halfClosed = await new Promise<string>((resolve) => {
      let got = '';
      const socket = connect(path);
      socket.on('data', (chunk) => {
        got += chunk.toString();
      });
      socket.on('close', () => resolve(got));
      socket.end('slot: incoming\necho: last ; 20\n');
    });
    expect(halfClosed).toBe('ok: /spool/incoming/1\nok: last\n');
  });

  it('answers unknown messages, missing parameters, refusals and failures with error lines, and goes on', async () => {
    await start();
    const input = 'nope: x\npush: incoming\nslot: outgoing\nboom\n: what\nslot: incoming\n';
    const { text, closed } = await talk(path, input, lineCount(6));
    expect(closed).toBe(false);
    expect(text.split('\n')).toEqual([
      'error: unknown message "nope"',
      'error: "push" expects 2 parameters (queue ; slot), got 1',
      'error: no queue "outgoing"',
      'error: internal error',
      'error: malformed line ": what": expected "name: param ; param"',
      'ok: /spool/incoming/1',
      '',
    ]);
    expect(logged.join('')).toContain('disk on fire');
  });

  it('survives garbage: NULs, binary, an over-long line', async () => {
    await start({ limits: { maxLineBytes: 100 } });
    const garbage = Buffer.concat([Buffer.from([0, 1, 2, 0xff, 0xfe, 10]), Buffer.alloc(500, 0x41), Buffer.from('\nslot: incoming\n')]);
    const { text } = await talk(path, garbage, (t) => t.includes('ok: /spool'));
    expect(text).toMatch(/^error: malformed line .*\nerror: line longer than 100 bytes\nok: \/spool\/incoming\/1\n$/s);
  });

  it('closes a connection whose raw body length cannot be read', async () => {
    await start();
    const { text, closed } = await talk(path, 'store: a ; b ; lots\nslot: incoming\n');
    expect(closed).toBe(true);
    expect(text).toBe('error: "store": length "lots" is not a number of bytes; closing\n');
  });

  it('takes a store body of raw bytes, exactly as announced', async () => {
    await start();
    const body = Buffer.from('Subject: x\r\n\r\nslot: incoming\n\x00\xff', 'latin1');
    const { text } = await talk(
      path,
      Buffer.concat([Buffer.from(`store: john ; john@example.org ; ${body.length}\n`), body, Buffer.from('pop\n')]),
      lineCount(2),
    );
    expect(text).toBe('ok\nerror: unknown message "pop"\n');
    expect(stored[0]?.body).toEqual(body);
    const reply = await client().request('store', ['ann', 'ann@example.org', '5'], Buffer.from('hello'));
    expect(reply).toEqual({ ok: true });
    expect(stored[1]?.body?.toString()).toBe('hello');
    await expect(client().request('store', ['ann', 'ann@example.org', '4'], Buffer.from('hello'))).rejects.toThrow(TypeError);
    await expect(client().request('pop', ['incoming'], Buffer.from('hello'))).rejects.toThrow(/takes no raw body/);
  });

  it('answers retr with its size and raw bytes, and list with mailinfo lines', async () => {
    await start();
    const { text } = await talk(path, 'retr: john ; 1\nlist: john\nretr: john ; 9\n', (t) => t.endsWith('error: no message 9\n'));
    expect(text).toBe('ok: 30\nFrom: a@example.org\r\n\r\nhello\r\nok: 2\nmailinfo: 1 ; 120\nmailinfo: 2 ; 300\nok\nerror: no message 9\n');
    const c = client();
    const [retr, list, missing] = await Promise.all([
      c.request('retr', ['john', '1']),
      c.request('list', ['john']),
      c.ask('retr', ['john', '9']).catch((e) => e),
    ]);
    expect(retr).toEqual({ ok: true, value: '30', body: Buffer.from('From: a@example.org\r\n\r\nhello\r\n') });
    expect(list).toEqual({ ok: true, value: '2', lines: ['mailinfo: 1 ; 120', 'mailinfo: 2 ; 300'] });
    expect(missing).toEqual(new IpcError('no message 9'));
    expect(list.ok && list.lines?.map(parseLine)).toEqual([
      { name: 'mailinfo', params: ['1', '120'] },
      { name: 'mailinfo', params: ['2', '300'] },
    ]);
  });

  it('requires the token first on TCP, and refuses a wrong one', async () => {
    const server = await start({ path: undefined, tcp: { port: 0, token: 's3cret;%' } });
    const port = server.tcpPort as number;
    const good = await talk({ port }, `token: ${encodeParam('s3cret;%')}\nslot: incoming\n`, lineCount(2));
    expect(good.text).toBe('ok\nok: /spool/incoming/1\n');
    const wrong = await talk({ port }, 'token: guess\nslot: incoming\n');
    expect(wrong).toEqual({ text: 'error: wrong token\n', closed: true });
    const none = await talk({ port }, 'slot: incoming\n');
    expect(none).toEqual({ text: 'error: a "token: SECRET" line must come first\n', closed: true });

    const c = client({ address: `tcp:127.0.0.1:${port}`, token: 's3cret;%' });
    expect(await c.request('slot', ['incoming'])).toEqual({ ok: true, value: '/spool/incoming/1' });
    const bad = client({ address: `tcp:127.0.0.1:${port}`, token: 'guess' });
    await expect(bad.request('slot', ['incoming'])).rejects.toThrow(
      new IpcConnectionError(`tcp:127.0.0.1:${port} refused the token: wrong token`),
    );
  });

  it('needs a token to listen on TCP', () => {
    expect(() => new IpcServer({ handlers: queue, tcp: { port: 0, token: '' }, log: silent })).toThrow(/needs a token/);
    expect(() => new IpcServer({ handlers: [queue, queue], path: '/nowhere', log: silent })).toThrow(/two IPC handlers for "slot"/);
  });

  it('replaces a stale socket file, but not a live one or a plain file', async () => {
    // A server killed with SIGKILL leaves its socket file behind.
    const child = spawn(process.execPath, ['-e', "require('net').createServer().listen(process.argv[1], () => console.log('up'))", path]);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      await new Promise((resolve) => child.stdout.once('data', resolve));
      await expect(start()).rejects.toThrow(/in use by another server/);
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
    expect((await lstat(path)).isSocket()).toBe(true);
    await start();
    expect(await client().request('slot', ['incoming'])).toEqual({ ok: true, value: '/spool/incoming/1' });

    const file = join(dir, 'plain');
    await writeFile(file, 'keep me');
    await expect(start({ path: file })).rejects.toThrow(/not a socket/);
  });

  it('times a request out, and opens a new connection for the next', async () => {
    await start();
    const c = client({ timeoutMs: 100 });
    const hung = c.request('hang');
    const behind = c.request('slot', ['incoming']);
    await expect(hung).rejects.toMatchObject({ code: 'PORTER_ERR_TIMEOUT', message: `no reply to "hang" from ${path} within 100 ms` });
    await expect(behind).rejects.toMatchObject({ code: 'PORTER_ERR_TIMEOUT' });
    expect(await c.request('slot', ['incoming'])).toEqual({ ok: true, value: '/spool/incoming/1' });
  });

  it('fails requests while the server is away and reconnects once it is back', async () => {
    const c = client();
    await expect(c.request('slot', ['incoming'])).rejects.toThrow(IpcConnectionError);
    const server = await start();
    expect(await c.request('slot', ['incoming'])).toEqual({ ok: true, value: '/spool/incoming/1' });
    const waiting = c.request('hang').catch((error: unknown) => error);
    await server.close();
    expect(await waiting).toBeInstanceOf(IpcConnectionError);
    await start();
    expect(await c.request('push', ['incoming', '/spool/incoming/1'])).toEqual({ ok: true });
  });

  it('lets a running request finish on close', async () => {
    const server = await start({ closeGraceMs: 2_000 });
    const c = client();
    const running = c.request('echo', ['done', '100']);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await server.close();
    expect(await running).toEqual({ ok: true, value: 'done' });
  });
});

describe('queue alerts', () => {
  let dir: string;
  const closers: (() => Promise<void>)[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'porter-alerts-'));
  });

  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
    await rm(dir, { recursive: true, force: true });
  });

  async function listener(address: string, got: string[]): Promise<AlertListener> {
    const l = new AlertListener({ address, log: silent, onAlert: (queue) => got.push(queue) });
    closers.push(() => l.close());
    await l.listen();
    return l;
  }

  const until = async (check: () => boolean) => {
    for (let i = 0; i < 200 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(check()).toBe(true);
  };

  it('delivers alerts to Unix and TCP callbacks', async () => {
    const unixGot: string[] = [];
    const tcpGot: string[] = [];
    const onUnix = await listener(join(dir, 'alerts.sock'), unixGot);
    const onTcp = await listener('tcp:127.0.0.1:0', tcpGot);
    expect(onTcp.address).toMatch(/^tcp:127\.0\.0\.1:\d+$/);
    const sender = new AlertSender({ log: silent });
    closers.push(() => sender.close());
    for (const callback of [onUnix.address as string, onTcp.address as string]) {
      sender.alert(callback, 'incoming');
      sender.alert(callback, 'incoming');
      sender.alert(callback, 'odd;name');
    }
    // Alerts sent while connecting are sent once per queue.
    await until(() => unixGot.length === 2 && tcpGot.length === 2);
    expect(unixGot).toEqual(['incoming', 'odd;name']);
    sender.alert(onTcp.address as string, 'deferred');
    await until(() => tcpGot.length === 3);
    expect(tcpGot).toEqual(['incoming', 'odd;name', 'deferred']);
    expect(sender.callbacks.sort()).toEqual([onUnix.address, onTcp.address].sort());
  });

  it('drops a callback nobody answers, and one whose listener went away', async () => {
    const dead: string[] = [];
    const sender = new AlertSender({ log: silent, onDead: (callback) => dead.push(callback) });
    closers.push(() => sender.close());
    sender.alert(join(dir, 'nobody.sock'), 'incoming');
    sender.alert('not an address', 'incoming');
    await until(() => dead.length === 2);
    expect(dead).toEqual(['not an address', join(dir, 'nobody.sock')]);

    const got: string[] = [];
    const gone = await listener(join(dir, 'gone.sock'), got);
    const callback = gone.address as string;
    sender.alert(callback, 'incoming');
    await until(() => got.length === 1);
    await gone.close();
    await until(() => !sender.callbacks.includes(callback));
    sender.alert(callback, 'incoming');
    await until(() => dead.length === 3);
    expect(dead[2]).toBe(callback);
    expect(sender.callbacks).toEqual([]);
  });
});
