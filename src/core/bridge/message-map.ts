/**
 * The map from a bridged message to its copies on other channels, kept in the store so edits,
 * deletes and replies still map after a restart. Writes are batched (a bridge at full speed
 * would otherwise wait on one insert per copy); lookups see unflushed rows through the cache.
 */
import type { Kysely } from 'kysely';
import type { Migrations } from '../component.js';
import type { Logger } from '../log.js';

export interface BridgeTables {
  bridge_message: {
    bridge: string;
    ref: string;
    channel: string;
    message_id: string;
    at: number;
  };
}

export const bridgeMigrations: Migrations = {
  '0001_bridge_message': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('bridge_message')
        .addColumn('bridge', 'text', (c) => c.notNull())
        .addColumn('ref', 'text', (c) => c.notNull())
        .addColumn('channel', 'text', (c) => c.notNull())
        .addColumn('message_id', 'text', (c) => c.notNull())
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('bridge_message_pk', ['bridge', 'channel', 'message_id'])
        .execute();
      await db.schema.createIndex('bridge_message_ref').on('bridge_message').columns(['bridge', 'ref']).execute();
    },
  },
};

const FLUSH_DELAY_MS = 20; // Rows wait at most this long before they are written.
const FLUSH_ROWS = 500; // ... or until this many are waiting.
const CACHE_REFS = 20_000; // Recently bridged messages kept in memory.

type Row = BridgeTables['bridge_message'];

/** Copies of one bridged message: channel key → message ids there (a long message may be several). */
export type Copies = Map<string, string[]>;

export class MessageMap {
  readonly #db: Kysely<BridgeTables>;
  readonly #bridge: string;
  readonly #log: Logger;
  // Two generations each: when the young one is full it becomes the old one and the oldest is
  // dropped whole. (Evicting one by one from a Map's front is slow: V8 walks its deleted slots.)
  /** `channel\0id` → ref */
  #refs = new Map<string, string>();
  #oldRefs = new Map<string, string>();
  /** ref → copies */
  #copies = new Map<string, Copies>();
  #oldCopies = new Map<string, Copies>();
  #pending: Row[] = [];
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();

  constructor(db: Kysely<BridgeTables>, bridge: string, log: Logger) {
    this.#db = db;
    this.#bridge = bridge;
    this.#log = log;
  }

  /** Records that `id` in `channel` belongs to the bridged message `ref`. */
  add(ref: string, channel: string, ids: readonly string[]): void {
    let copies = this.#cachedCopies(ref);
    if (!copies) {
      copies = new Map();
      this.#cacheCopies(ref, copies);
    }
    const list = copies.get(channel) ?? [];
    const at = Date.now();
    for (const id of ids) {
      if (list.includes(id)) continue;
      list.push(id);
      this.#setRef(`${channel}\u0000${id}`, ref);
      this.#pending.push({ bridge: this.#bridge, ref, channel, message_id: id, at });
    }
    copies.set(channel, list);
    if (this.#pending.length >= FLUSH_ROWS) void this.flush();
    else if (!this.#timer) this.#timer = setTimeout(() => void this.flush(), FLUSH_DELAY_MS);
  }

  /** The ref of the bridged message that `id` in `channel` is part of. */
  async refOf(channel: string, id: string): Promise<string | undefined> {
    const key = `${channel}\u0000${id}`;
    const cached = this.#refs.get(key) ?? this.#oldRefs.get(key);
    if (cached) return cached;
    await this.flush();
    const row = await this.#db
      .selectFrom('bridge_message')
      .select('ref')
      .where('bridge', '=', this.#bridge)
      .where('channel', '=', channel)
      .where('message_id', '=', id)
      .executeTakeFirst();
    return row?.ref;
  }

  /** All copies of the bridged message `ref`. */
  async copiesOf(ref: string): Promise<Copies> {
    const cached = this.#cachedCopies(ref);
    if (cached) return cached;
    await this.flush();
    const rows = await this.#db
      .selectFrom('bridge_message')
      .select(['channel', 'message_id'])
      .where('bridge', '=', this.#bridge)
      .where('ref', '=', ref)
      .orderBy('at')
      .execute();
    const copies: Copies = new Map();
    for (const r of rows) {
      const list = copies.get(r.channel) ?? [];
      list.push(r.message_id);
      copies.set(r.channel, list);
      this.#setRef(`${r.channel}\u0000${r.message_id}`, ref);
    }
    if (rows.length > 0) this.#cacheCopies(ref, copies);
    return copies;
  }

  /** Writes every pending row; resolves once they are in the store. */
  flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending.length === 0) return this.#flushing;
    const rows = this.#pending;
    this.#pending = [];
    this.#flushing = this.#flushing.then(async () => {
      try {
        for (let i = 0; i < rows.length; i += FLUSH_ROWS) {
          await this.#db
            .insertInto('bridge_message')
            .values(rows.slice(i, i + FLUSH_ROWS))
            .onConflict((oc) => oc.doNothing())
            .execute();
        }
      } catch (error) {
        this.#log.error({ err: error, rows: rows.length }, 'cannot record bridged messages; edits of them will not map');
      }
    });
    return this.#flushing;
  }

  #cachedCopies(ref: string): Copies | undefined {
    return this.#copies.get(ref) ?? this.#oldCopies.get(ref);
  }

  #cacheCopies(ref: string, copies: Copies): void {
    this.#copies.set(ref, copies);
    if (this.#copies.size >= CACHE_REFS) {
      this.#oldCopies = this.#copies;
      this.#copies = new Map();
    }
  }

  #setRef(key: string, ref: string): void {
    this.#refs.set(key, ref);
    if (this.#refs.size >= CACHE_REFS * 4) {
      this.#oldRefs = this.#refs;
      this.#refs = new Map();
    }
  }
}
