/**
 * A group: a named set of channels by rule, as in IMMP. Membership, in order: excluded → no;
 * listed in `channels` → yes; its plug in `anywhere` → yes; its plug in `named` and the channel
 * declared in the config → yes; its plug in `private`/`shared` → ask the plug.
 */
import type { Channel } from './channel.js';
import type { GroupEntry } from './config/schema.js';

export interface GroupLookup {
  nameOf(channel: Channel): string | undefined;
  channelByName(name: string): Channel | undefined;
}

export class Group {
  readonly name: string;
  readonly #channels: ReadonlySet<string>;
  readonly #exclude: ReadonlySet<string>;
  readonly #anywhere: ReadonlySet<string>;
  readonly #named: ReadonlySet<string>;
  readonly #private: ReadonlySet<string>;
  readonly #shared: ReadonlySet<string>;
  readonly #lookup: GroupLookup;

  constructor(name: string, entry: GroupEntry, lookup: GroupLookup) {
    this.name = name;
    this.#channels = new Set(entry.channels);
    this.#exclude = new Set(entry.exclude);
    this.#anywhere = new Set(entry.anywhere);
    this.#named = new Set(entry.named);
    this.#private = new Set(entry.private);
    this.#shared = new Set(entry.shared);
    this.#lookup = lookup;
  }

  async has(channel: Channel): Promise<boolean> {
    const name = this.#lookup.nameOf(channel);
    if (name !== undefined && this.#exclude.has(name)) return false;
    if (name !== undefined && this.#channels.has(name)) return true;
    const plug = channel.plug.name;
    if (this.#anywhere.has(plug)) return true;
    if (name !== undefined && this.#named.has(plug)) return true;
    const wantPrivate = this.#private.has(plug);
    const wantShared = this.#shared.has(plug);
    if (!wantPrivate && !wantShared) return false;
    const isPrivate = await channel.plug.channelIsPrivate(channel);
    if (isPrivate === true) return wantPrivate;
    if (isPrivate === false) return wantShared;
    return false;
  }

  /** The channels of the group that can be listed now: declared ones, plus what the plugs report. */
  async channels(plugs: ReadonlyMap<string, { channels(): Promise<Channel[]> }>): Promise<Channel[]> {
    const out = new Map<string, Channel>();
    for (const name of this.#channels) {
      const ch = this.#lookup.channelByName(name);
      if (ch && !this.#exclude.has(name)) out.set(ch.key, ch);
    }
    const plugNames = new Set([...this.#anywhere, ...this.#named, ...this.#private, ...this.#shared]);
    for (const plugName of plugNames) {
      const plug = plugs.get(plugName);
      if (!plug) continue;
      for (const ch of await plug.channels()) if (await this.has(ch)) out.set(ch.key, ch);
    }
    return [...out.values()];
  }
}
