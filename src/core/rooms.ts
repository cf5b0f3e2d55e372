/**
 * Rooms a plug can create and manage (an XMPP MUC room, porter's web chat room), behind one
 * interface so that a hook (the helpline) can drive either network the same way.
 */
import type { Channel } from './channel.js';
import type { User } from './message.js';
import type { Plug } from './plug.js';

/** How a room is set up; the plug applies what its network offers and enforces the rest itself. */
export interface RoomOptions {
  /** The room's name (its address on the network); a unique one is drawn when absent. */
  readonly name?: string;
  /** The password needed to join. */
  readonly password: string;
  /** At most this many occupants besides porter; the plug removes anyone beyond the cap. */
  readonly maxOccupants?: number;
  /** The room survives when empty (default false). */
  readonly persistent?: boolean;
  /** Only members may join (default false). */
  readonly membersOnly?: boolean;
  /** Messages replayed to someone who joins (default 20). */
  readonly historyLength?: number;
}

/** Someone in a room as porter sees them. */
export interface RoomOccupant {
  /** Their name in the room. */
  readonly nick: string;
  /** Their real address, where the network shows it to porter (XMPP: to moderators). */
  readonly address?: string;
  /** The network's role and affiliation (XMPP: moderator/participant/visitor, owner/admin/member/none). */
  readonly role?: string;
  readonly affiliation?: string;
  /** The same person as a message author. */
  readonly user: User;
}

/**
 * A person in the `joined` or `left` list of a room presence message. `clean` tells a person who
 * left on purpose from one whose connection was lost; `kicked` marks a removal by a moderator.
 */
export interface RoomUser extends User {
  readonly nick?: string;
  readonly address?: string;
  readonly clean?: boolean;
  readonly kicked?: boolean;
}

/** What rejoining a room found: the room was still there, or the server had lost it and made a new one. */
export type RejoinOutcome = 'joined' | 'recreated';

/** A plug that can create and manage rooms; declared with `capabilities.rooms`. */
export interface RoomsCapable {
  /** Creates and configures a new room, and joins it as its owner. Fails if the room exists. */
  createRoom(options: RoomOptions): Promise<Channel>;
  /** Applies `options` to a room porter owns (the password may change). */
  configureRoom(channel: Channel, options: RoomOptions): Promise<void>;
  /**
   * Joins a room porter owned before (after a restart or a lost connection) with its stored
   * password. `recreated`: the server had lost the room; it is configured again from the last
   * options known (or only the password) and is empty.
   */
  rejoinRoom(channel: Channel, password: string): Promise<RejoinOutcome>;
  /** Invites `address` into the room; the invitation carries the room's password. */
  invite(channel: Channel, address: string, options?: { reason?: string; password?: string }): Promise<void>;
  /** Removes an occupant, named by nick or by real address. */
  kick(channel: Channel, who: string, reason?: string): Promise<void>;
  /** Ends the room: everyone is removed and the room is gone. */
  destroyRoom(channel: Channel, reason?: string): Promise<void>;
  /** Who is in the room now, besides porter. */
  occupants(channel: Channel): Promise<RoomOccupant[]>;
}

/** Whether `plug` declares rooms and implements them. */
export function isRoomsCapable(plug: Plug): plug is Plug & RoomsCapable {
  const p = plug as Plug & Partial<RoomsCapable>;
  return plug.capabilities.rooms && typeof p.createRoom === 'function' && typeof p.rejoinRoom === 'function';
}

/** For a user in a `left` list: true when they left on purpose, false when lost or kicked, undefined when the plug cannot say. */
export function leftCleanly(user: User): boolean | undefined {
  return (user as RoomUser).clean;
}
