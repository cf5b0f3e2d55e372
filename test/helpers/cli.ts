// Runs the built `porter` command as a user would, and waits for what it prints.
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/porter.js', import.meta.url));

export interface Run {
  readonly child: ChildProcess;
  stdout: string;
  stderr: string;
  /** Resolves when stdout contains `text`. */
  waitFor(text: string | RegExp, timeoutMs?: number): Promise<void>;
  exited: Promise<number | null>;
}

export function porter(args: readonly string[], options: { cwd?: string; input?: string } = {}): Run {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  const run: Run = {
    child,
    stdout: '',
    stderr: '',
    exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))),
    waitFor(text, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const matches = () => (typeof text === 'string' ? run.stdout.includes(text) : text.test(run.stdout));
        if (matches()) return resolve();
        const timer = setTimeout(
          () => reject(new Error(`porter did not print ${text} within ${timeoutMs} ms; stdout:\n${run.stdout}\nstderr:\n${run.stderr}`)),
          timeoutMs,
        );
        const check = () => {
          if (matches()) {
            clearTimeout(timer);
            child.stdout?.off('data', check);
            resolve();
          }
        };
        child.stdout?.on('data', check);
      });
    },
  };
  child.stdout?.on('data', (d: Buffer) => {
    run.stdout += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    run.stderr += d.toString();
  });
  if (options.input !== undefined) child.stdin?.end(options.input);
  return run;
}

/** Runs to completion and returns the exit code and output. */
export async function porterExit(
  args: readonly string[],
  options: { cwd?: string } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const run = porter(args, options);
  const code = await run.exited;
  return { code, stdout: run.stdout, stderr: run.stderr };
}
