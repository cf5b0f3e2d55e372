// Debian's Python calendar libraries (icalendar, recurring-ical-events), installed when missing, for
// tests that check porter's iCalendar against code no one here wrote. They run under /usr/bin/python3,
// where apt puts them, not whatever python3 comes first on PATH.
import { execFile, spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const DEBIAN_PYTHON = '/usr/bin/python3';
const PACKAGES = ['python3-icalendar', 'python3-recurring-ical-events'];
const INSTALL_LOCK = join(tmpdir(), 'porter-test-python-calendar.lock');
const CHECK = 'import icalendar, recurring_ical_events';

let installed: Promise<void> | undefined;

/** Resolves once `/usr/bin/python3` can import icalendar and recurring_ical_events; installs Debian's packages first when it cannot. */
export function ensurePythonCalendar(): Promise<void> {
  installed ??= install().catch((error: unknown) => {
    installed = undefined;
    throw error;
  });
  return installed;
}

async function importable(): Promise<boolean> {
  try {
    await run(DEBIAN_PYTHON, ['-c', CHECK]);
    return true;
  } catch {
    return false;
  }
}

async function install(): Promise<void> {
  if (await importable()) return;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const script = `${DEBIAN_PYTHON} -c '${CHECK}' 2>/dev/null || { apt-get update && apt-get install -y --no-install-recommends ${PACKAGES.join(' ')}; }`;
  await run('flock', [INSTALL_LOCK, 'sh', '-c', script], { env, maxBuffer: 64 * 1024 * 1024 });
  if (!(await importable())) throw new Error(`apt-get installed ${PACKAGES.join(' ')}, but ${DEBIAN_PYTHON} still cannot import them`);
}

/** Runs a Python script under Debian's python3 with `input` on stdin; resolves with stdout, rejects with stderr on a non-zero exit. */
export async function python(script: string, input = '', args: readonly string[] = []): Promise<string> {
  await ensurePythonCalendar();
  return new Promise((resolve, reject) => {
    const child = spawn(DEBIAN_PYTHON, ['-c', script, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out).toString('utf8'));
      else reject(new Error(`python exited ${code}: ${Buffer.concat(err).toString('utf8')}`));
    });
    child.stdin.end(input);
  });
}
