// Mail test tools from Debian's packages: swaks (a scriptable SMTP client) and postfix (for smtp-source and smtp-sink), installed when missing; the postfix daemon is never started.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const SWAKS_PATH = '/usr/bin/swaks';
export const SMTP_SOURCE_PATH = '/usr/sbin/smtp-source';
export const SMTP_SINK_PATH = '/usr/sbin/smtp-sink';

// Test files run in parallel processes: the lock makes a second one wait for the first's install
// and then find the tools there, instead of failing on apt's own locks. Installing postfix does
// not start it in this environment (no init system), and nothing here starts it.
const INSTALL_LOCK = join(tmpdir(), 'porter-test-mail-tools.lock');
const INSTALL_SCRIPT = `
missing=""
test -x "$1" || missing="$missing swaks"
test -x "$2" || missing="$missing postfix"
test -z "$missing" || { apt-get update && apt-get install -y $missing; }
`;
const APT_OUTPUT_LIMIT = 64 * 1024 * 1024;

let installed: Promise<void> | undefined;

/** Resolves once swaks, smtp-source and smtp-sink exist; installs Debian's packages first when they do not. */
export function ensureMailTools(): Promise<void> {
  installed ??= install().catch((error: unknown) => {
    installed = undefined;
    throw error;
  });
  return installed;
}

async function install(): Promise<void> {
  if (existsSync(SWAKS_PATH) && existsSync(SMTP_SOURCE_PATH) && existsSync(SMTP_SINK_PATH)) return;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await run('flock', [INSTALL_LOCK, 'sh', '-c', INSTALL_SCRIPT, 'sh', SWAKS_PATH, SMTP_SOURCE_PATH], { env, maxBuffer: APT_OUTPUT_LIMIT });
  for (const path of [SWAKS_PATH, SMTP_SOURCE_PATH, SMTP_SINK_PATH]) {
    if (!existsSync(path)) throw new Error(`apt-get installed swaks and postfix, but ${path} is still missing`);
  }
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
    const { stdout, stderr } = await run(SWAKS_PATH, [...args], { timeout: timeoutMs, maxBuffer: APT_OUTPUT_LIMIT });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof failed.code !== 'number') throw error;
    return { code: failed.code, output: (failed.stdout ?? '') + (failed.stderr ?? '') };
  }
}
