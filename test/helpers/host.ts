// Builds and opens hosts for tests from a config object, with logs captured as JSON records.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Host, type HostOptions, Logging, resolveConfig } from 'porter';

export const FIXTURES = fileURLToPath(new URL('../fixtures/plugins/', import.meta.url));

export interface LogRecord {
  level: number;
  name?: string;
  msg: string;
  [key: string]: unknown;
}

export function captureLogging(level = 'debug'): { logging: Logging; records: LogRecord[] } {
  const records: LogRecord[] = [];
  const destination = { write: (line: string) => void records.push(JSON.parse(line) as LogRecord) };
  const logging = Logging.create(
    { version: 1, handlers: { mem: { class: 'console', format: 'json', level } }, root: { level, handlers: ['mem'] } },
    { destination },
  );
  return { logging, records };
}

export async function tempDir(): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'porter-test-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Resolves `document` against `dir` (default store: SQLite in `dir`) and opens a host on it. */
export async function openHost(
  document: Record<string, unknown>,
  dir: string,
  options: HostOptions = {},
): Promise<{ host: Host; records: LogRecord[] }> {
  const doc = { store: `sqlite:${join(dir, 'porter.db')}`, path: [FIXTURES], ...document };
  const config = await resolveConfig(doc, { baseDir: dir });
  const { logging, records } = captureLogging();
  const host = new Host(config, { logging, announce: false, ...options });
  await host.open();
  return { host, records };
}
