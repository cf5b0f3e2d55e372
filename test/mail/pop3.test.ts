// The POP3 server over real TCP: the protocol with a raw socket, STLS, and real clients (Python's poplib, curl).
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { readdir, readFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MailUsers, type PasswordHasher } from '../../src/mail/auth/index.js';
import { Mailboxes } from '../../src/mail/mailbox/index.js';
import { Pop3Server, type Pop3ServerOptions } from '../../src/mail/pop3/index.js';
import { Store } from '../../src/services/store/index.js';
import { tempDir } from '../helpers/host.js';

const run = promisify(execFile);
const quiet = pino({ level: 'silent' });

/** A line-oriented POP3 client on a raw socket, that can switch to TLS. */
class RawClient {
  #socket: net.Socket;
  #data = Buffer.alloc(0);
  #waiters: (() => void)[] = [];
  closed = false;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    this.#listen(socket);
  }

  static async connect(port: number): Promise<RawClient> {
    const socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    return new RawClient(socket);
  }

  #listen(socket: net.Socket): void {
    socket.on('data', (chunk: Buffer) => {
      this.#data = Buffer.concat([this.#data, chunk]);
      for (const w of this.#waiters.splice(0)) w();
    });
    socket.on('close', () => {
      this.closed = true;
      for (const w of this.#waiters.splice(0)) w();
    });
    socket.on('error', () => undefined);
  }

  async #until(test: () => number): Promise<Buffer> {
    for (;;) {
      const end = test();
      if (end >= 0) {
        const out = this.#data.subarray(0, end);
        this.#data = this.#data.subarray(end);
        return out;
      }
      if (this.closed) throw new Error(`connection closed; unread: ${JSON.stringify(this.#data.toString('latin1'))}`);
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  /** One reply line, without CRLF. */
  async line(): Promise<string> {
    const raw = await this.#until(() => {
      const i = this.#data.indexOf('\r\n');
      return i < 0 ? -1 : i + 2;
    });
    return raw.toString('latin1').slice(0, -2);
  }

  /** A multi-line body after its status line, as sent (still dot-stuffed), with the final `.\r\n`. */
  async multi(): Promise<string> {
    const raw = await this.#until(() => {
      if (this.#data.subarray(0, 3).toString() === '.\r\n') return 3;
      const i = this.#data.indexOf('\r\n.\r\n');
      return i < 0 ? -1 : i + 5;
    });
    return raw.toString('latin1');
  }

  send(line: string): void {
    this.#socket.write(`${line}\r\n`);
  }

  write(raw: string | Buffer): void {
    this.#socket.write(raw);
  }

  async command(line: string): Promise<string> {
    this.send(line);
    return this.line();
  }

  async startTls(): Promise<void> {
    this.#socket.removeAllListeners('data');
    const secure = tls.connect({ socket: this.#socket, rejectUnauthorized: false });
    await once(secure, 'secureConnect');
    this.#socket = secure;
    this.#listen(secure);
  }

  async closedSoon(): Promise<void> {
    while (!this.closed) await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  destroy(): void {
    this.#socket.destroy();
  }
}

const MESSAGE_1 = 'From: a@example.org\nTo: alice@example.org\nSubject: one\n\n.leading dot\nplain\n.\n..two dots\nend';
const MESSAGE_1_CRLF =
  'From: a@example.org\r\nTo: alice@example.org\r\nSubject: one\r\n\r\n.leading dot\r\nplain\r\n.\r\n..two dots\r\nend\r\n';
const MESSAGE_2_CRLF = `Subject: two\r\n\r\n${'line of text\r\n'.repeat(200)}`;

let dir: string;
let remove: () => Promise<void>;
let store: Store;
let users: MailUsers;
let root: string;
let cert: { key: string; cert: string };
const servers: Pop3Server[] = [];
let boxes = 0;
const clients: RawClient[] = [];

/** Hashing with cheap parameters keeps these tests fast; the auth tests cover the real ones. */
const fastHasher: PasswordHasher = await (async () => {
  const { hash, verify } = await import('@node-rs/argon2');
  return {
    hash: (password) => hash(password, { memoryCost: 1024, timeCost: 1, parallelism: 1 }),
    verify: (h, password) => verify(h, password),
    needsRehash: () => false,
  };
})();

beforeAll(async () => {
  ({ dir, remove } = await tempDir());
  store = await Store.open('sqlite:pop3.db', { baseDir: dir, log: quiet });
  users = await MailUsers.open(store, { log: quiet, hasher: fastHasher });
  await users.add('alice', 'alice pw');
  await users.add('bob@example.org', 'bob-pw');
  root = join(dir, 'mail');
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=localhost',
    '-keyout',
    join(dir, 'key.pem'),
    '-out',
    join(dir, 'cert.pem'),
  ]);
  cert = { key: await readFile(join(dir, 'key.pem'), 'utf8'), cert: await readFile(join(dir, 'cert.pem'), 'utf8') };
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  for (const s of servers.splice(0)) await s.close();
});

afterAll(async () => {
  await store?.close();
  await remove();
});

async function serve(
  options: Partial<Pop3ServerOptions> = {},
): Promise<{ port: number; mailboxes: Mailboxes; connect: () => Promise<RawClient> }> {
  const mailboxes = options.mailboxes ?? new Mailboxes({ root: join(root, String(++boxes)), deliveredTo: false });
  const server = new Pop3Server({ mailboxes, users, log: quiet, authFailureDelayMs: 0, ...options });
  servers.push(server);
  const { port } = await server.listen('127.0.0.1', 0);
  const connect = async () => {
    const client = await RawClient.connect(port);
    clients.push(client);
    expect(await client.line()).toMatch(/^\+OK /);
    return client;
  };
  return { port, mailboxes, connect };
}

async function login(client: RawClient, user = 'alice', password = 'alice pw'): Promise<string> {
  expect(await client.command(`USER ${user}`)).toMatch(/^\+OK/);
  return client.command(`PASS ${password}`);
}

describe('POP3 protocol', () => {
  it('greets, lists its capabilities, and refuses transaction commands before login', async () => {
    const { connect } = await serve();
    const c = await connect();
    expect(await c.command('CAPA')).toBe('+OK capability list follows');
    const caps = (await c.multi()).split('\r\n');
    expect(caps).toEqual(expect.arrayContaining(['TOP', 'UIDL', 'USER', 'SASL PLAIN', 'RESP-CODES', 'PIPELINING', '.']));
    expect(caps).not.toContain('STLS');
    expect(await c.command('STAT')).toBe('-ERR STAT is only allowed after logging in');
    expect(await c.command('RETR 1')).toMatch(/^-ERR /);
    expect(await c.command('FROB')).toBe('-ERR unknown command "FROB"');
    expect(await c.command('PASS x')).toBe('-ERR send USER first');
    expect(await c.command('APOP alice 0123')).toMatch(/^-ERR APOP is not supported/);
    expect(await c.command('STLS')).toBe('-ERR STLS is not offered here');
    expect(await c.command('QUIT')).toBe('+OK porter POP3 server signing off');
    await c.closedSoon();
  });

  it('serves STAT, LIST, UIDL, RETR (dot-stuffed, sizes in CRLF octets), TOP, DELE, RSET, and deletes at QUIT', async () => {
    const { connect, mailboxes } = await serve();
    await mailboxes.store('alice@example.org', 'alice', Buffer.from(MESSAGE_1));
    await mailboxes.store('alice@example.org', 'alice', Buffer.from(MESSAGE_2_CRLF));
    const sizes = [Buffer.byteLength(MESSAGE_1_CRLF), Buffer.byteLength(MESSAGE_2_CRLF)];
    const total = sizes[0]! + sizes[1]!;

    const c = await connect();
    expect(await login(c, 'Alice')).toBe(`+OK alice has 2 messages (${total} octets)`);
    expect(await c.command('stat')).toBe(`+OK 2 ${total}`);
    expect(await c.command('LIST')).toBe(`+OK 2 messages (${total} octets)`);
    expect(await c.multi()).toBe(`1 ${sizes[0]}\r\n2 ${sizes[1]}\r\n.\r\n`);
    expect(await c.command('LIST 2')).toBe(`+OK 2 ${sizes[1]}`);
    expect(await c.command('LIST 3')).toBe('-ERR no message 3 (the mailbox has 2)');
    expect(await c.command('UIDL')).toBe('+OK 2 messages');
    const uidl = (await c.multi()).split('\r\n').slice(0, 2);
    expect(uidl.map((l) => l.split(' ')[0])).toEqual(['1', '2']);
    const uid1 = uidl[0]!.split(' ')[1]!;
    expect(uid1).toMatch(/^[\x21-\x7e]{1,70}$/);
    expect(await c.command('UIDL 1')).toBe(`+OK 1 ${uid1}`);

    expect(await c.command('RETR 1')).toBe(`+OK ${sizes[0]} octets`);
    const stuffed = await c.multi();
    expect(stuffed).toBe(
      'From: a@example.org\r\nTo: alice@example.org\r\nSubject: one\r\n\r\n..leading dot\r\nplain\r\n..\r\n...two dots\r\nend\r\n.\r\n',
    );
    expect(await c.command('TOP 1 2')).toBe('+OK top of message 1 follows');
    expect(await c.multi()).toBe('From: a@example.org\r\nTo: alice@example.org\r\nSubject: one\r\n\r\n..leading dot\r\nplain\r\n.\r\n');
    expect(await c.command('TOP 2 0')).toMatch(/^\+OK/);
    expect(await c.multi()).toBe('Subject: two\r\n\r\n.\r\n');

    expect(await c.command('DELE 1')).toBe('+OK message 1 deleted');
    expect(await c.command('RETR 1')).toBe('-ERR message 1 is deleted');
    expect(await c.command('DELE 1')).toBe('-ERR message 1 is deleted');
    expect(await c.command('STAT')).toBe(`+OK 1 ${sizes[1]}`);
    expect(await c.command('LIST')).toMatch(/^\+OK 1 messages/);
    expect(await c.multi()).toBe(`2 ${sizes[1]}\r\n.\r\n`);
    expect(await c.command('RSET')).toBe(`+OK maildrop has 2 messages (${total} octets)`);
    expect(await c.command('DELE 1')).toMatch(/^\+OK/);
    expect(await c.command('NOOP')).toBe('+OK');
    expect(await c.command('RETR x')).toBe('-ERR "x" is not a message number');
    expect(await c.command('USER bob')).toBe('-ERR USER is not allowed after logging in');
    // The deletion waits for QUIT: another path still sees the message.
    expect(await mailboxes.list('alice')).toHaveLength(2);
    expect(await c.command('QUIT')).toBe('+OK porter POP3 server signing off (1 messages deleted)');
    await c.closedSoon();

    const after = await mailboxes.list('alice');
    expect(after.map((m) => m.size)).toEqual([sizes[1]]);
    expect(await readdir(join(mailboxes.root, 'alice', 'tmp'))).toEqual([]);
  });

  it('applies no deletion when the client hangs up without QUIT, and frees the mailbox lock', async () => {
    const { connect, mailboxes } = await serve();
    await mailboxes.store('', 'alice', Buffer.from('x\n'));
    const c = await connect();
    expect(await login(c)).toMatch(/^\+OK alice has 1 messages/);
    const second = await connect();
    expect(await login(second)).toBe('-ERR [IN-USE] the mailbox of alice is in use by another session');
    expect(await c.command('DELE 1')).toMatch(/^\+OK/);
    c.destroy();
    await c.closedSoon();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await login(second)).toBe('+OK alice has 1 messages (3 octets)');
    expect(await second.command('QUIT')).toMatch(/\(0 messages deleted\)/);
  });

  it('logs in with AUTH PLAIN, with an initial response or after a continuation', async () => {
    const { connect } = await serve();
    const plain = (authz: string, user: string, password: string) => Buffer.from(`${authz}\0${user}\0${password}`).toString('base64');
    const c = await connect();
    expect(await c.command('AUTH')).toBe('+OK');
    expect(await c.multi()).toBe('PLAIN\r\n.\r\n');
    expect(await c.command(`AUTH PLAIN ${plain('', 'alice', 'wrong')}`)).toBe('-ERR [AUTH] invalid user name or password');
    expect(await c.command(`AUTH PLAIN ${plain('bob@example.org', 'alice', 'alice pw')}`)).toMatch(
      /^-ERR \[AUTH\] logging in as another user/,
    );
    expect(await c.command('AUTH PLAIN !!!')).toBe('-ERR invalid base64 in AUTH PLAIN');
    expect(await c.command('AUTH CRAM-MD5')).toBe('-ERR unsupported mechanism "CRAM-MD5"; use PLAIN');
    expect(await c.command('AUTH PLAIN')).toBe('+ ');
    expect(await c.command('*')).toBe('-ERR authentication cancelled');
    expect(await c.command('AUTH PLAIN')).toBe('+ ');
    expect(await c.command(plain('Bob@Example.org', 'bob@example.org', 'bob-pw'))).toBe('+OK bob@example.org has 0 messages (0 octets)');
    expect(await c.command('LIST')).toBe('+OK 0 messages (0 octets)');
    expect(await c.multi()).toBe('.\r\n');
  });

  it('takes pipelined commands in order', async () => {
    const { connect, mailboxes } = await serve();
    await mailboxes.store('', 'alice', Buffer.from('hello\n'));
    const c = await connect();
    c.write('USER alice\r\nPASS alice pw\r\nSTAT\r\nRETR 1\r\nQUIT\r\n');
    expect(await c.line()).toMatch(/^\+OK/);
    expect(await c.line()).toMatch(/^\+OK alice has 1/);
    expect(await c.line()).toBe('+OK 1 7');
    expect(await c.line()).toBe('+OK 7 octets');
    expect(await c.multi()).toBe('hello\r\n.\r\n');
    expect(await c.line()).toMatch(/signing off/);
  });

  it('answers a flood of pipelined commands, and sends large messages whole', async () => {
    const { connect, mailboxes } = await serve();
    const big = Buffer.from(`Subject: big\r\n\r\n${'.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n'.repeat(80_000)}`);
    await mailboxes.store('', 'alice', big);
    const c = await connect();
    expect(await login(c)).toMatch(/^\+OK alice has 1 messages/);
    c.write('NOOP\r\n'.repeat(500));
    for (let i = 0; i < 500; i++) expect(await c.line()).toBe('+OK');
    expect(await c.command('RETR 1')).toBe(`+OK ${big.length} octets`);
    const body = await c.multi();
    expect(body.length).toBe(big.length + 80_000 + 3);
    expect(body.replaceAll('\r\n..', '\r\n.').slice(0, -3)).toBe(big.toString('latin1'));
    expect(await c.command('QUIT')).toMatch(/signing off/);
  });

  it('hangs up after too many bad commands', async () => {
    const { connect } = await serve({ maxBadCommands: 3 });
    const c = await connect();
    expect(await c.command('NOPE')).toMatch(/^-ERR/);
    expect(await c.command(`AUTH PLAIN ${Buffer.from('\0alice\0bad').toString('base64')}`)).toMatch(/^-ERR \[AUTH\]/);
    expect(await c.command('NOPE')).toMatch(/^-ERR/);
    expect(await c.line()).toBe('-ERR too many bad commands, closing');
    await c.closedSoon();
  });

  it('pauses after a failed login', async () => {
    const { connect } = await serve({ authFailureDelayMs: 300 });
    const c = await connect();
    const start = performance.now();
    expect(await login(c, 'alice', 'wrong')).toMatch(/^-ERR \[AUTH\]/);
    expect(performance.now() - start).toBeGreaterThanOrEqual(250);
  });

  it('hangs up on over-long lines and idle clients', async () => {
    const { connect } = await serve({ maxLineLength: 100, idleTimeoutMs: 300 });
    const c = await connect();
    c.write(`USER ${'a'.repeat(200)}`);
    expect(await c.line()).toBe('-ERR line too long (the limit is 100 octets), closing');
    await c.closedSoon();

    const idle = await connect();
    const start = performance.now();
    expect(await idle.line()).toBe('-ERR [SYS/TEMP] idle for too long, closing');
    expect(performance.now() - start).toBeGreaterThanOrEqual(250);
    await idle.closedSoon();
  });

  it('refuses connections over the limit and hangs up on all at close', async () => {
    const { port, connect } = await serve({ maxConnections: 1 });
    const first = await connect();
    const over = await RawClient.connect(port);
    clients.push(over);
    expect(await over.line()).toBe('-ERR [SYS/TEMP] too many connections, try again later');
    await over.closedSoon();
    await servers.pop()!.close();
    expect(await first.line()).toBe('-ERR [SYS/TEMP] server shutting down');
    await first.closedSoon();
  });
});

describe('POP3 with STLS', () => {
  it('offers STLS, ignores what was pipelined after it, and logs in over TLS', async () => {
    const { connect, mailboxes } = await serve({ tls: cert, requireTls: true });
    await mailboxes.store('', 'alice', Buffer.from('secret\n'));
    const c = await connect();
    expect(await c.command('CAPA')).toMatch(/^\+OK/);
    const caps = (await c.multi()).split('\r\n');
    expect(caps).toContain('STLS');
    expect(caps).not.toContain('USER');
    expect(await c.command('USER alice')).toBe('-ERR [AUTH] log in only after STLS');
    // An injected command after STLS, in the clear, must not run once encrypted.
    c.write('STLS\r\nUSER alice\r\n');
    expect(await c.line()).toBe('+OK begin TLS negotiation');
    await c.startTls();
    expect(await c.command('PASS alice pw')).toBe('-ERR send USER first');
    expect(await c.command('CAPA')).toMatch(/^\+OK/);
    const secureCaps = (await c.multi()).split('\r\n');
    expect(secureCaps).toContain('USER');
    expect(secureCaps).not.toContain('STLS');
    expect(await c.command('STLS')).toBe('-ERR the connection is already encrypted');
    expect(await login(c)).toMatch(/^\+OK alice has 1 messages/);
    expect(await c.command('RETR 1')).toBe('+OK 8 octets');
    expect(await c.multi()).toBe('secret\r\n.\r\n');
    expect(await c.command('QUIT')).toMatch(/signing off/);
  });
});

describe('POP3 with real clients', () => {
  const POPLIB = `
import poplib, ssl, sys, json
port, user, password, tls = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4] == 'tls'
p = poplib.POP3('127.0.0.1', port, timeout=10)
out = {'welcome': p.getwelcome().decode()}
out['capa'] = sorted(p.capa().keys())
if tls:
    ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
    p.stls(ctx)
p.user(user); p.pass_(password)
out['stat'] = list(p.stat())
resp, listing, _ = p.list()
out['list'] = [l.decode() for l in listing]
resp, uidl, _ = p.uidl()
out['uidl'] = [l.decode() for l in uidl]
resp, lines, octets = p.retr(1)
out['retr'] = (b'\\r\\n'.join(lines) + b'\\r\\n').decode('latin1')
out['octets'] = octets
resp, top, _ = p.top(1, 1)
out['top'] = (b'\\r\\n'.join(top)).decode('latin1')
p.dele(1)
out['quit'] = p.quit().decode()
print(json.dumps(out))
`;

  it("serves Python's poplib: list, uidl, retr (un-stuffed byte for byte), top, dele, quit", async () => {
    const { port, mailboxes } = await serve();
    await mailboxes.store('alice@example.org', 'alice', Buffer.from(MESSAGE_1));
    await mailboxes.store('alice@example.org', 'alice', Buffer.from(MESSAGE_2_CRLF));
    const { stdout } = await run('python3', ['-c', POPLIB, String(port), 'alice', 'alice pw', 'plain']);
    const out = JSON.parse(stdout) as Record<string, unknown>;
    const size1 = Buffer.byteLength(MESSAGE_1_CRLF);
    expect(out.stat).toEqual([2, size1 + MESSAGE_2_CRLF.length]);
    expect(out.list).toEqual([`1 ${size1}`, `2 ${MESSAGE_2_CRLF.length}`]);
    expect(out.uidl).toHaveLength(2);
    expect(out.retr).toBe(MESSAGE_1_CRLF);
    expect(out.capa).toEqual(expect.arrayContaining(['TOP', 'UIDL', 'USER', 'SASL']));
    expect(out.top).toBe('From: a@example.org\r\nTo: alice@example.org\r\nSubject: one\r\n\r\n.leading dot');
    expect(out.quit).toMatch(/^\+OK .*\(1 messages deleted\)/);
    expect((await mailboxes.list('alice')).map((m) => m.size)).toEqual([MESSAGE_2_CRLF.length]);
  });

  it("serves Python's poplib over STLS", async () => {
    const { port, mailboxes } = await serve({ tls: cert });
    await mailboxes.store('', 'bob@example.org', Buffer.from(MESSAGE_1));
    const { stdout } = await run('python3', ['-c', POPLIB, String(port), 'bob@example.org', 'bob-pw', 'tls']);
    const out = JSON.parse(stdout) as Record<string, unknown>;
    expect(out.capa).toContain('STLS');
    expect(out.retr).toBe(MESSAGE_1_CRLF);
  });

  it('serves curl pop3://user:pass@host/1, which retrieves the message exactly', async () => {
    const { port, mailboxes } = await serve();
    await mailboxes.store('alice@example.org', 'alice', Buffer.from(MESSAGE_1));
    await mailboxes.store('alice@example.org', 'alice', Buffer.from(MESSAGE_2_CRLF));
    const one = await run('curl', ['-sS', '--max-time', '10', `pop3://alice:alice%20pw@127.0.0.1:${port}/1`], { encoding: 'latin1' });
    expect(one.stdout).toBe(MESSAGE_1_CRLF);
    const two = await run('curl', ['-sS', '--max-time', '10', `pop3://alice:alice%20pw@127.0.0.1:${port}/2`], { encoding: 'latin1' });
    expect(two.stdout).toBe(MESSAGE_2_CRLF);
    const list = await run('curl', ['-sS', '--max-time', '10', `pop3://alice:alice%20pw@127.0.0.1:${port}/`], { encoding: 'latin1' });
    expect(list.stdout).toBe(`1 ${Buffer.byteLength(MESSAGE_1_CRLF)}\r\n2 ${MESSAGE_2_CRLF.length}\r\n`);
    await expect(run('curl', ['-sS', '--max-time', '10', `pop3://alice:wrong@127.0.0.1:${port}/1`])).rejects.toThrow();
  });
});
