// Connections to one destination (address and port), opened up to a limit and reused for message after message, as Postfix's connection cache does.
import { type SmtpClientOptions, SmtpConnection } from './client.js';

/** How long a pool waits after a failed connection before opening another. */
const OPEN_RETRY_MS = 1_000;

interface Waiter {
  readonly run: (connection: SmtpConnection) => Promise<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * At most `limit` connections at once (Postfix's smtp_destination_concurrency_limit, 20).
 * `transaction(run)` calls `run` with a connection that can take a transaction now: an idle
 * one; else a new one while below the limit; else one whose last transaction has written its
 * dot, so that this one is pipelined behind it. `run` is called synchronously from the moment
 * the connection became free, so that its commands share the write of the dot before it.
 * When opening fails and no connection is left, every transaction waiting here fails with
 * that error: they would only try the same dead server one after another.
 */
export class ConnectionPool {
  readonly #options: SmtpClientOptions;
  readonly #limit: number;
  readonly #connections = new Set<SmtpConnection>();
  readonly #waiters: Waiter[] = [];
  #opening = 0;
  #closed = false;
  #dispatching = false;
  #again = false;
  /** After a failed open, no other is tried before this time (ms): a server refusing connections is not hammered. */
  #noOpenUntil = 0;
  #lastError: unknown;
  lastUsed = Date.now();

  constructor(options: SmtpClientOptions, limit: number) {
    this.#options = options;
    this.#limit = Math.max(1, limit);
  }

  /** Connections open or being opened. */
  get size(): number {
    return this.#connections.size + this.#opening;
  }

  /** Runs `run` on a connection of this pool, when one is free; resolves or rejects as `run` does. */
  transaction<T>(run: (connection: SmtpConnection) => Promise<T>): Promise<T> {
    this.lastUsed = Date.now();
    if (this.#closed) return Promise.reject(new Error('the connection pool is closed'));
    return new Promise<T>((resolve, reject) => {
      this.#waiters.push({ run, resolve: resolve as (value: unknown) => void, reject });
      this.#dispatch();
    });
  }

  #dispatch(): void {
    if (this.#dispatching) {
      this.#again = true;
      return;
    }
    this.#dispatching = true;
    try {
      do {
        this.#again = false;
        while (this.#waiters.length > 0 && !this.#closed) {
          const idle = this.#pick(true);
          if (idle) {
            this.#start(idle, this.#waiters.shift()!);
            continue;
          }
          if (this.#waiters.length > this.#opening && this.size < this.#limit) {
            if (Date.now() >= this.#noOpenUntil) {
              this.#open();
              continue;
            }
            if (this.size === 0) {
              // Nothing open and nothing to open for now: they fail as the last attempt did.
              for (const waiter of this.#waiters.splice(0)) waiter.reject(this.#lastError);
              break;
            }
          }
          // Those not served by a connection being opened go behind a transaction that has written its dot.
          const behind = this.#waiters.length > this.#opening ? this.#pick(false) : undefined;
          if (!behind) break;
          this.#start(behind, this.#waiters.shift()!);
        }
      } while (this.#again);
    } finally {
      this.#dispatching = false;
    }
  }

  /** A connection that can take a transaction: one with none running if `idle`, else any. */
  #pick(idle: boolean): SmtpConnection | undefined {
    for (const connection of this.#connections) {
      if (connection.accepting && (!idle || connection.outstanding === 0)) return connection;
    }
    return undefined;
  }

  #start(connection: SmtpConnection, waiter: Waiter): void {
    this.lastUsed = Date.now();
    let result: Promise<unknown>;
    try {
      result = waiter.run(connection);
    } catch (error) {
      result = Promise.reject(error);
    }
    result.then(waiter.resolve, waiter.reject);
  }

  #open(): void {
    this.#opening++;
    SmtpConnection.open(this.#options).then(
      (connection) => {
        this.#opening--;
        if (this.#closed) {
          void connection.close();
          return;
        }
        this.#connections.add(connection);
        connection.onAccepting = () => this.#dispatch();
        connection.onClose = () => {
          this.#connections.delete(connection);
          this.#dispatch();
        };
        this.#dispatch();
      },
      (error: unknown) => {
        this.#opening--;
        this.#lastError = error;
        this.#noOpenUntil = Date.now() + OPEN_RETRY_MS;
        if (this.#opening === 0 && ![...this.#connections].some((c) => c.usable)) {
          for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
        }
        this.#dispatch();
      },
    );
  }

  /** Closes connections with nothing to do for `idleMs` or more; returns whether the pool is now empty and unused. */
  closeIdle(idleMs: number): boolean {
    const now = Date.now();
    for (const connection of this.#connections) {
      if (connection.outstanding > 0 || (now - connection.lastActive < idleMs && connection.usable)) continue;
      this.#connections.delete(connection);
      void connection.close();
    }
    return this.size === 0 && this.#waiters.length === 0;
  }

  /** Closes the connections (QUIT where idle); transactions still waiting for one fail. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const waiter of this.#waiters.splice(0)) waiter.reject(new Error('the connection pool is closed'));
    const all = [...this.#connections];
    this.#connections.clear();
    // A connection in the middle of a transaction is cut (its message stays queued); an idle one says QUIT.
    for (const connection of all) if (connection.outstanding > 0) connection.destroy();
    await Promise.all(all.filter((c) => c.usable).map((connection) => connection.close()));
  }
}
