// The `store:` forms a user may write, what each means, and how a store is named back to them.
import { describe, expect, it } from 'vitest';
import { StoreError } from '../../src/core/errors.js';
import { describeStore, parseStoreUrl } from '../../src/services/store/index.js';

const base = '/etc/porter';

function rejection(value: string): StoreError {
  try {
    parseStoreUrl(value, base);
  } catch (error) {
    expect(error).toBeInstanceOf(StoreError);
    return error as StoreError;
  }
  throw new Error(`expected ${JSON.stringify(value)} to be rejected`);
}

describe('parseStoreUrl', () => {
  it.each([
    ['sqlite:data/porter.db', '/etc/porter/data/porter.db'],
    ['sqlite:./porter.db', '/etc/porter/porter.db'],
    ['sqlite:../var/porter.db', '/etc/var/porter.db'],
    ['sqlite:/var/lib/porter/porter.db', '/var/lib/porter/porter.db'],
    ['sqlite:store', '/etc/porter/store'],
    ['sqlite::memory:', ':memory:'],
    ['porter.db', '/etc/porter/porter.db'],
    ['data/porter.sqlite', '/etc/porter/data/porter.sqlite'],
    ['/srv/porter.sqlite3', '/srv/porter.sqlite3'],
    ['  sqlite:porter.db  ', '/etc/porter/porter.db'],
  ])('reads %j as the SQLite file %s', (value, file) => {
    expect(parseStoreUrl(value, base)).toEqual({ dialect: 'sqlite', file });
  });

  it.each([
    'postgres://porter:pw@db.example:5432/porter',
    'postgresql://porter@127.0.0.1/porter',
    'postgres:///porter?host=/var/run/postgresql',
  ])('passes %j to PostgreSQL as given', (value) => {
    expect(parseStoreUrl(value, base)).toEqual({ dialect: 'postgres', connectionString: value });
  });

  it.each(['', '   ', 'mysql://x', 'porter.txt', 'memory', 'sqlite:', 'postgres://', 'redis://localhost/0'])(
    'rejects %j and says what is accepted',
    (value) => {
      const error = rejection(value);
      expect(error.code).toBe('PORTER_ERR_STORE');
      expect(error.message).toContain('sqlite:PATH');
      expect(error.message).toContain('sqlite::memory:');
      expect(error.message).toContain('.sqlite3');
      expect(error.message).toContain('postgres://');
    },
  );

  it('rejects sqlite:// rather than reading it as an absolute path', () => {
    expect(rejection('sqlite://data/porter.db').message).toMatch(/not sqlite:\/\//);
  });

  it('never echoes a password back', () => {
    expect(rejection('mysql://root:hunter22@db/porter').message).not.toContain('hunter22');
    expect(rejection('mysql://db/porter?password=hunter22').message).not.toContain('hunter22');
    expect(rejection('postgres://root:hunter22@[::1/porter').message).not.toContain('hunter22');
  });
});

describe('describeStore', () => {
  it('names a SQLite file by its absolute path', () => {
    expect(describeStore(parseStoreUrl('sqlite:data/porter.db', base))).toBe('sqlite /etc/porter/data/porter.db');
    expect(describeStore(parseStoreUrl('sqlite::memory:', base))).toBe('sqlite :memory:');
  });

  it.each([
    ['postgres://porter:s3cret@db.example:5433/chat', 'postgres db.example:5433/chat'],
    ['postgresql://porter:s3cret@127.0.0.1/chat?sslmode=require', 'postgres 127.0.0.1:5432/chat'],
    ['postgres://porter@db.example', 'postgres db.example:5432/porter'],
    ['postgres:///chat?host=/var/run/postgresql', 'postgres /var/run/postgresql:5432/chat'],
    ['postgres://p:s3cret@h/my%20db', 'postgres h:5432/my db'],
  ])('names %j as %j, without user or password', (value, text) => {
    const description = describeStore(parseStoreUrl(value, base));
    expect(description).toBe(text);
    expect(description).not.toContain('s3cret');
  });
});
