// The machine's real PostgreSQL for tests: started (or installed) when it is not running, and a
// throw-away database per test that is the only thing the tests ever drop.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { promisify } from 'node:util';
import pg from 'pg';
import { aptInstall } from './apt.js';

const run = promisify(execFile);

export const POSTGRES_HOST = '127.0.0.1';
export const POSTGRES_PORT = 5432;
const ADMIN: pg.ClientConfig = {
  host: POSTGRES_HOST,
  port: POSTGRES_PORT,
  user: 'postgres',
  database: 'postgres',
  connectionTimeoutMillis: 3000,
};
const START_WAIT_MS = 30_000;

let ready: Promise<void> | undefined;

/** Resolves once the server answers; starts it, or installs it first, when it does not. */
export function ensurePostgres(): Promise<void> {
  ready ??= reach().catch((error: unknown) => {
    ready = undefined;
    throw error;
  });
  return ready;
}

export async function createTestDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  await ensurePostgres();
  const name = `porter_test_${randomBytes(6).toString('hex')}`;
  await admin((client) => client.query(`create database ${name}`));
  return {
    url: `postgres://postgres@${POSTGRES_HOST}:${POSTGRES_PORT}/${name}`,
    drop: () =>
      admin(async (client) => {
        // A pool a failed test never closed would otherwise keep the database in use.
        await client.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [name]);
        await client.query(`drop database if exists ${name}`);
      }),
  };
}

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(ADMIN);
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

async function answers(): Promise<string | undefined> {
  try {
    await admin((client) => client.query('select 1'));
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message || String(error) : String(error);
  }
}

async function reach(): Promise<void> {
  if ((await answers()) === undefined) return;
  if (!existsSync('/etc/postgresql')) {
    await aptInstall([{ name: 'postgresql', path: '/etc/postgresql' }]);
  }
  const versions = readdirSync('/etc/postgresql').sort((a, b) => Number(a) - Number(b));
  const version = versions.at(-1);
  if (version === undefined) throw new Error('PostgreSQL is installed but /etc/postgresql holds no cluster');
  try {
    await run('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'start']);
  } catch {
    // Another test file may have started it a moment ago; the wait below decides.
  }
  const deadline = Date.now() + START_WAIT_MS;
  let last: string | undefined;
  while (Date.now() < deadline) {
    last = await answers();
    if (last === undefined) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(
    `PostgreSQL at ${POSTGRES_HOST}:${POSTGRES_PORT} is not reachable (user postgres, trust auth) after starting cluster ${version}/main: ${last}`,
  );
}
