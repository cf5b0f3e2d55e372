/** A Joyce client: one channel to a Joyce server (porter's or tkbd's), long-polled over fetch. */

/*
 * API
 *
 *   const client = new JoyceClient({ url, token?, requestTimeoutMs?, backoffFirstMs?, backoffMaxMs?, log?,
 *                                    onMessages?, onReset?, onError? });
 *   client.send(message, …);   // queued; sent at once on a second request, or with the next poll
 *   client.start();            // opens the channel and keeps one poll held
 *   await client.stop();       // aborts what is in flight; nothing is delivered afterwards
 *   client.token;              // the channel's token, chosen by the client
 *
 * Every response's messages go to onMessages in the order the server sent them, and responses in
 * the order of their requests, even when two requests overlap. A `welcome` after the first means
 * the server restarted or forgot the channel, which starts again with its defaults: onReset is
 * called just before that welcome is delivered. A request that fails or gets no answer within
 * requestTimeoutMs (which must exceed the server's poll timeout, 20 s for tkbd) is retried after a
 * delay that doubles from backoffFirstMs to backoffMaxMs; the messages it carried are sent again.
 */
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import type { Logger } from '../../../core/log.js';

export interface JoyceClientOptions {
  /** The Joyce endpoint, e.g. `http://lab.example:8080/joyce/` (tkbd: `http://host:port/`). */
  readonly url: string;
  /** The channel's token; a random one when absent. */
  readonly token?: string;
  /** A request without an answer after this long is abandoned and retried. */
  readonly requestTimeoutMs?: number;
  readonly backoffFirstMs?: number;
  readonly backoffMaxMs?: number;
  readonly log?: Logger;
  /** The messages of one response, in order; responses in the order of their requests. */
  readonly onMessages?: (messages: readonly unknown[]) => void;
  /** The server sent a second welcome: it restarted or forgot this channel, whose filters are back to their defaults. */
  readonly onReset?: () => void;
  /** A request failed; the client tries again in `retryInMs`. */
  readonly onError?: (error: Error, retryInMs: number) => void;
}

const DEFAULTS = { requestTimeoutMs: 30_000, backoffFirstMs: 1_000, backoffMaxMs: 30_000 };
/** tkbd and porter both answer at once while a second request is outstanding, so two are enough. */
const MAX_IN_FLIGHT = 2;

/** One request's place in the order of delivery. */
interface Slot {
  settled: boolean;
  messages: readonly unknown[] | undefined;
}

export class JoyceClient {
  readonly #url: string;
  readonly #timeoutMs: number;
  readonly #backoffFirstMs: number;
  readonly #backoffMaxMs: number;
  readonly #log: Logger;
  readonly #options: JoyceClientOptions;
  #token: string;
  #running = false;
  #abort = new AbortController();
  #outbox: unknown[] = [];
  #slots: Slot[] = [];
  #inFlight = new Set<Promise<void>>();
  #failures = 0;
  #retry: NodeJS.Timeout | undefined;
  #welcomed = false;

  constructor(options: JoyceClientOptions) {
    this.#options = options;
    this.#url = options.url;
    this.#token = options.token ?? randomBytes(12).toString('base64url');
    this.#timeoutMs = options.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs;
    this.#backoffFirstMs = options.backoffFirstMs ?? DEFAULTS.backoffFirstMs;
    this.#backoffMaxMs = options.backoffMaxMs ?? DEFAULTS.backoffMaxMs;
    this.#log = options.log ?? pino({ level: 'silent' });
  }

  get token(): string {
    return this.#token;
  }

  get running(): boolean {
    return this.#running;
  }

  /** Queues messages for the server; they go at once unless two requests are out or the client is waiting to retry. */
  send(...messages: unknown[]): void {
    for (const m of messages) this.#outbox.push(m);
    this.#pump();
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#abort = new AbortController();
    this.#pump();
  }

  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    if (this.#retry) clearTimeout(this.#retry);
    this.#retry = undefined;
    this.#abort.abort();
    await Promise.allSettled([...this.#inFlight]);
    this.#slots = [];
  }

  /** Keeps one request out (the held poll), and a second while there is something to send. */
  #pump(): void {
    if (!this.#running || this.#retry) return;
    while (this.#inFlight.size === 0 || (this.#outbox.length > 0 && this.#inFlight.size < MAX_IN_FLIGHT)) this.#request();
  }

  #request(): void {
    const carried = this.#outbox;
    this.#outbox = [];
    const slot: Slot = { settled: false, messages: undefined };
    this.#slots.push(slot);
    const abort = this.#abort;
    const done = this.#exchange([this.#token, ...carried], abort.signal).then(
      (messages) => {
        if (abort.signal.aborted) return;
        this.#failures = 0;
        slot.messages = messages;
      },
      (error: unknown) => {
        if (abort.signal.aborted) return;
        // At least once: a lost answer may mean the server got them, and tkbd's messages are safe to repeat.
        this.#outbox.unshift(...carried);
        this.#failed(error instanceof Error ? error : new Error(String(error)));
      },
    );
    const tracked = done.finally(() => {
      this.#inFlight.delete(tracked);
      if (abort.signal.aborted) return;
      slot.settled = true;
      this.#deliverSettled();
      this.#pump();
    });
    this.#inFlight.add(tracked);
  }

  /** One POST; resolves with the response's messages. */
  async #exchange(body: unknown[], stop: AbortSignal): Promise<unknown[]> {
    const signal = AbortSignal.any([stop, AbortSignal.timeout(this.#timeoutMs)]);
    try {
      const res = await fetch(this.#url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal,
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`HTTP ${res.status} from ${this.#url}: ${text.slice(0, 200)}`);
      let data: unknown;
      try {
        data = JSON.parse(text);
      } catch {
        throw new Error(`not JSON from ${this.#url}: ${text.slice(0, 200)}`);
      }
      if (!Array.isArray(data) || data.length !== 3 || typeof data[0] !== 'string' || !Array.isArray(data[1])) {
        throw new Error(`not a Joyce answer from ${this.#url}: ${text.slice(0, 200)}`);
      }
      if (data[0] !== this.#token) {
        // Not something porter or tkbd do; follow the server rather than fight it.
        this.#log.warn({ ours: this.#token, theirs: data[0] }, 'joyce client: the server answered for another token; using it');
        this.#token = data[0];
      }
      return data[1];
    } catch (error) {
      if (signal.aborted && !stop.aborted) throw new Error(`no answer from ${this.#url} within ${this.#timeoutMs} ms`);
      throw error;
    }
  }

  #failed(error: Error): void {
    this.#failures++;
    const delay = Math.min(this.#backoffFirstMs * 2 ** Math.min(this.#failures - 1, 30), this.#backoffMaxMs);
    this.#log.warn({ err: error, retryInMs: delay }, 'joyce client: request failed');
    this.#call(() => this.#options.onError?.(error, delay));
    if (this.#retry) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      this.#pump();
    }, delay);
    this.#retry.unref();
  }

  /** Delivers the answers at the head of the line; a later answer waits for every earlier request to settle. */
  #deliverSettled(): void {
    while (this.#slots.length > 0 && (this.#slots[0] as Slot).settled) {
      const slot = this.#slots.shift() as Slot;
      if (slot.messages && slot.messages.length > 0) this.#deliver(slot.messages);
      if (!this.#running) return;
    }
  }

  #deliver(messages: readonly unknown[]): void {
    let start = 0;
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i];
      if (typeof m !== 'object' || m === null || (m as { type?: unknown }).type !== 'welcome') continue;
      if (!this.#welcomed) {
        this.#welcomed = true;
        continue;
      }
      if (i > start) this.#emit(messages.slice(start, i));
      start = i;
      this.#log.info({ url: this.#url }, 'joyce client: the server welcomed this channel again (restarted or forgot it)');
      this.#call(() => this.#options.onReset?.());
    }
    this.#emit(start === 0 ? messages : messages.slice(start));
  }

  #emit(messages: readonly unknown[]): void {
    if (messages.length > 0) this.#call(() => this.#options.onMessages?.(messages));
  }

  /** A listener that throws must not stop the channel. */
  #call(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.#log.error({ err: error }, 'joyce client: a listener failed');
    }
  }
}
