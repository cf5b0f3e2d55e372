// The `store:` config value: which forms porter accepts, and how a store is named in the
// start-up line and in errors without ever showing a password.
import { isAbsolute, resolve } from 'node:path';
import { StoreError } from '../../core/errors.js';

/** Where the store lives; a SQLite `file` is absolute, or `:memory:`. */
export type StoreLocation =
  | { readonly dialect: 'sqlite'; readonly file: string }
  | { readonly dialect: 'postgres'; readonly connectionString: string };

export const ACCEPTED_FORMS =
  'sqlite:PATH (relative to the config file), sqlite::memory:, a file name ending .db, .sqlite or .sqlite3, ' +
  'or postgres://USER:PASSWORD@HOST:PORT/DATABASE (postgresql:// works too)';

const SQLITE_FILE = /\.(db|sqlite|sqlite3)$/i;
const POSTGRES = /^postgres(ql)?:\/\//i;

export function parseStoreUrl(value: string, baseDir: string): StoreLocation {
  const text = value.trim();
  if (text === '') throw new StoreError(`the store is empty; use ${ACCEPTED_FORMS}`);
  if (POSTGRES.test(text)) {
    let url: URL;
    try {
      url = new URL(text);
    } catch (error) {
      // Not echoed: a URL that does not parse may still hold a password.
      throw new StoreError(`the store is not a valid postgres URL; use ${ACCEPTED_FORMS}`, { cause: error });
    }
    if (!url.hostname && !url.searchParams.get('host')) {
      throw new StoreError(`store "${redact(text)}" names no host; use ${ACCEPTED_FORMS}`);
    }
    return { dialect: 'postgres', connectionString: text };
  }
  if (/^sqlite:/i.test(text)) {
    const path = text.slice('sqlite:'.length);
    // `sqlite://x` reads like a URL but would silently mean the absolute path `/x`.
    if (path.startsWith('//')) {
      throw new StoreError(`store "${text}": write sqlite:PATH (sqlite:data/porter.db or sqlite:/var/lib/porter/porter.db), not sqlite://`);
    }
    if (path === '') throw new StoreError(`store "${text}" names no file; use ${ACCEPTED_FORMS}`);
    if (path === ':memory:') return { dialect: 'sqlite', file: ':memory:' };
    return { dialect: 'sqlite', file: absolute(path, baseDir) };
  }
  if (SQLITE_FILE.test(text) && !/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    return { dialect: 'sqlite', file: absolute(text, baseDir) };
  }
  throw new StoreError(`store "${redact(text)}" is not supported; use ${ACCEPTED_FORMS}`);
}

/** A short name for the start-up line and errors: `sqlite /abs/porter.db`, `postgres host:5432/db`. */
export function describeStore(location: StoreLocation): string {
  if (location.dialect === 'sqlite') return `sqlite ${location.file}`;
  let url: URL;
  try {
    url = new URL(location.connectionString);
  } catch {
    return 'postgres (invalid URL)';
  }
  const params = url.searchParams;
  const host = params.get('host') ?? (url.hostname || 'localhost');
  const port = params.get('port') ?? (url.port || '5432');
  // Like libpq, the database defaults to the user's name.
  const database =
    decodeURIComponent(url.pathname.replace(/^\//, '')) || params.get('dbname') || decodeURIComponent(url.username) || 'postgres';
  return `postgres ${host}:${port}/${database}`;
}

/** The value with any password replaced, for echoing back in errors. */
export function redact(value: string): string {
  try {
    const url = new URL(value);
    if (!url.password && !url.searchParams.has('password')) return value;
    if (url.password) url.password = '***';
    if (url.searchParams.has('password')) url.searchParams.set('password', '***');
    return url.toString();
  } catch {
    // Not a URL: it cannot hold a password in a place we know.
  }
  return value;
}

function absolute(path: string, baseDir: string): string {
  return isAbsolute(path) ? resolve(path) : resolve(baseDir, path);
}
