/**
 * The helpline desk: keeps the pool of ready rooms, moves rooms through their states on joins
 * and leaves, pairs waiting clients with waiting staff, recovers rooms after a restart, and
 * cleans up. All state is in the store; this object only serialises the work of one porter.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Channel } from '../../core/channel.js';
import type { Logger } from '../../core/log.js';
import type { SentMessage } from '../../core/message.js';
import type { Plug } from '../../core/plug.js';
import { leftCleanly, type RejoinOutcome, type RoomsCapable, type RoomUser } from '../../core/rooms.js';
import { accountOf, type ChatReach } from './chat.js';
import { CLOSED_STATES, LIVE_STATES, nextState, type RoomEvent, type RoomState } from './states.js';
import { type HelplineStore, PairingRace, type RoomRow, type TicketRow } from './store.js';

export interface StaffMember {
  /** Their account on the plug's network, lower case: `staff/<username>` (web chat) or a bare JID (XMPP). */
  readonly address: string;
  readonly token: string;
  readonly priority: number;
}

export interface DeskOptions {
  readonly plug: Plug & RoomsCapable;
  readonly store: HelplineStore;
  readonly log: Logger;
  readonly poolSize: number;
  readonly maxChatsPerStaff: number;
  readonly cleanupMs: number;
  readonly historyDays: number;
  readonly staff: Readonly<Record<string, StaffMember>>;
  readonly fingerprintSecret: string;
  readonly historyLength: number;
  /** How long an invitation waits for its client, in ms. */
  readonly inviteMs: number;
  /** How long a room given to a staff member waits for them to come in before it goes back to the pool, in ms. */
  readonly staffJoinMs: number;
  /** How a page reaches the rooms; shown with every room and invitation. */
  readonly chat: ChatReach;
}

/** A client's view of their ticket. */
export type TicketView =
  | { status: 'waiting'; position: number }
  | { status: 'invited'; room: string; password: string; nick: string; chat: ChatReach }
  | { status: 'joined'; room: string }
  | { status: 'left' };

export class HelplineDesk {
  readonly #o: DeskOptions;
  /** 'changed' after anything that may move a ticket: long polls wake on it. */
  readonly changes = new EventEmitter();
  /** Work on one room runs one event at a time, in arrival order. */
  readonly #roomChains = new Map<string, Promise<void>>();
  #pairing: Promise<void> | undefined;
  #pairAgain = false;
  #refilling: Promise<void> | undefined;
  #closed = false;
  /** Live rooms porter was not in at the last upkeep. */
  #missing = new Set<string>();

  constructor(options: DeskOptions) {
    this.#o = options;
    this.changes.setMaxListeners(0);
  }

  /** How a page reaches the rooms. */
  get chat(): ChatReach {
    return this.#o.chat;
  }

  get store(): HelplineStore {
    return this.#o.store;
  }

  /** A keyed hash of a client's address: a block can match it, and the address itself is never stored. */
  fingerprint(address: string): string {
    return createHmac('sha256', this.#o.fingerprintSecret).update(address).digest('base64url');
  }

  staffByToken(token: string, same: (a: string, b: string) => boolean): string | undefined {
    for (const [id, member] of Object.entries(this.#o.staff)) if (same(token, member.token)) return id;
    return undefined;
  }

  close(): void {
    this.#closed = true;
    this.changes.removeAllListeners();
  }

  // ---- recovery ----------------------------------------------------------------------------

  /** After porter starts: every live room is rejoined with its stored password and its row corrected. */
  async recover(): Promise<void> {
    for (const row of await this.store.ownRooms(LIVE_STATES)) {
      const channel = this.#channel(row.room);
      let outcome: RejoinOutcome;
      try {
        outcome = await this.#o.plug.rejoinRoom(channel, row.password);
      } catch (error) {
        this.#o.log.error({ err: error, room: row.room, state: row.state }, 'cannot rejoin a helpline room; closing it');
        await this.#retire(row);
        continue;
      }
      await this.afterRejoin(channel, outcome);
    }
    this.#changed();
  }

  /** After a room was rejoined (at start, or by the plug after the server came back). */
  afterRejoin(channel: Channel, outcome: RejoinOutcome): Promise<void> {
    return this.#inRoom(channel.source, async () => {
      const row = await this.store.room(channel.source);
      if (!row || !LIVE_STATES.includes(row.state)) return;
      if (outcome === 'recreated') {
        this.#o.log.warn({ room: row.room, state: row.state }, 'the server had lost a helpline room');
        if (row.state === 'available' && row.staff === null) {
          // Nobody was given it yet: re-keyed, it goes back to the pool.
          const password = newPassword();
          await this.#o.plug.configureRoom(channel, this.#roomOptions(password));
          await this.store.rekey(row.room, password);
          return;
        }
        await this.#retire(row);
        return;
      }
      await this.#reconcile(row, channel);
    });
  }

  /** Compares a rejoined room's row with who is really there; leaves missed while away are applied as lost connections. */
  async #reconcile(row: RoomRow, channel: Channel): Promise<void> {
    if (row.state !== 'staffWaiting' && row.state !== 'chatting') return;
    const occupants = await this.#o.plug.occupants(channel);
    const staffAddress = row.staff ? this.#o.staff[row.staff]?.address : undefined;
    const ticket = row.ticket ? await this.store.ticket(row.ticket) : undefined;
    const staffHere = occupants.some((o) => accountOf(o.address) === staffAddress);
    const clientHere = ticket !== undefined && occupants.some((o) => o.nick === ticket.nick && accountOf(o.address) !== staffAddress);
    let state: RoomState = row.state;
    const missing = (row.state === 'chatting' ? [staffHere, clientHere] : [staffHere]).filter((here) => !here).length;
    for (let i = 0; i < missing; i++) state = (await this.#apply(row.room, state, 'dirtyLeave')) ?? state;
  }

  /** Ends a room that cannot go on (lost by the server, or not rejoinable): its row goes through the table to destroyed. */
  async #retire(row: RoomRow): Promise<void> {
    let state: RoomState | undefined = row.state;
    if (state === 'available') {
      // A room handed to a staff member who never came: the table has no way out of
      // available, so the row is closed directly and the change recorded.
      await this.store.transition(row.room, 'available', 'destroyed');
    } else {
      // staffWaiting → toDestroy, chatting → lost → abandoned: as if everyone's connection was lost.
      while (state && !CLOSED_STATES.includes(state) && state !== 'destroyed') {
        state = await this.#apply(row.room, state, 'dirtyLeave');
      }
      if (state && CLOSED_STATES.includes(state)) await this.#destroy(row.room, state, 'the room was lost');
    }
    if (row.ticket) await this.store.requeue(row.ticket);
    this.#changed();
  }

  // ---- the pool ----------------------------------------------------------------------------

  /** Creates rooms until `pool.size` are ready; a room is stored only once configured. */
  refill(): Promise<void> {
    this.#refilling ??= this.#refill().finally(() => {
      this.#refilling = undefined;
    });
    return this.#refilling;
  }

  async #refill(): Promise<void> {
    let free = await this.store.freeRooms();
    while (!this.#closed && free < this.#o.poolSize) {
      const password = newPassword();
      let channel: Channel;
      try {
        channel = await this.#o.plug.createRoom(this.#roomOptions(password));
      } catch (error) {
        this.#o.log.error({ err: error }, 'cannot create a helpline room; trying again later');
        return;
      }
      await this.store.addRoom(channel.source, password);
      this.#o.log.debug({ room: channel.source }, 'helpline room ready');
      free++;
    }
  }

  #roomOptions(password: string) {
    // Staff member and client; porter is not counted.
    return { password, maxOccupants: 2, persistent: false, membersOnly: false, historyLength: this.#o.historyLength };
  }

  /** Destroys rooms closed for longer than the cleanup timeout and erases old message bodies. */
  async cleanup(now = Date.now()): Promise<void> {
    for (const row of await this.store.ownRooms(CLOSED_STATES)) {
      if (row.state_at > now - this.#o.cleanupMs) continue;
      await this.#inRoom(row.room, () => this.#destroy(row.room, row.state, 'the chat has ended'));
    }
    await this.store.eraseBodies(now - this.#o.historyDays * 86_400_000);
    await this.releaseUnjoined(now);
    const freed = await this.store.expireInvites(now - this.#o.inviteMs);
    if (freed.length > 0) {
      this.#o.log.info({ rooms: freed }, 'invitations not taken up lapsed; the rooms wait for the next client');
      this.#changed();
      this.pair();
    }
  }

  /**
   * Rooms given to a staff member who has not come in within `staff-join-timeout` go back to the
   * pool, so they stop counting against the staff member's limit. The room gets a new password
   * first (the staff member knew the old one); should they come in meanwhile, the row still
   * learns the new password, which the server now has.
   */
  async releaseUnjoined(now = Date.now()): Promise<void> {
    for (const row of await this.store.unjoinedClaims(now - this.#o.staffJoinMs)) {
      await this.#inRoom(row.room, async () => {
        const password = newPassword();
        try {
          await this.#o.plug.configureRoom(this.#channel(row.room), this.#roomOptions(password));
        } catch (error) {
          this.#o.log.warn(
            { err: error, room: row.room, staff: row.staff },
            'cannot re-key a room its staff member did not enter; trying again later',
          );
          return;
        }
        if (await this.store.releaseClaim(row, password, now)) {
          this.#o.log.info(
            { room: row.room, staff: row.staff, givenAt: new Date(row.state_at).toISOString() },
            'the staff member did not enter the room given to them; it went back to the pool',
          );
        } else {
          await this.store.rekey(row.room, password);
        }
      });
    }
  }

  async #destroy(room: string, from: RoomState, reason: string): Promise<void> {
    if (!(await this.store.transition(room, from, 'destroyed'))) return;
    await this.store.endConversation(room);
    try {
      await this.#o.plug.destroyRoom(this.#channel(room), reason);
    } catch (error) {
      // The server may have removed it already (an empty room that is not persistent).
      this.#o.log.debug({ err: error, room }, 'destroying a helpline room failed');
    }
  }

  /** Whether porter is in the room now (the rooms interface lists occupants only of rooms porter is in). */
  #porterIn(room: string): Promise<boolean> {
    return this.#o.plug.occupants(this.#channel(room)).then(
      () => true,
      () => false,
    );
  }

  /**
   * Rejoins live rooms porter is not in (it was kicked, or a rejoin failed), once they have been
   * missing at two upkeeps running, so a reconnect under way is left to the plug.
   */
  async rejoinMissing(online: boolean): Promise<void> {
    const missing = new Set<string>();
    if (online) {
      for (const row of await this.store.ownRooms(LIVE_STATES)) {
        if (await this.#porterIn(row.room)) continue;
        missing.add(row.room);
        if (!this.#missing.has(row.room)) continue;
        this.#o.log.warn({ room: row.room, state: row.state }, 'porter was not in a helpline room; rejoining');
        try {
          await this.afterRejoin(this.#channel(row.room), await this.#o.plug.rejoinRoom(this.#channel(row.room), row.password));
          missing.delete(row.room);
        } catch (error) {
          this.#o.log.error({ err: error, room: row.room }, 'cannot rejoin a helpline room; closing it');
          await this.#inRoom(row.room, () => this.#retire(row));
        }
      }
    }
    this.#missing = missing;
  }

  // ---- staff -------------------------------------------------------------------------------

  /** Gives a staff member a room to wait in. */
  async staffAvailable(staff: string): Promise<RoomRow | 'limit' | 'none'> {
    // Only a room porter is in now: after the server restarts, a room not yet rejoined would be
    // made anew by the first staff member to enter, without porter.
    const claimed = await this.store.claimRoom(staff, this.#o.maxChatsPerStaff, (room) => this.#porterIn(room));
    if (claimed === 'limit') this.#o.log.warn({ staff, max: this.#o.maxChatsPerStaff }, 'staff member over their room limit');
    void this.refill().catch((error: unknown) => this.#o.log.error({ err: error }, 'refilling the pool failed'));
    return claimed;
  }

  /** Ends a staff member's room now. */
  async end(row: RoomRow): Promise<void> {
    await this.#inRoom(row.room, async () => {
      const current = await this.store.room(row.room);
      if (!current) return;
      let state: RoomState | undefined = current.state;
      if (state === 'chatting') state = await this.#apply(row.room, state, 'cleanLeave');
      else if (state === 'staffWaiting') state = await this.#apply(row.room, state, 'cleanLeave');
      // Another instance's room is not in this plug: it stays closed in the store (no one may
      // join it), and its owner destroys it at its cleanup.
      if (state && CLOSED_STATES.includes(state)) {
        if (this.#owns(current)) await this.#destroy(row.room, state, 'the chat was ended by staff');
      } else if (state === 'available') await this.store.transition(row.room, 'available', 'destroyed');
    });
    this.#changed();
  }

  // ---- the queue ---------------------------------------------------------------------------

  async enqueue(fingerprint: string): Promise<TicketRow> {
    const ticket = randomBytes(16).toString('base64url');
    const row = await this.store.enqueue(ticket, fingerprint, `client-${ticket.slice(0, 8)}`);
    this.#changed();
    this.pair();
    return row;
  }

  async view(row: TicketRow): Promise<TicketView> {
    if (row.state === 'waiting') return { status: 'waiting', position: await this.store.position(row) };
    if (row.state === 'left' || !row.room) return { status: 'left' };
    if (row.state === 'joined') return { status: 'joined', room: row.room };
    const room = await this.store.room(row.room);
    if (!room) return { status: 'left' };
    return { status: 'invited', room: room.room, password: room.password, nick: row.nick, chat: this.#o.chat };
  }

  /** Pairs waiting staff rooms with waiting clients until one side runs out; runs once at a time, again if asked meanwhile. */
  pair(): void {
    if (this.#pairing) {
      this.#pairAgain = true;
      return;
    }
    this.#pairing = (async () => {
      do {
        this.#pairAgain = false;
        await this.#pairOnce();
      } while (this.#pairAgain && !this.#closed);
    })()
      .catch((error: unknown) => this.#o.log.error({ err: error }, 'pairing failed'))
      .finally(() => {
        this.#pairing = undefined;
      });
  }

  /** Resolves when no pairing is under way (for tests and the bench). */
  async settled(): Promise<void> {
    while (this.#pairing || this.#refilling) await (this.#pairing ?? this.#refilling);
  }

  async #pairOnce(): Promise<void> {
    const rooms = (await this.store.rooms(['staffWaiting'])).filter((r) => r.ticket === null && r.staff !== null);
    // Staff by priority (high first), then by how long they have waited (longest first).
    rooms.sort((a, b) => this.#priority(b) - this.#priority(a) || a.state_at - b.state_at);
    for (const room of rooms) {
      if (this.#closed) return;
      let paired: TicketRow | undefined;
      try {
        paired = await this.store.pair(room.room);
      } catch (error) {
        if (error instanceof PairingRace) {
          this.#pairAgain = true;
          continue;
        }
        throw error;
      }
      if (!paired) {
        if ((await this.store.waiting(1)).length === 0) break;
        continue;
      }
      this.#o.log.info({ room: room.room, staff: room.staff, ticket: paired.ticket }, 'client paired');
      this.#changed();
    }
  }

  #priority(row: RoomRow): number {
    return (row.staff ? this.#o.staff[row.staff]?.priority : undefined) ?? 0;
  }

  // ---- room events -------------------------------------------------------------------------

  /** A message from the plug: joins and leaves move the room's state; text is kept as history. */
  receive(sent: SentMessage): Promise<void> {
    if (sent.channel.plug !== this.#o.plug || sent.fromPorter) return Promise.resolve();
    return this.#inRoom(sent.channel.source, async () => {
      const row = await this.store.room(sent.channel.source);
      if (!row) return;
      for (const user of sent.joined ?? []) await this.#joined(row.room, user as RoomUser);
      for (const user of sent.left ?? []) await this.#left(row.room, user as RoomUser);
      if (sent.text && !sent.text.isEmpty && sent.user) {
        const current = await this.store.room(row.room);
        if (current && (await this.store.conversation(row.room))) {
          const author = accountOf((sent.user as RoomUser).address) === this.#staffAddress(current) ? 'staff' : 'client';
          await this.store.addMessage(row.room, author, sent.text.toPlain(), sent.at.getTime());
        }
      }
    });
  }

  async #joined(room: string, user: RoomUser): Promise<void> {
    const row = await this.store.room(room);
    if (!row) return;
    const who = this.#who(row, user);
    const log = { room, state: row.state, nick: user.nick, address: user.address };
    if (CLOSED_STATES.includes(row.state) || row.state === 'destroyed') {
      this.#o.log.warn(log, 'a join into a closed helpline room; kicked');
      return this.#kick(room, user, 'This chat has ended');
    }
    if (who === 'staff') {
      if (row.state === 'available') {
        await this.#apply(room, row.state, 'staffJoins');
        this.pair();
        return;
      }
      this.#o.log.error(log, 'refused transition: staff joined a room that is not waiting for them; kicked');
      return this.#kick(room, user, 'This room is not waiting for you');
    }
    if (who === 'client') {
      if (row.state === 'staffWaiting' && row.ticket) {
        if (await this.#apply(room, row.state, 'clientJoins')) {
          await this.store.markJoined(row.ticket);
          await this.store.startConversation(room, row.staff ?? '', row.ticket);
          this.#changed();
        }
        return;
      }
      this.#o.log.error(log, 'refused transition: the client joined before staff; kicked');
      return this.#kick(room, user, 'This room is not ready');
    }
    // Someone else: a client sent elsewhere, a second client, a nick or address that is not theirs.
    this.#o.log.warn(log, 'a join by someone not assigned to the helpline room; kicked');
    return this.#kick(room, user, 'This room is not yours');
  }

  async #left(room: string, user: RoomUser): Promise<void> {
    const row = await this.store.room(room);
    if (!row || this.#who(row, user) === 'other' || user.kicked) return;
    const event: RoomEvent = leftCleanly(user) ? 'cleanLeave' : 'dirtyLeave';
    await this.#apply(room, row.state, event);
    // A client paired with a room whose staff member left before they came keeps their place.
    if (row.state === 'staffWaiting' && row.ticket) await this.store.requeue(row.ticket);
    this.#changed();
    this.pair();
  }

  /** The staff member of the room, its paired client, or anyone else. */
  #who(row: RoomRow, user: RoomUser): 'staff' | 'client' | 'other' {
    const address = accountOf(user.address);
    if (address !== undefined && address === this.#staffAddress(row)) return 'staff';
    const ticketNick = row.ticket ? `client-${row.ticket.slice(0, 8)}` : undefined;
    // The client is known by the nick their invitation named, and must not be a staff account.
    if (ticketNick !== undefined && user.nick === ticketNick && !this.#isStaffAddress(address)) return 'client';
    return 'other';
  }

  #isStaffAddress(address: string | undefined): boolean {
    return address !== undefined && Object.values(this.#o.staff).some((s) => s.address === address);
  }

  #staffAddress(row: RoomRow): string | undefined {
    return row.staff ? this.#o.staff[row.staff]?.address : undefined;
  }

  /** Applies an event per the state table: the new state, or undefined (logged as an error) when the table refuses it. */
  async #apply(room: string, from: RoomState, event: RoomEvent): Promise<RoomState | undefined> {
    const to = nextState(from, event);
    if (!to) {
      this.#o.log.error({ room, state: from, event }, 'refused transition in a helpline room');
      return undefined;
    }
    if (!(await this.store.transition(room, from, to))) return undefined;
    this.#o.log.debug({ room, from, to, event }, 'helpline room state');
    if (from === 'chatting') await this.store.endConversation(room);
    return to;
  }

  async #kick(room: string, user: RoomUser, reason: string): Promise<void> {
    try {
      await this.#o.plug.kick(this.#channel(room), user.nick ?? user.address ?? user.id, reason);
    } catch (error) {
      this.#o.log.warn({ err: error, room, nick: user.nick }, 'cannot kick from a helpline room');
    }
  }

  #inRoom(room: string, work: () => Promise<void>): Promise<void> {
    const previous = this.#roomChains.get(room) ?? Promise.resolve();
    const next = previous.then(work).catch((error: unknown) => {
      // Work cut off by porter stopping is done again at the next start (recovery).
      if (this.#closed) this.#o.log.debug({ err: error, room }, 'helpline room event cut off by stopping');
      else this.#o.log.error({ err: error, room }, 'helpline room event failed');
    });
    this.#roomChains.set(room, next);
    void next.then(() => {
      if (this.#roomChains.get(room) === next) this.#roomChains.delete(room);
    });
    return next;
  }

  /** Whether this instance's plug made the room (always, when instances are not named). */
  #owns(row: RoomRow): boolean {
    const instance = this.store.instance;
    return instance === undefined || row.owner === null || row.owner === instance;
  }

  #channel(room: string): Channel {
    return this.#o.plug.channel(room);
  }

  #changed(): void {
    this.changes.emit('changed');
  }
}

function newPassword(): string {
  return randomBytes(18).toString('base64url');
}
