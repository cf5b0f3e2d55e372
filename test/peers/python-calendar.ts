// Debian's Python calendar libraries (icalendar, recurring-ical-events), installed when missing, for
// tests that check porter's iCalendar against code no one here wrote. They run under /usr/bin/python3,
// where apt puts them, not whatever python3 comes first on PATH.
import { spawn } from 'node:child_process';
import { aptInstall, testPackage } from './apt.js';

export const DEBIAN_PYTHON = '/usr/bin/python3';

let installed: Promise<void> | undefined;

/** Resolves once `/usr/bin/python3` can import icalendar and recurring_ical_events; installs Debian's packages first when it cannot. */
export function ensurePythonCalendar(): Promise<void> {
  installed ??= install().catch((error: unknown) => {
    installed = undefined;
    throw error;
  });
  return installed;
}

function install(): Promise<void> {
  return aptInstall([testPackage('python3-icalendar'), testPackage('python3-recurring-ical-events')]);
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
