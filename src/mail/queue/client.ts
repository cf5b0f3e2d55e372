/** What the queue's users (SMTP in, local delivery, relaying, SMTP out's `send`) need of it: `MailQueue` in the same process, `RemoteQueue` over IPC. */
import type { Popped, QueueListener } from './queue.js';

/**
 * The queue server as a client sees it. In the same process the calls are direct and some answer
 * at once; over IPC every one is a request, so callers await what may be a promise.
 */
export interface QueueClient {
  /** A new file path in the queue's spool for one message; the caller creates and writes it. */
  slot(queue: string): string | Promise<string>;
  /** Makes the written slot a durable message; resolves once it is on disk. */
  push(queue: string, slot: string): Promise<string>;
  /**
   * Leases the oldest message; rejects with IpcError when the queue is empty. `file: false` (in
   * the same process only) lets a message kept in memory stay there, for `MailQueue.contents`.
   */
  pop(queue: string, options?: { readonly file?: boolean }): Popped | Promise<Popped>;
  /** The popped message was handled: it is deleted. */
  ack(lease: string): Promise<void>;
  /** Gives a popped message back, in its place. */
  release(lease: string): void | Promise<void>;
  /** Calls `listener` when the queue may have messages to pop. */
  subscribe(queue: string, listener: QueueListener): void;
  unsubscribe(queue: string, listener: QueueListener): unknown;
}
