/**
 * A plug connects porter to one network. It turns network events into SentMessages (handing
 * them to the host) and sends Messages out. What the network can do is declared in
 * `capabilities`; what it cannot do is never faked.
 */
import type { Channel } from './channel.js';
import { Component, type ComponentClass } from './component.js';
import { UnsupportedError } from './errors.js';
import type { Message, Receipt, SentMessage, User } from './message.js';

/** Optional abilities of a network. */
export interface PlugCapabilities {
  /** Messages can be edited after sending. */
  readonly edit: boolean;
  /** Messages can be deleted. */
  readonly delete: boolean;
  /** Files can be uploaded; otherwise attachments are linked. */
  readonly files: boolean;
  /** Text formatting is carried; otherwise the plain rendering is sent. */
  readonly richText: boolean;
  /** Rooms can be created, configured and destroyed (see core's rooms interface). */
  readonly rooms: boolean;
  /** The members of a channel can be listed. */
  readonly members: boolean;
  /** The network has private (one-to-one) channels. */
  readonly privateChannels: boolean;
}

export const NO_CAPABILITIES: PlugCapabilities = Object.freeze({
  edit: false,
  delete: false,
  files: false,
  richText: false,
  rooms: false,
  members: false,
  privateChannels: false,
});

export abstract class Plug<C = unknown> extends Component<C> {
  static readonly porterKind = 'plug';

  /** The network's display name ("IRC", "XMPP", "Loopback"). */
  abstract readonly network: string;
  readonly capabilities: PlugCapabilities = NO_CAPABILITIES;
  /**
   * True when the plug sets `fromPorter` itself on the network's echoes of what porter sent.
   * Otherwise the host remembers the receipts of its sends and marks the echoes that match.
   */
  readonly marksEchoes: boolean = false;

  /**
   * Sends `message` to `channel` and returns one receipt per network message created (a long
   * message may become several). Hooks call `host.send`, which calls this.
   */
  abstract send(channel: Channel, message: Message): Promise<Receipt[]>;

  /** Replaces message `id` in `channel`; only where `capabilities.edit`. */
  async edit(channel: Channel, id: string, _message: Message): Promise<Receipt[]> {
    throw new UnsupportedError(`${this.network} plug "${this.name}" cannot edit message ${id} in ${channel.source}`);
  }

  /** Deletes message `id` in `channel`; only where `capabilities.delete`. */
  async delete(channel: Channel, id: string): Promise<void> {
    throw new UnsupportedError(`${this.network} plug "${this.name}" cannot delete message ${id} in ${channel.source}`);
  }

  /** Whether `channel` is a private conversation; undefined when the network cannot say. */
  async channelIsPrivate(_channel: Channel): Promise<boolean | undefined> {
    return undefined;
  }

  /** Every channel the plug can see now (for groups with `anywhere`, `private`, `shared`). */
  async channels(): Promise<Channel[]> {
    return [];
  }

  /** Looks up a user by id, where the network allows. */
  async user(_id: string): Promise<User | undefined> {
    return undefined;
  }

  /** Hands a message that arrived from the network to the host; false if the host takes none now (closing). */
  protected receive(sent: SentMessage): boolean {
    return this.host.receive(sent);
  }

  /** The host's interned channel for `source` on this plug. */
  channel(source: string): Channel {
    return this.host.channel(this, source);
  }
}

export type PlugClass = ComponentClass<Plug, 'plug'>;
