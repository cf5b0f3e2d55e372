// The mail queue server on real files: slots, durable pushes, leases, recovery, the IPC handlers, and a kill -9 mid-push.
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IpcError, type IpcReply } from '../../src/mail/protocol.js';
import { GroupSync } from '../../src/mail/queue/group-sync.js';
import { MailQueue, type MailQueueOptions } from '../../src/mail/queue/index.js';

const PUSHER = fileURLToPath(new URL('./fixtures/queue-pusher.ts', import.meta.url));

let dir: string;
const opened: MailQueue[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'porter-queue-'));
});

afterEach(async () => {
  await Promise.all(opened.splice(0).map((q) => q.close()));
  await rm(dir, { recursive: true, force: true });
});

async function openQueue(options: Partial<MailQueueOptions> = {}): Promise<MailQueue> {
  const queue = await MailQueue.open({ dir, queues: ['incoming', 'outgoing'], ...options });
  opened.push(queue);
  return queue;
}

/** slot, write, push: what an SMTP session does with each message. */
async function put(queue: MailQueue, text: string, name = 'incoming'): Promise<string> {
  const slot = queue.slot(name);
  await writeFile(slot, text);
  return queue.push(name, slot);
}

async function refusal(work: () => unknown): Promise<string> {
  try {
    await work();
  } catch (error) {
    expect(error).toBeInstanceOf(IpcError);
    return (error as Error).message;
  }
  throw new Error('expected an IpcError');
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('slots and pushes', () => {
  it('hands out unique slots in the queue tmp folder and pushes them into new/', async () => {
    const queue = await openQueue();
    const a = queue.slot('incoming');
    const b = queue.slot('incoming');
    expect(a).not.toBe(b);
    expect(dirname(a)).toBe(join(dir, 'incoming', 'tmp'));
    await writeFile(a, 'hello');
    const path = await queue.push('incoming', a);
    expect(dirname(path)).toBe(join(dir, 'incoming', 'new'));
    expect(basename(path)).toMatch(/^0{15}1-/);
    expect(await readFile(path, 'utf8')).toBe('hello');
    expect(await readdir(join(dir, 'incoming', 'tmp'))).toEqual([]);
    expect(queue.stats('incoming')).toMatchObject({ ready: 1, slots: 1, pushes: 1 });
  });

  it('accepts the slot by its file name too', async () => {
    const queue = await openQueue();
    const slot = queue.slot('outgoing');
    await writeFile(slot, 'x');
    await queue.push('outgoing', basename(slot));
    expect(queue.pop('outgoing').path).toMatch(/outgoing\/new\//);
  });

  it('refuses bad slots and queues with clear messages', async () => {
    const queue = await openQueue();
    const slot = queue.slot('incoming');
    await writeFile(slot, 'x');
    expect(await refusal(() => queue.push('incoming', join(dir, 'incoming', 'tmp', 'abc-123')))).toMatch(/unknown slot abc-123/);
    expect(await refusal(() => queue.push('incoming', `${dir}/incoming/tmp/../tmp/${basename(slot)}`))).toMatch(/must not contain "\.\."/);
    expect(await refusal(() => queue.push('incoming', '../../etc/passwd'))).toMatch(/\.\./);
    expect(await refusal(() => queue.push('incoming', '/etc/passwd'))).toMatch(/outside the spool/);
    expect(await refusal(() => queue.push('incoming', 'tmp/x'))).toMatch(/path that was handed out/);
    expect(await refusal(() => queue.push('outgoing', slot))).toMatch(/belongs to queue incoming, not outgoing/);
    expect(await refusal(() => queue.push('deferred', slot))).toMatch(/unknown queue "deferred"/);
    expect(await refusal(() => queue.slot('Bad/Name'))).toMatch(/invalid queue name/);
    expect(await refusal(() => queue.push('incoming', ''))).toMatch(/no slot/);
    await queue.push('incoming', slot);
    expect(await refusal(() => queue.push('incoming', slot))).toMatch(/unknown slot .*already pushed/);
  });

  it('refuses a second push of a slot while the first is still under way', async () => {
    const queue = await openQueue();
    const slot = queue.slot('incoming');
    await writeFile(slot, 'x');
    const first = queue.push('incoming', slot);
    expect(await refusal(() => queue.push('incoming', slot))).toMatch(/unknown slot/);
    await first;
    expect(queue.stats('incoming').ready).toBe(1);
  });

  it('refuses a slot that was not written, and takes it once it is', async () => {
    const queue = await openQueue();
    const slot = queue.slot('incoming');
    expect(await refusal(() => queue.push('incoming', slot))).toMatch(/has not been written/);
    await writeFile(slot, 'late');
    await queue.push('incoming', slot);
    expect(await readFile(queue.pop('incoming').path, 'utf8')).toBe('late');
  });

  it('refuses a slot that is a symbolic link to another file', async () => {
    const queue = await openQueue();
    const secret = join(dir, 'secret');
    await writeFile(secret, 'not mail');
    const slot = queue.slot('incoming');
    await symlink(secret, slot);
    expect(await refusal(() => queue.push('incoming', slot))).toMatch(/symbolic link/);
  });

  it('forgets slots that are not pushed in time', async () => {
    const queue = await openQueue({ slotMs: 10 });
    const slot = queue.slot('incoming');
    await writeFile(slot, 'x');
    await sleep(30);
    expect(await refusal(() => queue.push('incoming', slot))).toMatch(/expired/);
    expect(await refusal(() => queue.push('incoming', slot))).toMatch(/unknown slot/);
  });

  it('shares directory fsyncs between concurrent pushes', async () => {
    const queue = await openQueue();
    const paths = await Promise.all(Array.from({ length: 50 }, (_, i) => put(queue, `m${i}`)));
    expect(new Set(paths).size).toBe(50);
    const stats = queue.stats('incoming');
    expect(stats.pushes).toBe(50);
    expect(stats.dirSyncs).toBeLessThan(50);
    expect(stats.dirSyncs).toBeGreaterThan(0);
  });
});

describe('group commit', () => {
  it('never lets a caller ride on an fsync that started before it asked, and batches those that wait', async () => {
    const sync = new GroupSync(dir);
    const first = sync.sync();
    // These arrive while the first fsync is in flight: their renames may have come too late for it.
    const late = [sync.sync(), sync.sync(), sync.sync()];
    await first;
    expect(sync.syncs).toBe(1);
    await Promise.all(late);
    expect(sync.syncs).toBe(2);
    await sync.sync();
    expect(sync.syncs).toBe(3);
  });

  it('passes an fsync failure to the callers of that batch and goes on', async () => {
    const sync = new GroupSync(join(dir, 'missing'));
    await expect(sync.sync()).rejects.toThrow(/ENOENT/);
    expect(sync.syncs).toBe(0);
  });
});

describe('pop, ack and release', () => {
  it('pops in push order and says when the queue is empty', async () => {
    const queue = await openQueue();
    for (const text of ['one', 'two', 'three']) await put(queue, text);
    const texts = [];
    for (let i = 0; i < 3; i++) texts.push(await readFile(queue.pop('incoming').path, 'utf8'));
    expect(texts).toEqual(['one', 'two', 'three']);
    expect(await refusal(() => queue.pop('incoming'))).toBe('queue is empty');
    expect(await refusal(() => queue.pop('nowhere'))).toMatch(/unknown queue/);
  });

  it('deletes a message on ack, once', async () => {
    const queue = await openQueue();
    await put(queue, 'x');
    const popped = queue.pop('incoming');
    await queue.ack(popped.lease);
    expect(await readdir(join(dir, 'incoming', 'new'))).toEqual([]);
    expect(await refusal(() => queue.ack(popped.lease))).toMatch(/unknown lease/);
    expect(await refusal(() => queue.release(popped.lease))).toMatch(/unknown lease/);
    expect(queue.stats('incoming')).toMatchObject({ ready: 0, leased: 0 });
  });

  it('puts a released message back in its place', async () => {
    const queue = await openQueue();
    for (const text of ['one', 'two']) await put(queue, text);
    const first = queue.pop('incoming');
    queue.release(first.lease);
    const again = queue.pop('incoming');
    expect(again.path).toBe(first.path);
    expect(again.lease).not.toBe(first.lease);
  });

  it('gives a message back when its lease runs out', async () => {
    const queue = await openQueue({ leaseMs: 40 });
    await put(queue, 'x');
    const first = queue.pop('incoming');
    expect(await refusal(() => queue.pop('incoming'))).toBe('queue is empty');
    await sleep(100);
    const again = queue.pop('incoming');
    expect(again.path).toBe(first.path);
    // The lapsed lease cannot ack the message another consumer now holds.
    expect(await refusal(() => queue.ack(first.lease))).toMatch(/unknown lease/);
    await queue.ack(again.lease);
  });
});

describe('subscribers', () => {
  it('hears about pushes, once per burst, and releases; not after unsubscribing', async () => {
    const queue = await openQueue();
    const heard: string[] = [];
    const listener = (name: string) => heard.push(name);
    queue.subscribe('incoming', listener);
    await Promise.all([put(queue, 'a'), put(queue, 'b')]);
    await sleep(5);
    expect(heard.length).toBeGreaterThanOrEqual(1);
    expect(heard.length).toBeLessThanOrEqual(2);
    heard.length = 0;
    queue.release(queue.pop('incoming').lease);
    await sleep(5);
    expect(heard).toEqual(['incoming']);
    expect(queue.unsubscribe('incoming', listener)).toBe(true);
    await put(queue, 'c');
    await sleep(5);
    expect(heard).toEqual(['incoming']);
    await put(queue, 'd', 'outgoing');
  });
});

describe('recovery', () => {
  it('keeps pushed and leased messages in order, drops unpushed slots, and goes on numbering', async () => {
    const first = await openQueue();
    for (const text of ['one', 'two', 'three']) await put(first, text);
    first.pop('incoming'); // leased by a process that then dies
    await writeFile(first.slot('incoming'), 'half-written');
    await first.close();

    const second = await openQueue();
    expect(await readdir(join(dir, 'incoming', 'tmp'))).toEqual([]);
    expect(second.stats('incoming')).toMatchObject({ ready: 3, leased: 0 });
    await put(second, 'four');
    const texts = [];
    for (let i = 0; i < 4; i++) texts.push(await readFile(second.pop('incoming').path, 'utf8'));
    expect(texts).toEqual(['one', 'two', 'three', 'four']);
  });

  it('leaves alone files it did not put in new/', async () => {
    const first = await openQueue();
    await put(first, 'one');
    await first.close();
    await writeFile(join(dir, 'incoming', 'new', 'stray'), 'x');
    const second = await openQueue();
    expect(second.stats('incoming').ready).toBe(1);
  });

  it('refuses invalid queue names in its options', async () => {
    await expect(MailQueue.open({ dir, queues: ['In Coming'] })).rejects.toThrow(/invalid queue name/);
  });

  for (const mode of ['slot', 'memory'] as const)
    it(`loses no acknowledged message when killed with SIGKILL in the middle of pushing (${mode})`, async () => {
      const child = spawn(process.execPath, ['--import', 'tsx', PUSHER, dir, '20', mode], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      const closed = new Promise<void>((resolve) => child.stdout.on('close', resolve));
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the pusher acknowledged too little in time; stderr:\n${stderr}`)), 20_000);
        child.stdout.on('data', (d: Buffer) => {
          stdout += d.toString();
          // Kill mid-stream, with pushes certainly under way.
          if ((stdout.match(/^acked /gm)?.length ?? 0) >= 500) {
            clearTimeout(timer);
            child.kill('SIGKILL');
            resolve();
          }
        });
      });
      await closed;
      const acked = [...stdout.matchAll(/^acked (\S+)$/gm)].map((m) => m[1]!);
      expect(acked.length).toBeGreaterThanOrEqual(500);

      const queue = await openQueue({ queues: ['incoming'] });
      const present = new Set<string>();
      for (;;) {
        let path: string;
        try {
          path = queue.pop('incoming').path;
        } catch {
          break;
        }
        present.add((await readFile(path, 'utf8')).trim().replace(/^message /, ''));
      }
      const deleted = new Set([...stdout.matchAll(/^deleted (\S+)$/gm)].map((m) => m[1]!));
      if (mode === 'memory') expect(deleted.size).toBeGreaterThan(0);
      const deleting = new Set([...stdout.matchAll(/^deleting (\S+)$/gm)].map((m) => m[1]!));
      const lost = acked.filter((id) => !present.has(id) && !deleting.has(id));
      expect(lost).toEqual([]);
      expect([...deleted].filter((id) => present.has(id))).toEqual([]);
      expect(present.size + deleting.size).toBeGreaterThanOrEqual(acked.length);
    });
});

describe('MailQueue pushes from memory (the journal)', () => {
  const journal = () => readdir(join(dir, 'incoming', 'journal'));

  it('acknowledges after the journal, keeps the message in memory until a pop needs its file', async () => {
    const queue = await openQueue();
    const paths = await Promise.all(['one', 'two', 'three'].map((text) => queue.pushMessage('incoming', [Buffer.from(text)])));
    // The first push's write starts at once; the two that come while it runs share the next one.
    expect(queue.stats('incoming')).toMatchObject({ ready: 3, pushes: 3, journalSyncs: 2 });
    expect(await journal()).toHaveLength(1);
    expect(await readdir(join(dir, 'incoming', 'new'))).toEqual([]);

    const first = queue.pop('incoming');
    expect(first.path).toBe(paths[0]);
    expect(await readFile(first.path, 'utf8')).toBe('one');
    const second = queue.pop('incoming', { file: false });
    expect((await queue.contents('incoming', second.path)).toString()).toBe('two');
    expect(await readdir(join(dir, 'incoming', 'new'))).toEqual([basename(first.path)]);
    await queue.ack(first.lease);
    await queue.ack(second.lease);
    expect(await readdir(join(dir, 'incoming', 'new'))).toEqual([]);
    expect(queue.stats('incoming')).toMatchObject({ ready: 1, leased: 0 });
  });

  it('replays the journal at open: what was pushed and not acked comes back as files, in order', async () => {
    const first = await openQueue();
    for (const text of ['one', 'two', 'three', 'four']) await first.pushMessage('incoming', [Buffer.from(text)]);
    await put(first, 'five');
    const acked = first.pop('incoming', { file: false });
    await first.ack(acked.lease);
    first.pop('incoming'); // leased by a process that then dies
    await first.close();

    const second = await openQueue();
    expect(await journal()).toEqual([]);
    expect(second.stats('incoming')).toMatchObject({ ready: 4, leased: 0 });
    const texts = [];
    for (let i = 0; i < 4; i++) texts.push(await readFile(second.pop('incoming').path, 'utf8'));
    expect(texts).toEqual(['two', 'three', 'four', 'five']);
  });

  it('ignores a torn record at the end of the journal', async () => {
    const first = await openQueue();
    await first.pushMessage('incoming', [Buffer.from('kept')]);
    await first.close();
    const [segment] = await journal();
    await writeFile(join(dir, 'incoming', 'journal', segment!), Buffer.from('PJR1\x01\x00\x05\x00\x00'), { flag: 'a' });
    const second = await openQueue();
    expect(second.stats('incoming').ready).toBe(1);
    expect(await readFile(second.pop('incoming').path, 'utf8')).toBe('kept');
  });

  it('retires a full segment: its live messages become durable files and the segment goes', async () => {
    const queue = await openQueue({ segmentBytes: 200 });
    const popped = [];
    for (let i = 0; i < 20; i++) {
      await queue.pushMessage('incoming', [Buffer.from(`message ${i} `.padEnd(40, '.'))]);
      if (i % 2 === 0) popped.push(queue.pop('incoming', { file: false }));
    }
    for (const p of popped) await queue.ack(p.lease);
    await queue.close();
    // Only the segment in use at close is left; the others were retired.
    expect((await journal()).length).toBe(1);
    const files = await readdir(join(dir, 'incoming', 'new'));
    expect(files.length).toBeGreaterThan(0);
    const second = await openQueue();
    const texts = [];
    for (let i = 0; i < 10; i++) texts.push((await readFile(second.pop('incoming').path, 'utf8')).split(' ')[1]);
    // Each pop took the oldest: messages 0 to 9 were acked.
    expect(texts).toEqual(['10', '11', '12', '13', '14', '15', '16', '17', '18', '19']);
    expect(await refusal(() => second.pop('incoming'))).toBe('queue is empty');
  });

  it('writes the file at push once the memory budget is used up', async () => {
    const queue = await openQueue({ holdBytes: 5 });
    await queue.pushMessage('incoming', [Buffer.from('small')]);
    const path = await queue.pushMessage('incoming', [Buffer.from('over the budget')]);
    expect(await readdir(join(dir, 'incoming', 'new'))).toEqual([basename(path)]);
  });
});

describe('IPC handlers', () => {
  const request = (name: string, ...params: string[]) => ({ name, params });
  const value = (reply: IpcReply) => (reply.ok ? reply.value : `error: ${reply.error}`);

  it('answers slot, push, pop, ack and release as in the seed, plus porter’s ack and release', async () => {
    const queue = await openQueue();
    const h = queue.handlers();
    const slot = value(await h.slot!(request('slot', 'incoming')))!;
    expect(slot.startsWith(join(dir, 'incoming', 'tmp'))).toBe(true);
    await writeFile(slot, 'mail');
    expect(await h.push!(request('push', 'incoming', slot))).toEqual({ ok: true });
    const path = value(await h.pop!(request('pop', 'incoming')))!;
    expect(await readFile(path, 'utf8')).toBe('mail');
    expect(await h.pop!(request('pop', 'incoming'))).toEqual({ ok: false, error: 'queue is empty' });
    expect(await h.release!(request('release', 'incoming', path))).toEqual({ ok: true });
    const again = value(await h.pop!(request('pop', 'incoming')))!;
    expect(again).toBe(path);
    expect(await h.ack!(request('ack', 'incoming', basename(path)))).toEqual({ ok: true });
    expect(value(await h.ack!(request('ack', 'incoming', path)))).toMatch(/^error: .*not leased/);
    expect(value(await h.ack!(request('ack', 'outgoing', path)))).toMatch(/^error: .*belongs to queue incoming/);
  });

  it('refuses missing and extra parameters, bad paths and unknown queues', async () => {
    const h = (await openQueue()).handlers();
    expect(value(await h.slot!(request('slot')))).toBe('error: slot takes 1 parameter(s) (queue), got 0');
    expect(value(await h.push!(request('push', 'incoming')))).toMatch(/push takes 2 parameter\(s\) \(queue ; slot\), got 1/);
    expect(value(await h.pop!(request('pop', 'incoming', 'extra')))).toMatch(/got 2/);
    expect(value(await h.push!(request('push', 'incoming', '../x')))).toMatch(/must not contain/);
    expect(value(await h.slot!(request('slot', 'nowhere')))).toMatch(/unknown queue "nowhere"/);
  });

  it('subscribes callbacks through the alert function; unsubscribe and unsuscribe both remove them', async () => {
    const alerts: string[] = [];
    const queue = await openQueue({ alert: (callback, name) => alerts.push(`${callback} ${name}`) });
    const h = queue.handlers();
    const callback = 'socket://127.0.0.1:14001';
    expect(await h.subscribe!(request('subscribe', 'incoming', callback))).toEqual({ ok: true });
    expect(await h.subscribe!(request('subscribe', 'incoming', callback))).toEqual({ ok: true });
    await put(queue, 'x');
    await sleep(5);
    expect(alerts).toEqual([`${callback} incoming`]);
    expect(await h.unsuscribe!(request('unsuscribe', 'incoming', callback))).toEqual({ ok: true });
    expect(value(await h.unsubscribe!(request('unsubscribe', 'incoming', callback)))).toMatch(/is not subscribed/);
    expect(value(await h.subscribe!(request('subscribe', 'nowhere', callback)))).toMatch(/unknown queue/);
    await put(queue, 'y');
    await sleep(5);
    expect(alerts).toHaveLength(1);
  });

  it('refuses callbacks when it has no way to alert them', async () => {
    const h = (await openQueue()).handlers();
    expect(value(await h.subscribe!(request('subscribe', 'incoming', 'socket://127.0.0.1:1')))).toMatch(/cannot call subscribers back/);
  });
});
