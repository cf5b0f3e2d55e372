// The mailbox server (fmail's `store`, `list`/`mailinfo`, `retr`, `dele`): one maildir per user, written durably.
import { randomBytes } from 'node:crypto';
import {
  close as closeCallback,
  constants,
  fdatasync as fdatasyncCallback,
  open as openCallback,
  rename as renameCallback,
  unlink as unlinkCallback,
  write as writeCallback,
} from 'node:fs';
import { mkdir, open, readdir, readFile, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve, sep } from 'node:path';
import type { Logger } from '../../core/log.js';
import { normaliseUserName, printable, UserNameError } from '../auth/names.js';
import { fail, IpcError, type IpcHandlers, type IpcReply, type IpcRequest, ok } from '../protocol.js';
import { GroupSync } from '../queue/group-sync.js';
import { MessageFormatError, toCrlf } from './message.js';

/** A refusal people can read: bad name, bad message, no such message, mailbox in use. */
export class MailboxError extends IpcError {}

export interface MailboxesOptions {
  /** The folder that holds one maildir per user (`ROOT/alice/{tmp,new,cur}`). */
  readonly root: string;
  readonly log?: Logger;
  /** Refuse larger messages (in CRLF octets, after normalising). Default 64 MiB. */
  readonly maxMessageBytes?: number;
  /** When given, `store` refuses recipients it answers false for (e.g. `MailUsers.verify`). */
  readonly knows?: (user: string) => Promise<boolean>;
  /** Prepend `Delivered-To: <to>` to stored messages, as Postfix's local delivery does. Default true. */
  readonly deliveredTo?: boolean;
}

/** One message of a snapshot: its POP3 number, its size in CRLF octets, and its unique id (UIDL). */
export interface MessageInfo {
  readonly number: number;
  readonly size: number;
  readonly uid: string;
}

export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
/** RFC 1939 §7: a unique-id is 1 to 70 characters in 0x21–0x7E. */
const MAX_UID = 70;
const SUBDIRS = ['tmp', 'new', 'cur'] as const;

interface Entry {
  readonly info: MessageInfo;
  readonly file: string;
  deleted: boolean;
}

/**
 * A user's messages as they were when it was taken, numbered from 1 in delivery order: numbers
 * stay put while it lives (POP3's rule), whatever arrives or is marked deleted meanwhile.
 */
export class MailboxSnapshot {
  readonly user: string;
  readonly #entries: Entry[];
  readonly #dirs: readonly string[];

  constructor(user: string, entries: Entry[], dirs: readonly string[]) {
    this.user = user;
    this.#entries = entries;
    this.#dirs = dirs;
  }

  /** The messages not marked deleted. */
  get messages(): MessageInfo[] {
    return this.#entries.filter((e) => !e.deleted).map((e) => e.info);
  }

  /** Messages not marked deleted, and their total size in octets (POP3's STAT). */
  stat(): { count: number; size: number } {
    let count = 0;
    let size = 0;
    for (const e of this.#entries) {
      if (e.deleted) continue;
      count++;
      size += e.info.size;
    }
    return { count, size };
  }

  info(number: number): MessageInfo {
    return this.#entry(number).info;
  }

  /** The message's bytes, as stored (CRLF). */
  async read(number: number): Promise<Buffer> {
    const entry = this.#entry(number);
    try {
      return await readFile(entry.file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new MailboxError(`message ${number} no longer exists`);
      throw error;
    }
  }

  /** Marks a message deleted; it disappears from disk at `commit` (POP3's QUIT). */
  markDeleted(number: number): void {
    this.#entry(number).deleted = true;
  }

  /** Unmarks every message (POP3's RSET). */
  reset(): void {
    for (const e of this.#entries) e.deleted = false;
  }

  /** Removes the messages marked deleted from disk, durably; returns how many were removed. */
  async commit(): Promise<number> {
    let removed = 0;
    for (const e of this.#entries) {
      if (!e.deleted) continue;
      try {
        await unlink(e.file);
        removed++;
      } catch (error) {
        // Gone already (deleted through another path): that is what was asked for.
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
    if (removed > 0) for (const dir of this.#dirs) await fsyncDir(dir);
    return removed;
  }

  /** Deletes one message from disk at once (the IPC `dele`, which has no QUIT to wait for). */
  async deleteNow(number: number): Promise<void> {
    const entry = this.#entry(number);
    try {
      await unlink(entry.file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      entry.deleted = true;
      throw new MailboxError(`message ${number} no longer exists`);
    }
    entry.deleted = true;
    await fsyncDir(resolve(entry.file, '..'));
  }

  #entry(number: number): Entry {
    const entry = Number.isSafeInteger(number) && number >= 1 ? this.#entries[number - 1] : undefined;
    if (!entry) throw new MailboxError(`no message ${printable(String(number))} (the mailbox has ${this.#entries.length})`);
    if (entry.deleted) throw new MailboxError(`message ${number} is deleted`);
    return entry;
  }
}

export class Mailboxes {
  readonly root: string;
  readonly #log: Logger | undefined;
  readonly #maxBytes: number;
  readonly #knows: ((user: string) => Promise<boolean>) | undefined;
  readonly #deliveredTo: boolean;
  /** Maildirs known to exist, so a delivery costs no mkdir. */
  readonly #ready = new Map<string, Promise<void>>();
  /** The IPC's snapshot per user: `list` takes one, `retr` and `dele` number by it. */
  readonly #ipcSnapshots = new Map<string, MailboxSnapshot>();
  /** Users with a POP3 session in TRANSACTION state (RFC 1939's exclusive lock). */
  readonly #locked = new Set<string>();
  readonly #host: string;
  /** Told of every stored message, so a reader in this process (the mail plug) need not wait for its next poll. */
  readonly #stored = new Set<(user: string) => void>();
  /** Per maildir `new/`: its fsync, shared by the deliveries that wait for it together. */
  readonly #dirSyncs = new Map<string, GroupSync>();
  #sequence = 0;

  constructor(options: MailboxesOptions) {
    this.root = resolve(options.root);
    this.#log = options.log;
    this.#maxBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.#knows = options.knows;
    this.#deliveredTo = options.deliveredTo ?? true;
    // Maildir's rule: `/` and `:` may not appear in the host part of a file name.
    this.#host =
      hostname()
        .replace(/[^A-Za-z0-9.-]/g, '_')
        .slice(0, 40) || 'localhost';
  }

  /**
   * Delivers a message to `recipient`'s mailbox: written to `tmp/`, fsync'd, renamed into `new/`,
   * and `new/` fsync'd, so once this resolves the message survives a crash. `to` is the envelope
   * address it was sent to (recorded as `Delivered-To:`). Line ends become CRLF; NUL bytes and
   * oversized messages are refused and nothing is stored.
   */
  async store(to: string, recipient: string, bytes: Buffer): Promise<{ user: string; uid: string; size: number }> {
    const user = userName(recipient);
    if (/[\0\r\n]/.test(to)) throw new MailboxError('the "to" address must not contain NUL, CR or LF');
    if (to.length > 900) throw new MailboxError('the "to" address is too long');
    if (bytes.length > this.#maxBytes * 2) throw tooBig(this.#maxBytes);
    let message: Buffer;
    try {
      message = toCrlf(bytes);
    } catch (error) {
      if (error instanceof MessageFormatError) throw new MailboxError(error.message);
      throw error;
    }
    if (this.#deliveredTo && to !== '') message = Buffer.concat([Buffer.from(`Delivered-To: ${to}\r\n`), message]);
    if (message.length > this.#maxBytes) throw tooBig(this.#maxBytes);
    if (this.#knows && !(await this.#knows(user))) throw new MailboxError(`no mailbox for "${user}"`);

    const dir = await this.#maildir(user);
    const base = `${Date.now()}.P${PID}Q${++this.#sequence}R${randomBytes(4).toString('hex')}.${this.#host}`;
    const name = `${base},S=${message.length}`;
    await writeAndRename(join(dir, 'tmp', name), join(dir, 'new', name), message);
    await this.#dirSync(join(dir, 'new')).sync();
    this.#log?.debug({ user, size: message.length }, 'message stored');
    for (const listener of this.#stored) {
      try {
        listener(user);
      } catch (error) {
        this.#log?.error({ err: error, user }, 'a listener for stored messages failed');
      }
    }
    return { user, uid: uidOf(name), size: message.length };
  }

  /** Calls `listener` with the user's name after each message stored (durably); returns the unsubscribe. */
  onStored(listener: (user: string) => void): () => void {
    this.#stored.add(listener);
    return () => this.#stored.delete(listener);
  }

  /** A fresh snapshot of the user's mailbox (empty if nothing was ever delivered). */
  async snapshot(user: string): Promise<MailboxSnapshot> {
    const name = userName(user);
    const home = this.#home(name);
    const found: { sort: number; name: string; file: string }[] = [];
    for (const sub of ['new', 'cur'] as const) {
      let names: string[];
      try {
        names = await readdir(join(home, sub));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw error;
      }
      for (const n of names) {
        if (n.startsWith('.')) continue;
        found.push({ sort: Number.parseInt(n, 10) || 0, name: n, file: join(home, sub, n) });
      }
    }
    found.sort((a, b) => a.sort - b.sort || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const entries: Entry[] = [];
    for (const f of found) {
      let size = sizeOf(f.name);
      if (size === undefined) {
        // Dropped in by something else: ask the file system.
        try {
          size = (await stat(f.file)).size;
        } catch {
          continue;
        }
      }
      entries.push({ info: { number: entries.length + 1, size, uid: uidOf(f.name) }, file: f.file, deleted: false });
    }
    return new MailboxSnapshot(name, entries, [join(home, 'new'), join(home, 'cur')]);
  }

  /** Lists the user's messages and makes this listing the one `retr` and `dele` number by. */
  async list(user: string): Promise<MessageInfo[]> {
    const snapshot = await this.snapshot(user);
    this.#ipcSnapshots.set(snapshot.user, snapshot);
    return snapshot.messages;
  }

  /** Message `number` of the user's last listing (a new listing if there was none). */
  async retr(user: string, number: number): Promise<Buffer> {
    return (await this.#ipcSnapshot(user)).read(number);
  }

  /** Deletes message `number` of the user's last listing at once; an error if there is no such message. */
  async dele(user: string, number: number): Promise<void> {
    await (await this.#ipcSnapshot(user)).deleteNow(number);
  }

  /** Takes the user's exclusive POP3 lock; undefined if a session holds it already. */
  lock(user: string): (() => void) | undefined {
    const name = userName(user);
    if (this.#locked.has(name)) return undefined;
    this.#locked.add(name);
    let held = true;
    return () => {
      if (held) this.#locked.delete(name);
      held = false;
    };
  }

  /**
   * The mailbox server's IPC messages: `store: to ; recipient ; length` + raw bytes,
   * `list: username`, `mailinfo: username ; number`, `retr: username ; number`, `dele: username ; number`.
   */
  handlers(): IpcHandlers {
    const guard =
      (name: string, arity: number, usage: string, run: (request: IpcRequest) => Promise<IpcReply>) =>
      async (request: IpcRequest): Promise<IpcReply> => {
        if (request.params.length !== arity) return fail(`${name} takes ${usage}`);
        try {
          return await run(request);
        } catch (error) {
          if (error instanceof IpcError) return fail(error.message);
          this.#log?.error({ err: error, message: name }, 'mailbox request failed');
          return fail(`${name} failed: ${(error as NodeJS.ErrnoException).code ?? 'internal error'}`);
        }
      };
    return {
      store: guard('store', 3, 'three parameters: to ; recipient ; length', async ({ params, body }) => {
        const length = count(params[2]!, 'length');
        const bytes = body ?? Buffer.alloc(0);
        if (bytes.length !== length) return fail(`store announced ${length} bytes but ${bytes.length} followed`);
        await this.store(params[0]!, params[1]!, bytes);
        return ok();
      }),
      list: guard('list', 1, 'one parameter: username', async ({ params }) => {
        const messages = await this.list(params[0]!);
        return { ok: true, value: String(messages.length), lines: messages.map((m) => `mailinfo: ${m.number} ; ${m.size}`) };
      }),
      mailinfo: guard('mailinfo', 2, 'two parameters: username ; number', async ({ params }) => {
        const info = (await this.#ipcSnapshot(params[0]!)).info(count(params[1]!, 'message number'));
        return ok(`${info.number} ; ${info.size}`);
      }),
      retr: guard('retr', 2, 'two parameters: username ; number', async ({ params }) => {
        const body = await this.retr(params[0]!, count(params[1]!, 'message number'));
        return { ok: true, value: String(body.length), body };
      }),
      dele: guard('dele', 2, 'two parameters: username ; number', async ({ params }) => {
        await this.dele(params[0]!, count(params[1]!, 'message number'));
        return ok();
      }),
    };
  }

  async #ipcSnapshot(user: string): Promise<MailboxSnapshot> {
    const name = userName(user);
    const existing = this.#ipcSnapshots.get(name);
    if (existing) return existing;
    const snapshot = await this.snapshot(name);
    this.#ipcSnapshots.set(name, snapshot);
    return snapshot;
  }

  async #sweepTmp(dir: string): Promise<void> {
    const cutoff = Date.now() - TMP_GARBAGE_MS;
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      const file = join(dir, name);
      const info = await stat(file).catch(() => undefined);
      if (info?.isFile() && info.mtimeMs < cutoff) {
        await unlink(file).catch(() => undefined);
        this.#log?.info({ file }, 'removed a delivery left unfinished in tmp/');
      }
    }
  }

  #home(user: string): string {
    const home = join(this.root, user);
    // Names are validated already; this keeps it so should the rules ever loosen.
    if (!home.startsWith(this.root + sep)) throw new MailboxError(`"${printable(user)}" is not a valid mailbox name`);
    return home;
  }

  #dirSync(dir: string): GroupSync {
    let syncer = this.#dirSyncs.get(dir);
    if (!syncer) {
      syncer = new GroupSync(dir);
      this.#dirSyncs.set(dir, syncer);
    }
    return syncer;
  }

  /** The user's maildir, created (durably) on first delivery. */
  #maildir(user: string): Promise<string> {
    const home = this.#home(user);
    let ready = this.#ready.get(user);
    if (!ready) {
      ready = (async () => {
        await mkdir(this.root, { recursive: true });
        const made = await mkdir(home, { recursive: true });
        for (const sub of SUBDIRS) await mkdir(join(home, sub), { recursive: true });
        if (made !== undefined) {
          await fsyncDir(home);
          await fsyncDir(this.root);
        }
        await this.#sweepTmp(join(home, 'tmp'));
      })();
      this.#ready.set(user, ready);
      ready.catch(() => this.#ready.delete(user));
    }
    return ready.then(() => home);
  }
}

/**
 * A delivery cut off mid-write (a crash, kill -9) leaves its file in tmp/; it was never
 * acknowledged, since the queue keeps the message until it is in new/. Maildir's rule: a tmp file
 * untouched for 36 hours is garbage (younger ones may belong to a writer still at work).
 */
const TMP_GARBAGE_MS = 36 * 60 * 60 * 1000;

/**
 * Maildir's delivery: `tmp` created, written, fdatasync'd, closed, renamed to `to`; on failure
 * `tmp` is removed. Every step runs in the thread pool (creating a file can wait for the file
 * system's journal commit while other deliveries fsync), and with plain callbacks, as this is
 * the path every delivered message takes.
 */
function writeAndRename(tmp: string, to: string, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const failed = (error: Error, fd?: number) => {
      const cleanUp = () => unlinkCallback(tmp, () => reject(error));
      if (fd === undefined) cleanUp();
      else closeCallback(fd, cleanUp);
    };
    openCallback(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600, (openError, fd) => {
      if (openError) return failed(openError);
      const writeFrom = (at: number) => {
        writeCallback(fd, data, at, data.length - at, null, (writeError, written) => {
          if (writeError) return failed(writeError, fd);
          if (at + written < data.length) return writeFrom(at + written);
          fdatasyncCallback(fd, (syncError) => {
            if (syncError) return failed(syncError, fd);
            closeCallback(fd, (closeError) => {
              if (closeError) return failed(closeError);
              renameCallback(tmp, to, (renameError) => (renameError ? failed(renameError) : resolve()));
            });
          });
        });
      };
      writeFrom(0);
    });
  });
}

/** Read once: `process.pid` is a system call each time. */
const PID = process.pid;

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function userName(input: string): string {
  try {
    return normaliseUserName(input);
  } catch (error) {
    if (error instanceof UserNameError) throw new MailboxError(error.message);
    throw error;
  }
}

/** `S=` of a maildir file name: the size in octets, known without a stat. */
function sizeOf(name: string): number | undefined {
  const match = /,S=(\d+)/.exec(name);
  return match ? Number(match[1]) : undefined;
}

/** The file name without its info (`,S=…`, `:2,…`): stable while the message moves between new/ and cur/. */
function uidOf(name: string): string {
  const base = name.split(/[,:]/)[0]!.replace(/[^\x21-\x7e]/g, '_');
  return base.length <= MAX_UID ? base : base.slice(0, MAX_UID);
}

function count(text: string, what: string): number {
  if (!/^\d{1,15}$/.test(text.trim())) throw new MailboxError(`the ${what} must be a whole number, not "${printable(text)}"`);
  return Number(text.trim());
}

function tooBig(max: number): MailboxError {
  return new MailboxError(`the message is larger than the limit of ${max} octets; nothing was stored`);
}
