// smtp-sink as a fake remote MX for the mail benchmarks, with its message counter read live.
import { spawn } from 'node:child_process';
import { waitForPort } from './peers.mjs';

/**
 * Starts `smtp-sink -u nobody -c 127.0.0.1:PORT 256` (accepts and discards everything) and
 * follows its `-c` counter (`sess=N quit=N mesg=N`, rewritten in place with \r).
 */
export async function startSink(port) {
  const child = spawn('smtp-sink', ['-u', 'nobody', '-c', `127.0.0.1:${port}`, '256'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let messages = 0;
  let tail = '';
  const onData = (d) => {
    tail = (tail + d).slice(-200);
    const all = [...tail.matchAll(/mesg=(\d+)/g)];
    if (all.length) messages = Number(all[all.length - 1][1]);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  await waitForPort(port);
  return {
    /** Messages the sink has accepted so far (its DATA count). */
    messages: () => messages,
    /** Resolves once the sink has counted `n` messages, or after timeoutMs; returns the count. */
    async waitFor(n, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (messages < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      return messages;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
}
