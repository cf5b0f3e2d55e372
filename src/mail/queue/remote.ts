/** The queue server in another process, over IPC: slots, pushes and leased pops for SMTP in, local delivery and relaying, woken by `alert:` messages on a callback socket. */
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { dirname, resolve, sep } from 'node:path';
import type { Logger } from '../../core/log.js';
import { AlertListener } from '../ipc/alerts.js';
import type { RemotePeer } from '../ipc/peer.js';
import { IpcError } from '../protocol.js';
import type { QueueClient } from './client.js';
import type { Popped, QueueListener } from './queue.js';

export interface RemoteQueueOptions {
  readonly peer: RemotePeer;
  readonly log: Logger;
  /**
   * The queue server's spool as this process sees it (its `SPOOL/queues`). Slots and messages are
   * files that this process writes and reads by the paths the server answers, so they must be in
   * this folder: anything else is refused with a message that says so.
   */
  readonly spool: string;
  /** Where this process listens for `alert: QUEUE` (a socket path or `tcp:host:port`); without it, subscribers are only polled. */
  readonly callback?: string;
  /** How often each subscription is renewed and its queue looked at, whether alerts came or not (default 2 s). */
  readonly refreshMs?: number;
}

const REFRESH_MS = 2_000;
/** How long `close()` waits for the queue server to hear an `unsubscribe`. */
const UNSUBSCRIBE_WAIT_MS = 1_000;

/**
 * A QueueClient over IPC. Leases are the queue's name and the message's path (`ack: QUEUE ;
 * PATH`, `release: QUEUE ; PATH` name them so on the wire).
 *
 * Subscribing listens for alerts on `callback` and sends `subscribe: QUEUE ; CALLBACK`, then
 * renews it every `refreshMs` and calls the listeners each time it succeeds: a queue server that
 * restarted (and forgot its subscribers) is subscribed to again, and what it holds is popped,
 * within a few seconds of its return. While it is down the renewal follows the peer's backoff.
 */
export class RemoteQueue implements QueueClient {
  readonly #peer: RemotePeer;
  readonly #log: Logger;
  readonly #spool: string;
  readonly #refreshMs: number;
  readonly #alerts: AlertListener | undefined;
  readonly #listeners = new Map<string, Set<QueueListener>>();
  /** Per subscribed queue, its renewal loop (a token, so that a loop outlived by an unsubscribe stops) and its timer. */
  readonly #rounds = new Map<string, { timer?: NodeJS.Timeout }>();
  /** The last refusal of `subscribe` per queue, so that it is logged once rather than every renewal. */
  readonly #refusals = new Map<string, string>();
  /** `unsubscribe` requests under way, which `close()` waits for (briefly) before it closes their connection. */
  readonly #goodbyes = new Set<Promise<unknown>>();
  #callback: string | undefined;
  #closed = false;

  /** The queue server's spool as this process sees it (`SPOOL/queues`). */
  get spool(): string {
    return this.#spool;
  }

  constructor(options: RemoteQueueOptions) {
    this.#peer = options.peer;
    this.#log = options.log;
    this.#spool = resolve(options.spool);
    this.#refreshMs = options.refreshMs ?? REFRESH_MS;
    if (options.callback !== undefined) {
      this.#alerts = new AlertListener({ address: options.callback, log: options.log, onAlert: (queue) => this.#wake(queue) });
    }
  }

  /** The queue server's address, for logs. */
  get address(): string {
    return this.#peer.address;
  }

  /** The address alerts come to, once listening. */
  get callback(): string | undefined {
    return this.#callback;
  }

  /** Listens for alerts (when there is a callback address). */
  async start(): Promise<void> {
    if (this.#alerts) this.#callback = await this.#alerts.listen();
  }

  /**
   * Asks for a slot and checks that its folder is this process's spool and writable here: the
   * start-up check of a shared spool. Resolves false when the queue server cannot be reached
   * (the check is made again with each slot); throws when the spool is not shared.
   */
  async checkSpool(queue: string): Promise<boolean> {
    let path: string;
    try {
      path = await this.slot(queue);
    } catch (error) {
      if (error instanceof IpcError || error instanceof SpoolError) throw error;
      return false;
    }
    try {
      await access(dirname(path), constants.W_OK | constants.R_OK);
    } catch (error) {
      throw new SpoolError(
        `the queue server at ${this.#peer.address} hands out slots in ${dirname(path)}, which this process cannot write ` +
          `(${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): the processes that write or read queued messages must share the spool folder with the queue server`,
      );
    }
    return true;
  }

  async slot(queue: string): Promise<string> {
    return this.#inSpool((await this.#peer.ask('slot', [queue])).value ?? '', 'slot');
  }

  /** Resolves with the slot's path: the server answers a push with a bare `ok`. */
  async push(queue: string, slot: string): Promise<string> {
    await this.#peer.ask('push', [queue, slot]);
    return slot;
  }

  async pop(queue: string): Promise<Popped> {
    const path = this.#inSpool((await this.#peer.ask('pop', [queue])).value ?? '', 'message');
    return { queue, path, lease: `${queue}:${path}` };
  }

  async ack(lease: string): Promise<void> {
    await this.#peer.ask('ack', leaseParams(lease));
  }

  async release(lease: string): Promise<void> {
    await this.#peer.ask('release', leaseParams(lease));
  }

  subscribe(queue: string, listener: QueueListener): void {
    let listeners = this.#listeners.get(queue);
    if (!listeners) {
      listeners = new Set();
      this.#listeners.set(queue, listeners);
    }
    listeners.add(listener);
    if (!this.#rounds.has(queue)) {
      const round = {};
      this.#rounds.set(queue, round);
      this.#renew(queue, round);
    }
  }

  unsubscribe(queue: string, listener: QueueListener): boolean {
    const listeners = this.#listeners.get(queue);
    const had = listeners?.delete(listener) ?? false;
    if (listeners && listeners.size === 0) {
      this.#listeners.delete(queue);
      clearTimeout(this.#rounds.get(queue)?.timer);
      this.#rounds.delete(queue);
      if (this.#callback !== undefined && this.#peer.up) this.#goodbye(queue, this.#callback);
    }
    return had;
  }

  /** Stops renewing, tells the queue server (briefly: it may be gone), and stops listening for alerts. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const round of this.#rounds.values()) clearTimeout(round.timer);
    this.#rounds.clear();
    const callback = this.#callback;
    if (callback !== undefined && this.#peer.up) for (const queue of this.#listeners.keys()) this.#goodbye(queue, callback);
    this.#listeners.clear();
    if (this.#goodbyes.size > 0) {
      await Promise.race([Promise.all(this.#goodbyes), new Promise((done) => setTimeout(done, UNSUBSCRIBE_WAIT_MS).unref())]);
    }
    await this.#alerts?.close();
    await this.#peer.close();
  }

  /** Subscribes (again), looks at the queue, and sets the next renewal. */
  #renew(queue: string, token: { timer?: NodeJS.Timeout }): void {
    if (this.#closed || this.#rounds.get(queue) !== token) return;
    const callback = this.#callback;
    const round = async (): Promise<number> => {
      try {
        if (callback !== undefined) await this.#peer.ask('subscribe', [queue, callback]);
        if (this.#refusals.delete(queue)) this.#log.info({ queue, queueServer: this.#peer.address }, 'subscribed to the queue');
      } catch (error) {
        if (!(error instanceof IpcError)) return Math.max(this.#peer.retryInMs, 250);
        // Refused (no alerts on that server, an unknown queue): polled instead, and said once.
        if (this.#refusals.get(queue) !== error.message) {
          this.#log.warn(
            { queue, queueServer: this.#peer.address, err: error },
            'the queue server refused the subscription; polling it instead',
          );
          this.#refusals.set(queue, error.message);
        }
      }
      this.#wake(queue);
      return this.#refreshMs;
    };
    void round().then((delay) => {
      if (this.#closed || this.#rounds.get(queue) !== token) return;
      token.timer = setTimeout(() => this.#renew(queue, token), delay);
      token.timer.unref();
    });
  }

  /** Tells the queue server to stop alerting us about `queue`; a failure is of no consequence (the callback is then dropped as dead). */
  #goodbye(queue: string, callback: string): void {
    const request: Promise<unknown> = this.#peer
      .ask('unsubscribe', [queue, callback])
      .catch(() => undefined)
      .finally(() => this.#goodbyes.delete(request));
    this.#goodbyes.add(request);
  }

  #wake(queue: string): void {
    for (const listener of [...(this.#listeners.get(queue) ?? [])]) {
      try {
        listener(queue);
      } catch (error) {
        this.#log.warn({ err: error, queue }, 'a queue listener failed');
      }
    }
  }

  /** A path the server answered, checked to be in the shared spool. */
  #inSpool(path: string, what: 'slot' | 'message'): string {
    if (path === '') throw new IpcError(`the queue server at ${this.#peer.address} answered no ${what} path`);
    if (!resolve(path).startsWith(this.#spool + sep)) {
      throw new SpoolError(
        `the queue server at ${this.#peer.address} answered the ${what} ${path}, outside this process's spool ${this.#spool}: ` +
          'the processes that write or read queued messages must share the spool folder with the queue server (set `spool` to the same folder)',
      );
    }
    return path;
  }
}

/** The queue server's spool is not this process's: a deployment mistake, not a passing failure. */
export class SpoolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SpoolError';
  }
}

function leaseParams(lease: string): [string, string] {
  const colon = lease.indexOf(':');
  if (colon <= 0) throw new IpcError(`not a lease of a remote queue: ${lease}`);
  return [lease.slice(0, colon), lease.slice(colon + 1)];
}
