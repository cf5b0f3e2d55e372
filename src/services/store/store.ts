// The store: one database (SQLite file or PostgreSQL) that every plug and hook shares, each
// feature keeping its own tables and applying its own migrations under its name.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import {
  Kysely,
  type Migration,
  type MigrationProvider,
  type MigrationResultSet,
  Migrator,
  PostgresDialect,
  SqliteDialect,
  sql,
} from 'kysely';
import type pg from 'pg';
import type { Migrations } from '../../core/component.js';
import { StoreError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { SqliteWriter } from './sqlite-writer.js';
import { describeStore, parseStoreUrl, type StoreLocation } from './url.js';

export interface StoreOptions {
  /** Where relative SQLite paths start: the config file's folder. */
  readonly baseDir: string;
  readonly log: Logger;
}

export const MIGRATION_TABLE = 'porter_migration';
export const MIGRATION_LOCK_TABLE = 'porter_migration_lock';

interface MigrationTables {
  porter_migration: { name: string; timestamp: string };
}

/** PostgreSQL `bigint` (and `count(*)`) read as numbers, as SQLite returns them, so a feature reads the same types from either engine. */
const PG_INT8_OID = 20;
const PG_POOL_SIZE = 10;
/** A host that drops packets would otherwise hang start-up forever. */
const PG_CONNECT_TIMEOUT_MS = 15_000;
const SQLITE_BUSY_TIMEOUT_MS = 5000;
/** PostgreSQL allows 65535 parameters per statement; rows of a few columns stay well under. */
const PG_INSERT_ROWS = 1000;
const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;
/** From this many rows a SQLite batch (about 3 µs a row) is worth a writer thread's memory. */
const WRITER_THREAD_ROWS = 100;

export class Store implements AsyncDisposable {
  readonly dialect: 'sqlite' | 'postgres';
  /** For the start-up line and errors; never holds a password. */
  readonly description: string;

  readonly #location: StoreLocation;
  readonly #kysely: Kysely<MigrationTables>;
  readonly #log: Logger;
  /** SQLite only: the one connection, read directly while the migrator holds Kysely's. */
  readonly #sqlite: Database.Database | undefined;
  /** Kysely's migrator must not run twice at once on SQLite, so migrations queue here. */
  #migrations: Promise<void> = Promise.resolve();
  #closing: Promise<void> | undefined;
  /** `insertMany` calls under way. */
  readonly #writes = new Set<Promise<void>>();
  /** SQLite files only: the thread that runs `insertMany`, started on first use. */
  #writer: SqliteWriter | undefined;
  /** SQLite: `insertMany` statements run on this thread, prepared once per table and columns. */
  readonly #inserts = new Map<string, (rows: readonly (readonly unknown[])[]) => void>();

  private constructor(location: StoreLocation, kysely: Kysely<MigrationTables>, log: Logger, sqlite?: Database.Database) {
    this.dialect = location.dialect;
    this.description = describeStore(location);
    this.#location = location;
    this.#kysely = kysely;
    this.#log = log;
    this.#sqlite = sqlite;
  }

  /** Opens the store named by a `store:` config value and checks that it answers. */
  static async open(url: string, options: StoreOptions): Promise<Store> {
    const location = parseStoreUrl(url, options.baseDir);
    const store =
      location.dialect === 'sqlite' ? Store.#openSqlite(location, options.log) : await Store.#openPostgres(location, options.log);
    try {
      await sql`select 1`.execute(store.#kysely);
    } catch (error) {
      await store.close().catch(() => {});
      throw new StoreError(`cannot connect to ${store.description}: ${reason(error, location)}`, { cause: error });
    }
    options.log.debug({ store: store.description }, 'store open');
    return store;
  }

  static #openSqlite(location: Extract<StoreLocation, { dialect: 'sqlite' }>, log: Logger): Store {
    const description = describeStore(location);
    let database: Database.Database;
    try {
      if (location.file !== ':memory:') mkdirSync(dirname(location.file), { recursive: true });
      database = new Database(location.file, { timeout: SQLITE_BUSY_TIMEOUT_MS });
    } catch (error) {
      throw new StoreError(`cannot open ${description}: ${reason(error, location)}`, { cause: error });
    }
    try {
      // WAL lets readers (a second process, `sqlite3` at the shell) work while porter writes;
      // NORMAL is safe under WAL and avoids an fsync per commit.
      database.pragma('journal_mode = WAL');
      database.pragma('synchronous = NORMAL');
      database.pragma('foreign_keys = ON');
      database.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
    } catch (error) {
      database.close();
      throw new StoreError(`cannot open ${description}: ${reason(error, location)}`, { cause: error });
    }
    return new Store(location, new Kysely({ dialect: new SqliteDialect({ database }) }), log, database);
  }

  static async #openPostgres(location: Extract<StoreLocation, { dialect: 'postgres' }>, log: Logger): Promise<Store> {
    // Loaded only when used: a SQLite porter should not carry the PostgreSQL driver in memory.
    const { default: pg } = await import('pg');
    const typeParser = (oid: number, format?: 'text' | 'binary'): ((value: string) => unknown) => {
      if (oid === PG_INT8_OID && format !== 'binary') return (value: string) => Number(value);
      return pg.types.getTypeParser(oid, format ?? 'text') as (value: string) => unknown;
    };
    const pool = new pg.Pool({
      connectionString: location.connectionString,
      max: PG_POOL_SIZE,
      connectionTimeoutMillis: PG_CONNECT_TIMEOUT_MS,
      types: { getTypeParser: typeParser as pg.CustomTypesConfig['getTypeParser'] },
    });
    // An idle connection that the server drops (restart, failover) must not crash the process;
    // the pool replaces it on next use.
    pool.on('error', (error) => log.warn({ err: error, store: describeStore(location) }, 'a postgres connection failed'));
    return new Store(location, new Kysely({ dialect: new PostgresDialect({ pool }) }), log);
  }

  /** The database as Kysely, typed by the caller's table map (`{ sync_message: {...} }`). */
  db<T>(): Kysely<T> {
    if (this.#closing) throw new StoreError(`${this.description} is closed`);
    return this.#kysely as unknown as Kysely<T>;
  }

  /**
   * Inserts many rows into one table as fast as the engine allows, skipping rows whose key is
   * already there, and resolves once they are committed. On SQLite that is a cached prepared
   * statement per row in one transaction, run by a writer thread once batches are big (see
   * sqlite-writer.ts);
   * on PostgreSQL, one multi-row INSERT per 1000 rows. For write-behind logs on a hot path,
   * such as the bridges' message map.
   */
  insertMany(table: string, columns: readonly string[], rows: readonly (readonly unknown[])[]): Promise<void> {
    // close() waits for these: a write the caller was promised is never cut off.
    const write = this.#insertMany(table, columns, rows);
    this.#writes.add(write);
    const done = (): void => {
      this.#writes.delete(write);
    };
    write.then(done, done);
    return write;
  }

  async #insertMany(table: string, columns: readonly string[], rows: readonly (readonly unknown[])[]): Promise<void> {
    if (rows.length === 0) return;
    if (this.#closing) throw new StoreError(`${this.description} is closed`);
    for (const name of [table, ...columns]) {
      if (!IDENTIFIER.test(name)) throw new StoreError(`insertMany: "${name}" is not a plain table or column name`);
    }
    if (this.#sqlite) {
      const sql = `insert into ${table} (${columns.join(', ')}) values (${columns.map(() => '?').join(', ')}) on conflict do nothing`;
      // Big batches of a SQLite file go to the writer thread, and once it runs, every batch does
      // (so batches commit in order). Small ones are cheaper written here than a thread is kept.
      const onFile = this.#location.dialect === 'sqlite' && this.#location.file !== ':memory:';
      if (onFile && (this.#writer || rows.length >= WRITER_THREAD_ROWS)) {
        this.#writer ??= new SqliteWriter(this.#location.file, { busyTimeoutMs: SQLITE_BUSY_TIMEOUT_MS, log: this.#log });
        return this.#writer.insert(sql, columns.length, rows);
      }
      let insert = this.#inserts.get(sql);
      if (!insert) {
        const statement = this.#sqlite.prepare(sql);
        insert = this.#sqlite.transaction((batch: readonly (readonly unknown[])[]) => {
          for (const row of batch) statement.run(row);
        });
        this.#inserts.set(sql, insert);
      }
      insert(rows);
      return;
    }
    const kysely = this.#kysely as unknown as Kysely<Record<string, Record<string, unknown>>>;
    for (let i = 0; i < rows.length; i += PG_INSERT_ROWS) {
      const values = rows.slice(i, i + PG_INSERT_ROWS).map((row) => Object.fromEntries(columns.map((c, j) => [c, row[j]])));
      await kysely
        .insertInto(table)
        .values(values)
        .onConflict((oc) => oc.doNothing())
        .execute();
    }
  }

  /**
   * Applies the migrations of one feature that have not run yet, in name order, recording each
   * as `owner/name` in the shared `porter_migration` table.
   */
  migrate(owner: string, migrations: Migrations): Promise<void> {
    const run = this.#migrations.then(() => this.#migrateNow(owner, migrations));
    this.#migrations = run.catch(() => {});
    return run;
  }

  async #migrateNow(owner: string, migrations: Migrations): Promise<void> {
    if (this.#closing) throw new StoreError(`cannot migrate "${owner}": ${this.description} is closed`);
    if (!owner || owner.includes('/')) throw new StoreError(`cannot migrate "${owner}": an owner is a non-empty name without "/"`);
    const prefix = `${owner}/`;
    const own: Record<string, Migration> = {};
    for (const [name, migration] of Object.entries(migrations)) {
      own[prefix + name] = this.dialect === 'sqlite' ? atomic(migration) : migration;
    }
    if (Object.keys(own).length === 0) return;

    const provider: MigrationProvider = {
      // Called by the migrator while it holds the lock. Kysely refuses to run when the table
      // lists a migration its provider does not know, and the table is shared, so the other
      // owners' migrations are offered as no-ops; this owner's own history stays checked.
      getMigrations: async () => {
        const all: Record<string, Migration> = { ...own };
        for (const name of await this.#executedNames()) {
          if (!name.startsWith(prefix)) all[name] = { up: async () => {} };
        }
        return all;
      },
    };
    const migrator = new Migrator({
      db: this.#kysely,
      provider,
      migrationTableName: MIGRATION_TABLE,
      migrationLockTableName: MIGRATION_LOCK_TABLE,
      allowUnorderedMigrations: true,
    });

    // One migration per step, so each is its own transaction on PostgreSQL and a failure
    // leaves the earlier ones applied, as on SQLite.
    for (;;) {
      const result: MigrationResultSet = await migrator.migrateUp();
      for (const r of result.results ?? []) {
        if (r.status === 'Success') this.#log.debug({ owner, migration: r.migrationName.slice(prefix.length) }, 'migration applied');
      }
      if (result.error !== undefined) {
        const failed = result.results?.find((r) => r.status === 'Error');
        const what = failed ? `migration "${failed.migrationName.slice(prefix.length)}" of "${owner}"` : `migrating "${owner}"`;
        throw new StoreError(`${what} failed on ${this.description}: ${reason(result.error, this.#location)}`, { cause: result.error });
      }
      if (!result.results?.some((r) => r.status === 'Success')) return;
    }
  }

  async #executedNames(): Promise<string[]> {
    if (this.#sqlite) {
      // The migrator holds Kysely's only SQLite connection; going through Kysely would deadlock.
      return this.#sqlite.prepare(`select name from ${MIGRATION_TABLE}`).pluck().all() as string[];
    }
    // Another pooled connection: it sees what other porter instances committed before they
    // released the advisory lock that this migrator now holds.
    const rows = await this.#kysely.selectFrom(MIGRATION_TABLE).select('name').execute();
    return rows.map((r) => r.name);
  }

  /** Closes the connections once migrations under way have finished; safe to call again. */
  close(): Promise<void> {
    this.#closing ??= this.#migrations.then(async () => {
      await Promise.allSettled([...this.#writes]);
      await this.#writer?.close();
      await this.#kysely.destroy();
    });
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * Kysely runs SQLite migrations outside a transaction, so a migration that fails halfway would
 * leave half its tables behind and fail again on the next start. The record of the migration is
 * written just after this commit, on the same connection.
 */
function atomic(migration: Migration): Migration {
  return { ...migration, up: (db) => db.transaction().execute((trx) => migration.up(trx)) };
}

/** The error's own words, with a Postgres password scrubbed in case a driver ever echoes it. */
function reason(error: unknown, location?: StoreLocation): string {
  let text: string;
  if (error instanceof AggregateError && !error.message) {
    // Node's connect tries every address of a host name and reports them only inside.
    text = error.errors.map((e: unknown) => (e instanceof Error ? e.message : String(e))).join('; ');
  } else if (error instanceof Error) {
    text = error.message || (error as NodeJS.ErrnoException).code || error.name;
  } else {
    text = String(error);
  }
  if (location?.dialect === 'postgres') {
    const password = passwordOf(location.connectionString);
    if (password && password.length >= 4) text = text.split(password).join('***');
  }
  return text;
}

function passwordOf(connectionString: string): string | undefined {
  try {
    const url = new URL(connectionString);
    return url.password ? decodeURIComponent(url.password) : (url.searchParams.get('password') ?? undefined);
  } catch {
    return undefined;
  }
}
