// Group commit of a directory's fsync: callers that arrive while one fsync is in flight share the next one.
import { open } from 'node:fs/promises';

interface Batch {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

function batch(): Batch {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * `sync()` resolves once an fsync of the directory has *started and finished* after the call: a
 * rename that completed before `sync()` was called is then on disk. A caller arriving while an
 * fsync is running cannot ride on it (its rename may have come too late for it), so it joins the
 * batch for the next one; however many join, that next fsync is one system call.
 */
export class GroupSync {
  #next: Batch | undefined;
  #running = false;
  /** fsyncs done, for measuring how well batching works. */
  syncs = 0;

  constructor(readonly dir: string) {}

  sync(): Promise<void> {
    this.#next ??= batch();
    const { promise } = this.#next;
    if (!this.#running) void this.#run();
    return promise;
  }

  async #run(): Promise<void> {
    this.#running = true;
    // One open of the directory serves the fsyncs of batches that follow each other.
    let handle: Awaited<ReturnType<typeof open>> | undefined;
    try {
      while (this.#next) {
        const current = this.#next;
        this.#next = undefined;
        try {
          handle ??= await open(this.dir, 'r');
          await handle.sync();
          this.syncs++;
          current.resolve();
        } catch (error) {
          current.reject(error);
          await handle?.close().catch(() => {});
          handle = undefined;
        }
      }
    } finally {
      await handle?.close().catch(() => {});
      this.#running = false;
      // A caller that came while the handle closed waits for a run of its own.
      if (this.#next) void this.#run();
    }
  }
}
