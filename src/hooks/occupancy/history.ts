/**
 * The board's memory in the store: every PC change (`occupancy_update`), each PC's latest state
 * (`occupancy_pc`), and the rest of the state that must outlive a restart (versions, room map,
 * tags, schedule: `occupancy_meta`, JSON by key). Writes go behind the pushes, in batches.
 *
 * API:
 *   occupancyMigrations, OCCUPANCY_MIGRATION_OWNER ('occupancy')
 *   new OccupancyHistory(store, board, log)          board: the hook's name; boards share tables
 *   history.open() → PersistedState                   what the last run left (call once, first)
 *   history.record(pc, source, at, state)             one change, written behind (≤ 20 ms)
 *   history.saveMeta(key, value)                      one meta value, written behind
 *   history.historicUpdates(offset, count)            tkbd's get_historic_updates, oldest first
 *   history.query({from, to, pcs, offset, limit})     the HTTP API: a page and the total count
 *   history.flush(), history.close()                  close does not close the store
 *
 * Every change gets a dense sequence number (`seq`, 0, 1, 2, … per board, continued from the
 * stored maximum at open), so `get_historic_updates` at offset N is a primary-key range read
 * (`seq >= N order by seq limit count`), as fast at row 5,000,000 as at row 0. One porter
 * process writes a board's history; two instances sharing a PostgreSQL database need two
 * boards (hook names).
 */
import type { Kysely } from 'kysely';
import type { Migrations } from '../../core/component.js';
import type { Logger } from '../../core/log.js';
import type { Store } from '../../services/store/index.js';
import { PC_STATES, type PcState } from './protocol.js';
import type { StateSnapshot, Versions } from './state.js';

export const OCCUPANCY_MIGRATION_OWNER = 'occupancy';

export interface OccupancyTables {
  occupancy_update: {
    board: string;
    seq: number;
    pc: string;
    source: string;
    /** ms since the epoch. */
    at: number;
    state: string;
  };
  occupancy_pc: {
    board: string;
    pc: string;
    state: string;
    /** The `occupancy_update` row that set this state. */
    seq: number;
  };
  occupancy_meta: {
    board: string;
    key: string;
    /** JSON. */
    value: string;
  };
}

export const occupancyMigrations: Migrations = {
  '0001_occupancy_history': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('occupancy_update')
        .addColumn('board', 'text', (c) => c.notNull())
        .addColumn('seq', 'bigint', (c) => c.notNull())
        .addColumn('pc', 'text', (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('occupancy_update_pk', ['board', 'seq'])
        .execute();
      // Time ranges, and one PC's history, for the HTTP API.
      await db.schema.createIndex('occupancy_update_at').on('occupancy_update').columns(['board', 'at']).execute();
      await db.schema.createIndex('occupancy_update_pc').on('occupancy_update').columns(['board', 'pc', 'seq']).execute();
      await db.schema
        .createTable('occupancy_pc')
        .addColumn('board', 'text', (c) => c.notNull())
        .addColumn('pc', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('seq', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('occupancy_pc_pk', ['board', 'pc'])
        .execute();
      await db.schema
        .createTable('occupancy_meta')
        .addColumn('board', 'text', (c) => c.notNull())
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('value', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('occupancy_meta_pk', ['board', 'key'])
        .execute();
    },
  },
};

/** One recorded change. */
export interface HistoryRecord {
  readonly seq: number;
  readonly pc: string;
  readonly source: string;
  /** ms since the epoch. */
  readonly at: number;
  readonly state: PcState;
}

/** tkbd's `[pc, source, unixSeconds, state]`. */
export type HistoricUpdate = [pc: string, source: string, unixSeconds: number, state: PcState];

export interface HistoryQuery {
  /** From this time on (ms since the epoch, inclusive). */
  readonly from?: number;
  /** Before this time (ms since the epoch, exclusive). */
  readonly to?: number;
  /** Only these PCs (lower-case names); an empty list matches nothing. Undefined: every PC. */
  readonly pcs?: readonly string[];
  /** Records to skip, oldest first. Default 0. */
  readonly offset?: number;
  /** At most this many records, clamped to 0‥MAX_QUERY_LIMIT. Default 1000. */
  readonly limit?: number;
}

export interface HistoryPage {
  /** How many records match, over all pages. */
  readonly total: number;
  readonly offset: number;
  readonly limit: number;
  /** Oldest first. */
  readonly records: readonly HistoryRecord[];
}

/** What the last run left, for the service to start from. */
export interface PersistedState {
  /** Undefined for a board that has never run. */
  readonly snapshot: StateSnapshot | undefined;
  /** The stream sequence number last saved (see the service), or -1. */
  readonly streamSeq: number;
  /** Changes found in `occupancy_update` that the saved state did not yet include (after a crash). */
  readonly recovered: number;
}

/** tkbd clamps `count` to this. */
export const MAX_HISTORIC_COUNT = 1000;
export const MAX_QUERY_LIMIT = 100_000;
const DEFAULT_QUERY_LIMIT = 1000;
const FLUSH_DELAY_MS = 20; // A change waits at most this long before it is written.
const FLUSH_ROWS = 5000; // ... or until this many are waiting.
/** Rows per upsert statement: well under SQLite's and PostgreSQL's parameter limits. */
const UPSERT_ROWS = 500;
const UPDATE_COLUMNS = ['board', 'seq', 'pc', 'source', 'at', 'state'] as const;
/** The meta key under which the seq of the last change covered by `occupancy_pc` is kept. */
const SAVED_SEQ_KEY = 'savedSeq';
const VALID_STATES: ReadonlySet<string> = new Set(PC_STATES);

type UpdateRow = [board: string, seq: number, pc: string, source: string, at: number, state: PcState];

export class OccupancyHistory {
  readonly #store: Store;
  readonly #board: string;
  readonly #log: Logger;
  #nextSeq = 0;
  #pending: UpdateRow[] = [];
  /** pc → [state, seq]: the latest of each PC among the pending rows. */
  #pendingPcs = new Map<string, [PcState, number]>();
  #pendingMeta = new Map<string, string>();
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(store: Store, board: string, log: Logger) {
    this.#store = store;
    this.#board = board;
    this.#log = log;
  }

  get #db(): Kysely<OccupancyTables> {
    return this.#store.db<OccupancyTables>();
  }

  /** The seq the next change gets; also the number of changes ever recorded. */
  get nextSeq(): number {
    return this.#nextSeq;
  }

  /**
   * Reads what the last run left: the saved state, each PC's latest state, and the next seq.
   * Changes written after the last saved state (a crash between the two writes) are applied
   * on top, and count as one more occupation version.
   */
  async open(): Promise<PersistedState> {
    const db = this.#db;
    const board = this.#board;
    const max = await db
      .selectFrom('occupancy_update')
      .select((eb) => eb.fn.max('seq').as('max'))
      .where('board', '=', board)
      .executeTakeFirst();
    this.#nextSeq = max?.max === null || max?.max === undefined ? 0 : Number(max.max) + 1;

    const meta = new Map<string, unknown>();
    for (const row of await db.selectFrom('occupancy_meta').select(['key', 'value']).where('board', '=', board).execute()) {
      try {
        meta.set(row.key, JSON.parse(row.value));
      } catch (error) {
        this.#log.warn({ err: error, key: row.key }, 'ignoring an unreadable saved occupancy value');
      }
    }
    const occupation: Record<string, PcState> = {};
    for (const row of await db.selectFrom('occupancy_pc').select(['pc', 'state']).where('board', '=', board).execute()) {
      if (VALID_STATES.has(row.state)) occupation[row.pc] = row.state as PcState;
    }
    const savedSeq = typeof meta.get(SAVED_SEQ_KEY) === 'number' ? (meta.get(SAVED_SEQ_KEY) as number) : -1;
    const missed = await db
      .selectFrom('occupancy_update')
      .select(['pc', 'state'])
      .where('board', '=', board)
      .where('seq', '>', savedSeq)
      .orderBy('seq')
      .execute();
    for (const row of missed) if (VALID_STATES.has(row.state)) occupation[row.pc] = row.state as PcState;

    const savedVersions = meta.get('versions') as (Versions & { seq?: number }) | undefined;
    const hasState = savedVersions !== undefined || Object.keys(occupation).length > 0;
    if (missed.length > 0) this.#log.info({ recovered: missed.length }, 'recovered occupancy changes the last run did not finish saving');
    if (!hasState) return { snapshot: undefined, streamSeq: -1, recovered: 0 };
    const versions: Versions = {
      occupation: numberOr(savedVersions?.occupation, 0) + (missed.length > 0 ? 1 : 0),
      roomMap: numberOr(savedVersions?.roomMap, 0),
      tagMap: numberOr(savedVersions?.tagMap, 0),
      schedule: numberOr(savedVersions?.schedule, 0),
    };
    return {
      snapshot: {
        versions,
        occupation,
        roomMap: objectOr(meta.get('roomMap')) as StateSnapshot['roomMap'],
        tagMap: objectOr(meta.get('tagMap')) as StateSnapshot['tagMap'],
        schedule: objectOr(meta.get('schedule')) as StateSnapshot['schedule'],
      },
      streamSeq: numberOr(savedVersions?.seq, -1),
      recovered: missed.length,
    };
  }

  /** Records one change; it is written within 20 ms, and before any read. */
  record(pc: string, source: string, at: number, state: PcState): void {
    if (this.#closed) throw new Error('occupancy history is closed');
    const seq = this.#nextSeq++;
    this.#pending.push([this.#board, seq, pc, source, at, state]);
    this.#pendingPcs.set(pc, [state, seq]);
    this.#schedule();
  }

  /** Saves one meta value (any JSON); the latest value of a key wins, written behind. */
  saveMeta(key: string, value: unknown): void {
    if (this.#closed) throw new Error('occupancy history is closed');
    this.#pendingMeta.set(key, JSON.stringify(value));
    this.#schedule();
  }

  /** tkbd's `get_historic_updates`: `count` (clamped to 0‥1000) changes from the `offset`th, oldest first. */
  async historicUpdates(offset: number, count: number): Promise<HistoricUpdate[]> {
    const from = Math.max(0, Math.floor(offset));
    const limit = Math.min(MAX_HISTORIC_COUNT, Math.max(0, Math.floor(count)));
    if (limit === 0 || !Number.isFinite(from)) return [];
    await this.flush();
    const rows = await this.#db
      .selectFrom('occupancy_update')
      .select(['pc', 'source', 'at', 'state'])
      .where('board', '=', this.#board)
      .where('seq', '>=', from)
      .orderBy('seq')
      .limit(limit)
      .execute();
    // tkbd records whole seconds (int(time.time())).
    return rows.map((r) => [r.pc, r.source, Math.floor(Number(r.at) / 1000), r.state as PcState]);
  }

  /** A page of changes matching a time range and PC list, oldest first, with the total count. */
  async query(query: HistoryQuery = {}): Promise<HistoryPage> {
    const offset = Math.max(0, Math.floor(query.offset ?? 0));
    const limit = Math.min(MAX_QUERY_LIMIT, Math.max(0, Math.floor(query.limit ?? DEFAULT_QUERY_LIMIT)));
    if (query.pcs?.length === 0) return { total: 0, offset, limit, records: [] };
    await this.flush();
    let base = this.#db.selectFrom('occupancy_update').where('board', '=', this.#board);
    if (query.from !== undefined) base = base.where('at', '>=', query.from);
    if (query.to !== undefined) base = base.where('at', '<', query.to);
    if (query.pcs !== undefined) base = base.where('pc', 'in', [...query.pcs]);
    const counted = await base.select((eb) => eb.fn.countAll().as('total')).executeTakeFirst();
    const total = Number(counted?.total ?? 0);
    const rows =
      limit === 0 || offset >= total
        ? []
        : await base.select(['seq', 'pc', 'source', 'at', 'state']).orderBy('seq').limit(limit).offset(offset).execute();
    return {
      total,
      offset,
      limit,
      records: rows.map((r) => ({ seq: Number(r.seq), pc: r.pc, source: r.source, at: Number(r.at), state: r.state as PcState })),
    };
  }

  /** Writes everything pending; resolves once it is in the store. */
  flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending.length === 0 && this.#pendingMeta.size === 0) return this.#flushing;
    const rows = this.#pending;
    const pcs = this.#pendingPcs;
    const meta = this.#pendingMeta;
    this.#pending = [];
    this.#pendingPcs = new Map();
    this.#pendingMeta = new Map();
    this.#flushing = this.#flushing.then(() => this.#write(rows, pcs, meta));
    return this.#flushing;
  }

  /** Writes what is pending and stops; later `record` calls throw. The store stays open. */
  async close(): Promise<void> {
    await this.flush();
    this.#closed = true;
  }

  #schedule(): void {
    if (this.#pending.length >= FLUSH_ROWS) void this.flush();
    else this.#timer ??= setTimeout(() => void this.flush(), FLUSH_DELAY_MS);
  }

  async #write(rows: UpdateRow[], pcs: Map<string, [PcState, number]>, meta: Map<string, string>): Promise<void> {
    const board = this.#board;
    try {
      // The log first: if the process dies before the state below is saved, open() finds
      // these rows past the saved seq and applies them again.
      await this.#store.insertMany('occupancy_update', UPDATE_COLUMNS, rows);
    } catch (error) {
      this.#log.error({ err: error, rows: rows.length }, 'cannot record occupancy changes; they are missing from the history');
    }
    const lastRow = rows.at(-1);
    if (lastRow) meta.set(SAVED_SEQ_KEY, JSON.stringify(lastRow[1]));
    try {
      await this.#db.transaction().execute(async (trx) => {
        const pcRows = [...pcs].map(([pc, [state, seq]]) => ({ board, pc, state, seq }));
        for (let i = 0; i < pcRows.length; i += UPSERT_ROWS) {
          await trx
            .insertInto('occupancy_pc')
            .values(pcRows.slice(i, i + UPSERT_ROWS))
            .onConflict((oc) =>
              oc.columns(['board', 'pc']).doUpdateSet((eb) => ({ state: eb.ref('excluded.state'), seq: eb.ref('excluded.seq') })),
            )
            .execute();
        }
        const metaRows = [...meta].map(([key, value]) => ({ board, key, value }));
        if (metaRows.length > 0) {
          await trx
            .insertInto('occupancy_meta')
            .values(metaRows)
            .onConflict((oc) => oc.columns(['board', 'key']).doUpdateSet((eb) => ({ value: eb.ref('excluded.value') })))
            .execute();
        }
      });
    } catch (error) {
      this.#log.error({ err: error }, 'cannot save the occupancy state; a restart may go back to an older one');
    }
  }
}

function numberOr(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}

function objectOr(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}
