// The auth server over a real SQLite store: users, Argon2id hashes, timing-safe refusals, IPC, the CLI.
import { Readable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ARGON2_PARAMS,
  argon2idHasher,
  MailUserError,
  MailUsers,
  type MailUserTables,
  normaliseUserName,
  type PasswordHasher,
  runUserCommand,
} from '../../src/mail/auth/index.js';
import { Store } from '../../src/services/store/index.js';
import { tempDir } from '../helpers/host.js';

const quiet = pino({ level: 'silent' });

/** The real hasher, counting the verifications that are run and against which hashes. */
function countingHasher(): PasswordHasher & { verified: string[] } {
  const verified: string[] = [];
  return {
    verified,
    hash: (password) => argon2idHasher.hash(password),
    verify: (hash, password) => {
      verified.push(hash);
      return argon2idHasher.verify(hash, password);
    },
    needsRehash: (hash) => argon2idHasher.needsRehash(hash),
  };
}

let dir: string;
let remove: () => Promise<void>;
let store: Store;
let n = 0;
const freshStore = async (): Promise<Store> => Store.open(`sqlite:users-${++n}.db`, { baseDir: dir, log: quiet });

beforeAll(async () => {
  ({ dir, remove } = await tempDir());
  store = await freshStore();
});
afterAll(async () => {
  await store?.close();
  await remove();
});

describe('user names', () => {
  it('accepts local parts and addresses, lower-cased', () => {
    expect(normaliseUserName('Alice')).toBe('alice');
    expect(normaliseUserName('bob.smith+tag@Example.ORG')).toBe('bob.smith+tag@example.org');
    expect(normaliseUserName('a_b-c')).toBe('a_b-c');
  });
  it.each([
    '',
    '..',
    '.alice',
    'alice.',
    'a..b',
    '../etc',
    'a/b',
    'a\\b',
    'al ice',
    'a\0b',
    'a@',
    'a@localhost',
    'a@b..c',
    'x'.repeat(65),
    'ä',
  ])('refuses %j', (name) => {
    expect(() => normaliseUserName(name)).toThrow(/user name/);
  });
});

describe('MailUsers', () => {
  it('adds, authenticates, changes passwords and removes users', async () => {
    const users = await MailUsers.open(store, { log: quiet });
    const added = await users.add('Alice', 'correct horse');
    expect(added.name).toBe('alice');
    expect(await users.verify('ALICE')).toBe(true);
    expect(await users.verify('nobody')).toBe(false);
    expect(await users.verify('../x')).toBe(false);
    expect(await users.authenticate('alice', 'correct horse')).toBe('alice');
    expect(await users.authenticate('Alice', 'correct horse')).toBe('alice');
    expect(await users.authenticate('alice', 'wrong')).toBeUndefined();
    await expect(users.add('alice', 'again')).rejects.toThrow('user "alice" already exists');

    await users.passwd('alice', 'battery staple');
    expect(await users.authenticate('alice', 'correct horse')).toBeUndefined();
    expect(await users.authenticate('alice', 'battery staple')).toBe('alice');

    await users.add('bob@example.org', 'pw');
    expect((await users.list()).map((u) => u.name)).toEqual(['alice', 'bob@example.org']);
    await users.remove('alice');
    expect(await users.authenticate('alice', 'battery staple')).toBeUndefined();
    await expect(users.remove('alice')).rejects.toThrow('no user "alice"');
    await expect(users.passwd('alice', 'x')).rejects.toThrow('no user "alice"');
    await users.remove('bob@example.org');
  });

  it('stores Argon2id PHC hashes with the OWASP parameters, never the password', async () => {
    const users = await MailUsers.open(store, { log: quiet });
    await users.add('carol', 'secret-carol');
    const row = await store.db<MailUserTables>().selectFrom('mail_user').selectAll().where('name', '=', 'carol').executeTakeFirstOrThrow();
    expect(row.password_hash).toMatch(
      new RegExp(`^\\$argon2id\\$v=19\\$m=${ARGON2_PARAMS.memoryCost},t=${ARGON2_PARAMS.timeCost},p=${ARGON2_PARAMS.parallelism}\\$`),
    );
    expect(row.password_hash).not.toContain('secret-carol');
    expect(row.created).toBeGreaterThan(0);
    await users.remove('carol');
  });

  it('refuses bad names and passwords with a clear error', async () => {
    const users = await MailUsers.open(store, { log: quiet });
    await expect(users.add('../root', 'pw')).rejects.toThrow(MailUserError);
    await expect(users.add('dave', '')).rejects.toThrow('must not be empty');
    await expect(users.add('dave', 'a\nb')).rejects.toThrow('NUL, CR or LF');
    await expect(users.add('dave', 'x'.repeat(2000))).rejects.toThrow('at most 1024');
    expect(await users.verify('dave')).toBe(false);
  });

  it('spends one hash verification on unknown users too, so timing does not tell who exists', async () => {
    const hasher = countingHasher();
    const users = await MailUsers.open(store, { log: quiet, hasher });
    await users.add('erin', 'pw-erin');
    const stored = await store
      .db<MailUserTables>()
      .selectFrom('mail_user')
      .select('password_hash')
      .where('name', '=', 'erin')
      .executeTakeFirstOrThrow();

    const time = async (f: () => Promise<unknown>): Promise<number> => {
      const start = performance.now();
      await f();
      return performance.now() - start;
    };
    // Warm the dummy hash, made once on first use.
    await users.authenticate('nobody', 'x');
    hasher.verified.length = 0;

    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 5; i++) {
      known.push(await time(() => users.authenticate('erin', 'wrong')));
      unknown.push(await time(() => users.authenticate('nobody', 'wrong')));
      unknown.push(await time(() => users.authenticate('not a name!', 'wrong')));
    }
    expect(hasher.verified).toHaveLength(15);
    expect(hasher.verified.filter((h) => h === stored.password_hash)).toHaveLength(5);
    const dummy = hasher.verified.filter((h) => h !== stored.password_hash);
    expect(new Set(dummy).size).toBe(1);
    expect(dummy[0]).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    // Each refusal costs a full Argon2id run: the unknown ones are no cheaper than the known one.
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    expect(median(unknown)).toBeGreaterThan(median(known) * 0.5);
    await users.remove('erin');
  });

  it('re-hashes a password stored with other parameters on a successful login', async () => {
    const users = await MailUsers.open(store, { log: quiet });
    const { hash } = await import('@node-rs/argon2');
    const weak = await hash('pw-frank', { memoryCost: 8192, timeCost: 1, parallelism: 1 });
    await store
      .db<MailUserTables>()
      .insertInto('mail_user')
      .values({ name: 'frank', password_hash: weak, created: 1, updated: 1 })
      .execute();
    expect(await users.authenticate('frank', 'pw-frank')).toBe('frank');
    const row = await store
      .db<MailUserTables>()
      .selectFrom('mail_user')
      .select('password_hash')
      .where('name', '=', 'frank')
      .executeTakeFirstOrThrow();
    expect(row.password_hash).toMatch(/\$m=19456,t=2,p=1\$/);
    expect(await users.authenticate('frank', 'pw-frank')).toBe('frank');
    await users.remove('frank');
  });

  it('answers verify and auth as IPC handlers', async () => {
    const users = await MailUsers.open(store, { log: quiet });
    await users.add('gina', 'pw gina');
    const h = users.handlers();
    expect(await h.verify!({ name: 'verify', params: ['gina'] })).toEqual({ ok: true });
    expect(await h.verify!({ name: 'verify', params: ['nobody'] })).toEqual({ ok: false, error: 'no such user' });
    expect(await h.verify!({ name: 'verify', params: [] })).toMatchObject({ ok: false, error: expect.stringContaining('one parameter') });
    expect(await h.auth!({ name: 'auth', params: ['GINA', 'pw gina'] })).toEqual({ ok: true, value: 'gina' });
    expect(await h.auth!({ name: 'auth', params: ['gina', 'nope'] })).toEqual({ ok: false, error: 'authentication failed' });
    expect(await h.auth!({ name: 'auth', params: ['nobody', 'nope'] })).toEqual({ ok: false, error: 'authentication failed' });
    expect(await h.auth!({ name: 'auth', params: ['gina'] })).toMatchObject({ ok: false });
    await users.remove('gina');
  });
});

describe('porter user', () => {
  it('adds (password from stdin or option), changes, lists and deletes users, without echoing passwords', async () => {
    const cli = await freshStore();
    try {
      const add = await runUserCommand(cli, ['add', 'Hal'], { stdin: Readable.from(['s3cret-hal\n', 'ignored\n']) });
      expect(add).toEqual({ output: 'added hal', code: 0 });
      expect(await runUserCommand(cli, ['add', 'ivy@example.org', '--password', 'pw-ivy'])).toEqual({
        output: 'added ivy@example.org',
        code: 0,
      });
      const dup = await runUserCommand(cli, ['add', 'hal', '--password', 'other']);
      expect(dup.code).toBe(1);
      expect(dup.output).toContain('already exists');

      const users = new MailUsers(cli);
      expect(await users.authenticate('hal', 's3cret-hal')).toBe('hal');
      const passwd = await runUserCommand(cli, ['passwd', 'hal'], { stdin: Readable.from(['n3w-hal\r\n']) });
      expect(passwd).toEqual({ output: 'changed the password of hal', code: 0 });
      expect(await users.authenticate('hal', 'n3w-hal')).toBe('hal');

      const list = await runUserCommand(cli, ['list']);
      expect(list.code).toBe(0);
      expect(list.output.split('\n').map((l) => l.split('\t')[0])).toEqual(['hal', 'ivy@example.org']);
      for (const r of [add, passwd, list]) expect(r.output).not.toMatch(/s3cret|n3w/);

      expect(await runUserCommand(cli, ['del', 'hal'])).toEqual({ output: 'removed hal', code: 0 });
      expect(await runUserCommand(cli, ['del', 'hal'])).toEqual({ output: 'no user "hal"', code: 1 });
      expect((await runUserCommand(cli, ['passwd', 'hal', '--password', 'x'])).code).toBe(1);
      expect((await runUserCommand(cli, ['add', '../x', '--password', 'x'])).code).toBe(1);
      expect((await runUserCommand(cli, ['add', 'jo'], { stdin: Readable.from([]) })).output).toContain('no password');
      expect((await runUserCommand(cli, ['add'])).code).toBe(2);
      expect((await runUserCommand(cli, ['frob'])).code).toBe(2);
      expect((await runUserCommand(cli, ['add', 'jo', '--bogus'])).code).toBe(2);
      expect((await runUserCommand(cli, ['list', '--password', 'x'])).code).toBe(2);
      // A bad name is refused before stdin is read.
      const never: AsyncIterable<string> = {
        [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(new Error('stdin was read')) }),
      };
      expect(await runUserCommand(cli, ['add', 'a/b'], { stdin: never })).toMatchObject({
        code: 1,
        output: expect.stringContaining('not a valid user name'),
      });
      expect((await runUserCommand(cli, [])).code).toBe(2);
    } finally {
      await cli.close();
    }
  });
});
