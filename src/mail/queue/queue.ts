// The mail queue server: named durable spools on disk with slots, group-committed pushes and leased pops.
import { randomBytes } from 'node:crypto';
import { closeSync, constants, fsyncSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, resolve, sep } from 'node:path';
import type { Logger } from '../../core/log.js';
import { IpcError, type IpcHandlers } from '../protocol.js';
import { GroupSync } from './group-sync.js';
import { type AlertFunction, queueHandlers } from './handlers.js';
import { ACK, decodeSegment, encodeRecord, JournalSegment, listSegments, PUSH, readSegment, removeSegment } from './journal.js';

/** Called when a queue has messages to pop: after pushes, and when a lease is released or expires. */
export type QueueListener = (queue: string) => void;

export interface MailQueueOptions {
  /** The spool: one folder per queue below it, each with `tmp/` (slots) and `new/` (messages). */
  readonly dir: string;
  /** The queues to serve; any other name is refused. Names are `[a-z0-9_-]+`. */
  readonly queues: readonly string[];
  /** How long a popped message stays leased before it comes back (default 5 minutes). */
  readonly leaseMs?: number;
  /** How long a slot may stay unpushed before it is forgotten and its file deleted (default 1 hour). */
  readonly slotMs?: number;
  readonly log?: Logger;
  /**
   * Sends `alert: QUEUE` to an IPC callback address (the IPC layer's AlertSender); without it,
   * `subscribe` over IPC is refused. In-process users call `subscribe` with a listener instead.
   */
  readonly alert?: AlertFunction;
  /** A journal segment is retired (its live messages fsync'd as files) once it holds this much (default 32 MiB). */
  readonly segmentBytes?: number;
  /**
   * In-process pushes whose file is not written yet (they live in the journal and in memory) take
   * at most this many bytes of memory in all (default 32 MiB); beyond, pushes write their file.
   */
  readonly holdBytes?: number;
}

/** A popped message: read it at `path`, then `ack(lease)` once it is handled, or `release(lease)`. */
export interface Popped {
  readonly queue: string;
  readonly path: string;
  readonly lease: string;
}

export interface QueueStats {
  /** Messages that `pop` can hand out now. */
  readonly ready: number;
  readonly leased: number;
  /** Slots handed out and not yet pushed. */
  readonly slots: number;
  /** Pushes made durable since open, and the directory fsyncs that took (fewer when pushes are batched). */
  readonly pushes: number;
  readonly dirSyncs: number;
  /** Write+fdatasync batches of the journal (in-process pushes and acks share them). */
  readonly journalSyncs: number;
}

const QUEUE_NAME = /^[a-z0-9_-]+$/;
const SLOT_NAME = /^[a-z0-9-]+$/;
/** A message's file name in `new/`: the push sequence (FIFO across restarts), then the slot it came from. */
const MESSAGE_NAME = /^(\d{16})-[a-z0-9-]+$/;
const SEQ_WIDTH = 16;

interface Entry {
  readonly seq: number;
  readonly name: string;
}

interface Lease {
  readonly id: string;
  readonly queue: QueueState;
  readonly entry: Entry;
  readonly timer: NodeJS.Timeout;
}

/** Messages ready to pop, in sequence order; shifting from the front is O(1). */
class ReadyList {
  #items: Entry[] = [];
  #head = 0;

  get size(): number {
    return this.#items.length - this.#head;
  }

  shift(): Entry | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const entry = this.#items[this.#head++];
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return entry;
  }

  /** New pushes land at the end; released and expired messages go back to their place by sequence. */
  insert(entry: Entry): void {
    const items = this.#items;
    let low = this.#head;
    let high = items.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (items[mid]!.seq < entry.seq) low = mid + 1;
      else high = mid;
    }
    if (low === items.length) items.push(entry);
    else items.splice(low, 0, entry);
  }
}

interface QueueState {
  readonly name: string;
  readonly tmp: string;
  readonly ready: string;
  /** Slot file name → when it expires. */
  readonly slots: Map<string, number>;
  readonly waiting: ReadyList;
  /** Message file name → its current lease id. */
  readonly leased: Map<string, string>;
  readonly listeners: Set<QueueListener>;
  readonly syncer: GroupSync;
  readonly journalDir: string;
  /** The segment appended to now; created at the first record after open or rotation. */
  segment: JournalSegment | undefined;
  nextSegment: number;
  /** Journal batches of retired segments, for stats. */
  retiredSyncs: number;
  /** Messages pushed through the journal and not yet acked, by file name → the segment that holds them. */
  readonly journaled: Map<string, JournalSegment>;
  /**
   * Messages pushed in this process whose file in `new/` is not written (yet): their bytes, by
   * file name. `contents` answers from here; `pop` writes the file first unless told it need not.
   */
  readonly held: Map<string, Buffer>;
  heldBytes: number;
  /** Acks under way (file gone, ack record not yet on disk), by file name: a retiring segment waits for them. */
  readonly acking: Map<string, Promise<void>>;
  nextSeq: number;
  pushes: number;
  notifyScheduled: boolean;
}

export function validQueueName(name: string): boolean {
  return name.length > 0 && name.length <= 64 && QUEUE_NAME.test(name);
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes a whole file and fsyncs it (recovery: synchronous, before anything is served). */
function writeDurably(path: string, data: readonly Buffer[]): void {
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o600);
  try {
    for (const chunk of data) {
      let at = 0;
      while (at < chunk.length) at += writeSync(fd, chunk, at);
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes a message file whose bytes the journal already holds on disk: no fsync. Synchronous,
 * for `pop`, which answers at once; the ingest path avoids it, as creating a file can wait for
 * the file system's journal commit when fsyncs run.
 */
function writeFast(path: string, data: Buffer): void {
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o600);
  try {
    let at = 0;
    while (at < data.length) at += writeSync(fd, data, at);
  } finally {
    closeSync(fd);
  }
}

function fsyncPath(path: string): void {
  const fd = openSync(path, constants.O_RDONLY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String((error as { code: unknown }).code) : undefined;
}

/**
 * The spool on disk, one folder per queue:
 *
 *     DIR/QUEUE/tmp/SLOT                 a slot handed out; the client creates and writes it
 *     DIR/QUEUE/new/SEQUENCE-SLOT        a pushed message; SEQUENCE is 16 digits, the FIFO order
 *     DIR/QUEUE/journal/NUMBER.journal   in-process pushes and all acks (journal.ts)
 *
 * `pushMessage` (SMTP in, in this process) is acknowledged once its journal record is on disk,
 * and its file in `new/` is written only when a `pop` needs it (or at once, beyond the memory
 * budget); `ack` is a journal record too. At open the journal is replayed into `new/` and
 * removed, so the rest of this comment holds for the files as they are then.
 *
 * A message is acknowledged only once its bytes (fsync of the file) and its name in `new/` (fsync
 * of `new/` after the rename) are on disk, so a crash after `push` resolved cannot lose it; a
 * crash before leaves it either in `tmp/` (discarded at start: nobody was told `ok`) or in `new/`
 * (delivered, and sent again by the client that got no answer: a duplicate, never a loss). Leases
 * live in memory: the file stays in `new/` until `ack`, so a crash gives leased messages back.
 */
export class MailQueue {
  readonly dir: string;
  readonly leaseMs: number;
  readonly slotMs: number;
  readonly segmentBytes: number;
  readonly holdLimit: number;
  readonly #log: Logger | undefined;
  readonly #alert: AlertFunction | undefined;
  readonly #queues = new Map<string, QueueState>();
  readonly #leases = new Map<string, Lease>();
  /** Pushes and acks under way, which `close()` lets finish. */
  readonly #inflight = new Set<Promise<unknown>>();
  #leaseCounter = 0;
  #sweeper: NodeJS.Timeout | undefined;
  #closed = false;

  private constructor(options: MailQueueOptions) {
    this.dir = resolve(options.dir);
    this.leaseMs = options.leaseMs ?? 5 * 60_000;
    this.slotMs = options.slotMs ?? 60 * 60_000;
    this.segmentBytes = options.segmentBytes ?? 32 * 1024 * 1024;
    this.holdLimit = options.holdBytes ?? 32 * 1024 * 1024;
    this.#log = options.log;
    this.#alert = options.alert;
    for (const name of options.queues) {
      if (!validQueueName(name)) throw new Error(`invalid queue name "${name}" (use a-z, 0-9, _ and -, at most 64)`);
      const root = join(this.dir, name);
      const ready = join(root, 'new');
      this.#queues.set(name, {
        name,
        tmp: join(root, 'tmp'),
        ready,
        slots: new Map(),
        waiting: new ReadyList(),
        leased: new Map(),
        listeners: new Set(),
        syncer: new GroupSync(ready),
        journalDir: join(root, 'journal'),
        segment: undefined,
        nextSegment: 1,
        retiredSyncs: 0,
        journaled: new Map(),
        held: new Map(),
        heldBytes: 0,
        acking: new Map(),
        nextSeq: 1,
        pushes: 0,
        notifyScheduled: false,
      });
    }
  }

  /**
   * Opens the spool and recovers it: files in `tmp/` are discarded (their slots died with the
   * process that handed them out, and no client was told `ok` for them), every message in `new/`
   * is ready again, including those a crashed process had leased, in their push order.
   */
  static async open(options: MailQueueOptions): Promise<MailQueue> {
    const queue = new MailQueue(options);
    await queue.#recover();
    return queue;
  }

  async #recover(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    for (const q of this.#queues.values()) {
      let created = (await mkdir(q.tmp, { recursive: true })) !== undefined;
      created = (await mkdir(q.journalDir, { recursive: true })) !== undefined || created;
      if ((await mkdir(q.ready, { recursive: true })) !== undefined || created) {
        // New folders must themselves survive a crash before messages are acknowledged in them.
        await syncDir(dirname(q.ready));
        await syncDir(this.dir);
        await syncDir(dirname(this.dir));
      }
      this.#replay(q);
      let discarded = 0;
      for (const name of await readdir(q.tmp)) {
        await unlink(join(q.tmp, name)).catch(() => {});
        discarded++;
      }
      if (discarded > 0) this.#log?.info({ queue: q.name, discarded }, 'discarded unpushed slots');
      const entries: Entry[] = [];
      for (const name of await readdir(q.ready)) {
        const match = MESSAGE_NAME.exec(name);
        if (!match) {
          this.#log?.warn({ queue: q.name, file: name }, 'ignoring a file in the queue that porter did not put there');
          continue;
        }
        entries.push({ seq: Number(match[1]), name });
      }
      entries.sort((a, b) => a.seq - b.seq);
      for (const entry of entries) q.waiting.insert(entry);
      q.nextSeq = (entries.at(-1)?.seq ?? 0) + 1;
      if (entries.length > 0) this.#log?.info({ queue: q.name, messages: entries.length }, 'messages ready after restart');
    }
    const every = Math.max(1_000, Math.min(this.slotMs, 60_000));
    this.#sweeper = setInterval(() => void this.#sweepSlots(), every);
    this.#sweeper.unref();
  }

  /**
   * Brings `new/` in line with the journal left by the last run: every message whose push is in
   * the journal and whose ack is not gets its file written again from the journal and fsync'd
   * (the file was written without fsync, so it may be short or missing); every acked message's
   * file is removed. Then `new/` is fsync'd and the segments are deleted: from here on the files
   * alone hold the queue. Synchronous: it runs once, before anything is served.
   */
  #replay(q: QueueState): void {
    const segments = listSegments(q.journalDir);
    if (segments.length === 0) return;
    const pushed = new Map<string, Buffer>();
    const acked = new Set<string>();
    for (const segment of segments) {
      for (const record of decodeSegment(readSegment(segment.path))) {
        if (!MESSAGE_NAME.test(record.name)) continue;
        if (record.kind === PUSH && record.data) pushed.set(record.name, record.data);
        else if (record.kind === ACK) acked.add(record.name);
      }
    }
    let restored = 0;
    for (const [name, data] of pushed) {
      if (acked.has(name)) continue;
      writeDurably(join(q.ready, name), [data]);
      restored++;
    }
    let removed = 0;
    for (const name of acked) {
      try {
        unlinkSync(join(q.ready, name));
        removed++;
      } catch (error) {
        if (errorCode(error) !== 'ENOENT') throw error;
      }
    }
    fsyncPath(q.ready);
    for (const segment of segments) removeSegment(segment.path);
    fsyncPath(q.journalDir);
    q.nextSegment = (segments.at(-1)?.number ?? 0) + 1;
    this.#log?.info({ queue: q.name, segments: segments.length, restored, removed }, 'queue journal replayed');
  }

  get queues(): readonly string[] {
    return [...this.#queues.keys()];
  }

  /** Hands out a new slot: an absolute path in the queue's `tmp/` for the client to create and write. */
  slot(queue: string): string {
    const q = this.#queue(queue);
    let name: string;
    do name = `${Date.now().toString(36)}-${randomBytes(8).toString('hex')}`;
    while (q.slots.has(name));
    q.slots.set(name, Date.now() + this.slotMs);
    return join(q.tmp, name);
  }

  /**
   * Makes a written slot a message: fsync of the file, rename into `new/`, fsync of `new/` (shared
   * with the pushes around it), and only then resolves, with the message's path. A slot can be
   * pushed once.
   */
  push(queue: string, slot: string): Promise<string> {
    const q = this.#queue(queue);
    const name = this.#slotName(q, slot);
    const expires = q.slots.get(name)!;
    // Taken at once, so a second push of the same slot is refused even while this one runs.
    q.slots.delete(name);
    return this.#track(this.#push(q, name, expires));
  }

  async #push(q: QueueState, name: string, expires: number): Promise<string> {
    const from = join(q.tmp, name);
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      // O_NOFOLLOW: a slot must be the file the client wrote, not a link to something else.
      handle = await open(from, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (error) {
      const code = errorCode(error);
      if (code === 'ENOENT') {
        q.slots.set(name, expires);
        throw new IpcError(`slot ${name} has not been written`);
      }
      if (code === 'ELOOP') throw new IpcError(`slot ${name} is a symbolic link, not a message`);
      throw error;
    }
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) throw new IpcError(`slot ${name} is not a regular file`);
      if (stat.nlink !== 1) throw new IpcError(`slot ${name} has other links; write the message into the slot itself`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    // The sequence is taken after the file's fsync, so it orders pushes by when they were ready.
    const seq = q.nextSeq++;
    const entry: Entry = { seq, name: `${String(seq).padStart(SEQ_WIDTH, '0')}-${name}` };
    const to = join(q.ready, entry.name);
    await rename(from, to);
    await q.syncer.sync();
    q.pushes++;
    q.waiting.insert(entry);
    this.#notify(q);
    return to;
  }

  /**
   * Pushes a message this process holds in memory (SMTP in's): appended to the queue's journal,
   * whose write+fdatasync is shared by every push and ack waiting at the time, and resolves with
   * the message's path once the journal has it on disk. The file in `new/` is then written
   * without an fsync of its own: after a crash the journal restores it. Pops, acks, leases and
   * the IPC see such a message like any other.
   */
  pushMessage(queue: string, data: readonly Buffer[]): Promise<string> {
    const q = this.#queue(queue);
    const message = data.length === 1 ? data[0]! : Buffer.concat(data);
    const seq = q.nextSeq++;
    const entry: Entry = { seq, name: `${String(seq).padStart(SEQ_WIDTH, '0')}-${Date.now().toString(36)}-j` };
    const segment = this.#segment(q);
    q.journaled.set(entry.name, segment);
    const path = join(q.ready, entry.name);
    const hold = q.heldBytes + message.length <= this.holdLimit;
    const durable = segment.append(encodeRecord(PUSH, entry.name, [message]));
    // Over the memory budget the file is written now, in the thread pool, while the journal syncs.
    const written = hold ? undefined : writeFile(path, message, { flag: 'w', mode: 0o600 });
    const work = Promise.all([durable, written]).then(
      () => {
        if (hold) {
          q.held.set(entry.name, message);
          q.heldBytes += message.length;
        }
        q.pushes++;
        q.waiting.insert(entry);
        this.#notify(q);
        return path;
      },
      (error: unknown) => {
        q.journaled.delete(entry.name);
        throw error;
      },
    );
    return this.#track(work);
  }

  /**
   * A popped message's bytes (`path` as `pop` gave it): from memory when this process pushed it
   * and has not written its file, else read from the file.
   */
  contents(queue: string, path: string): Promise<Buffer> {
    const held = this.#queues.get(queue)?.held.get(basename(path));
    return held ? Promise.resolve(held) : readFile(path);
  }

  /** Writes the file of a message held in memory (without fsync: the journal has it). */
  #materialize(q: QueueState, name: string): void {
    const held = q.held.get(name);
    if (!held) return;
    writeFast(join(q.ready, name), held);
    q.held.delete(name);
    q.heldBytes -= held.length;
  }

  /** The segment to append to, a new one when there is none or the current one is full (the full one is retired). */
  #segment(q: QueueState): JournalSegment {
    const current = q.segment;
    if (current && current.pendingSize < this.segmentBytes) return current;
    q.segment = new JournalSegment(q.journalDir, q.nextSegment++);
    if (current) void this.#track(this.#retire(q, current));
    return q.segment;
  }

  /**
   * A full segment goes once the messages it still holds are safe without it: their files
   * fsync'd, then `new/` fsync'd (which also makes the unlinks of acked messages durable, so
   * none comes back). Until then a crash replays it.
   */
  async #retire(q: QueueState, segment: JournalSegment): Promise<void> {
    await segment.whenIdle();
    // The pushes' own continuations (writing the files) run before this.
    await new Promise((resolve) => setImmediate(resolve));
    try {
      const live = [...q.journaled].filter(([, s]) => s === segment).map(([name]) => name);
      await Promise.all(
        live.map(async (name) => {
          const acking = q.acking.get(name);
          if (acking) {
            // Its file may be gone already: the segment must outlive the push until the ack is on disk.
            await acking;
            return;
          }
          const held = q.held.get(name);
          let handle: Awaited<ReturnType<typeof open>>;
          try {
            handle = await open(join(q.ready, name), held ? 'w' : 'r', 0o600);
          } catch (error) {
            // Acked meanwhile: nothing to keep.
            if (errorCode(error) === 'ENOENT') return;
            throw error;
          }
          let acked = false;
          try {
            if (held) {
              await handle.writeFile(held);
              // Acked while being written, the ack found no file to unlink. (A pop may have
              // written the same file meanwhile; that is no ack.)
              acked = q.acking.has(name) || !q.journaled.has(name);
              if (!acked && q.held.get(name) === held) {
                // Written: from now on the file is the message.
                q.held.delete(name);
                q.heldBytes -= held.length;
              }
            }
            if (!acked) await handle.sync();
          } finally {
            await handle.close();
          }
          if (acked) await unlink(join(q.ready, name)).catch(() => {});
        }),
      );
      await q.syncer.sync();
      await segment.close();
      for (const name of live) if (q.journaled.get(name) === segment) q.journaled.delete(name);
      q.retiredSyncs += segment.syncs;
      removeSegment(segment.path);
      // Were the removal lost, a crash would replay the segment without the acks of later ones.
      fsyncPath(q.journalDir);
    } catch (error) {
      this.#log?.error({ err: error, queue: q.name, segment: segment.path }, 'cannot retire a journal segment; it stays');
    }
  }

  /**
   * Leases the oldest ready message. Refused with `queue is empty` when there is none. The file
   * at `path` exists, unless `file: false` says the caller reads the message with `contents`
   * (then a message pushed in this process may stay in memory only).
   */
  pop(queue: string, options: { file?: boolean } = {}): Popped {
    const q = this.#queue(queue);
    const entry = q.waiting.shift();
    if (!entry) throw new IpcError('queue is empty');
    if (options.file !== false) {
      try {
        this.#materialize(q, entry.name);
      } catch (error) {
        q.waiting.insert(entry);
        throw error;
      }
    }
    const id = `${q.name}:${entry.name}:${++this.#leaseCounter}`;
    const timer = setTimeout(() => this.#expire(id), this.leaseMs);
    timer.unref();
    this.#leases.set(id, { id, queue: q, entry, timer });
    q.leased.set(entry.name, id);
    return { queue: q.name, path: join(q.ready, entry.name), lease: id };
  }

  /** The message was handled: deletes it, durably (an ack record in the journal, group-committed with the pushes). */
  ack(lease: string): Promise<void> {
    const held = this.#take(lease);
    return this.#track(this.#delete(held.queue, held.entry));
  }

  /**
   * The unlink is made durable by an ack record in the journal (group-committed with the pushes),
   * not by an fsync of `new/`: after a crash the replay removes the file again.
   */
  async #delete(q: QueueState, entry: Entry): Promise<void> {
    const work = this.#unlinkAndRecord(q, entry);
    q.acking.set(entry.name, work);
    try {
      await work;
    } finally {
      q.acking.delete(entry.name);
    }
  }

  async #unlinkAndRecord(q: QueueState, entry: Entry): Promise<void> {
    const held = q.held.get(entry.name);
    if (held) {
      // Never written: nothing to unlink.
      q.held.delete(entry.name);
      q.heldBytes -= held.length;
    } else {
      try {
        await unlink(join(q.ready, entry.name));
      } catch (error) {
        if (errorCode(error) !== 'ENOENT') throw error;
      }
    }
    await this.#segment(q).append(encodeRecord(ACK, entry.name, []));
    q.journaled.delete(entry.name);
  }

  /** Gives the message back at once, in its place in the queue. */
  release(lease: string): void {
    const held = this.#take(lease);
    held.queue.waiting.insert(held.entry);
    this.#notify(held.queue);
  }

  #take(lease: string): Lease {
    const held = this.#leases.get(lease);
    if (!held) throw new IpcError(`unknown lease ${lease} (acknowledged, released or expired)`);
    clearTimeout(held.timer);
    this.#leases.delete(lease);
    held.queue.leased.delete(held.entry.name);
    return held;
  }

  #expire(lease: string): void {
    const held = this.#leases.get(lease);
    if (!held) return;
    this.#log?.info({ queue: held.queue.name, message: held.entry.name }, 'lease expired; the message is ready again');
    this.release(lease);
  }

  /**
   * The current lease of a popped message, by its path or file name: over IPC a client knows the
   * path `pop` answered, and that names the lease it holds.
   */
  leaseOf(queue: string, message: string): string {
    const q = this.#queue(queue);
    if (this.#leases.get(message)?.queue === q) return message;
    const name = this.#fileName(q, message, q.ready, 'message');
    const lease = q.leased.get(name);
    if (!lease) throw new IpcError(`message ${name} is not leased in queue ${q.name} (pop it first)`);
    return lease;
  }

  subscribe(queue: string, listener: QueueListener): void {
    this.#queue(queue).listeners.add(listener);
  }

  /** Returns whether the listener was subscribed. */
  unsubscribe(queue: string, listener: QueueListener): boolean {
    return this.#queue(queue).listeners.delete(listener);
  }

  /** The IPC messages: the seed's `slot`, `push`, `pop`, `subscribe`, `unsuscribe`, and porter's `ack`, `release`, `unsubscribe`. */
  handlers(): IpcHandlers {
    return queueHandlers(this, this.#alert);
  }

  stats(queue: string): QueueStats {
    const q = this.#queue(queue);
    return {
      ready: q.waiting.size,
      leased: q.leased.size,
      slots: q.slots.size,
      pushes: q.pushes,
      dirSyncs: q.syncer.syncs,
      journalSyncs: q.retiredSyncs + (q.segment?.syncs ?? 0),
    };
  }

  /**
   * Stops handing out and lets pushes and acks under way finish. Leases are not kept: their
   * messages are still in `new/` and ready at the next open.
   */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#sweeper);
    for (const lease of this.#leases.values()) clearTimeout(lease.timer);
    this.#leases.clear();
    await Promise.allSettled([...this.#inflight]);
    // The segments stay: the next open replays them.
    for (const q of this.#queues.values()) await q.segment?.close();
  }

  #track<T>(work: Promise<T>): Promise<T> {
    this.#inflight.add(work);
    const done = () => this.#inflight.delete(work);
    work.then(done, done);
    return work;
  }

  #queue(name: string): QueueState {
    if (this.#closed) throw new IpcError('the queue server is closing');
    const q = this.#queues.get(name);
    if (q) return q;
    if (!validQueueName(name)) throw new IpcError(`invalid queue name "${name}" (use a-z, 0-9, _ and -)`);
    throw new IpcError(`unknown queue "${name}" (queues: ${[...this.#queues.keys()].join(', ')})`);
  }

  /** A slot parameter (the path `slot` answered, or its file name) → a live slot's file name, or a refusal. */
  #slotName(q: QueueState, slot: string): string {
    const name = this.#fileName(q, slot, q.tmp, 'slot');
    const expires = q.slots.get(name);
    if (expires === undefined) throw new IpcError(`unknown slot ${name} in queue ${q.name} (not handed out, already pushed, or expired)`);
    if (expires < Date.now()) {
      q.slots.delete(name);
      void unlink(join(q.tmp, name)).catch(() => {});
      throw new IpcError(`slot ${name} has expired`);
    }
    return name;
  }

  /** Checks that `given` names a file directly in `folder` of this queue, and returns its name. */
  #fileName(q: QueueState, given: string, folder: string, what: 'slot' | 'message'): string {
    if (given === '') throw new IpcError(`no ${what} given`);
    if (given.includes('\0')) throw new IpcError(`${what} contains a NUL byte`);
    if (given.split(/[/\\]/).includes('..')) throw new IpcError(`${what} ${given} must not contain ".."`);
    if (!isAbsolute(given)) {
      if (given.includes('/') || given.includes('\\'))
        throw new IpcError(`${what} ${given}: give the path that was handed out, or its file name`);
      return this.#checkName(given, what);
    }
    const path = resolve(given);
    if (!path.startsWith(this.dir + sep)) throw new IpcError(`${what} ${given} is outside the spool`);
    const parent = dirname(path);
    if (parent !== folder) {
      const owner = [...this.#queues.values()].find((other) => other.tmp === parent || other.ready === parent);
      if (owner && owner !== q) throw new IpcError(`${what} ${given} belongs to queue ${owner.name}, not ${q.name}`);
      throw new IpcError(`${what} ${given} is not a ${what} of queue ${q.name}`);
    }
    return this.#checkName(basename(path), what);
  }

  #checkName(name: string, what: 'slot' | 'message'): string {
    if (!(what === 'slot' ? SLOT_NAME : MESSAGE_NAME).test(name)) throw new IpcError(`${name} is not a ${what} name`);
    return name;
  }

  /** Listeners hear once per turn of the event loop, however many messages arrived in it. */
  #notify(q: QueueState): void {
    if (q.notifyScheduled || q.listeners.size === 0) return;
    q.notifyScheduled = true;
    setImmediate(() => {
      q.notifyScheduled = false;
      if (q.waiting.size === 0) return;
      for (const listener of [...q.listeners]) {
        try {
          listener(q.name);
        } catch (error) {
          this.#log?.warn({ err: error, queue: q.name }, 'a queue listener failed');
        }
      }
    });
  }

  async #sweepSlots(): Promise<void> {
    const now = Date.now();
    for (const q of this.#queues.values()) {
      for (const [name, expires] of q.slots) {
        if (expires >= now) continue;
        q.slots.delete(name);
        await unlink(join(q.tmp, name)).catch(() => {});
      }
    }
  }
}
