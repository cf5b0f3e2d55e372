// The mail roles' IPC clients against the real servers on real sockets: the queue (with alerts,
// and a restart under a subscriber), the users, the mailboxes and SMTP out's `send`; a peer that
// is down; SMTP in over a queue that cannot be reached.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MailUsers, type PasswordHasher } from '../../src/mail/auth/index.js';
import { RemoteUsers } from '../../src/mail/auth/remote.js';
import { AlertSender, IpcServer } from '../../src/mail/ipc/index.js';
import { PeerUnreachableError, RemotePeer } from '../../src/mail/ipc/peer.js';
import { Mailboxes } from '../../src/mail/mailbox/index.js';
import { RemoteMailboxes } from '../../src/mail/mailbox/remote.js';
import { IpcError, type IpcHandlers } from '../../src/mail/protocol.js';
import { MailQueue } from '../../src/mail/queue/index.js';
import { RemoteQueue, SpoolError } from '../../src/mail/queue/remote.js';
import { SmtpReceiver, smtpInConfigSchema } from '../../src/mail/smtp-in/index.js';
import { SmtpSender } from '../../src/mail/smtp-out/index.js';
import { RemoteSender } from '../../src/mail/smtp-out/remote.js';
import { Store } from '../../src/services/store/index.js';
import { captureLogging, type LogRecord, tempDir } from '../helpers/host.js';
import { freePort, until } from '../helpers/wait.js';
import { swaks } from '../peers/mail-tools.js';

const fastHasher: PasswordHasher = await (async () => {
  const { hash, verify } = await import('@node-rs/argon2');
  return {
    hash: (password) => hash(password, { memoryCost: 1024, timeCost: 1, parallelism: 1 }),
    verify: (h, password) => verify(h, password),
    needsRehash: () => false,
  };
})();

let dir: string;
let remove: () => Promise<void>;
let records: LogRecord[];
let log: ReturnType<ReturnType<typeof captureLogging>['logging']['get']>;
const closers: (() => Promise<unknown>)[] = [];

beforeEach(async () => {
  ({ dir, remove } = await tempDir());
  const captured = captureLogging('debug');
  records = captured.records;
  log = captured.logging.get('porter.test');
});

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
  await remove();
});

/** A queue server as the mail hook runs one: MailQueue with alerts, behind an IPC socket. */
async function queueServer(socket: string, spool: string): Promise<{ queue: MailQueue; close(): Promise<void> }> {
  const alerts = new AlertSender({ log });
  const queue = await MailQueue.open({
    dir: spool,
    queues: ['incoming', 'send'],
    log,
    alert: (callback, name) => alerts.alert(callback, name),
  });
  const server = await serve(socket, queue.handlers());
  const close = async () => {
    await server.close();
    await queue.close();
    await alerts.close();
  };
  closers.push(close);
  return { queue, close };
}

async function serve(path: string, handlers: IpcHandlers): Promise<IpcServer> {
  const server = new IpcServer({ path, handlers: [handlers], log });
  await server.listen();
  closers.push(() => server.close());
  return server;
}

function peer(role: string, address: string): RemotePeer {
  const p = new RemotePeer({ role, address, log });
  closers.push(() => p.close());
  return p;
}

function remoteQueue(socket: string, spool: string, callback?: string): RemoteQueue {
  const remote = new RemoteQueue({
    peer: peer('queue', socket),
    log,
    spool,
    refreshMs: 200,
    ...(callback === undefined ? {} : { callback }),
  });
  closers.push(() => remote.close());
  return remote;
}

describe('RemoteQueue', () => {
  it('takes slots, pushes, pops, acks and releases over IPC, as MailQueue does in-process', async () => {
    const spool = join(dir, 'spool');
    const { queue } = await queueServer(join(dir, 'q.sock'), spool);
    const remote = remoteQueue(join(dir, 'q.sock'), spool);
    expect(await remote.checkSpool('incoming')).toBe(true);

    const slot = await remote.slot('incoming');
    await writeFile(slot, 'one');
    await remote.push('incoming', slot);
    expect(queue.stats('incoming').ready).toBe(1);

    const first = await remote.pop('incoming');
    expect(await readFile(first.path, 'utf8')).toBe('one');
    await expect(remote.pop('incoming')).rejects.toThrow(IpcError);
    await remote.release(first.lease);
    const again = await remote.pop('incoming');
    expect(again.path).toBe(first.path);
    await remote.ack(again.lease);
    expect(queue.stats('incoming')).toMatchObject({ ready: 0, leased: 0 });
    await expect(remote.pop('nope')).rejects.toThrow(/unknown queue "nope"/);
  });

  it('wakes a subscriber on alerts, and again after the queue server restarts and forgets it', async () => {
    const spool = join(dir, 'spool');
    const socket = join(dir, 'q.sock');
    const server = await queueServer(socket, spool);
    const remote = remoteQueue(socket, spool, join(dir, 'alerts.sock'));
    await remote.start();
    const popped: string[] = [];
    let busy = false;
    // A consumer as the mail hook's: on each wake, pop until the queue is empty.
    remote.subscribe('incoming', () => {
      if (busy) return;
      busy = true;
      void (async () => {
        try {
          for (;;) {
            const message = await remote.pop('incoming');
            popped.push(await readFile(message.path, 'utf8'));
            await remote.ack(message.lease);
          }
        } catch {
          // empty, or the server is gone
        } finally {
          busy = false;
        }
      })();
    });
    await until(() => server.queue.stats('incoming').ready === 0, 2_000);

    const push = async (queue: MailQueue, text: string) => {
      const slot = queue.slot('incoming');
      await writeFile(slot, text);
      await queue.push('incoming', slot);
    };
    await push(server.queue, 'before');
    await until(() => popped.includes('before'), 3_000);

    // Gone; meanwhile a message arrives in the spool (written by a queue without IPC); back on
    // the same socket and spool, it knows no subscriber.
    await server.close();
    const offline = await MailQueue.open({ dir: spool, queues: ['incoming', 'send'], log });
    await push(offline, 'waiting');
    await offline.close();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(popped).not.toContain('waiting');
    const again = await queueServer(socket, spool);
    await until(() => popped.includes('waiting'), 5_000);
    await push(again.queue, 'after');
    await until(() => popped.includes('after'), 5_000);
  });

  it('works over TCP with the token, with alerts called back on TCP', async () => {
    const spool = join(dir, 'spool');
    const alerts = new AlertSender({ log });
    closers.push(() => alerts.close());
    const queue = await MailQueue.open({ dir: spool, queues: ['incoming'], log, alert: (callback, name) => alerts.alert(callback, name) });
    closers.push(() => queue.close());
    const token = 'a-token-of-sixteen-or-more';
    const server = new IpcServer({ tcp: { host: '127.0.0.1', port: 0, token }, handlers: [queue.handlers()], log });
    await server.listen();
    closers.push(() => server.close());

    const wrong = new RemotePeer({ role: 'queue', address: `tcp:127.0.0.1:${server.tcpPort}`, token: 'not-the-right-token!', log });
    closers.push(() => wrong.close());
    await expect(wrong.request('slot', ['incoming'])).rejects.toThrow(/refused the token: wrong token/);

    const tcpPeer = new RemotePeer({ role: 'queue', address: `tcp:127.0.0.1:${server.tcpPort}`, token, log });
    const remote = new RemoteQueue({ peer: tcpPeer, log, spool, refreshMs: 60_000, callback: 'tcp:127.0.0.1:0' });
    closers.push(() => remote.close());
    await remote.start();
    expect(remote.callback).toMatch(/^tcp:127\.0\.0\.1:[1-9]\d*$/);
    let woken = 0;
    const listener = () => woken++;
    remote.subscribe('incoming', listener);
    // The subscription's first round wakes the listener once; an alert wakes it again.
    await until(() => woken === 1, 2_000);
    const slot = queue.slot('incoming');
    await writeFile(slot, 'over tcp');
    await queue.push('incoming', slot);
    await until(() => woken === 2, 2_000);
    expect(await readFile((await remote.pop('incoming')).path, 'utf8')).toBe('over tcp');

    // A clean stop unsubscribes: the next push alerts nobody, and nothing is said of a dead callback.
    remote.unsubscribe('incoming', listener);
    await remote.close();
    const next = queue.slot('incoming');
    await writeFile(next, 'after close');
    await queue.push('incoming', next);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(alerts.callbacks).toEqual([]);
    expect(records.filter((r) => /callback is dead/.test(r.msg))).toEqual([]);
  });

  it('refuses a queue server whose spool is not this process’s, and says why', async () => {
    await queueServer(join(dir, 'q.sock'), join(dir, 'spool'));
    const remote = remoteQueue(join(dir, 'q.sock'), join(dir, 'elsewhere'));
    const failure = await remote.checkSpool('incoming').catch((error: Error) => error);
    expect(failure).toBeInstanceOf(SpoolError);
    expect((failure as Error).message).toMatch(/outside this process's spool .*must share the spool folder with the queue server/);
    await expect(remote.slot('incoming')).rejects.toThrow(SpoolError);
  });
});

describe('RemotePeer', () => {
  it('fails fast while a peer is down, backs off, logs once each way, and finds it back', async () => {
    const socket = join(dir, 'q.sock');
    const p = peer('queue', socket);
    const down = await p.request('slot', ['incoming']).catch((error: Error) => error);
    expect(down).toBeInstanceOf(PeerUnreachableError);
    expect((down as Error).message).toContain(`the queue server at ${socket} did not answer "slot"`);
    // Within the backoff: refused without trying.
    const fast = await p.request('slot', ['incoming']).catch((error: Error) => error);
    expect((fast as Error).message).toMatch(/is unreachable \(next try in/);
    expect(p.up).toBe(false);

    await queueServer(socket, join(dir, 'spool'));
    await until(() => p.retryInMs === 0, 2_000);
    expect((await p.request('slot', ['incoming'])).ok).toBe(true);
    expect(p.up).toBe(true);
    const lines = records.filter((r) => r.level >= 30 && /the queue server is/.test(r.msg)).map((r) => r.msg);
    expect(lines).toEqual(['the queue server is unreachable; retrying with backoff', 'the queue server is reachable again']);
  });
});

describe('RemoteUsers and RemoteMailboxes', () => {
  it('answer as MailUsers and Mailboxes do in-process', async () => {
    const store = await Store.open('sqlite:users.db', { baseDir: dir, log });
    closers.push(() => store.close());
    const users = await MailUsers.open(store, { log, hasher: fastHasher });
    await users.add('alice@example.org', 'alice pw');
    const mailboxes = new Mailboxes({ root: join(dir, 'mail'), log, knows: (user) => users.verify(user) });
    await serve(join(dir, 'auth.sock'), users.handlers());
    await serve(join(dir, 'mailbox.sock'), mailboxes.handlers());

    const remoteUsers = new RemoteUsers(peer('auth', join(dir, 'auth.sock')));
    expect(await remoteUsers.verify('Alice@Example.org')).toBe(true);
    expect(await remoteUsers.verify('bob')).toBe(false);
    expect(await remoteUsers.authenticate('ALICE@example.org', 'alice pw')).toBe('alice@example.org');
    expect(await remoteUsers.authenticate('alice@example.org', 'wrong; pw\r\n')).toBeUndefined();

    const remote = new RemoteMailboxes(peer('mailbox', join(dir, 'mailbox.sock')));
    const message = Buffer.from('Subject: one\r\n\r\nline; with a semicolon\r\n.dot\r\n');
    await remote.store('alice@example.org', 'alice@example.org', message);
    await remote.store('alice@example.org', 'alice@example.org', Buffer.from('Subject: two\r\n\r\n2\r\n'));
    await expect(remote.store('bob@example.org', 'bob', message)).rejects.toThrow(/no mailbox for "bob"/);
    const listed = await remote.list('alice@example.org');
    expect(listed.map((m) => m.number)).toEqual([1, 2]);
    expect(await remote.mailinfo('alice@example.org', 2)).toEqual(listed[1]);
    const first = await remote.retr('alice@example.org', 1);
    expect(first.toString()).toBe(`Delivered-To: alice@example.org\r\n${message.toString()}`);
    expect(first.length).toBe(listed[0]!.size);
    await remote.dele('alice@example.org', 1);
    await expect(remote.retr('alice@example.org', 1)).rejects.toThrow(/deleted/);
    expect((await mailboxes.list('alice@example.org')).length).toBe(1);
  });
});

describe('RemoteSender', () => {
  it('hands a message to SMTP out in another process through a slot of the queue `send`', async () => {
    const spool = join(dir, 'spool');
    const { queue } = await queueServer(join(dir, 'q.sock'), spool);
    const sender = new SmtpSender({
      dir: join(spool, 'outbound'),
      log,
      queue,
      queueName: 'send',
      hostname: 'porter.test',
      // Nothing listens there: the message stays in the spool, deferred.
      smarthost: { host: '127.0.0.1', port: await freePort() },
      minimalBackoffMs: 60_000,
      closeTimeoutMs: 500,
    });
    await sender.start();
    closers.push(() => sender.close());
    await serve(join(dir, 'out.sock'), sender.handlers());

    const remote = new RemoteSender({
      peer: peer('smtp-out', join(dir, 'out.sock')),
      queue: remoteQueue(join(dir, 'q.sock'), spool),
      queueName: 'send',
    });
    const id = await remote.enqueue('', ['carol@example.net', 'dave@example.net'], 'Subject: bounce\r\n\r\nbody\r\n');
    expect(id).not.toBe('');
    // `send` answers once the message is in the queue; SMTP out takes it from there, tries the
    // smarthost (nothing listens) and keeps it, deferred, in its spool.
    await until(() => sender.list().some((m) => m.id === id), 10_000);
    const queued = sender.list().find((m) => m.id === id);
    expect(queued).toMatchObject({ from: '', recipients: [{ address: 'carol@example.net' }, { address: 'dave@example.net' }] });
  });
});

describe('SMTP in over a queue in another process', () => {
  it('answers 451 while the queue server cannot be reached, and 250 once it is back', async () => {
    const spool = join(dir, 'spool');
    await mkdir(spool);
    const store = await Store.open('sqlite:users.db', { baseDir: dir, log });
    closers.push(() => store.close());
    const users = await MailUsers.open(store, { log, hasher: fastHasher });
    await users.add('alice@example.org', 'pw');
    const socket = join(dir, 'q.sock');
    const receiver = new SmtpReceiver({
      config: smtpInConfigSchema.parse({ domains: ['example.org'], listeners: [{ address: '127.0.0.1:0' }] }),
      spool: remoteQueue(socket, join(spool, 'queues')),
      users,
      log,
    });
    await receiver.open();
    closers.push(() => receiver.close());
    const send = () =>
      swaks([
        '--server',
        '127.0.0.1',
        '--port',
        String(receiver.listeners[0]!.port),
        '--to',
        'alice@example.org',
        '--from',
        'bob@example.net',
      ]);

    const refused = await send();
    // Refused after DATA, where the message would have been pushed: the reply to the final dot.
    expect(refused.output).toMatch(/-> \.\n<\*\* +451 4\.3\.0 Queue unavailable/);
    expect(refused.code).not.toBe(0);

    const { queue } = await queueServer(socket, join(spool, 'queues'));
    let accepted = await send();
    // The first try after the outage may still fall within the backoff.
    for (let i = 0; i < 20 && accepted.code !== 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      accepted = await send();
    }
    expect(accepted.code, accepted.output).toBe(0);
    expect(queue.stats('incoming').ready).toBe(1);
  });
});
