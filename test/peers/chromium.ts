// Debian's Chromium for browser tests, driven by playwright-core: installed from Debian's packages
// when missing (playwright's own download is never used), launched headless with a throw-away profile.
import { type Browser, chromium } from 'playwright-core';
import { aptInstall, testPackage } from './apt.js';

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

function install(): Promise<void> {
  return aptInstall([testPackage('chromium')]);
}
