// Mail test tools from Debian's packages: swaks (a scriptable SMTP client) and postfix (for smtp-source and smtp-sink), installed when missing; the postfix daemon is never started.
import { execFile, spawn } from 'node:child_process';
import { chmod, mkdir } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { eventually, freePort } from '../helpers/wait.js';
import { aptInstall, testPackage } from './apt.js';

const run = promisify(execFile);

export const SWAKS_PATH = '/usr/bin/swaks';
export const SMTP_SOURCE_PATH = '/usr/sbin/smtp-source';
export const SMTP_SINK_PATH = '/usr/sbin/smtp-sink';

const SWAKS_OUTPUT_LIMIT = 64 * 1024 * 1024;

let installed: Promise<void> | undefined;

/** Resolves once swaks, smtp-source and smtp-sink exist; installs Debian's packages first when they do not. */
export function ensureMailTools(): Promise<void> {
  installed ??= install().catch((error: unknown) => {
    installed = undefined;
    throw error;
  });
  return installed;
}

function install(): Promise<void> {
  // Installing postfix does not start it in this environment (no init system), and nothing here starts it.
  return aptInstall([testPackage('swaks'), testPackage('postfix')]);
}

export interface SwaksResult {
  readonly code: number;
  /** swaks's transcript: `->` lines are what it sent, `<-` lines what the server answered. */
  readonly output: string;
}

/** Runs swaks with the given arguments; a non-zero exit is returned, not thrown (swaks exits 2x on SMTP refusals). */
export async function swaks(args: readonly string[], timeoutMs = 20_000): Promise<SwaksResult> {
  await ensureMailTools();
  try {
    const { stdout, stderr } = await run(SWAKS_PATH, [...args], { timeout: timeoutMs, maxBuffer: SWAKS_OUTPUT_LIMIT });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof failed.code !== 'number') throw error;
    return { code: failed.code, output: (failed.stdout ?? '') + (failed.stderr ?? '') };
  }
}

export interface SmtpSink {
  readonly port: number;
  /** The folder smtp-sink writes each message into (one file a message, envelope included). */
  readonly dump: string;
  stop(): Promise<void>;
}

/**
 * Starts Postfix's smtp-sink on a free loopback port, dumping every message into `DIR/sink`. It
 * drops to `nobody`, so `dir` is made world-readable and the dump folder world-writable.
 */
export async function startSmtpSink(dir: string): Promise<SmtpSink> {
  await ensureMailTools();
  await chmod(dir, 0o755);
  const dump = join(dir, 'sink');
  await mkdir(dump);
  await chmod(dump, 0o777);
  const port = await freePort();
  const child = spawn(SMTP_SINK_PATH, ['-u', 'nobody', '-d', `${dump}/%H%M%S.`, `127.0.0.1:${port}`, '256'], { stdio: 'ignore' });
  const answers = () =>
    new Promise<true | undefined>((resolve) => {
      const socket = createConnection({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(undefined));
    });
  await eventually('smtp-sink to listen', answers, 5_000);
  return {
    port,
    dump,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

const POP_SCRIPT = `
import poplib, json, sys
p = poplib.POP3('127.0.0.1', int(sys.argv[1]), timeout=10)
p.user(sys.argv[2])
p.pass_(sys.argv[3])
count = p.stat()[0]
out = [b'\\r\\n'.join(p.retr(i + 1)[1]).decode('utf-8', 'replace') for i in range(count)]
if sys.argv[4] == 'dele':
    for i in range(count): p.dele(i + 1)
p.quit()
print(json.dumps(out))
`;

/** Every message in a mailbox, fetched by Python's poplib (dot-unstuffed, lines joined by CRLF); with `dele`, deleted after. */
export async function popMessages(port: number, user: string, password: string, options: { dele?: boolean } = {}): Promise<string[]> {
  const { stdout } = await run('python3', ['-c', POP_SCRIPT, String(port), user, password, options.dele ? 'dele' : 'keep'], {
    timeout: 15_000,
  });
  return JSON.parse(stdout) as string[];
}
