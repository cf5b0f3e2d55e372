// A queue consumer: pops a queue's messages, hands each to a handler, acks it once handled, and gives failures back after a backoff.
import { basename } from 'node:path';
import type { Logger } from '../../core/log.js';
import { IpcConnectionError } from '../../mail/ipc/index.js';
import { IpcError } from '../../mail/protocol.js';
import type { QueueClient } from '../../mail/queue/client.js';
import type { Popped } from '../../mail/queue/index.js';

/**
 * Handles one message. `done` holds the keys (recipients) handled by earlier attempts of this
 * message in this run: the handler adds each as it succeeds and skips those already there, so a
 * retry after a partial failure does not deliver twice what it can avoid delivering twice.
 */
export type MessageHandler = (path: string, done: Set<string>) => Promise<void>;

export interface QueueWorkerOptions {
  /** The queue server: in this process, or another one over IPC (whose pops answer later). */
  readonly queue: QueueClient;
  readonly name: string;
  readonly handle: MessageHandler;
  readonly log: Logger;
  /** The first retry waits this long, each later one twice the last, up to `maxBackoffMs`. */
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** Messages handled at once. */
  readonly concurrency?: number;
  /**
   * The handler reads messages with `MailQueue.contents`, not from their path: a message pushed
   * in this process then need not be written to a file at all. Default false.
   */
  readonly readsContents?: boolean;
}

interface Failure {
  attempts: number;
  readonly done: Set<string>;
}

/**
 * At-least-once: a message is acknowledged (deleted from the queue) only after its handler
 * resolved. A handler that throws keeps the lease until the backoff has passed and then releases
 * it, so the message comes back in its place; the queue's own lease timeout returns it anyway if
 * the process dies first, and a restart finds it in the spool.
 */
export class QueueWorker {
  readonly #options: QueueWorkerOptions;
  readonly #minBackoff: number;
  readonly #maxBackoff: number;
  readonly #concurrency: number;
  readonly #inflight = new Set<Promise<void>>();
  /** Failed messages, by file name: their attempts and what was done for them. */
  readonly #failures = new Map<string, Failure>();
  readonly #retries = new Set<NodeJS.Timeout>();
  readonly #listener = (): void => this.#kick();
  #stopped = true;
  /** A pop from a queue in another process, while it is out: one at a time. */
  #popping: Promise<void> | undefined;
  /** Woken while a pop was out: an empty answer may predate the message that woke us. */
  #wokenWhilePopping = false;

  constructor(options: QueueWorkerOptions) {
    this.#options = options;
    this.#minBackoff = options.minBackoffMs ?? 1_000;
    this.#maxBackoff = Math.max(options.maxBackoffMs ?? 300_000, this.#minBackoff);
    this.#concurrency = Math.max(1, options.concurrency ?? 8);
  }

  /** Subscribes to the queue and takes what is already waiting (a restart's leftovers). */
  start(): void {
    this.#stopped = false;
    this.#options.queue.subscribe(this.#options.name, this.#listener);
    this.#kick();
  }

  /** Pops no more, and waits for the messages being handled: each is acked or left in the queue. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#options.queue.unsubscribe(this.#options.name, this.#listener);
    for (const timer of this.#retries) clearTimeout(timer);
    this.#retries.clear();
    await this.#popping;
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
  }

  #kick(): void {
    if (this.#popping) {
      this.#wokenWhilePopping = true;
      return;
    }
    while (!this.#stopped && this.#inflight.size < this.#concurrency) {
      let popped: Popped | Promise<Popped>;
      try {
        popped = this.#options.queue.pop(this.#options.name, { file: !this.#options.readsContents });
      } catch (error) {
        this.#popFailed(error);
        return;
      }
      if (popped instanceof Promise) {
        this.#popRemote(popped);
        return;
      }
      this.#start(popped);
    }
  }

  /** A pop answered later (the queue is in another process): the next pop waits for this one. */
  #popRemote(pending: Promise<Popped>): void {
    this.#wokenWhilePopping = false;
    this.#popping = pending.then(
      (popped) => {
        this.#popping = undefined;
        if (this.#stopped) {
          // Stopped meanwhile: given back at once rather than after its lease.
          Promise.resolve()
            .then(() => this.#options.queue.release(popped.lease))
            .catch(() => undefined);
          return;
        }
        this.#start(popped);
        this.#kick();
      },
      (error: unknown) => {
        this.#popping = undefined;
        this.#popFailed(error);
        if (this.#wokenWhilePopping && error instanceof IpcError) this.#kick();
      },
    );
  }

  #popFailed(error: unknown): void {
    // Empty, or the queue is closing: the next push wakes us again. A queue server that cannot be
    // reached says so in its own log lines; the next wake tries again.
    if (error instanceof IpcError) return;
    if (error instanceof IpcConnectionError) this.#options.log.debug({ err: error, queue: this.#options.name }, 'cannot pop');
    else this.#options.log.error({ err: error, queue: this.#options.name }, 'cannot pop');
  }

  #start(popped: Popped): void {
    const work = this.#handle(popped).finally(() => {
      this.#inflight.delete(work);
      this.#kick();
    });
    this.#inflight.add(work);
  }

  async #handle(popped: Popped): Promise<void> {
    const { queue, name, log } = this.#options;
    const file = basename(popped.path);
    const failure = this.#failures.get(file);
    const done = failure?.done ?? new Set<string>();
    try {
      await this.#options.handle(popped.path, done);
    } catch (error) {
      const attempts = (failure?.attempts ?? 0) + 1;
      this.#failures.set(file, { attempts, done });
      const delay = Math.min(this.#maxBackoff, this.#minBackoff * 2 ** (attempts - 1));
      log.error(
        { err: error, queue: name, message: file, attempts, retryInMs: delay },
        'handling a queued message failed; it will be tried again',
      );
      const timer = setTimeout(() => {
        this.#retries.delete(timer);
        // A refusal means the lease ran out first and the queue took the message back itself.
        Promise.resolve()
          .then(() => queue.release(popped.lease))
          .catch(() => undefined);
      }, delay);
      this.#retries.add(timer);
      return;
    }
    this.#failures.delete(file);
    try {
      await queue.ack(popped.lease);
    } catch (error) {
      // Handled but not deleted: it comes back after its lease, and is handled again (a duplicate, not a loss).
      log.warn({ err: error, queue: name, message: file }, 'cannot acknowledge a handled message');
    }
  }
}
