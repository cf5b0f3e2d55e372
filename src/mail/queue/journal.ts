// A queue's write-ahead journal: in-process pushes and all acks appended to one file, one fdatasync per batch.
import { closeSync, constants, fdatasync, fsyncSync, openSync, readdirSync, readFileSync, unlinkSync, writev } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';

/**
 * A record is a fixed header, the message file's name and (for a push) the message:
 *
 *     u32 magic 0x504a5231 ("PJR1")   u8 kind (1 push, 2 ack)   u16 name length
 *     u32 data length                 u32 CRC-32 of name and data
 *     name (ASCII)                    data
 *
 * A crash can leave the last records of a segment cut off or never written; the CRC and the
 * lengths find where the good part ends, and nothing after it was acknowledged to anyone.
 */
const MAGIC = 0x504a5231;
const HEADER = 15;
export const PUSH = 1;
export const ACK = 2;
/** A segment name: its number, so that recovery reads segments in the order they were written. */
const SEGMENT_NAME = /^(\d{12})\.journal$/;

export interface JournalRecord {
  readonly kind: typeof PUSH | typeof ACK;
  readonly name: string;
  /** The message, for a push. */
  readonly data: Buffer | undefined;
}

export function encodeRecord(kind: typeof PUSH | typeof ACK, name: string, data: readonly Buffer[]): Buffer[] {
  const nameBytes = Buffer.from(name, 'latin1');
  let length = 0;
  let crc = crc32(nameBytes);
  for (const chunk of data) {
    length += chunk.length;
    crc = crc32(chunk, crc);
  }
  const header = Buffer.allocUnsafe(HEADER);
  header.writeUInt32BE(MAGIC, 0);
  header.writeUInt8(kind, 4);
  header.writeUInt16BE(nameBytes.length, 5);
  header.writeUInt32BE(length, 7);
  header.writeUInt32BE(crc, 11);
  return [header, nameBytes, ...data];
}

/** The good records of a segment, in order, up to the first cut-off or damaged one. */
export function decodeSegment(bytes: Buffer): JournalRecord[] {
  const records: JournalRecord[] = [];
  let at = 0;
  while (at + HEADER <= bytes.length) {
    if (bytes.readUInt32BE(at) !== MAGIC) break;
    const kind = bytes.readUInt8(at + 4);
    const nameLength = bytes.readUInt16BE(at + 5);
    const dataLength = bytes.readUInt32BE(at + 7);
    const crc = bytes.readUInt32BE(at + 11);
    const end = at + HEADER + nameLength + dataLength;
    if ((kind !== PUSH && kind !== ACK) || end > bytes.length) break;
    const nameBytes = bytes.subarray(at + HEADER, at + HEADER + nameLength);
    const data = bytes.subarray(at + HEADER + nameLength, end);
    if (crc32(data, crc32(nameBytes)) !== crc) break;
    records.push({ kind, name: nameBytes.toString('latin1'), data: kind === PUSH ? data : undefined });
    at = end;
  }
  return records;
}

/** The segments in `dir`, oldest first, as absolute paths. */
export function listSegments(dir: string): { path: string; number: number }[] {
  const found: { path: string; number: number }[] = [];
  for (const name of readdirSync(dir)) {
    const match = SEGMENT_NAME.exec(name);
    if (match) found.push({ path: join(dir, name), number: Number(match[1]) });
  }
  return found.sort((a, b) => a.number - b.number);
}

export function segmentPath(dir: string, number: number): string {
  return join(dir, `${String(number).padStart(12, '0')}.journal`);
}

interface Waiter {
  readonly chunks: readonly Buffer[];
  readonly bytes: number;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * One open segment, appended to with group commit: records given while a write+fdatasync runs
 * wait together for the next one, so however many sessions push at once, each batch costs one
 * `writev` and one `fdatasync`. `append` resolves once its record is on disk.
 */
export class JournalSegment {
  readonly path: string;
  readonly number: number;
  /** Bytes appended and made durable so far. */
  size = 0;
  /** Batches written (each one fdatasync), for measuring how well batching works. */
  syncs = 0;
  readonly #fd: number;
  #queued: Waiter[] = [];
  #running = false;
  #closed = false;
  #idle: (() => void)[] = [];

  /** Creates the segment, and makes its name durable before any record in it can count. */
  constructor(dir: string, number: number) {
    this.path = segmentPath(dir, number);
    this.number = number;
    this.#fd = openSync(this.path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_APPEND, 0o600);
    const dirFd = openSync(dir, constants.O_RDONLY);
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  }

  append(chunks: readonly Buffer[]): Promise<void> {
    if (this.#closed) return Promise.reject(new Error(`journal segment ${this.path} is closed`));
    let bytes = 0;
    for (const chunk of chunks) bytes += chunk.length;
    return new Promise((resolve, reject) => {
      this.#queued.push({ chunks, bytes, resolve, reject });
      if (!this.#running) this.#run();
    });
  }

  /** Bytes appended, whether or not their fdatasync has finished: what rotation goes by. */
  get pendingSize(): number {
    let bytes = this.size;
    for (const w of this.#queued) bytes += w.bytes;
    return bytes;
  }

  /** Resolves once no batch is queued or running. */
  whenIdle(): Promise<void> {
    if (!this.#running && this.#queued.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #run(): void {
    const batch = this.#queued;
    if (batch.length === 0) {
      this.#running = false;
      const idle = this.#idle;
      this.#idle = [];
      for (const resolve of idle) resolve();
      return;
    }
    this.#running = true;
    this.#queued = [];
    const chunks: Buffer[] = [];
    let bytes = 0;
    for (const w of batch) {
      for (const chunk of w.chunks) chunks.push(chunk);
      bytes += w.bytes;
    }
    const fail = (error: unknown) => {
      for (const w of batch) w.reject(error);
      this.#run();
    };
    this.#write(chunks, 0, bytes, (error) => {
      if (error) return fail(error);
      fdatasync(this.#fd, (syncError) => {
        if (syncError) return fail(syncError);
        this.size += bytes;
        this.syncs++;
        for (const w of batch) w.resolve();
        this.#run();
      });
    });
  }

  /** writev until every byte is written (a short write is possible, if rare). */
  #write(chunks: Buffer[], done: number, total: number, callback: (error: Error | null) => void): void {
    // IOV_MAX is 1024 on Linux.
    const slice = chunks.length > 1024 ? chunks.slice(0, 1024) : chunks;
    writev(this.#fd, slice, (error, written) => {
      if (error) return callback(error);
      let rest = written;
      let i = 0;
      while (i < chunks.length && rest >= chunks[i]!.length) rest -= chunks[i++]!.length;
      const remaining = chunks.slice(i);
      if (rest > 0) remaining[0] = remaining[0]!.subarray(rest);
      if (done + written >= total || remaining.length === 0) return callback(null);
      this.#write(remaining, done + written, total, callback);
    });
  }

  /** Closes the file once nothing is pending; later appends are refused. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.whenIdle();
    closeSync(this.#fd);
  }
}

/** Reads a whole segment (recovery only). */
export function readSegment(path: string): Buffer {
  return readFileSync(path);
}

export function removeSegment(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}
