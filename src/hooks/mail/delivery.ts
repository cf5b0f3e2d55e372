// A queue consumer: pops a queue's messages, hands each to a handler, acks it once handled, and gives failures back after a backoff.
import { basename } from 'node:path';
import type { Logger } from '../../core/log.js';
import { IpcError } from '../../mail/protocol.js';
import type { MailQueue, Popped } from '../../mail/queue/index.js';

/**
 * Handles one message. `done` holds the keys (recipients) handled by earlier attempts of this
 * message in this run: the handler adds each as it succeeds and skips those already there, so a
 * retry after a partial failure does not deliver twice what it can avoid delivering twice.
 */
export type MessageHandler = (path: string, done: Set<string>) => Promise<void>;

export interface QueueWorkerOptions {
  readonly queue: MailQueue;
  readonly name: string;
  readonly handle: MessageHandler;
  readonly log: Logger;
  /** The first retry waits this long, each later one twice the last, up to `maxBackoffMs`. */
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** Messages handled at once. */
  readonly concurrency?: number;
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
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
  }

  #kick(): void {
    while (!this.#stopped && this.#inflight.size < this.#concurrency) {
      let popped: Popped;
      try {
        popped = this.#options.queue.pop(this.#options.name);
      } catch (error) {
        // Empty, or the queue is closing; the next push alerts us again.
        if (!(error instanceof IpcError)) this.#options.log.error({ err: error, queue: this.#options.name }, 'cannot pop');
        return;
      }
      const work = this.#handle(popped).finally(() => {
        this.#inflight.delete(work);
        this.#kick();
      });
      this.#inflight.add(work);
    }
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
        try {
          queue.release(popped.lease);
        } catch {
          // The lease ran out first and the queue took the message back itself.
        }
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
