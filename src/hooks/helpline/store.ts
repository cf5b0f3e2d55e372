/**
 * The helpline's tables: rooms with their passwords and states, every state change, the queue
 * of waiting clients, conversations and their messages, blocked fingerprints. Every claim (a
 * room for a staff member, a client for a room) is a conditional update, so two porter
 * instances on one PostgreSQL never hand out the same room or client twice.
 */
import type { ExpressionBuilder, Kysely, Transaction } from 'kysely';
import type { Migrations } from '../../core/component.js';
import type { Store } from '../../services/store/index.js';
import { HELD_STATES, LIVE_STATES, type RoomState } from './states.js';

export const HELPLINE_MIGRATION_OWNER = 'helpline';

export interface RoomRow {
  desk: string;
  /** The room's channel source (its address on the network). */
  room: string;
  password: string;
  state: RoomState;
  /** ms since the epoch of the last state change; for a room given to staff and not yet entered, of the handing out. */
  state_at: number;
  /** The staff member the room was given to, once given. */
  staff: string | null;
  /** The ticket of the client paired into the room. */
  ticket: string | null;
  created_at: number;
  /** The porter instance whose plug made the room and sees its joins and leaves (null: made before instances were told apart). */
  owner: string | null;
}

export interface TicketRow {
  desk: string;
  ticket: string;
  /** Queue order: 1, 2, 3… per desk. */
  seq: number;
  fingerprint: string;
  /** waiting → paired (→ joined), or left. */
  state: 'waiting' | 'paired' | 'joined' | 'left';
  nick: string;
  created_at: number;
  paired_at: number | null;
  room: string | null;
}

interface Tables {
  helpline_room: RoomRow;
  helpline_room_change: { desk: string; room: string; from_state: string; to_state: string; at: number };
  helpline_ticket: TicketRow;
  helpline_conversation: {
    desk: string;
    room: string;
    staff: string;
    ticket: string;
    started_at: number;
    ended_at: number | null;
  };
  helpline_message: { desk: string; room: string; author: string; body: string | null; at: number };
  helpline_block: { desk: string; fingerprint: string; staff: string; at: number };
}

export const helplineMigrations: Migrations = {
  '0001_helpline': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('helpline_room')
        .addColumn('desk', 'text', (c) => c.notNull())
        .addColumn('room', 'text', (c) => c.notNull())
        .addColumn('password', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('state_at', 'bigint', (c) => c.notNull())
        .addColumn('staff', 'text')
        .addColumn('ticket', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('helpline_room_pk', ['desk', 'room'])
        .execute();
      await db.schema.createIndex('helpline_room_state').on('helpline_room').columns(['desk', 'state']).execute();
      await db.schema
        .createTable('helpline_room_change')
        .addColumn('desk', 'text', (c) => c.notNull())
        .addColumn('room', 'text', (c) => c.notNull())
        .addColumn('from_state', 'text', (c) => c.notNull())
        .addColumn('to_state', 'text', (c) => c.notNull())
        .addColumn('at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('helpline_room_change_room').on('helpline_room_change').columns(['desk', 'room', 'at']).execute();
      await db.schema
        .createTable('helpline_ticket')
        .addColumn('desk', 'text', (c) => c.notNull())
        .addColumn('ticket', 'text', (c) => c.notNull())
        .addColumn('seq', 'bigint', (c) => c.notNull())
        .addColumn('fingerprint', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('nick', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('paired_at', 'bigint')
        .addColumn('room', 'text')
        .addPrimaryKeyConstraint('helpline_ticket_pk', ['desk', 'ticket'])
        .execute();
      await db.schema.createIndex('helpline_ticket_queue').on('helpline_ticket').columns(['desk', 'state', 'seq']).execute();
      await db.schema.createIndex('helpline_ticket_seq').unique().on('helpline_ticket').columns(['desk', 'seq']).execute();
      await db.schema
        .createTable('helpline_conversation')
        .addColumn('desk', 'text', (c) => c.notNull())
        .addColumn('room', 'text', (c) => c.notNull())
        .addColumn('staff', 'text', (c) => c.notNull())
        .addColumn('ticket', 'text', (c) => c.notNull())
        .addColumn('started_at', 'bigint', (c) => c.notNull())
        .addColumn('ended_at', 'bigint')
        .addPrimaryKeyConstraint('helpline_conversation_pk', ['desk', 'room'])
        .execute();
      await db.schema
        .createTable('helpline_message')
        .addColumn('desk', 'text', (c) => c.notNull())
        .addColumn('room', 'text', (c) => c.notNull())
        .addColumn('author', 'text', (c) => c.notNull())
        .addColumn('body', 'text')
        .addColumn('at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('helpline_message_room').on('helpline_message').columns(['desk', 'room', 'at']).execute();
      await db.schema
        .createTable('helpline_block')
        .addColumn('desk', 'text', (c) => c.notNull())
        .addColumn('fingerprint', 'text', (c) => c.notNull())
        .addColumn('staff', 'text', (c) => c.notNull())
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('helpline_block_pk', ['desk', 'fingerprint'])
        .execute();
    },
  },
  '0002_helpline_room_owner': {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('helpline_room').addColumn('owner', 'text').execute();
    },
  },
};

type Db = Kysely<Tables> | Transaction<Tables>;

/**
 * One desk's rows (a helpline hook by name); every query is scoped to it. `instance` names this
 * porter among several on one database: the rooms it makes are its own, and the pool, claims and
 * upkeep deal with its own rooms only (and with rooms of no owner, made before owners were kept).
 */
export class HelplineStore {
  readonly #store: Store;
  readonly desk: string;
  readonly instance: string | undefined;

  constructor(store: Store, desk: string, instance?: string) {
    this.#store = store;
    this.desk = desk;
    this.instance = instance;
  }

  get #db(): Kysely<Tables> {
    return this.#store.db<Tables>();
  }

  // ---- rooms -------------------------------------------------------------------------------

  /** Records a room once it is configured. */
  async addRoom(room: string, password: string, now = Date.now()): Promise<void> {
    await this.#db
      .insertInto('helpline_room')
      .values({
        desk: this.desk,
        room,
        password,
        state: 'available',
        state_at: now,
        staff: null,
        ticket: null,
        created_at: now,
        owner: this.instance ?? null,
      })
      .execute();
  }

  /** Rooms this instance made (and rooms of no owner), in `states`. */
  ownRooms(states: readonly RoomState[] = LIVE_STATES): Promise<RoomRow[]> {
    return this.#db
      .selectFrom('helpline_room')
      .selectAll()
      .where('desk', '=', this.desk)
      .where('state', 'in', [...states])
      .where((eb) => this.#mine(eb))
      .orderBy('created_at')
      .execute();
  }

  /** Rows of this instance or of no owner; every row when no instance is named. */
  #mine(eb: ExpressionBuilder<Tables, 'helpline_room'>) {
    if (this.instance === undefined) return eb.lit(true);
    return eb.or([eb('owner', '=', this.instance), eb('owner', 'is', null)]);
  }

  room(room: string): Promise<RoomRow | undefined> {
    return this.#db.selectFrom('helpline_room').selectAll().where('desk', '=', this.desk).where('room', '=', room).executeTakeFirst();
  }

  rooms(states: readonly RoomState[] = LIVE_STATES): Promise<RoomRow[]> {
    return this.#db
      .selectFrom('helpline_room')
      .selectAll()
      .where('desk', '=', this.desk)
      .where('state', 'in', [...states])
      .orderBy('created_at')
      .execute();
  }

  /** This instance's rooms ready to be given to a staff member. */
  async freeRooms(): Promise<number> {
    const row = await this.#db
      .selectFrom('helpline_room')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('desk', '=', this.desk)
      .where('state', '=', 'available')
      .where('staff', 'is', null)
      .where((eb) => this.#mine(eb))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /**
   * Moves a room from `from` to `to` if it is still in `from` (the conditional update that makes
   * a race lose cleanly) and records the change; false when another event got there first.
   */
  async transition(room: string, from: RoomState, to: RoomState, now = Date.now(), db: Db = this.#db): Promise<boolean> {
    const result = await db
      .updateTable('helpline_room')
      .set({ state: to, state_at: now })
      .where('desk', '=', this.desk)
      .where('room', '=', room)
      .where('state', '=', from)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) !== 1) return false;
    await db.insertInto('helpline_room_change').values({ desk: this.desk, room, from_state: from, to_state: to, at: now }).execute();
    return true;
  }

  /** Gives a free room (one `ready` accepts) to `staff`, if they hold fewer than `max` rooms; the room, or why not. */
  async claimRoom(
    staff: string,
    max: number,
    ready: (room: string) => Promise<boolean> | boolean = () => true,
    now = Date.now(),
  ): Promise<RoomRow | 'limit' | 'none'> {
    const held = await this.#db
      .selectFrom('helpline_room')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('desk', '=', this.desk)
      .where('staff', '=', staff)
      .where('state', 'in', [...HELD_STATES])
      .executeTakeFirstOrThrow();
    if (Number(held.n) >= max) return 'limit';
    for (const candidate of await this.#db
      .selectFrom('helpline_room')
      .selectAll()
      .where('desk', '=', this.desk)
      .where('state', '=', 'available')
      .where('staff', 'is', null)
      .where((eb) => this.#mine(eb))
      .orderBy('created_at')
      .limit(50)
      .execute()) {
      if (!(await ready(candidate.room))) continue;
      const result = await this.#db
        .updateTable('helpline_room')
        // The time of handing out: a staff member who does not come is released from it later.
        .set({ staff, state_at: now })
        .where('desk', '=', this.desk)
        .where('room', '=', candidate.room)
        .where('state', '=', 'available')
        .where('staff', 'is', null)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) === 1) return { ...candidate, staff, state_at: now };
    }
    return 'none';
  }

  /** This instance's rooms given to a staff member at or before `before` whom the room has not seen come in. */
  unjoinedClaims(before: number): Promise<RoomRow[]> {
    return this.#db
      .selectFrom('helpline_room')
      .selectAll()
      .where('desk', '=', this.desk)
      .where('state', '=', 'available')
      .where('staff', 'is not', null)
      .where('state_at', '<=', before)
      .where((eb) => this.#mine(eb))
      .orderBy('state_at')
      .execute();
  }

  /**
   * Returns a room given to `row.staff` to the pool with a new password, if it is still theirs and
   * not entered (the conditional update loses to a join that got there first); false otherwise.
   */
  async releaseClaim(row: RoomRow, password: string, now = Date.now()): Promise<boolean> {
    const result = await this.#db
      .updateTable('helpline_room')
      .set({ staff: null, password, state_at: now })
      .where('desk', '=', this.desk)
      .where('room', '=', row.room)
      .where('state', '=', 'available')
      .where('staff', '=', row.staff)
      .where('state_at', '=', row.state_at)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** A new password for a room the server lost and porter made again. */
  async rekey(room: string, password: string): Promise<void> {
    await this.#db.updateTable('helpline_room').set({ password }).where('desk', '=', this.desk).where('room', '=', room).execute();
  }

  /** Staff members in a room now (waiting or chatting): someone is there to answer. */
  async staffOnDuty(): Promise<number> {
    const row = await this.#db
      .selectFrom('helpline_room')
      .select((eb) => eb.fn.count<number>('staff').distinct().as('n'))
      .where('desk', '=', this.desk)
      .where('state', 'in', ['staffWaiting', 'chatting'])
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  // ---- the queue ---------------------------------------------------------------------------

  /**
   * Adds a client at the end of the queue. The place is one past the last in the store (not a
   * clock), so clients arriving at two instances at once are still in one strict order; the
   * unique index makes the slower of two that took the same place try again.
   */
  async enqueue(ticket: string, fingerprint: string, nick: string, now = Date.now()): Promise<TicketRow> {
    for (let attempt = 0; ; attempt++) {
      const last = await this.#db
        .selectFrom('helpline_ticket')
        .select((eb) => eb.fn.max('seq').as('seq'))
        .where('desk', '=', this.desk)
        .executeTakeFirst();
      const row: TicketRow = {
        desk: this.desk,
        ticket,
        seq: Number(last?.seq ?? 0) + 1,
        fingerprint,
        state: 'waiting',
        nick,
        created_at: now,
        paired_at: null,
        room: null,
      };
      const inserted = await this.#db
        .insertInto('helpline_ticket')
        .values(row)
        .onConflict((oc) => oc.doNothing())
        .executeTakeFirst();
      if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 1) return row;
      if (attempt >= 50) throw new Error('cannot find a place in the queue');
    }
  }

  ticket(ticket: string): Promise<TicketRow | undefined> {
    return this.#db.selectFrom('helpline_ticket').selectAll().where('desk', '=', this.desk).where('ticket', '=', ticket).executeTakeFirst();
  }

  /** 1 for the first waiting client; undefined when the ticket is not waiting. */
  async position(row: TicketRow): Promise<number> {
    const ahead = await this.#db
      .selectFrom('helpline_ticket')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('desk', '=', this.desk)
      .where('state', '=', 'waiting')
      .where('seq', '<', row.seq)
      .executeTakeFirstOrThrow();
    return Number(ahead.n) + 1;
  }

  waiting(limit = 1000): Promise<TicketRow[]> {
    return this.#db
      .selectFrom('helpline_ticket')
      .selectAll()
      .where('desk', '=', this.desk)
      .where('state', '=', 'waiting')
      .orderBy('seq')
      .limit(limit)
      .execute();
  }

  async leaveQueue(ticket: string): Promise<boolean> {
    const result = await this.#db
      .updateTable('helpline_ticket')
      .set({ state: 'left' })
      .where('desk', '=', this.desk)
      .where('ticket', '=', ticket)
      .where('state', '=', 'waiting')
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /**
   * Pairs the first waiting client with `room` (in staffWaiting, with no client yet), in one
   * transaction of conditional updates; the ticket paired, or undefined when either was taken.
   */
  async pair(room: string, now = Date.now()): Promise<TicketRow | undefined> {
    const postgres = this.#store.dialect === 'postgres';
    return this.#db.transaction().execute(async (trx) => {
      // The room first: on PostgreSQL its row stays locked until commit, so a second instance
      // pairing the same room waits here and then finds it taken. SQLite runs one transaction
      // at a time.
      let free = trx
        .selectFrom('helpline_room')
        .select('room')
        .where('desk', '=', this.desk)
        .where('room', '=', room)
        .where('state', '=', 'staffWaiting')
        .where('ticket', 'is', null);
      if (postgres) free = free.forUpdate();
      if (!(await free.executeTakeFirst())) return undefined;
      // Then the first waiting client that no other instance is pairing now: a client locked by
      // another transaction is one that transaction will pair, since it already holds its room.
      let first = trx
        .selectFrom('helpline_ticket')
        .selectAll()
        .where('desk', '=', this.desk)
        .where('state', '=', 'waiting')
        .orderBy('seq')
        .limit(1);
      if (postgres) first = first.forUpdate().skipLocked();
      const next = await first.executeTakeFirst();
      if (!next) return undefined;
      const claimedTicket = await trx
        .updateTable('helpline_ticket')
        .set({ state: 'paired', paired_at: now, room })
        .where('desk', '=', this.desk)
        .where('ticket', '=', next.ticket)
        .where('state', '=', 'waiting')
        .executeTakeFirst();
      // Taken meanwhile (by a client leaving the queue): undo, the caller tries again.
      if (Number(claimedTicket.numUpdatedRows) !== 1) throw new PairingRace();
      await trx.updateTable('helpline_room').set({ ticket: next.ticket }).where('desk', '=', this.desk).where('room', '=', room).execute();
      return { ...next, state: 'paired' as const, paired_at: now, room };
    });
  }

  /**
   * Invitations not taken up since `before` (ms) lapse: the ticket is closed and its room freed
   * for the next client, so a client who went away never holds a staff member. The rooms freed.
   */
  async expireInvites(before: number): Promise<string[]> {
    const stale = await this.#db
      .selectFrom('helpline_ticket')
      .select(['ticket', 'room'])
      .where('desk', '=', this.desk)
      .where('state', '=', 'paired')
      .where('paired_at', '<', before)
      .execute();
    const freed: string[] = [];
    for (const t of stale) {
      const closed = await this.#db
        .updateTable('helpline_ticket')
        .set({ state: 'left' })
        .where('desk', '=', this.desk)
        .where('ticket', '=', t.ticket)
        .where('state', '=', 'paired')
        .executeTakeFirst();
      if (Number(closed.numUpdatedRows) !== 1 || !t.room) continue;
      await this.#db
        .updateTable('helpline_room')
        .set({ ticket: null })
        .where('desk', '=', this.desk)
        .where('room', '=', t.room)
        .where('ticket', '=', t.ticket)
        .where('state', '=', 'staffWaiting')
        .execute();
      freed.push(t.room);
    }
    return freed;
  }

  async markJoined(ticket: string): Promise<void> {
    await this.#db
      .updateTable('helpline_ticket')
      .set({ state: 'joined' })
      .where('desk', '=', this.desk)
      .where('ticket', '=', ticket)
      .where('state', '=', 'paired')
      .execute();
  }

  /** Puts a paired client back at their place in the queue (their room was lost before they came). */
  async requeue(ticket: string): Promise<void> {
    await this.#db
      .updateTable('helpline_ticket')
      .set({ state: 'waiting', paired_at: null, room: null })
      .where('desk', '=', this.desk)
      .where('ticket', '=', ticket)
      .where('state', '=', 'paired')
      .execute();
  }

  // ---- conversations, messages, blocks -----------------------------------------------------

  async startConversation(room: string, staff: string, ticket: string, now = Date.now()): Promise<void> {
    await this.#db
      .insertInto('helpline_conversation')
      .values({ desk: this.desk, room, staff, ticket, started_at: now, ended_at: null })
      .onConflict((oc) => oc.doNothing())
      .execute();
  }

  async endConversation(room: string, now = Date.now()): Promise<void> {
    await this.#db
      .updateTable('helpline_conversation')
      .set({ ended_at: now })
      .where('desk', '=', this.desk)
      .where('room', '=', room)
      .where('ended_at', 'is', null)
      .execute();
  }

  async addMessage(room: string, author: string, body: string, now = Date.now()): Promise<void> {
    await this.#db.insertInto('helpline_message').values({ desk: this.desk, room, author, body, at: now }).execute();
  }

  conversations(): Promise<Tables['helpline_conversation'][]> {
    return this.#db.selectFrom('helpline_conversation').selectAll().where('desk', '=', this.desk).orderBy('started_at').execute();
  }

  conversation(room: string): Promise<Tables['helpline_conversation'] | undefined> {
    return this.#db
      .selectFrom('helpline_conversation')
      .selectAll()
      .where('desk', '=', this.desk)
      .where('room', '=', room)
      .executeTakeFirst();
  }

  messages(room: string): Promise<Tables['helpline_message'][]> {
    return this.#db
      .selectFrom('helpline_message')
      .selectAll()
      .where('desk', '=', this.desk)
      .where('room', '=', room)
      .orderBy('at')
      .execute();
  }

  changes(room: string): Promise<Tables['helpline_room_change'][]> {
    return this.#db
      .selectFrom('helpline_room_change')
      .selectAll()
      .where('desk', '=', this.desk)
      .where('room', '=', room)
      .orderBy('at')
      .execute();
  }

  /** Erases the bodies of messages older than `before` (ms); the rows stay for statistics. */
  async eraseBodies(before: number): Promise<number> {
    const result = await this.#db
      .updateTable('helpline_message')
      .set({ body: null })
      .where('desk', '=', this.desk)
      .where('at', '<', before)
      .where('body', 'is not', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  async block(fingerprint: string, staff: string, now = Date.now()): Promise<void> {
    await this.#db
      .insertInto('helpline_block')
      .values({ desk: this.desk, fingerprint, staff, at: now })
      .onConflict((oc) => oc.doNothing())
      .execute();
  }

  async blocked(fingerprint: string): Promise<boolean> {
    const row = await this.#db
      .selectFrom('helpline_block')
      .select('fingerprint')
      .where('desk', '=', this.desk)
      .where('fingerprint', '=', fingerprint)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Tickets that were paired, with their waits, for statistics. */
  pairedTickets(): Promise<Pick<TicketRow, 'created_at' | 'paired_at'>[]> {
    return this.#db
      .selectFrom('helpline_ticket')
      .select(['created_at', 'paired_at'])
      .where('desk', '=', this.desk)
      .where('paired_at', 'is not', null)
      .execute();
  }
}

/** Thrown inside a pairing transaction to roll it back when the client was taken meanwhile. */
export class PairingRace extends Error {
  constructor() {
    super('the client was paired by another instance');
  }
}
