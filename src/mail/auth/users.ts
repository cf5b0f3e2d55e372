// The auth server (fmail's `verify` and `auth`): mail users in the store, passwords as Argon2id hashes.
import { randomBytes } from 'node:crypto';
import type { Algorithm } from '@node-rs/argon2';

// Loaded at the first password hashed or checked: the native module costs memory a porter
// without mail logins need not carry.
const argon2 = () => import('@node-rs/argon2');

import type { Migrations } from '../../core/component.js';
import type { Logger } from '../../core/log.js';
import type { Store } from '../../services/store/index.js';
import { fail, IpcError, type IpcHandlers, ok } from '../protocol.js';
import { normaliseUserName, UserNameError } from './names.js';

/** OWASP's Password Storage Cheat Sheet floor for Argon2id: 19 MiB, 2 passes, 1 lane. */
export const ARGON2_PARAMS = { memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;
/** Argon2id; the package's enum is `const`, which isolated modules cannot read. */
const ARGON2ID = 2 as Algorithm;
/** Longer passwords only cost hashing time; nobody types more. */
export const MAX_PASSWORD_LENGTH = 1024;

export interface MailUserTables {
  mail_user: { name: string; password_hash: string; created: number; updated: number };
}

export interface MailUser {
  readonly name: string;
  /** Milliseconds since the epoch. */
  readonly created: number;
  readonly updated: number;
}

/** How passwords are hashed and checked; replaceable so tests can count verifications. */
export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(hash: string, password: string): Promise<boolean>;
  /** Whether a stored hash was made with weaker or other parameters and should be redone. */
  needsRehash(hash: string): boolean;
}

export const argon2idHasher: PasswordHasher = {
  hash: async (password) => (await argon2()).hash(password, { ...ARGON2_PARAMS, algorithm: ARGON2ID }),
  // The library compares digests in constant time.
  verify: async (hash, password) => (await argon2()).verify(hash, password),
  needsRehash(hash) {
    try {
      const p = parseArgonOptions(hash);
      return (
        p.algorithm !== ARGON2ID ||
        p.memoryCost !== ARGON2_PARAMS.memoryCost ||
        p.timeCost !== ARGON2_PARAMS.timeCost ||
        p.parallelism !== ARGON2_PARAMS.parallelism
      );
    } catch {
      return true;
    }
  },
};

/** The parameters of a stored hash (`$argon2id$v=19$m=19456,t=2,p=1$salt$digest`), read without the native module. */
function parseArgonOptions(hash: string): { algorithm: Algorithm; memoryCost: number; timeCost: number; parallelism: number } {
  const m = /^\$(argon2(?:id|i|d))\$v=\d+\$m=(\d+),t=(\d+),p=(\d+)\$/.exec(hash);
  if (!m) throw new Error('not an argon2 hash');
  const algorithm = (m[1] === 'argon2id' ? ARGON2ID : m[1] === 'argon2i' ? 1 : 0) as Algorithm;
  return { algorithm, memoryCost: Number(m[2]), timeCost: Number(m[3]), parallelism: Number(m[4]) };
}

/** A refusal of `MailUsers` that users may read: bad name, bad password, unknown or duplicate user. */
export class MailUserError extends IpcError {}

export interface MailUsersOptions {
  readonly log?: Logger;
  readonly hasher?: PasswordHasher;
  /**
   * How long `verify` trusts that a user it found still exists, in ms (default 2000; 0: always
   * ask the store). Only found users are remembered, so a user added by `porter user add` in
   * another process is known at once; one removed there is refused within this time (and a
   * message accepted meanwhile bounces at delivery, which checks again).
   */
  readonly verifyCacheMs?: number;
}

/** Found users `verify` remembers at most; beyond, the oldest are forgotten. */
const VERIFY_CACHE_ENTRIES = 10_000;

export class MailUsers {
  static readonly migrationOwner = 'mail_auth';
  static readonly migrations: Migrations = {
    '0001_mail_user': {
      async up(db) {
        await db.schema
          .createTable('mail_user')
          .addColumn('name', 'text', (c) => c.primaryKey())
          .addColumn('password_hash', 'text', (c) => c.notNull())
          .addColumn('created', 'bigint', (c) => c.notNull())
          .addColumn('updated', 'bigint', (c) => c.notNull())
          .execute();
      },
    },
  };

  readonly #store: Store;
  readonly #log: Logger | undefined;
  readonly #hasher: PasswordHasher;
  readonly #verifyCacheMs: number;
  /** Users `verify` found lately: name → until when that answer stands (ms since the epoch). */
  readonly #found = new Map<string, number>();
  /** A hash of a random password, made once, checked against when the user does not exist. */
  #dummy: Promise<string> | undefined;

  constructor(store: Store, options: MailUsersOptions = {}) {
    this.#store = store;
    this.#log = options.log;
    this.#hasher = options.hasher ?? argon2idHasher;
    this.#verifyCacheMs = options.verifyCacheMs ?? 2_000;
  }

  /** Applies the `mail_auth` migrations and returns the users over `store`. */
  static async open(store: Store, options: MailUsersOptions = {}): Promise<MailUsers> {
    await store.migrate(MailUsers.migrationOwner, MailUsers.migrations);
    return new MailUsers(store, options);
  }

  get #db() {
    return this.#store.db<MailUserTables>();
  }

  async add(name: string, password: string): Promise<MailUser> {
    const user = canonical(name);
    checkPassword(password);
    const passwordHash = await this.#hasher.hash(password);
    const now = Date.now();
    // Insert-or-nothing, then check: two instances adding one name on PostgreSQL cannot both win.
    const result = await this.#db
      .insertInto('mail_user')
      .values({ name: user, password_hash: passwordHash, created: now, updated: now })
      .onConflict((oc) => oc.column('name').doNothing())
      .executeTakeFirst();
    if (Number(result.numInsertedOrUpdatedRows ?? 0) === 0) throw new MailUserError(`user "${user}" already exists`);
    this.#log?.info({ user }, 'mail user added');
    return { name: user, created: now, updated: now };
  }

  async passwd(name: string, password: string): Promise<void> {
    const user = canonical(name);
    checkPassword(password);
    const passwordHash = await this.#hasher.hash(password);
    const result = await this.#db
      .updateTable('mail_user')
      .set({ password_hash: passwordHash, updated: Date.now() })
      .where('name', '=', user)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) throw new MailUserError(`no user "${user}"`);
    this.#log?.info({ user }, 'mail user password changed');
  }

  async remove(name: string): Promise<void> {
    const user = canonical(name);
    this.#found.delete(user);
    const result = await this.#db.deleteFrom('mail_user').where('name', '=', user).executeTakeFirst();
    this.#found.delete(user);
    if (Number(result.numDeletedRows) === 0) throw new MailUserError(`no user "${user}"`);
    this.#log?.info({ user }, 'mail user removed');
  }

  async list(): Promise<MailUser[]> {
    return this.#db.selectFrom('mail_user').select(['name', 'created', 'updated']).orderBy('name').execute();
  }

  /**
   * Whether the user exists; false for names that are not valid user names. SMTP asks at every
   * RCPT, so a user found is remembered for `verifyCacheMs` (see `MailUsersOptions`), unless
   * `fresh` is asked for: local delivery and the IPC `verify` always ask the store, so a user
   * removed a moment ago gets no more mail (it bounces) even while SMTP in still accepts it.
   */
  async verify(name: string, options: { readonly fresh?: boolean } = {}): Promise<boolean> {
    let user: string;
    try {
      user = normaliseUserName(name);
    } catch {
      return false;
    }
    const until = options.fresh ? undefined : this.#found.get(user);
    if (until !== undefined) {
      if (until > Date.now()) return true;
      this.#found.delete(user);
    }
    const row = await this.#db.selectFrom('mail_user').select('name').where('name', '=', user).executeTakeFirst();
    if (row === undefined) return false;
    if (this.#verifyCacheMs > 0) {
      if (this.#found.size >= VERIFY_CACHE_ENTRIES) this.#found.delete(this.#found.keys().next().value!);
      this.#found.set(user, Date.now() + this.#verifyCacheMs);
    }
    return true;
  }

  /**
   * The canonical user name if the password is right, else undefined. An unknown or invalid
   * name costs one hash verification too, against a dummy hash, so the answer's timing does not
   * tell which users exist.
   */
  async authenticate(name: string, password: string): Promise<string | undefined> {
    let user: string | undefined;
    try {
      user = normaliseUserName(name);
    } catch {
      user = undefined;
    }
    const row =
      user === undefined
        ? undefined
        : await this.#db.selectFrom('mail_user').select('password_hash').where('name', '=', user).executeTakeFirst();
    if (!row || user === undefined || password.length > MAX_PASSWORD_LENGTH) {
      await this.#hasher.verify(await this.#dummyHash(), password.slice(0, MAX_PASSWORD_LENGTH));
      return undefined;
    }
    let good = false;
    try {
      good = await this.#hasher.verify(row.password_hash, password);
    } catch (error) {
      this.#log?.error({ err: error, user }, 'stored password hash of a mail user cannot be read');
    }
    if (!good) return undefined;
    if (this.#hasher.needsRehash(row.password_hash)) await this.#rehash(user, password);
    return user;
  }

  /** The auth server's IPC messages: `verify: username`, `auth: username ; password`. */
  handlers(): IpcHandlers {
    return {
      verify: async (request) => {
        if (request.params.length !== 1) return fail('verify takes one parameter: username');
        return (await this.verify(request.params[0]!, { fresh: true })) ? ok() : fail('no such user');
      },
      auth: async (request) => {
        if (request.params.length !== 2) return fail('auth takes two parameters: username ; password');
        const user = await this.authenticate(request.params[0]!, request.params[1]!);
        // One message for a wrong name and a wrong password, as the timing is the same.
        return user === undefined ? fail('authentication failed') : ok(user);
      },
    };
  }

  #dummyHash(): Promise<string> {
    this.#dummy ??= this.#hasher.hash(randomBytes(24).toString('base64'));
    return this.#dummy;
  }

  async #rehash(user: string, password: string): Promise<void> {
    try {
      const passwordHash = await this.#hasher.hash(password);
      await this.#db.updateTable('mail_user').set({ password_hash: passwordHash }).where('name', '=', user).execute();
      this.#log?.info({ user }, 'mail user password re-hashed with current parameters');
    } catch (error) {
      this.#log?.warn({ err: error, user }, 'could not re-hash a mail user password');
    }
  }
}

function canonical(name: string): string {
  try {
    return normaliseUserName(name);
  } catch (error) {
    if (error instanceof UserNameError) throw new MailUserError(error.message);
    throw error;
  }
}

function checkPassword(password: string): void {
  if (password.length === 0) throw new MailUserError('the password must not be empty');
  if (password.length > MAX_PASSWORD_LENGTH) throw new MailUserError(`the password must be at most ${MAX_PASSWORD_LENGTH} characters`);
  // POP3 and SMTP AUTH carry a password on one line, with NUL as SASL PLAIN's separator.
  if (/[\0\r\n]/.test(password)) throw new MailUserError('the password must not contain NUL, CR or LF');
}
