/**
 * The calendar agents' memory in the store: each agent's scheduling objects, its pending
 * requests, a resource's booked occurrences (indexed by time, with held counter-offers), the
 * decisions a resource made, other people's free/busy, and a version per resource so that a
 * booking is written only if nothing was booked since the decision was made (two porter
 * instances sharing PostgreSQL cannot both accept overlapping requests).
 */
import type { Kysely, Transaction } from 'kysely';
import type { Booking, BusyPeriod, BusyType } from '../../calendar/model.js';
import type { Migrations } from '../../core/component.js';
import type { Store } from '../../services/store/index.js';

export const CALENDAR_MIGRATION_OWNER = 'calendar';

export interface CalendarTables {
  calendar_object: {
    agent: string;
    uid: string;
    sequence: number;
    dtstamp: number;
    organizer: string;
    summary: string;
    /** The agent's own PARTSTAT (empty when it is the organizer or not an attendee). */
    partstat: string;
    ics: string;
    updated: number;
  };
  calendar_pending: {
    agent: string;
    uid: string;
    method: string;
    /** Who it is from: the organizer of a REQUEST or ADD, the attendee of a COUNTER. */
    sender: string;
    summary: string;
    start: number;
    end: number;
    sequence: number;
    recurring: number;
    received: number;
    ics: string;
  };
  calendar_occurrence: {
    agent: string;
    uid: string;
    /** RECURRENCE-ID in ms, 0 for a single event. */
    recurrence: number;
    start: number;
    end: number;
    organizer: string;
    summary: string;
    type: string;
    /** A held counter-offer expires (ms); null for a booking. */
    expires: number | null;
  };
  calendar_decision: {
    agent: string;
    at: number;
    uid: string;
    organizer: string;
    summary: string;
    outcome: string;
    reason: string;
    policy: string;
  };
  calendar_freebusy: {
    agent: string;
    address: string;
    start: number;
    end: number;
    /** JSON: BusyPeriod[]. */
    busy: string;
    received: number;
  };
  calendar_version: {
    agent: string;
    version: number;
  };
}

export const calendarMigrations: Migrations = {
  '0001_calendar': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('calendar_object')
        .addColumn('agent', 'text', (c) => c.notNull())
        .addColumn('uid', 'text', (c) => c.notNull())
        .addColumn('sequence', 'integer', (c) => c.notNull())
        .addColumn('dtstamp', 'bigint', (c) => c.notNull())
        .addColumn('organizer', 'text', (c) => c.notNull())
        .addColumn('summary', 'text', (c) => c.notNull())
        .addColumn('partstat', 'text', (c) => c.notNull())
        .addColumn('ics', 'text', (c) => c.notNull())
        .addColumn('updated', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('calendar_object_pk', ['agent', 'uid'])
        .execute();
      await db.schema
        .createTable('calendar_pending')
        .addColumn('agent', 'text', (c) => c.notNull())
        .addColumn('uid', 'text', (c) => c.notNull())
        .addColumn('method', 'text', (c) => c.notNull())
        .addColumn('sender', 'text', (c) => c.notNull())
        .addColumn('summary', 'text', (c) => c.notNull())
        .addColumn('start', 'bigint', (c) => c.notNull())
        .addColumn('end', 'bigint', (c) => c.notNull())
        .addColumn('sequence', 'integer', (c) => c.notNull())
        .addColumn('recurring', 'integer', (c) => c.notNull())
        .addColumn('received', 'bigint', (c) => c.notNull())
        .addColumn('ics', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('calendar_pending_pk', ['agent', 'uid'])
        .execute();
      await db.schema
        .createTable('calendar_occurrence')
        .addColumn('agent', 'text', (c) => c.notNull())
        .addColumn('uid', 'text', (c) => c.notNull())
        .addColumn('recurrence', 'bigint', (c) => c.notNull())
        .addColumn('start', 'bigint', (c) => c.notNull())
        .addColumn('end', 'bigint', (c) => c.notNull())
        .addColumn('organizer', 'text', (c) => c.notNull())
        .addColumn('summary', 'text', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('expires', 'bigint')
        .addPrimaryKeyConstraint('calendar_occurrence_pk', ['agent', 'uid', 'recurrence'])
        .execute();
      await db.schema.createIndex('calendar_occurrence_time').on('calendar_occurrence').columns(['agent', 'start']).execute();
      await db.schema
        .createTable('calendar_decision')
        .addColumn('agent', 'text', (c) => c.notNull())
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addColumn('uid', 'text', (c) => c.notNull())
        .addColumn('organizer', 'text', (c) => c.notNull())
        .addColumn('summary', 'text', (c) => c.notNull())
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('policy', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('calendar_decision_at').on('calendar_decision').columns(['agent', 'at']).execute();
      await db.schema
        .createTable('calendar_freebusy')
        .addColumn('agent', 'text', (c) => c.notNull())
        .addColumn('address', 'text', (c) => c.notNull())
        .addColumn('start', 'bigint', (c) => c.notNull())
        .addColumn('end', 'bigint', (c) => c.notNull())
        .addColumn('busy', 'text', (c) => c.notNull())
        .addColumn('received', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('calendar_freebusy_pk', ['agent', 'address'])
        .execute();
      await db.schema
        .createTable('calendar_version')
        .addColumn('agent', 'text', (c) => c.primaryKey())
        .addColumn('version', 'bigint', (c) => c.notNull())
        .execute();
    },
  },
};

export type ObjectRow = CalendarTables['calendar_object'];
export type PendingRow = CalendarTables['calendar_pending'];
export type OccurrenceRow = CalendarTables['calendar_occurrence'];

const OCCURRENCES_PER_INSERT = 500;
export type DecisionRow = CalendarTables['calendar_decision'];

type Db = Kysely<CalendarTables> | Transaction<CalendarTables>;

/** Thrown inside a booking transaction when another writer booked first: the caller decides again. */
export class BookingConflict extends Error {}

/**
 * The calendar tables for one hook. With `readOnly` (dry runs) every write is skipped, so a dry
 * run reads the same state a real run would and leaves it as it was.
 */
export class CalendarStore {
  readonly #db: Kysely<CalendarTables>;
  readonly readOnly: boolean;

  constructor(store: Store, options: { readOnly?: boolean } = {}) {
    this.#db = store.db<CalendarTables>();
    this.readOnly = options.readOnly ?? false;
  }

  object(agent: string, uid: string): Promise<ObjectRow | undefined> {
    return this.#db.selectFrom('calendar_object').selectAll().where('agent', '=', agent).where('uid', '=', uid).executeTakeFirst();
  }

  objects(agent: string): Promise<ObjectRow[]> {
    return this.#db.selectFrom('calendar_object').selectAll().where('agent', '=', agent).execute();
  }

  async putObject(row: ObjectRow, db: Db = this.#db): Promise<void> {
    if (this.readOnly) return;
    const { agent: _a, uid: _u, ...rest } = row;
    await db
      .insertInto('calendar_object')
      .values(row)
      .onConflict((oc) => oc.columns(['agent', 'uid']).doUpdateSet(rest))
      .execute();
  }

  async deleteObject(agent: string, uid: string, db: Db = this.#db): Promise<void> {
    if (this.readOnly) return;
    await db.deleteFrom('calendar_object').where('agent', '=', agent).where('uid', '=', uid).execute();
    await db.deleteFrom('calendar_pending').where('agent', '=', agent).where('uid', '=', uid).execute();
    await db.deleteFrom('calendar_occurrence').where('agent', '=', agent).where('uid', '=', uid).execute();
  }

  pending(agent: string): Promise<PendingRow[]> {
    return this.#db.selectFrom('calendar_pending').selectAll().where('agent', '=', agent).orderBy('received').execute();
  }

  pendingOne(agent: string, uid: string): Promise<PendingRow | undefined> {
    return this.#db.selectFrom('calendar_pending').selectAll().where('agent', '=', agent).where('uid', '=', uid).executeTakeFirst();
  }

  async putPending(row: PendingRow): Promise<void> {
    if (this.readOnly) return;
    const { agent: _a, uid: _u, ...rest } = row;
    await this.#db
      .insertInto('calendar_pending')
      .values(row)
      .onConflict((oc) => oc.columns(['agent', 'uid']).doUpdateSet(rest))
      .execute();
  }

  async deletePending(agent: string, uid: string): Promise<void> {
    if (this.readOnly) return;
    await this.#db.deleteFrom('calendar_pending').where('agent', '=', agent).where('uid', '=', uid).execute();
  }

  /** A resource's bookings and live holds overlapping [start, end). */
  occurrences(agent: string, start: number, end: number, now = Date.now()): Promise<OccurrenceRow[]> {
    return this.#db
      .selectFrom('calendar_occurrence')
      .selectAll()
      .where('agent', '=', agent)
      .where('start', '<', end)
      .where('end', '>', start)
      .where((eb) => eb.or([eb('expires', 'is', null), eb('expires', '>', now)]))
      .orderBy('start')
      .execute();
  }

  /** The agent's version: read before deciding, handed back to `book`. */
  async version(agent: string): Promise<number> {
    const row = await this.#db.selectFrom('calendar_version').select('version').where('agent', '=', agent).executeTakeFirst();
    return row ? Number(row.version) : 0;
  }

  /**
   * Writes a resource's decision in one transaction, only if the agent's version is still
   * `version`: replaces the UID's occurrences, stores the object and records the decision.
   * Throws BookingConflict when another writer came first.
   */
  async book(o: {
    agent: string;
    version: number;
    uid: string;
    occurrences: readonly OccurrenceRow[];
    object?: ObjectRow;
    deleteObject?: boolean;
    decision?: DecisionRow;
  }): Promise<void> {
    if (this.readOnly) return;
    await this.#db.transaction().execute(async (trx) => {
      if (o.version === 0) {
        const inserted = await trx
          .insertInto('calendar_version')
          .values({ agent: o.agent, version: 1 })
          .onConflict((oc) => oc.column('agent').doNothing())
          .executeTakeFirst();
        if (Number(inserted.numInsertedOrUpdatedRows ?? 0) !== 1) throw new BookingConflict();
      } else {
        const updated = await trx
          .updateTable('calendar_version')
          .set({ version: o.version + 1 })
          .where('agent', '=', o.agent)
          .where('version', '=', o.version)
          .executeTakeFirst();
        if (Number(updated.numUpdatedRows) !== 1) throw new BookingConflict();
      }
      await trx.deleteFrom('calendar_occurrence').where('agent', '=', o.agent).where('uid', '=', o.uid).execute();
      // In chunks: a year of a weekly series is one statement, not 52 (and stays under the
      // databases' limits on parameters per statement).
      for (let i = 0; i < o.occurrences.length; i += OCCURRENCES_PER_INSERT) {
        await trx
          .insertInto('calendar_occurrence')
          .values(o.occurrences.slice(i, i + OCCURRENCES_PER_INSERT))
          .execute();
      }
      if (o.deleteObject) await trx.deleteFrom('calendar_object').where('agent', '=', o.agent).where('uid', '=', o.uid).execute();
      if (o.object) await this.putObject(o.object, trx);
      if (o.decision) await trx.insertInto('calendar_decision').values(o.decision).execute();
    });
  }

  decisions(agent: string, limit = 50): Promise<DecisionRow[]> {
    return this.#db.selectFrom('calendar_decision').selectAll().where('agent', '=', agent).orderBy('at', 'desc').limit(limit).execute();
  }

  async putFreeBusy(agent: string, address: string, start: number, end: number, busy: readonly BusyPeriod[]): Promise<void> {
    if (this.readOnly) return;
    const row = { agent, address, start, end, busy: JSON.stringify(busy), received: Date.now() };
    await this.#db
      .insertInto('calendar_freebusy')
      .values(row)
      .onConflict((oc) => oc.columns(['agent', 'address']).doUpdateSet({ start, end, busy: row.busy, received: row.received }))
      .execute();
  }

  async freeBusyOf(agent: string, address: string): Promise<{ start: number; end: number; busy: BusyPeriod[] } | undefined> {
    const row = await this.#db
      .selectFrom('calendar_freebusy')
      .selectAll()
      .where('agent', '=', agent)
      .where('address', '=', address)
      .executeTakeFirst();
    return row ? { start: Number(row.start), end: Number(row.end), busy: JSON.parse(row.busy) as BusyPeriod[] } : undefined;
  }
}

/** A stored occurrence as the policies see it. */
export function toBooking(row: OccurrenceRow): Booking {
  const recurrence = Number(row.recurrence);
  return {
    uid: row.uid,
    start: Number(row.start),
    end: Number(row.end),
    organizer: row.organizer,
    type: row.type as BusyType,
    ...(recurrence ? { recurrenceId: recurrence } : {}),
  };
}
