/**
 * The map from a bridged message to its copies on other channels, kept in the store so edits,
 * deletes and replies still map after a restart. One row per copy, naming the original; the
 * original itself needs no row. Writes are batched (a bridge at full speed would otherwise wait
 * on one insert per copy) and lookups flush first, so they see every copy made so far.
 */
import { type Kysely, sql } from 'kysely';
import type { Store } from '../../services/store/index.js';
import type { Migrations } from '../component.js';
import type { Logger } from '../log.js';

export interface BridgeTables {
  bridge_copy: {
    bridge: string;
    /** Where the copy is: channel key and the id the network gave it. */
    channel: string;
    message_id: string;
    /** The original it is a copy of. */
    source_channel: string;
    source_id: string;
    /** When the copy was made, ms since the epoch. */
    at: number;
  };
}

export const bridgeMigrations: Migrations = {
  // The first map: a row per message, copies and original alike, joined by a `ref`.
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
  // A row per copy naming its original: half the writes, and the original needs no row. The
  // old rows carry over (an original's ref was `channel/id` of its own row).
  '0002_bridge_copy': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('bridge_copy')
        .addColumn('bridge', 'text', (c) => c.notNull())
        .addColumn('channel', 'text', (c) => c.notNull())
        .addColumn('message_id', 'text', (c) => c.notNull())
        .addColumn('source_channel', 'text', (c) => c.notNull())
        .addColumn('source_id', 'text', (c) => c.notNull())
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('bridge_copy_pk', ['bridge', 'channel', 'message_id'])
        .execute();
      await db.schema.createIndex('bridge_copy_source').on('bridge_copy').columns(['bridge', 'source_channel', 'source_id']).execute();
      const old = (await db.introspection.getTables()).find((t) => t.name === 'bridge_message');
      if (old?.columns.some((c) => c.name === 'source_id')) {
        // A development build wrote the new layout under the old name: copy it as it is.
        await sql`
          insert into bridge_copy (bridge, channel, message_id, source_channel, source_id, at)
          select bridge, channel, message_id, source_channel, source_id, at from bridge_message`.execute(db);
      } else {
        await sql`
          insert into bridge_copy (bridge, channel, message_id, source_channel, source_id, at)
          select c.bridge, c.channel, c.message_id, s.channel, s.message_id, c.at
          from bridge_message c
          join bridge_message s on s.bridge = c.bridge and s.ref = c.ref and s.ref = s.channel || '/' || s.message_id
          where c.ref <> c.channel || '/' || c.message_id`.execute(db);
      }
      await db.schema.dropTable('bridge_message').execute();
    },
  },
};

const FLUSH_DELAY_MS = 20; // Rows wait at most this long before they are written.
const FLUSH_ROWS = 1000; // ... or until this many are waiting.
const COLUMNS = ['bridge', 'channel', 'message_id', 'source_channel', 'source_id', 'at'] as const;

/** The original message a bridged message stems from. */
export interface Original {
  readonly channel: string;
  readonly id: string;
}

/** Copies of one bridged message: channel key → message ids there (a long message may be several), the original included. */
export type Copies = Map<string, string[]>;

type Row = [bridge: string, channel: string, messageId: string, sourceChannel: string, sourceId: string, at: number];

export class MessageMap {
  readonly #store: Store;
  readonly #bridge: string;
  readonly #log: Logger;
  #pending: Row[] = [];
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();

  constructor(store: Store, bridge: string, log: Logger) {
    this.#store = store;
    this.#bridge = bridge;
    this.#log = log;
  }

  get #db(): Kysely<BridgeTables> {
    return this.#store.db<BridgeTables>();
  }

  /** Records that `ids` in `channel` are copies of `original`. */
  add(original: Original, channel: string, ids: readonly string[]): void {
    const at = Date.now();
    for (const id of ids) this.#pending.push([this.#bridge, channel, id, original.channel, original.id, at]);
    if (this.#pending.length >= FLUSH_ROWS) void this.flush();
    else if (!this.#timer) this.#timer = setTimeout(() => void this.flush(), FLUSH_DELAY_MS);
  }

  /** The original of message `id` in `channel`: the message it is a copy of, or itself. */
  async originalOf(channel: string, id: string): Promise<Original> {
    await this.flush();
    const row = await this.#db
      .selectFrom('bridge_copy')
      .select(['source_channel', 'source_id'])
      .where('bridge', '=', this.#bridge)
      .where('channel', '=', channel)
      .where('message_id', '=', id)
      .executeTakeFirst();
    return row ? { channel: row.source_channel, id: row.source_id } : { channel, id };
  }

  /** Every copy of `original`, the original included, oldest first. */
  async copiesOf(original: Original): Promise<Copies> {
    await this.flush();
    const rows = await this.#db
      .selectFrom('bridge_copy')
      .select(['channel', 'message_id'])
      .where('bridge', '=', this.#bridge)
      .where('source_channel', '=', original.channel)
      .where('source_id', '=', original.id)
      .orderBy('at')
      .execute();
    const copies: Copies = new Map([[original.channel, [original.id]]]);
    for (const r of rows) {
      const list = copies.get(r.channel);
      if (list) list.push(r.message_id);
      else copies.set(r.channel, [r.message_id]);
    }
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
        await this.#store.insertMany('bridge_copy', COLUMNS, rows);
      } catch (error) {
        this.#log.error({ err: error, rows: rows.length }, 'cannot record bridged messages; edits of them will not map');
      }
    });
    return this.#flushing;
  }
}
