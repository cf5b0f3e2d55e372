// Debian packages the tests need, installed with apt when missing. Every install on the machine
// goes through one lock: apt and dpkg hold their own locks and fail at once, rather than wait,
// when two test files (or a test and the global set-up) install at the same time.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

const LOCK = join(tmpdir(), 'porter-test-apt.lock');
// Should something outside the tests hold dpkg's lock (an unattended upgrade), apt waits for it.
const APT_OPTIONS = ['-o', 'DPkg::Lock::Timeout=600', '-o', 'Acquire::Retries=3'];
const OUTPUT_LIMIT = 64 * 1024 * 1024;

/** A Debian package and how to tell it is there: a file it installs, or a check command. */
export interface AptPackage {
  readonly name: string;
  /** Present when this path exists. */
  readonly path?: string;
  /** Present when this command exits 0 (for libraries: a Python import). */
  readonly check?: readonly [string, ...string[]];
  /** Install without the packages it recommends (what a server install would do). */
  readonly lean?: boolean;
}

/** The packages the test suite installs when they are missing. */
export const TEST_PACKAGES: readonly AptPackage[] = [
  { name: 'chromium', path: '/usr/bin/chromium' },
  { name: 'prosody', path: '/usr/bin/prosody', lean: true },
  { name: 'swaks', path: '/usr/bin/swaks' },
  { name: 'postfix', path: '/usr/sbin/smtp-source' },
  { name: 'python3-icalendar', check: ['/usr/bin/python3', '-c', 'import icalendar'], lean: true },
  { name: 'python3-recurring-ical-events', check: ['/usr/bin/python3', '-c', 'import recurring_ical_events'], lean: true },
];

async function present(pkg: AptPackage): Promise<boolean> {
  if (pkg.path !== undefined) return existsSync(pkg.path);
  if (pkg.check === undefined) return false;
  const [command, ...args] = pkg.check;
  try {
    await run(command, args);
    return true;
  } catch {
    return false;
  }
}

/** A shell command that exits 0 when `pkg` is installed. */
function checkCommand(pkg: AptPackage): string {
  const quote = (text: string) => `'${text.replaceAll("'", "'\\''")}'`;
  if (pkg.path !== undefined) return `test -e ${quote(pkg.path)}`;
  return `${(pkg.check ?? ['false']).map(quote).join(' ')} >/dev/null 2>&1`;
}

async function missing(packages: readonly AptPackage[]): Promise<AptPackage[]> {
  const found = await Promise.all(packages.map(present));
  return packages.filter((_, i) => !found[i]);
}

/**
 * Installs those of `packages` that are missing, under the machine-wide test lock, and checks
 * they are there afterwards. A second caller waits for the first and then finds them installed.
 */
export async function aptInstall(packages: readonly AptPackage[]): Promise<void> {
  if ((await missing(packages)).length === 0) return;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  // Inside the lock, ask again: the previous holder may have installed them.
  const apt = `apt-get ${APT_OPTIONS.join(' ')}`;
  const script = [
    'full=""',
    'lean=""',
    ...packages.map((p) => `${checkCommand(p)} || ${p.lean ? 'lean' : 'full'}="$${p.lean ? 'lean' : 'full'} ${p.name}"`),
    'test -z "$full$lean" && exit 0',
    `${apt} update`,
    `test -z "$full" || ${apt} install -y $full`,
    `test -z "$lean" || ${apt} install -y --no-install-recommends $lean`,
  ].join('\n');
  await run('flock', [LOCK, 'sh', '-ec', script], { env, maxBuffer: OUTPUT_LIMIT });
  const still = await missing(packages);
  if (still.length > 0) throw new Error(`apt-get ran, but ${still.map((p) => p.path ?? p.name).join(', ')} is still missing`);
}

/** The one package named `name` of TEST_PACKAGES. */
export function testPackage(name: string): AptPackage {
  const pkg = TEST_PACKAGES.find((p) => p.name === name);
  if (pkg === undefined) throw new Error(`no test package ${name}`);
  return pkg;
}
