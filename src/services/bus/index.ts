/**
 * The bus: events between hooks (and, with a shared bus, between porter instances). Subjects are
 * dotted names (`occupancy.changed`); payloads are plain JSON-able values.
 */
import { EventEmitter } from 'node:events';

export type BusHandler = (payload: unknown, subject: string) => void;

export interface Bus {
  readonly description: string;
  publish(subject: string, payload: unknown): void;
  /** Returns the function that unsubscribes. */
  subscribe(subject: string, handler: BusHandler): () => void;
  close(): Promise<void>;
}

/** One process only: the default. */
export class MemoryBus implements Bus {
  readonly description = 'memory';
  readonly #emitter = new EventEmitter();

  constructor() {
    this.#emitter.setMaxListeners(0);
  }

  publish(subject: string, payload: unknown): void {
    // Copy, so a subscriber never shares (and mutates) the publisher's object, as over a real bus.
    this.#emitter.emit(subject, structuredClone(payload), subject);
  }

  subscribe(subject: string, handler: BusHandler): () => void {
    this.#emitter.on(subject, handler);
    return () => this.#emitter.off(subject, handler);
  }

  async close(): Promise<void> {
    this.#emitter.removeAllListeners();
  }
}

export async function openBus(url: string): Promise<Bus> {
  if (url === 'memory') return new MemoryBus();
  throw new Error(`bus "${url}" is not available in this version of porter; use "memory"`);
}
