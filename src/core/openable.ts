/**
 * The lifecycle every plug, hook and service shares: public open/close wrap overridable
 * start/stop, and the state says where an object is, including failed and disabled.
 */
import { StateError } from './errors.js';

export enum OpenState {
  disabled = 'disabled',
  inactive = 'inactive',
  starting = 'starting',
  active = 'active',
  stopping = 'stopping',
  failed = 'failed',
}

export abstract class Openable {
  #state: OpenState = OpenState.inactive;

  get state(): OpenState {
    return this.#state;
  }

  /** Marks an object that the config disabled; it is never opened. */
  disable(): void {
    this.#state = OpenState.disabled;
  }

  async open(): Promise<void> {
    if (this.#state === OpenState.active || this.#state === OpenState.starting) return;
    if (this.#state === OpenState.disabled) throw new StateError('cannot open a disabled object');
    this.#state = OpenState.starting;
    try {
      await this.start();
      this.#state = OpenState.active;
    } catch (error) {
      this.#state = OpenState.failed;
      throw error;
    }
  }

  async close(): Promise<void> {
    if (this.#state !== OpenState.active && this.#state !== OpenState.failed && this.#state !== OpenState.starting) return;
    this.#state = OpenState.stopping;
    try {
      await this.stop();
    } finally {
      this.#state = OpenState.inactive;
    }
  }

  /** Override to connect, listen or load state. */
  protected async start(): Promise<void> {}

  /** Override to disconnect and release everything `start` took. */
  protected async stop(): Promise<void> {}
}
