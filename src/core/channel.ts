/**
 * A channel: one room, mailbox or conversation on one plug. The host interns channels, so two
 * references to the same (plug, source) are the same object.
 */
import type { Plug } from './plug.js';

export class Channel {
  readonly plug: Plug;
  readonly source: string;
  /** `plug:source`, unique across the host; used as a map key and in the store. */
  readonly key: string;

  constructor(plug: Plug, source: string) {
    this.plug = plug;
    this.source = source;
    this.key = `${plug.name}:${source}`;
  }

  toString(): string {
    return this.key;
  }
}
