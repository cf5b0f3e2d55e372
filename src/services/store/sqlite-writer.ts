/**
 * A second connection to a SQLite file, on a worker thread, that runs the store's bulk inserts
 * (`Store.insertMany`). better-sqlite3 is synchronous: a batch of a thousand rows written on the
 * main thread stalls every network for milliseconds. On the worker it costs the event loop one
 * message. WAL lets the main connection read while the worker writes.
 */
import { Worker } from 'node:worker_threads';
import { StoreError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';

// The worker's code travels as a string so it runs the same from src/ (tests) and dist/; it
// loads better-sqlite3 from porter's own node_modules through `base`.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createRequire } = require('node:module');
const Database = createRequire(workerData.base)('better-sqlite3');
const db = new Database(workerData.file, { timeout: workerData.busyTimeoutMs });
db.pragma('synchronous = NORMAL');
db.pragma('busy_timeout = ' + workerData.busyTimeoutMs);
const inserts = new Map();
function insertFor(sql, width) {
  let insert = inserts.get(sql);
  if (!insert) {
    const statement = db.prepare(sql);
    insert = db.transaction((values) => {
      for (let i = 0; i < values.length; i += width) statement.run(values.slice(i, i + width));
    });
    inserts.set(sql, insert);
  }
  return insert;
}
parentPort.on('message', (job) => {
  if (job.close) {
    db.close();
    parentPort.postMessage({ seq: job.seq });
    return;
  }
  try {
    insertFor(job.sql, job.width)(job.values);
    parentPort.postMessage({ seq: job.seq });
  } catch (error) {
    parentPort.postMessage({ seq: job.seq, error: String(error && error.message || error) });
  }
});
`;

interface Reply {
  readonly seq: number;
  readonly error?: string;
}

export class SqliteWriter {
  readonly #worker: Worker;
  readonly #log: Logger;
  readonly #waiting = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();
  #seq = 0;
  #failed: Error | undefined;

  constructor(file: string, options: { readonly busyTimeoutMs: number; readonly log: Logger }) {
    this.#log = options.log;
    this.#worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { file, base: import.meta.url, busyTimeoutMs: options.busyTimeoutMs },
    });
    // Idle, it must not keep porter running; while writes are awaited, their promises do.
    this.#worker.unref();
    this.#worker.on('message', (reply: Reply) => {
      const waiting = this.#waiting.get(reply.seq);
      this.#waiting.delete(reply.seq);
      if (this.#waiting.size === 0) this.#worker.unref();
      if (reply.error === undefined) waiting?.resolve();
      else waiting?.reject(new StoreError(reply.error));
    });
    this.#worker.on('error', (error) => this.#fail(error));
    this.#worker.on('exit', (code) => {
      if (this.#waiting.size > 0) this.#fail(new StoreError(`the SQLite writer thread stopped (exit ${code})`));
    });
  }

  /** Inserts `rows` with `sql` (one `?` per column), in one transaction; resolves when committed. */
  insert(sql: string, width: number, rows: readonly (readonly unknown[])[]): Promise<void> {
    const values: unknown[] = [];
    for (const row of rows) for (let i = 0; i < width; i++) values.push(row[i]);
    return this.#post({ sql, width, values });
  }

  /** Waits for the writes under way, then closes the writer's connection and thread. */
  async close(): Promise<void> {
    if (!this.#failed) await this.#post({ close: true }).catch(() => {});
    await this.#worker.terminate();
  }

  #post(job: Record<string, unknown>): Promise<void> {
    if (this.#failed) return Promise.reject(this.#failed);
    const seq = ++this.#seq;
    return new Promise<void>((resolve, reject) => {
      if (this.#waiting.size === 0) this.#worker.ref();
      this.#waiting.set(seq, { resolve, reject });
      this.#worker.postMessage({ ...job, seq });
    });
  }

  #fail(error: Error): void {
    this.#log.error({ err: error }, 'the SQLite writer thread failed');
    this.#failed = error;
    for (const waiting of this.#waiting.values()) waiting.reject(error);
    this.#waiting.clear();
  }
}
