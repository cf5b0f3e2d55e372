/** A mail role in another process, reached over IPC: requests that fail fast with a clear error while it is down, retried with backoff, and one log line when it goes and one when it comes back. */

/*
 * API
 *
 *   const peer = new RemotePeer({ role: 'queue', address: '/run/porter/queue.sock' | 'tcp:host:port', token?, log });
 *   await peer.request('slot', ['incoming']);   // → IpcReply; rejects with PeerUnreachableError when the peer cannot be reached
 *   await peer.ask('pop', ['incoming']);        // the same, but an `error:` reply throws IpcError
 *   peer.retryInMs;                             // 0 when up, else how long until the next attempt
 *   await peer.close();
 *
 * Requests go over up to `connections` connections (default 4), each to the one with the fewest
 * waiting: the server answers one connection's requests one after another, so a single
 * connection would make every SMTP session's `push` wait for the fsync of the one before it,
 * where the queue server commits the pushes of several connections together. Requests that must
 * come in order are sent one after the other (awaited), as all of porter's are.
 *
 * A failed connection (refused, broken, or no reply within the timeout) marks the peer down: for
 * the next 250 ms, then twice as long after each failure in a row up to 5 s, requests reject at
 * once without trying, so that a dead peer costs neither a connection attempt per request nor a
 * log line per request. The first request after that time tries again; a success marks it up.
 */
import type { Logger } from '../../core/log.js';
import { IpcError, type IpcReply } from '../protocol.js';
import { formatAddress, type IpcAddress, parseAddress } from './address.js';
import { IpcClient, IpcConnectionError, type IpcOkReply } from './client.js';

export interface RemotePeerOptions {
  /** The role it serves, for messages: `queue`, `auth`, `mailbox`, `smtp-out`. */
  readonly role: string;
  readonly address: string | IpcAddress;
  /** Sent first on TCP. */
  readonly token?: string;
  readonly log: Logger;
  /** How long a request may wait for its reply (default 30 s). */
  readonly timeoutMs?: number;
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** Connections at most (default 4). */
  readonly connections?: number;
}

/** The peer could not be reached (now, or at the last attempt, and the backoff has not run out). */
export class PeerUnreachableError extends IpcConnectionError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'PeerUnreachableError';
  }
}

const MIN_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 5_000;
const CONNECTIONS = 4;

interface Connection {
  readonly client: IpcClient;
  waiting: number;
}

export class RemotePeer {
  readonly role: string;
  /** The address as written in logs (`/path/queue.sock`, `tcp:host:port`). */
  readonly address: string;
  readonly #connections: Connection[] = [];
  readonly #newClient: () => IpcClient;
  readonly #maxConnections: number;
  readonly #log: Logger;
  readonly #minBackoff: number;
  readonly #maxBackoff: number;
  #failures = 0;
  #downSince = 0;
  #retryAt = 0;

  constructor(options: RemotePeerOptions) {
    const address = typeof options.address === 'string' ? parseAddress(options.address) : options.address;
    this.role = options.role;
    this.address = formatAddress(address);
    this.#log = options.log;
    this.#minBackoff = options.minBackoffMs ?? MIN_BACKOFF_MS;
    this.#maxBackoff = Math.max(options.maxBackoffMs ?? MAX_BACKOFF_MS, this.#minBackoff);
    this.#maxConnections = Math.max(1, options.connections ?? CONNECTIONS);
    this.#newClient = () =>
      new IpcClient({
        address,
        log: options.log,
        ...(options.token === undefined ? {} : { token: options.token }),
        ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
      });
  }

  /** Whether the last attempt reached the peer. */
  get up(): boolean {
    return this.#failures === 0;
  }

  /** 0 while the peer is up or may be tried now; else the milliseconds until it is tried again. */
  get retryInMs(): number {
    return this.#failures === 0 ? 0 : Math.max(0, this.#retryAt - Date.now());
  }

  /** One request; its `ok` or `error` reply resolves, an unreachable peer rejects with PeerUnreachableError. */
  async request(name: string, params: readonly string[] = [], body?: Buffer): Promise<IpcReply> {
    const wait = this.retryInMs;
    if (wait > 0) {
      throw new PeerUnreachableError(
        `the ${this.role} server at ${this.address} is unreachable (next try in ${Math.ceil(wait / 100) / 10} s)`,
      );
    }
    const connection = this.#pick();
    connection.waiting++;
    let reply: IpcReply;
    try {
      reply = await connection.client.request(name, params, body);
    } catch (error) {
      // A misuse (a body the message does not take) is a bug here, not the peer's state.
      if (error instanceof TypeError) throw error;
      this.#failed(error as Error);
      throw new PeerUnreachableError(`the ${this.role} server at ${this.address} did not answer "${name}": ${(error as Error).message}`, {
        cause: error,
      });
    } finally {
      connection.waiting--;
    }
    this.#reached();
    return reply;
  }

  /** Like request, but an `error: …` reply throws IpcError with the peer's message. */
  async ask(name: string, params: readonly string[] = [], body?: Buffer): Promise<IpcOkReply> {
    const reply = await this.request(name, params, body);
    if (!reply.ok) throw new IpcError(reply.error);
    return reply;
  }

  async close(): Promise<void> {
    await Promise.all(this.#connections.map(({ client }) => client.close()));
  }

  /** An idle connection if there is one, a new one while there may be more, else the least busy. */
  #pick(): Connection {
    let best: Connection | undefined;
    for (const connection of this.#connections) {
      if (connection.waiting === 0) return connection;
      if (!best || connection.waiting < best.waiting) best = connection;
    }
    if (!best || this.#connections.length < this.#maxConnections) {
      const connection = { client: this.#newClient(), waiting: 0 };
      this.#connections.push(connection);
      return connection;
    }
    return best;
  }

  #failed(error: Error): void {
    const now = Date.now();
    // Requests that were waiting on the same connection fail together: one failure, not many.
    if (this.#failures > 0 && now < this.#retryAt) return;
    this.#failures++;
    if (this.#failures === 1) this.#downSince = now;
    const delay = Math.min(this.#maxBackoff, this.#minBackoff * 2 ** (this.#failures - 1));
    this.#retryAt = now + delay;
    const fields = { role: this.role, address: this.address, err: error, attempts: this.#failures, retryInMs: delay };
    if (this.#failures === 1) this.#log.warn(fields, `the ${this.role} server is unreachable; retrying with backoff`);
    else this.#log.debug(fields, `the ${this.role} server is still unreachable`);
  }

  #reached(): void {
    if (this.#failures === 0) return;
    this.#log.info(
      { role: this.role, address: this.address, downMs: Date.now() - this.#downSince, attempts: this.#failures },
      `the ${this.role} server is reachable again`,
    );
    this.#failures = 0;
    this.#retryAt = 0;
  }
}
