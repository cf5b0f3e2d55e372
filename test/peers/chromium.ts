// Debian's Chromium for browser tests, driven by playwright-core: installed from Debian's packages
// when missing (playwright's own download is never used), launched headless with a throw-away profile.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type Browser, chromium } from 'playwright-core';

const run = promisify(execFile);

export const CHROMIUM_PATH = '/usr/bin/chromium';
// Playwright makes its own fresh profile for every launch, and refuses a --user-data-dir argument.
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
// Test files run in parallel processes: the lock makes a second one wait for the first's install
// and then find Chromium there, instead of failing on apt's own locks.
const INSTALL_LOCK = join(tmpdir(), 'porter-test-chromium.lock');
const INSTALL_SCRIPT = 'test -x "$1" || { apt-get update && apt-get install -y chromium; }';
const APT_OUTPUT_LIMIT = 64 * 1024 * 1024;

let installed: Promise<void> | undefined;

/** Resolves once /usr/bin/chromium exists; installs Debian's package first when it does not. */
export function ensureChromium(): Promise<void> {
  installed ??= install().catch((error: unknown) => {
    installed = undefined;
    throw error;
  });
  return installed;
}

/** A headless Chromium; the caller closes it. */
export async function launchChromium(): Promise<Browser> {
  await ensureChromium();
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
}

async function install(): Promise<void> {
  if (existsSync(CHROMIUM_PATH)) return;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await run('flock', [INSTALL_LOCK, 'sh', '-c', INSTALL_SCRIPT, 'sh', CHROMIUM_PATH], { env, maxBuffer: APT_OUTPUT_LIMIT });
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`apt-get installed chromium, but ${CHROMIUM_PATH} is still missing`);
}
