// Today's reservations from iCalendar files and URLs: the computation, reloading, failures, midnight.
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Reservation } from '../../../src/hooks/occupancy/protocol.js';
import {
  reservationsOn,
  ScheduleSource,
  type ScheduleSourceConfig,
  type ScheduleSourceOptions,
  scheduleSourceSchema,
} from '../../../src/hooks/occupancy/schedule.js';
import { until } from '../../helpers/wait.js';

const FIXTURES = fileURLToPath(new URL('../../fixtures/occupancy/', import.meta.url));
const TZ = 'Europe/Amsterdam';
const fixture = (name: string) => readFileSync(join(FIXTURES, name), 'utf8');
/** Noon UTC on a day: that day in Amsterdam. */
const day = (date: string) => new Date(`${date}T12:00:00Z`);
const on = (name: string, date: string, timeZone = TZ) => reservationsOn(fixture(name), day(date), timeZone);

describe('reservationsOn', () => {
  it('lists single events of the day by start, in local time, whatever zone they were written in', () => {
    expect(on('single.ics', '2024-03-12')).toEqual([
      [[8, 30], [9, 15], 'Floating C'],
      [[10, 0], [11, 30], 'Lecture A'],
      [[14, 0], [16, 0], 'Exam B'],
      [[16, 0], [17, 0], 'Call with New York'],
      [[16, 30], [17, 15], 'Duration D'],
    ]);
    expect(on('single.ics', '2024-03-13')).toEqual([[[10, 0], [11, 0], 'Other day']]);
    expect(on('single.ics', '2024-03-12', 'UTC').slice(0, 3)).toEqual([
      [[8, 30], [9, 15], 'Floating C'],
      [[9, 0], [10, 30], 'Lecture A'],
      [[13, 0], [15, 0], 'Exam B'],
    ]);
  });

  it('clips events that cross midnight to the day', () => {
    expect(on('midnight.ics', '2024-03-12')).toEqual([
      [[0, 0], [24, 0], 'Maintenance'],
      [[22, 0], [24, 0], 'Night shift'],
    ]);
    expect(on('midnight.ics', '2024-03-13')).toEqual([
      [[0, 0], [2, 0], 'Night shift'],
      [[0, 0], [8, 0], 'Maintenance'],
    ]);
    expect(on('midnight.ics', '2024-03-14')).toEqual([]);
    expect(on('midnight.ics', '2024-03-31')).toEqual([[[1, 0], [4, 0], 'Across the clock change']]);
  });

  it('expands recurring events with EXDATE, moved and cancelled occurrences, across a clock change', () => {
    expect(on('weekly.ics', '2024-03-12')).toEqual([
      [[8, 15], [8, 30], 'Stand-up'],
      [[9, 0], [10, 45], 'Practicum'],
    ]);
    expect(on('weekly.ics', '2024-03-14')).toEqual([]);
    expect(on('weekly.ics', '2024-03-19')).toEqual([]);
    expect(on('weekly.ics', '2024-03-26')).toEqual([[[13, 0], [14, 0], 'Practicum (moved)']]);
    expect(on('weekly.ics', '2024-04-02')).toEqual([[[9, 0], [10, 45], 'Practicum']]);
    expect(on('weekly.ics', '2024-04-09')).toEqual([]);
    expect(on('weekly.ics', '2024-06-25')).toEqual([[[9, 0], [10, 45], 'Practicum']]);
    expect(on('weekly.ics', '2024-07-02')).toEqual([]);
  });

  it('shows all-day events as the whole day', () => {
    expect(on('allday.ics', '2024-03-12')).toEqual([
      [[0, 0], [24, 0], 'Conference'],
      [[0, 0], [24, 0], 'Open day'],
    ]);
    expect(on('allday.ics', '2024-03-13')).toEqual([[[0, 0], [24, 0], 'Conference']]);
    expect(on('allday.ics', '2024-03-14')).toEqual([]);
    expect(on('allday.ics', '2024-12-25')).toEqual([[[0, 0], [24, 0], 'Christmas']]);
    expect(on('allday.ics', '2024-03-31')).toEqual([[[0, 0], [24, 0], 'Summer time starts']]);
  });

  it('rejects what is not an iCalendar file', () => {
    expect(() => reservationsOn('<html>Not here</html>', day('2024-03-12'), TZ)).toThrow(/not a valid iCalendar/);
    expect(() => reservationsOn('', day('2024-03-12'), TZ)).toThrow(/not a valid iCalendar/);
  });
});

describe('scheduleSourceSchema', () => {
  it('takes a file or a URL, alone or with options, and resolves files against baseDir', () => {
    const schema = scheduleSourceSchema('/etc/porter');
    expect(schema.parse('rooms/hg075.ics')).toEqual({ kind: 'file', file: '/etc/porter/rooms/hg075.ics', refresh: 300 });
    expect(schema.parse({ file: '/srv/a.ics', refresh: 60 })).toEqual({ kind: 'file', file: '/srv/a.ics', refresh: 60 });
    expect(schema.parse('https://example.org/cal.ics')).toEqual({
      kind: 'url',
      url: 'https://example.org/cal.ics',
      refresh: 300,
      timeout: 30,
      headers: {},
    });
    expect(scheduleSourceSchema().parse({ file: 'a.ics' })).toEqual({ kind: 'file', file: 'a.ics', refresh: 300 });
  });

  it('says what is wrong', () => {
    const schema = scheduleSourceSchema();
    const problems = (value: unknown) => schema.safeParse(value).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(problems({ file: 'a.ics', url: 'https://example.org/a.ics' })).toEqual([': give either file or url']);
    expect(problems({})).toEqual([': give either file or url']);
    expect(problems({ url: 'ftp://example.org/a.ics' })).toEqual(['url: expected an http:// or https:// URL']);
    expect(problems({ file: 'a.ics', timeout: 5 })).toEqual(['timeout: timeout applies to url sources only']);
    expect(problems({ file: 'a.ics', refresh: 0 })?.[0]).toMatch(/^refresh:/);
    expect(problems({ file: 'a.ics', every: 5 })?.[0]).toMatch(/every/);
  });
});

interface LogLine {
  level: number;
  msg: string;
  room?: string;
  source?: string;
  error?: string;
}

interface Harness {
  source: ScheduleSource;
  calls: { room: string; reservations: Reservation[] }[];
  logs: LogLine[];
}

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A source whose clock stands at `at` (default: noon on 2024-03-12, Amsterdam) and moves on from there. */
function harness(rooms: Record<string, ScheduleSourceConfig>, options: Partial<ScheduleSourceOptions> & { at?: string } = {}): Harness {
  const calls: Harness['calls'] = [];
  const logs: LogLine[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) });
  const offset = new Date(options.at ?? '2024-03-12T11:00:00Z').getTime() - Date.now();
  const source = new ScheduleSource({
    rooms,
    log,
    timeZone: TZ,
    now: () => new Date(Date.now() + offset),
    retry: { initial: 50, max: 200 },
    onSchedule: (room, reservations) => void calls.push({ room, reservations }),
    ...options,
  });
  cleanups.push(() => source.close());
  return { source, calls, logs };
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'porter-schedule-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const file = (path: string, refresh = 3600): ScheduleSourceConfig => ({ kind: 'file', file: path, refresh });
const url = (href: string, extra: Partial<{ refresh: number; timeout: number }> = {}): ScheduleSourceConfig => ({
  kind: 'url',
  url: href,
  refresh: extra.refresh ?? 3600,
  timeout: extra.timeout ?? 5,
  headers: {},
});

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { server, url: `http://127.0.0.1:${port}` };
}

describe('ScheduleSource', () => {
  it('loads each room, resolving relative files against baseDir, and reports once per change', async () => {
    const h = harness({ hg075: file('single.ics'), hg023: file('weekly.ics') }, { baseDir: FIXTURES });
    await h.source.start();
    expect(h.calls.map((c) => c.room).sort()).toEqual(['hg023', 'hg075']);
    expect(h.source.schedule('hg023')).toEqual([
      [[8, 15], [8, 30], 'Stand-up'],
      [[9, 0], [10, 45], 'Practicum'],
    ]);
    await h.source.refresh();
    expect(h.calls).toHaveLength(2);
  });

  it('reloads a file when it changes', async () => {
    const dir = tempDir();
    const path = join(dir, 'room.ics');
    copyFileSync(join(FIXTURES, 'single.ics'), path);
    const h = harness({ hg075: file(path) });
    await h.source.start();
    expect(h.calls).toHaveLength(1);
    writeFileSync(path, fixture('single.ics').replace('SUMMARY:Lecture   A', 'SUMMARY:Lecture A (room change)'));
    await until(() => h.calls.length === 2);
    expect(h.calls[1]!.reservations[1]).toEqual([[10, 0], [11, 30], 'Lecture A (room change)']);
  });

  it('keeps the last good schedule through a missing or broken file, logs, retries and recovers', async () => {
    const dir = tempDir();
    const path = join(dir, 'room.ics');
    copyFileSync(join(FIXTURES, 'allday.ics'), path);
    const h = harness({ hg075: file(path) }, { watch: false });
    await h.source.start();
    const good = h.source.schedule('hg075');
    expect(good).toHaveLength(2);

    writeFileSync(path, 'BEGIN:VCALENDAR\nthis is not ical\n');
    await h.source.refresh('hg075');
    expect(h.source.schedule('hg075')).toEqual(good);
    const failure = h.logs.find((l) => l.msg === 'schedule source failed');
    expect(failure).toMatchObject({ level: 40, room: 'hg075', source: path });
    expect(failure?.error).toMatch(/not a valid iCalendar/);

    rmSync(path);
    await until(() => h.logs.some((l) => l.error === 'no such file'));
    copyFileSync(join(FIXTURES, 'single.ics'), path);
    // Only the retry timer reloads it: watching is off and refresh is an hour.
    await until(() => h.calls.length === 2);
    expect(h.calls[1]!.reservations).toHaveLength(5);
    expect(h.logs.some((l) => l.msg === 'schedule source recovered')).toBe(true);
    expect(h.calls).toHaveLength(2);
  });

  it('reads an HTTP source, fails, keeps retrying with backoff and recovers', async () => {
    let requests = 0;
    const { url: base } = await serve((_req, res) => {
      requests += 1;
      if (requests <= 3) {
        res.writeHead(503).end('down for maintenance');
        return;
      }
      res.writeHead(200, { 'content-type': 'text/calendar', etag: '"v1"' }).end(fixture('weekly.ics'));
    });
    const h = harness({ hg075: url(`${base}/private-s3cret/basic.ics?token=abc`) });
    const started = Date.now();
    await h.source.start();
    const failures = h.logs.filter((l) => l.msg === 'schedule source failed');
    expect(failures[0]).toMatchObject({ level: 40, room: 'hg075', error: 'HTTP 503 Service Unavailable' });
    // The secret in the path and query stays out of the log.
    expect(failures[0]!.source).toBe(`http://127.0.0.1:${new URL(base).port}/…/basic.ics`);
    await until(() => h.calls.length === 1);
    // 50 + 100 + 200 ms of backoff between the four requests.
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(h.calls[0]!.reservations).toEqual([
      [[8, 15], [8, 30], 'Stand-up'],
      [[9, 0], [10, 45], 'Practicum'],
    ]);
    expect(h.logs.filter((l) => l.msg === 'schedule source failed').map((l) => l.level)).toEqual([40, 20, 20]);
  });

  it('asks with the ETag and accepts 304 Not Modified', async () => {
    const seen: (string | undefined)[] = [];
    const { url: base } = await serve((req, res) => {
      const tag = req.headers['if-none-match'];
      seen.push(tag);
      if (tag === '"v1"') res.writeHead(304).end();
      else res.writeHead(200, { etag: '"v1"' }).end(fixture('single.ics'));
    });
    const h = harness({ hg075: url(`${base}/a.ics`) });
    await h.source.start();
    await h.source.refresh();
    expect(seen).toEqual([undefined, '"v1"']);
    expect(h.calls).toHaveLength(1);
    expect(h.source.schedule('hg075')).toHaveLength(5);
  });

  it('never waits on a slow source: other rooms load, the slow one times out, close() does not hang', async () => {
    const { url: base } = await serve(() => undefined);
    const h = harness({ slow: url(`${base}/hang.ics`, { timeout: 1.5 }), fast: file(join(FIXTURES, 'single.ics')) });
    const started = Date.now();
    const first = h.source.start();
    await until(() => h.calls.some((c) => c.room === 'fast'));
    expect(Date.now() - started).toBeLessThan(1000);
    expect(h.calls.some((c) => c.room === 'slow')).toBe(false);
    await first;
    expect(h.logs.find((l) => l.msg === 'schedule source failed')).toMatchObject({ room: 'slow', error: 'timed out after 1.5 s' });

    const other = harness({ slow: url(`${base}/hang.ics`, { timeout: 30 }) });
    void other.source.start();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const closing = Date.now();
    await other.source.close();
    expect(Date.now() - closing).toBeLessThan(1000);
  });

  it('moves to the new day at local midnight without waiting for a refresh', async () => {
    const h = harness({ hg075: file(join(FIXTURES, 'midnight.ics')) }, { at: '2024-03-12T22:59:58.800Z', watch: false });
    await h.source.start();
    expect(h.calls[0]!.reservations).toEqual([
      [[0, 0], [24, 0], 'Maintenance'],
      [[22, 0], [24, 0], 'Night shift'],
    ]);
    await until(() => h.calls.length === 2, 3000);
    expect(h.calls[1]!.reservations).toEqual([
      [[0, 0], [2, 0], 'Night shift'],
      [[0, 0], [8, 0], 'Maintenance'],
    ]);
  });
});
