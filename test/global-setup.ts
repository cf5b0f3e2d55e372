// Before any test file runs: every Debian package the suite needs, in one apt run, so a fresh
// machine updates apt's lists once instead of once per peer.
import { aptInstall, TEST_PACKAGES } from './peers/apt.js';

export default async function setup(): Promise<void> {
  await aptInstall(TEST_PACKAGES);
}
