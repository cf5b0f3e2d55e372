// SMTP out's spool of deferred mail (and bounces): each message's bytes and its delivery record (recipients, attempts, next attempt), written atomically with fsync.
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { copyFile, mkdir, open, readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { Logger } from '../../core/log.js';
import { GroupSync } from '../queue/group-sync.js';

export type RecipientState = 'pending' | 'delivered' | 'failed';

export interface RecipientRecord {
  readonly address: string;
  state: RecipientState;
  /** The last answer or error, for the bounce and for people reading the spool. */
  diagnostic?: string;
  /** RFC 3463 status of the last outcome (`2.0.0`, `4.4.1`, `5.1.1`, …). */
  status?: string;
  /** The host that gave the last answer. */
  remoteMta?: string;
}

/** The delivery record, `ID.json`: everything about a message but its bytes. */
export interface DeliveryRecord {
  readonly version: 1;
  readonly id: string;
  /** The envelope sender; `''` is the null sender `<>` of bounces, which are never bounced. */
  readonly from: string;
  readonly recipients: RecipientRecord[];
  /** When it was queued (ms since the epoch); its lifetime counts from here. */
  readonly queuedAt: number;
  /** Delivery attempts made so far. */
  attempts: number;
  /** When the next attempt is due (ms since the epoch). */
  nextAttemptAt: number;
  /** The message has 8-bit bytes: sent with BODY=8BITMIME where the server offers it. */
  eightBit?: boolean;
  /** The sender declared SMTPUTF8 (addresses or headers in UTF-8). */
  smtpUtf8?: boolean;
}

const ID = /^[a-z0-9]+-[a-f0-9]{16}$/;

/** Whether `id` has the form of this spool's ids (what `newId()` makes). */
export function isSpoolId(id: string): boolean {
  return ID.test(id);
}

function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String((error as { code: unknown }).code) : undefined;
}

async function syncFile(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function isRecord(value: unknown, id: string): value is DeliveryRecord {
  if (typeof value !== 'object' || value === null) return false;
  const r = value as Record<string, unknown>;
  return (
    r.version === 1 &&
    r.id === id &&
    typeof r.from === 'string' &&
    Array.isArray(r.recipients) &&
    r.recipients.every((x: unknown) => typeof x === 'object' && x !== null && typeof (x as { address?: unknown }).address === 'string') &&
    typeof r.queuedAt === 'number' &&
    typeof r.attempts === 'number' &&
    typeof r.nextAttemptAt === 'number'
  );
}

/**
 * On disk:
 *
 *     DIR/tmp/…            files being written; discarded at open
 *     DIR/msg/ID.eml       the message, as it will be sent
 *     DIR/msg/ID.json      its delivery record
 *     DIR/corrupt/NAME     queued messages that could not be read, set aside for people to look at
 *
 * A message is queued once `ID.json` has been renamed into `msg/` and `msg/` fsync'd, after
 * `ID.eml` was: at open, an `.eml` without its `.json` is a message nobody was told was queued,
 * and is deleted. Every later change of the record is a new file renamed over the old one
 * (fsync of the file, rename, fsync of `msg/`). Removal unlinks the `.json` first, so a crash
 * half-way leaves only an `.eml` that the next open deletes.
 */
export class Spool {
  readonly dir: string;
  readonly #tmp: string;
  readonly #msg: string;
  readonly #syncer: GroupSync;
  readonly #log: Logger | undefined;

  private constructor(dir: string, log: Logger | undefined) {
    this.dir = resolve(dir);
    this.#tmp = join(this.dir, 'tmp');
    this.#msg = join(this.dir, 'msg');
    this.#syncer = new GroupSync(this.#msg);
    this.#log = log;
  }

  /** Opens the spool and returns it with every record found, oldest first. */
  static async open(dir: string, log?: Logger): Promise<{ spool: Spool; records: DeliveryRecord[] }> {
    const spool = new Spool(dir, log);
    const records = await spool.#recover();
    return { spool, records };
  }

  async #recover(): Promise<DeliveryRecord[]> {
    const created = (await mkdir(this.#msg, { recursive: true })) !== undefined;
    await mkdir(this.#tmp, { recursive: true });
    if (created) {
      await syncFile(this.dir);
      await syncFile(resolve(this.dir, '..'));
    }
    for (const name of await readdir(this.#tmp)) await unlink(join(this.#tmp, name)).catch(() => {});
    const names = new Set(await readdir(this.#msg));
    const records: DeliveryRecord[] = [];
    let removed = 0;
    for (const name of names) {
      const match = /^(.+)\.(eml|json)$/.exec(name);
      const id = match?.[1];
      if (!match || !id || !ID.test(id)) {
        this.#log?.warn({ file: name }, 'ignoring a file in the outbound spool that porter did not put there');
        continue;
      }
      if (match[2] === 'eml') {
        if (!names.has(`${id}.json`)) {
          await unlink(join(this.#msg, name)).catch(() => {});
          removed++;
        }
        continue;
      }
      if (!names.has(`${id}.eml`)) {
        this.#log?.error({ id }, 'a delivery record without its message; removing it');
        await unlink(join(this.#msg, name)).catch(() => {});
        continue;
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(await readFile(join(this.#msg, name), 'utf8'));
      } catch {
        parsed = undefined;
      }
      if (!isRecord(parsed, id)) {
        this.#log?.error({ id }, 'an unreadable delivery record; leaving it and its message in the spool');
        continue;
      }
      records.push(parsed);
    }
    if (removed > 0) {
      await this.#syncer.sync();
      this.#log?.info({ removed }, 'removed messages whose queuing had not finished');
    }
    return records.sort((a, b) => a.queuedAt - b.queuedAt);
  }

  /** A random prefix for this run, and a counter: unique ids without a random draw per message. */
  readonly #idPrefix = randomBytes(4).toString('hex');
  #idCounter = 0;

  newId(): string {
    this.#idCounter = (this.#idCounter + 1) >>> 0;
    return `${Date.now().toString(36)}-${this.#idPrefix}${this.#idCounter.toString(16).padStart(8, '0')}`;
  }

  messagePath(id: string): string {
    return join(this.#msg, `${id}.eml`);
  }

  /** Queues a message from bytes: `.eml`, then the record, then one fsync of `msg/`. */
  async addBytes(record: DeliveryRecord, message: Buffer | string): Promise<void> {
    const tmp = join(this.#tmp, `${record.id}.eml`);
    const handle = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    try {
      await handle.writeFile(message);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, this.messagePath(record.id));
    await this.save(record);
  }

  /** Writes the record over the last one: the whole file, fsync, rename, fsync of `msg/`. */
  async save(record: DeliveryRecord): Promise<void> {
    const tmp = join(this.#tmp, `${record.id}.json.${randomBytes(4).toString('hex')}`);
    const handle = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    try {
      await handle.writeFile(JSON.stringify(record));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, join(this.#msg, `${record.id}.json`));
    await this.#syncer.sync();
  }

  async remove(id: string): Promise<void> {
    await unlink(join(this.#msg, `${id}.json`)).catch((error: unknown) => {
      if (errorCode(error) !== 'ENOENT') throw error;
    });
    await unlink(this.messagePath(id)).catch(() => {});
    await this.#syncer.sync();
  }

  /** Moves a file that cannot be delivered (no readable envelope) into `corrupt/`, durably; returns where it is now. */
  async quarantine(path: string): Promise<string> {
    const folder = join(this.dir, 'corrupt');
    await mkdir(folder, { recursive: true });
    const target = join(folder, `${basename(path)}.${randomBytes(4).toString('hex')}`);
    try {
      await rename(path, target);
    } catch (error) {
      if (errorCode(error) !== 'EXDEV') throw error;
      await copyFile(path, target, constants.COPYFILE_EXCL);
      await syncFile(target);
    }
    await syncFile(folder);
    return target;
  }

  /** Keeps the bytes of an unreadable message that had no file (it was read from the queue's memory) under `corrupt/`. */
  async quarantineBytes(name: string, data: Buffer): Promise<string> {
    const folder = join(this.dir, 'corrupt');
    await mkdir(folder, { recursive: true });
    const target = join(folder, `${name}.${randomBytes(4).toString('hex')}`);
    await writeFile(target, data, { flag: 'wx', mode: 0o600 });
    await syncFile(target);
    await syncFile(folder);
    return target;
  }

  readMessage(id: string): Promise<Buffer> {
    return readFile(this.messagePath(id));
  }
}
