// The store as a feature and a user see it, on both engines: migrations run once, owners share
// one history, data outlives a restart, failures are named and leave earlier work in place.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { type Kysely, sql } from 'kysely';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Migrations } from '../../src/core/component.js';
import { StoreError } from '../../src/core/errors.js';
import { Store } from '../../src/services/store/index.js';
import { createTestDatabase } from '../peers/postgres.js';

interface LogRecord {
  level: number;
  msg: string;
  owner?: string;
  migration?: string;
}

function capture(): { log: pino.Logger; records: LogRecord[] } {
  const records: LogRecord[] = [];
  const log = pino({ level: 'trace', base: undefined }, { write: (line: string) => void records.push(JSON.parse(line) as LogRecord) });
  return { log, records };
}

const quiet = pino({ level: 'silent' });

/** One engine: hands out a fresh, empty store URL per test and cleans up after the file. */
interface Engine {
  readonly name: 'sqlite' | 'postgres';
  readonly baseDir: string;
  fresh(): Promise<string>;
  /** A store that cannot be opened, and what its error must (and must not) say. */
  unreachable(): { url: string; mentions: string; never?: string };
  cleanup(): Promise<void>;
}

async function sqliteEngine(): Promise<Engine> {
  const dir = await mkdtemp(join(tmpdir(), 'porter-store-'));
  let n = 0;
  await writeFile(join(dir, 'not-a-folder'), '');
  return {
    name: 'sqlite',
    baseDir: dir,
    fresh: async () => `sqlite:store-${++n}.db`,
    unreachable: () => ({ url: 'sqlite:not-a-folder/porter.db', mentions: join(dir, 'not-a-folder', 'porter.db') }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

async function postgresEngine(): Promise<Engine> {
  const dir = await mkdtemp(join(tmpdir(), 'porter-store-'));
  const drops: (() => Promise<void>)[] = [];
  return {
    name: 'postgres',
    baseDir: dir,
    fresh: async () => {
      const db = await createTestDatabase();
      drops.push(db.drop);
      return db.url;
    },
    unreachable: () => {
      const name = `porter_nope_${randomBytes(6).toString('hex')}`;
      return { url: `postgres://postgres:secret@127.0.0.1:5432/${name}`, mentions: name, never: 'secret' };
    },
    cleanup: async () => {
      for (const drop of drops) await drop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

interface ItemTables {
  item: { id: number; label: string };
}

function createItem(table: string): Migrations[string] {
  return {
    async up(db) {
      await db.schema
        .createTable(table)
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('label', 'text', (c) => c.notNull())
        .execute();
    },
  };
}

function insertItem(table: string, id: number, label: string): Migrations[string] {
  return {
    async up(db) {
      await db.insertInto(table).values({ id, label }).execute();
    },
  };
}

async function recorded(store: Store): Promise<string[]> {
  const rows = await store
    .db<{ porter_migration: { name: string } }>()
    .selectFrom('porter_migration')
    .select('name')
    .orderBy('name')
    .execute();
  return rows.map((r) => r.name);
}

async function tableNames(db: Kysely<unknown>): Promise<string[]> {
  return (await db.introspection.getTables()).map((t) => t.name);
}

async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe.each([
  { name: 'sqlite', make: sqliteEngine },
  { name: 'postgres', make: postgresEngine },
])('store on $name', ({ make }) => {
  let engine: Engine;
  const open = async (url: string, log: pino.Logger = quiet) => Store.open(url, { baseDir: engine.baseDir, log });

  beforeAll(async () => {
    engine = await make();
  });
  afterAll(async () => {
    await engine?.cleanup();
  });

  it('applies migrations once each, in name order, and later only the new ones', async () => {
    const { log, records } = capture();
    const store = await open(await engine.fresh(), log);
    // Given out of order on purpose: the seed needs the table.
    const first: Migrations = { '0002_seed': insertItem('item', 1, 'one'), '0001_create': createItem('item') };
    await store.migrate('a', first);
    await store.migrate('a', first);
    const db = store.db<ItemTables>();
    expect(await db.selectFrom('item').selectAll().execute()).toEqual([{ id: 1, label: 'one' }]);

    records.length = 0;
    await store.migrate('a', { ...first, '0003_more': insertItem('item', 2, 'two') });
    expect(await db.selectFrom('item').select('label').orderBy('id').execute()).toEqual([{ label: 'one' }, { label: 'two' }]);
    expect(await recorded(store)).toEqual(['a/0001_create', 'a/0002_seed', 'a/0003_more']);
    const applied = records.filter((r) => r.msg === 'migration applied');
    expect(applied.map((r) => [r.owner, r.migration, r.level])).toEqual([['a', '0003_more', 20]]);
    expect(records.filter((r) => r.level >= 30)).toEqual([]);
    await store.close();
  });

  it('lets two owners use the same migration names without clashing', async () => {
    const store = await open(await engine.fresh());
    await store.migrate('a', { '0001_x': createItem('a_item') });
    await store.migrate('b', { '0001_x': createItem('b_item') });
    // Each owner's run must accept the other's history in the shared table.
    await store.migrate('a', { '0001_x': createItem('a_item'), '0002_y': insertItem('a_item', 1, 'a') });
    await store.migrate('b', { '0001_x': createItem('b_item') });
    expect(await recorded(store)).toEqual(['a/0001_x', 'a/0002_y', 'b/0001_x']);
    expect(await tableNames(store.db())).toEqual(expect.arrayContaining(['a_item', 'b_item']));
    await store.close();
  });

  it('inserts many rows at once, skipping keys already there, committed when it resolves', async () => {
    const url = await engine.fresh();
    const store = await open(url);
    await store.migrate('bulk', { '0001_item': createItem('item') });
    const rows = Array.from({ length: 2500 }, (_, i) => [i + 1, `row ${i + 1}`]);
    await store.insertMany('item', ['id', 'label'], rows);
    await store.insertMany(
      'item',
      ['id', 'label'],
      [
        [1, 'again'],
        [2501, 'new'],
      ],
    );
    const db = store.db<ItemTables>();
    const count = await db
      .selectFrom('item')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    expect(Number(count.n)).toBe(2501);
    expect(await db.selectFrom('item').select('label').where('id', 'in', [1, 2500, 2501]).orderBy('id').execute()).toEqual([
      { label: 'row 1' },
      { label: 'row 2500' },
      { label: 'new' },
    ]);
    expect(await caught(store.insertMany('item; drop table item', ['id'], [[1]]))).toBeInstanceOf(StoreError);
    expect(await caught(store.insertMany('missing_table', ['id'], [[1]]))).toBeInstanceOf(Error);
    const last = store.insertMany('item', ['id', 'label'], [[3000, 'last']]);
    await store.close(); // waits for the write under way: nothing acknowledged is lost
    await last;
    const again = await open(url);
    expect(await again.db<ItemTables>().selectFrom('item').select('label').where('id', '=', 3000).execute()).toEqual([{ label: 'last' }]);
    await again.close();
  });

  it('keeps data across close and reopen', async () => {
    interface NoteTables {
      note: { id: number; body: string; at: number };
    }
    const migrations: Migrations = {
      '0001_note': {
        async up(db) {
          await db.schema
            .createTable('note')
            .addColumn('id', 'integer', (c) => c.primaryKey())
            .addColumn('body', 'text', (c) => c.notNull())
            .addColumn('at', 'bigint', (c) => c.notNull())
            .execute();
        },
      },
    };
    const url = await engine.fresh();
    const first = await open(url);
    await first.migrate('notes', migrations);
    await first.db<NoteTables>().insertInto('note').values({ id: 1, body: 'hello', at: 1_700_000_000_123 }).execute();
    await first.close();
    await first.close();

    const second = await open(url);
    await second.migrate('notes', migrations);
    // bigint comes back as a number on both engines.
    expect(await second.db<NoteTables>().selectFrom('note').selectAll().execute()).toEqual([
      { id: 1, body: 'hello', at: 1_700_000_000_123 },
    ]);
    await second[Symbol.asyncDispose]();
    expect(() => second.db()).toThrow(StoreError);
  });

  it('names the owner and migration that failed, keeps the earlier ones, and leaves nothing half-done', async () => {
    const store = await open(await engine.fresh());
    const bad: Migrations[string] = {
      async up(db) {
        await db.schema.createTable('half').addColumn('id', 'integer').execute();
        await sql`select * from no_such_table`.execute(db);
      },
    };
    const error = await caught(store.migrate('fails', { '0001_ok': createItem('ok_item'), '0002_bad': bad }));
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).code).toBe('PORTER_ERR_STORE');
    expect((error as StoreError).message).toMatch(/"0002_bad" of "fails"/);
    expect((error as StoreError).message).toMatch(/no_such_table/);
    expect((error as StoreError).cause).toBeInstanceOf(Error);
    expect(await recorded(store)).toEqual(['fails/0001_ok']);
    const tables = await tableNames(store.db());
    expect(tables).toContain('ok_item');
    expect(tables).not.toContain('half');

    // Fixed in the next release: the start after that applies it.
    await store.migrate('fails', { '0001_ok': createItem('ok_item'), '0002_bad': createItem('half') });
    expect(await recorded(store)).toEqual(['fails/0001_ok', 'fails/0002_bad']);
    await store.close();
  });

  it('refuses a feature that dropped a migration it had applied', async () => {
    const store = await open(await engine.fresh());
    await store.migrate('gone', { '0001_a': createItem('gone_item'), '0002_b': insertItem('gone_item', 1, 'x') });
    const error = await caught(store.migrate('gone', { '0002_b': insertItem('gone_item', 1, 'x') }));
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).message).toMatch(/"gone".*gone\/0001_a is missing/);
    await store.close();
  });

  it('runs concurrent migrate calls for two owners', async () => {
    const store = await open(await engine.fresh());
    const three = (t: string): Migrations => ({ '0001': createItem(t), '0002': insertItem(t, 1, 'x'), '0003': insertItem(t, 2, 'y') });
    await Promise.all([
      store.migrate('c1', three('c1_item')),
      store.migrate('c2', three('c2_item')),
      store.migrate('c1', three('c1_item')),
    ]);
    expect(await recorded(store)).toEqual(['c1/0001', 'c1/0002', 'c1/0003', 'c2/0001', 'c2/0002', 'c2/0003']);
    const db = store.db<{ c1_item: ItemTables['item']; c2_item: ItemTables['item'] }>();
    expect(await db.selectFrom('c1_item').select('id').execute()).toHaveLength(2);
    expect(await db.selectFrom('c2_item').select('id').execute()).toHaveLength(2);
    await store.close();
  });

  it('says which store it could not open, without the password', async () => {
    const { url, mentions, never } = engine.unreachable();
    const error = await caught(open(url));
    expect(error).toBeInstanceOf(StoreError);
    const message = (error as StoreError).message;
    expect(message).toContain(mentions);
    if (never) expect(message).not.toContain(never);
    if (engine.name === 'postgres') expect(message).toMatch(/does not exist/);
  });

  it('describes itself for the start-up line', async () => {
    const store = await open(await engine.fresh());
    expect(store.dialect).toBe(engine.name);
    expect(store.description).toMatch(
      engine.name === 'sqlite' ? /^sqlite \/.*store-\d+\.db$/ : /^postgres 127\.0\.0\.1:5432\/porter_test_[0-9a-f]+$/,
    );
    await store.close();
  });
});

describe('store on postgres shared by several porter instances', () => {
  let url: string;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    ({ url, drop } = await createTestDatabase());
  });
  afterAll(async () => {
    await drop?.();
  });

  it('applies each migration once when instances migrate at the same time', async () => {
    const stores = await Promise.all([1, 2, 3].map(() => Store.open(url, { baseDir: tmpdir(), log: quiet })));
    const migrations: Migrations = {
      '0001': createItem('item'),
      '0002': insertItem('item', 1, 'once'),
      '0003': insertItem('item', 2, 'twice'),
    };
    await Promise.all(stores.map((s) => s.migrate('shared', migrations)));
    const [first] = stores;
    expect(await first?.db<ItemTables>().selectFrom('item').select('label').orderBy('id').execute()).toEqual([
      { label: 'once' },
      { label: 'twice' },
    ]);
    await Promise.all(stores.map((s) => s.close()));
  });
});

describe('store in a sqlite file', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'porter-store-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates missing folders and uses WAL, NORMAL sync and foreign keys', async () => {
    const file = join(dir, 'data', 'deeper', 'porter.db');
    expect(existsSync(join(dir, 'data'))).toBe(false);
    const store = await Store.open('sqlite:data/deeper/porter.db', { baseDir: dir, log: quiet });
    expect(existsSync(file)).toBe(true);
    expect(store.description).toBe(`sqlite ${file}`);
    const db = store.db<Record<string, never>>();
    expect((await sql<{ journal_mode: string }>`pragma journal_mode`.execute(db)).rows).toEqual([{ journal_mode: 'wal' }]);
    expect((await sql<{ synchronous: number }>`pragma synchronous`.execute(db)).rows).toEqual([{ synchronous: 1 }]);
    expect((await sql<{ foreign_keys: number }>`pragma foreign_keys`.execute(db)).rows).toEqual([{ foreign_keys: 1 }]);
    expect((await sql<{ timeout: number }>`pragma busy_timeout`.execute(db)).rows).toEqual([{ timeout: 5000 }]);
    await store.close();

    // WAL is a property of the file: another program opening it sees it too.
    const raw = new Database(file, { readonly: true });
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    raw.close();
  });

  it('opens a bare file name and an in-memory database', async () => {
    const bare = await Store.open('bare.sqlite3', { baseDir: dir, log: quiet });
    expect(bare.description).toBe(`sqlite ${join(dir, 'bare.sqlite3')}`);
    await bare.close();
    const memory = await Store.open('sqlite::memory:', { baseDir: dir, log: quiet });
    await memory.migrate('m', { '0001': createItem('item') });
    expect(await recorded(memory)).toEqual(['m/0001']);
    await memory.close();
  });
});

describe('store URLs that are not accepted', () => {
  it.each(['mysql://x', '', 'sqlite://data/porter.db'])('rejects %j and lists the accepted forms', async (url) => {
    const error = await caught(Store.open(url, { baseDir: tmpdir(), log: quiet }));
    expect(error).toBeInstanceOf(StoreError);
    const message = (error as StoreError).message;
    expect(message).toContain('sqlite:');
    if (url !== 'sqlite://data/porter.db') expect(message).toContain('postgres://');
  });
});
