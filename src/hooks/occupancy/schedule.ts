/**
 * Each room's reservations for today, read from an iCalendar file or URL and kept fresh.
 *
 * API:
 *   const schema = scheduleSourceSchema(baseDir);      // one room's `schedule:` config
 *   const schedules = new ScheduleSource({ rooms: { hg075: config }, onSchedule, log });
 *   void schedules.start();       // resolves when every room's first load has settled; never rejects
 *   schedules.schedule('hg075')   // the last good reservations, or undefined
 *   await schedules.refresh()     // load again now (one room, or all)
 *   await schedules.close()
 *   reservationsOn(icsText, date, timeZone?)   // the pure computation, for one day
 *
 * Today is the server's local day (or `timeZone`). An event that overlaps it is clipped to it:
 * one from 22:00 to 02:00 is [[22,0],[24,0]] on its first day and [[0,0],[2,0]] on the next.
 * All-day events cover the whole day, [[0,0],[24,0]]. Recurring events are expanded (RRULE,
 * RDATE, EXDATE, RECURRENCE-ID overrides); cancelled and zero-length events are left out.
 * Times with a TZID use the calendar's VTIMEZONE, else the IANA zone of that name, else local.
 */
import { type FSWatcher, watch } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, resolve } from 'node:path';
import ICAL from 'ical.js';
import { z } from 'zod';
import type { Logger } from '../../core/log.js';
import type { Reservation } from './protocol.js';

/** One room's source, as `scheduleSourceSchema` returns it. */
export type ScheduleSourceConfig =
  | { readonly kind: 'file'; readonly file: string; readonly refresh: number }
  | {
      readonly kind: 'url';
      readonly url: string;
      readonly refresh: number;
      readonly timeout: number;
      readonly headers: Readonly<Record<string, string>>;
    };

const DEFAULT_REFRESH = 300;
const DEFAULT_TIMEOUT = 30;

/**
 * One room's `schedule:` config: `{file, refresh?}`, `{url, refresh?, timeout?, headers?}`, or
 * the file path or URL alone. `refresh` and `timeout` are seconds (300 and 30 by default).
 * Relative files resolve against `baseDir` when it is given (else `ScheduleSource` resolves them).
 */
export function scheduleSourceSchema(baseDir?: string) {
  return z.preprocess(
    (value) => (typeof value === 'string' ? (/^https?:\/\//i.test(value) ? { url: value } : { file: value }) : value),
    z
      .strictObject({
        file: z.string().min(1).optional(),
        url: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }).optional(),
        /** Seconds between loads. */
        refresh: z.number().positive().default(DEFAULT_REFRESH),
        /** Seconds an HTTP request may take, body included. */
        timeout: z.number().positive().optional(),
        /** Extra request headers (an Authorization, say). */
        headers: z.record(z.string(), z.string()).optional(),
      })
      .superRefine((cfg, ctx) => {
        if ((cfg.file === undefined) === (cfg.url === undefined)) {
          ctx.addIssue({ code: 'custom', message: 'give either file or url' });
        }
        if (cfg.file !== undefined) {
          for (const key of ['timeout', 'headers'] as const) {
            if (cfg[key] !== undefined) ctx.addIssue({ code: 'custom', path: [key], message: `${key} applies to url sources only` });
          }
        }
      })
      .transform((cfg): ScheduleSourceConfig => {
        if (cfg.url !== undefined) {
          return { kind: 'url', url: cfg.url, refresh: cfg.refresh, timeout: cfg.timeout ?? DEFAULT_TIMEOUT, headers: cfg.headers ?? {} };
        }
        const file = cfg.file as string;
        return { kind: 'file', file: baseDir === undefined ? file : resolvePath(baseDir, file), refresh: cfg.refresh };
      }),
  );
}

export interface ScheduleSourceOptions {
  /** roomId → its source. */
  readonly rooms: Readonly<Record<string, ScheduleSourceConfig>>;
  /** Called with a room's reservations when they change (and on its first good load). */
  readonly onSchedule: (room: string, reservations: Reservation[]) => void;
  readonly log: Logger;
  /** Where relative file paths resolve. Default: the working directory. */
  readonly baseDir?: string;
  /** The IANA zone whose days and times the reservations are in. Default: the server's. */
  readonly timeZone?: string;
  /** The clock. Default: `new Date()`. */
  readonly now?: () => Date;
  /** Retry delays after a failure, ms: `initial`, doubling up to `max` (and never past `refresh`). */
  readonly retry?: { readonly initial?: number; readonly max?: number };
  /** Largest calendar read, bytes. Default 10 MiB. */
  readonly maxBytes?: number;
  /** Reload file sources as soon as the file changes (besides every `refresh`). Default true. */
  readonly watch?: boolean;
}

interface RoomState {
  readonly room: string;
  readonly config: ScheduleSourceConfig;
  /** The file path or a redacted URL, for logs. */
  readonly source: string;
  text?: string;
  calendar?: ICAL.Component;
  /** What `reservations` was computed from, so an unchanged calendar on the same day costs nothing. */
  computedFrom?: { calendar: ICAL.Component; day: string };
  reservations?: Reservation[];
  json?: string;
  etag?: string;
  lastModified?: string;
  timer?: NodeJS.Timeout;
  loading?: Promise<void>;
  again: boolean;
  failures: number;
  lastError?: string;
  watcher?: FSWatcher;
  debounce?: NodeJS.Timeout;
}

export class ScheduleSource {
  readonly #rooms = new Map<string, RoomState>();
  readonly #onSchedule: (room: string, reservations: Reservation[]) => void;
  readonly #log: Logger;
  readonly #timeZone: string;
  readonly #now: () => Date;
  readonly #retryInitial: number;
  readonly #retryMax: number;
  readonly #maxBytes: number;
  readonly #watch: boolean;
  readonly #abort = new AbortController();
  #midnight: NodeJS.Timeout | undefined;
  #started = false;
  #closed = false;

  constructor(options: ScheduleSourceOptions) {
    this.#onSchedule = options.onSchedule;
    this.#log = options.log;
    this.#timeZone = options.timeZone ?? LOCAL;
    if (this.#timeZone !== LOCAL && !validZone(this.#timeZone)) throw new RangeError(`unknown time zone "${this.#timeZone}"`);
    this.#now = options.now ?? (() => new Date());
    this.#retryInitial = options.retry?.initial ?? 5_000;
    this.#retryMax = options.retry?.max ?? 300_000;
    this.#maxBytes = options.maxBytes ?? 10 * 1024 * 1024;
    this.#watch = options.watch ?? true;
    const baseDir = options.baseDir ?? process.cwd();
    for (const [room, cfg] of Object.entries(options.rooms)) {
      const config = cfg.kind === 'file' ? { ...cfg, file: resolvePath(baseDir, cfg.file) } : cfg;
      const source = config.kind === 'file' ? config.file : redactUrl(config.url);
      this.#rooms.set(room, { room, config, source, again: false, failures: 0 });
    }
  }

  /**
   * Loads every room in the background, then keeps them fresh. The promise settles when each
   * room's first attempt has, whatever the outcome; nothing needs to wait for it.
   */
  start(): Promise<void> {
    if (this.#started || this.#closed) return Promise.resolve();
    this.#started = true;
    this.#scheduleMidnight();
    for (const state of this.#rooms.values()) this.#watchFile(state);
    return this.refresh();
  }

  /** A room's last good reservations for today, or undefined before its first good load. */
  schedule(room: string): Reservation[] | undefined {
    return this.#rooms.get(room)?.reservations;
  }

  /** Loads one room, or every room, now. Never rejects: failures are logged and retried. */
  async refresh(room?: string): Promise<void> {
    const states = room === undefined ? [...this.#rooms.values()] : [this.#rooms.get(room)].filter((s) => s !== undefined);
    await Promise.all(states.map((state) => this.#load(state)));
  }

  /** Stops every timer and watcher and aborts loads in flight. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort();
    clearTimeout(this.#midnight);
    const loading: Promise<void>[] = [];
    for (const state of this.#rooms.values()) {
      clearTimeout(state.timer);
      clearTimeout(state.debounce);
      state.watcher?.close();
      if (state.loading) loading.push(state.loading);
    }
    await Promise.all(loading);
  }

  #load(state: RoomState): Promise<void> {
    if (this.#closed) return Promise.resolve();
    if (state.loading) {
      // A change seen during a load may not be in what that load read.
      state.again = true;
      return state.loading;
    }
    state.loading = (async () => {
      do {
        state.again = false;
        try {
          await this.#attempt(state);
        } catch (err) {
          // #attempt handles source failures itself; this is a bug, and timers must not reject.
          this.#log.error({ err, room: state.room, source: state.source }, 'schedule load failed unexpectedly');
        }
      } while (state.again && !this.#closed);
    })().finally(() => {
      state.loading = undefined;
    });
    return state.loading;
  }

  async #attempt(state: RoomState): Promise<void> {
    clearTimeout(state.timer);
    const refreshMs = state.config.refresh * 1000;
    let delay = refreshMs;
    try {
      const text = await this.#read(state);
      if (this.#closed) return;
      if (text !== state.text || !state.calendar) {
        state.calendar = parseCalendar(text);
        state.text = text;
      }
      if (state.failures > 0) this.#log.info({ room: state.room, source: state.source }, 'schedule source recovered');
      state.failures = 0;
      state.lastError = undefined;
    } catch (err) {
      if (this.#closed) return;
      state.failures += 1;
      delay = Math.min(this.#retryInitial * 2 ** (state.failures - 1), this.#retryMax, refreshMs);
      const error = describeError(err, state.config);
      // Every retry of one outage at warn would flood the log; a new error is worth a warning.
      const level = error === state.lastError ? 'debug' : 'warn';
      state.lastError = error;
      this.#log[level](
        {
          room: state.room,
          source: state.source,
          error,
          failures: state.failures,
          retryIn: delay / 1000,
          keeping: state.calendar !== undefined,
        },
        'schedule source failed',
      );
    }
    // Even after a failure: the last good calendar still gives the right day after midnight.
    this.#compute(state);
    if (!this.#closed) state.timer = setTimeout(() => void this.#load(state), delay).unref();
  }

  async #read(state: RoomState): Promise<string> {
    const config = state.config;
    if (config.kind === 'file') {
      const info = await stat(config.file);
      if (info.size > this.#maxBytes) throw new Error(`larger than ${this.#maxBytes} bytes`);
      return await readFile(config.file, { encoding: 'utf8', signal: this.#abort.signal });
    }
    const headers: Record<string, string> = { accept: 'text/calendar, */*;q=0.5', ...config.headers };
    if (state.text !== undefined && state.etag) headers['if-none-match'] = state.etag;
    if (state.text !== undefined && state.lastModified) headers['if-modified-since'] = state.lastModified;
    // The timeout covers the body too, so a server that trickles bytes cannot hold a load open.
    const signal = AbortSignal.any([AbortSignal.timeout(config.timeout * 1000), this.#abort.signal]);
    const res = await fetch(config.url, { headers, signal, redirect: 'follow' });
    if (res.status === 304 && state.text !== undefined) {
      await res.body?.cancel();
      return state.text;
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`);
    }
    const text = await readBody(res, this.#maxBytes);
    state.etag = res.headers.get('etag') ?? undefined;
    state.lastModified = res.headers.get('last-modified') ?? undefined;
    return text;
  }

  #compute(state: RoomState): void {
    const calendar = state.calendar;
    if (!calendar || this.#closed) return;
    const now = this.#now();
    const day = dayBounds(now, this.#timeZone).key;
    if (state.computedFrom?.calendar === calendar && state.computedFrom.day === day) return;
    const { reservations, problems } = computeReservations(calendar, now, this.#timeZone);
    state.computedFrom = { calendar, day };
    if (problems.length > 0) this.#log.warn({ room: state.room, source: state.source, problems }, 'schedule events skipped');
    const json = JSON.stringify(reservations);
    if (json === state.json) return;
    state.json = json;
    state.reservations = reservations;
    try {
      this.#onSchedule(state.room, reservations);
    } catch (err) {
      this.#log.error({ err, room: state.room }, 'the schedule callback failed');
    }
  }

  #scheduleMidnight(): void {
    if (this.#closed) return;
    const now = this.#now();
    const { end } = dayBounds(now, this.#timeZone);
    // A little past midnight, so that "now" is surely the new day when the timer fires.
    const delay = Math.min(Math.max(end - now.getTime(), 0) + 200, 2 ** 31 - 1);
    this.#midnight = setTimeout(() => {
      for (const state of this.#rooms.values()) {
        // The cached calendar gives the new day at once; the load may take a while or fail.
        this.#compute(state);
        void this.#load(state);
      }
      this.#scheduleMidnight();
    }, delay).unref();
  }

  #watchFile(state: RoomState): void {
    if (!this.#watch || state.config.kind !== 'file') return;
    const file = state.config.file;
    const name = basename(file);
    try {
      // The folder, not the file: editors and deploy tools replace files by renaming over them.
      state.watcher = watch(dirname(file), { persistent: false }, (_event, changed) => {
        if (changed !== null && changed !== name) return;
        clearTimeout(state.debounce);
        state.debounce = setTimeout(() => void this.#load(state), 100).unref();
      });
      state.watcher.on('error', (err) => {
        this.#log.debug(
          { room: state.room, source: state.source, err: err.message },
          'schedule file watch stopped; refreshing on the interval',
        );
        state.watcher?.close();
        state.watcher = undefined;
      });
    } catch (err) {
      this.#log.debug({ room: state.room, source: state.source, err: (err as Error).message }, 'schedule file not watched');
    }
  }
}

/** The reservations of `date`'s day in `timeZone` (default: the server's), from an .ics text. */
export function reservationsOn(icsText: string, date: Date, timeZone: string = LOCAL): Reservation[] {
  return computeReservations(parseCalendar(icsText), date, timeZone).reservations;
}

function parseCalendar(text: string): ICAL.Component {
  let jcal: unknown;
  try {
    jcal = ICAL.parse(text);
  } catch (err) {
    throw new Error(`not a valid iCalendar file: ${(err as Error).message}`);
  }
  // A file with several VCALENDARs parses to a list; the first holds what one room needs.
  const first = Array.isArray(jcal) && Array.isArray(jcal[0]) ? jcal[0] : jcal;
  const calendar = new ICAL.Component(first as unknown[]);
  if (calendar.name !== 'vcalendar') throw new Error(`not a valid iCalendar file: found ${calendar.name || 'nothing'}, not VCALENDAR`);
  return calendar;
}

const HOUR = 3_600_000;
// Zones are within ±14 h of UTC: a time's wall clock read as UTC is this close to the instant.
const SLACK = 26 * HOUR;
const MAX_OCCURRENCES = 100_000;

interface DayBounds {
  readonly start: number;
  readonly end: number;
  readonly key: string;
}

function computeReservations(calendar: ICAL.Component, date: Date, timeZone: string): { reservations: Reservation[]; problems: string[] } {
  const day = dayBounds(date, timeZone);
  const reservations: Reservation[] = [];
  const problems: string[] = [];
  const masters: ICAL.Event[] = [];
  const byUid = new Map<string, ICAL.Event>();
  const exceptions: ICAL.Event[] = [];
  const singles: ICAL.Event[] = [];

  for (const vevent of calendar.getAllSubcomponents('vevent')) {
    try {
      const event = new ICAL.Event(vevent);
      if (event.isRecurrenceException()) exceptions.push(event);
      else if (event.isRecurring()) {
        masters.push(event);
        if (event.uid && !byUid.has(event.uid)) byUid.set(event.uid, event);
      } else singles.push(event);
    } catch (err) {
      problems.push(`${describeEvent(vevent)}: ${(err as Error).message}`);
    }
  }

  const add = (event: ICAL.Event, start: ICAL.Time, end: ICAL.Time): void => {
    if (cancelled(event)) return;
    const s = instant(start, zoneHint(event.component, 'dtstart', timeZone), timeZone);
    const e = instant(end, zoneHint(event.component, 'dtend', timeZone), timeZone);
    if (!(e > s && s < day.end && e > day.start)) return;
    const from = Math.max(s, day.start);
    const to = Math.min(e, day.end);
    reservations.push([timeOfDay(from, timeZone), to >= day.end ? [24, 0] : timeOfDay(to, timeZone), summaryOf(event)]);
  };

  for (const exception of exceptions) {
    try {
      const master = byUid.get(exception.uid);
      // Related, the master's expansion yields the override in place of the original occurrence.
      if (master) master.relateException(exception);
      add(exception, exception.startDate, exception.endDate);
    } catch (err) {
      problems.push(`${describeEvent(exception.component)}: ${(err as Error).message}`);
    }
  }
  for (const event of singles) {
    try {
      add(event, event.startDate, event.endDate);
    } catch (err) {
      problems.push(`${describeEvent(event.component)}: ${(err as Error).message}`);
    }
  }
  for (const master of masters) {
    try {
      if (cancelled(master)) continue;
      const duration = Math.max(0, master.duration.toSeconds() * 1000);
      const iterator = master.iterator();
      let count = 0;
      for (let next = iterator.next(); next; next = iterator.next()) {
        if (++count > MAX_OCCURRENCES) {
          problems.push(`${describeEvent(master.component)}: more than ${MAX_OCCURRENCES} occurrences before today`);
          break;
        }
        // A cheap bound before the exact (and costlier) conversion: the list is in start order.
        const wall = wallClock(next);
        if (wall - SLACK > day.end) break;
        if (wall + duration + SLACK < day.start) continue;
        const details = master.getOccurrenceDetails(next);
        // An overridden occurrence was added as the exception itself, above.
        if (details.item !== master && details.item.recurrenceId.compare(next) === 0) continue;
        add(details.item, details.startDate, details.endDate);
      }
    } catch (err) {
      problems.push(`${describeEvent(master.component)}: ${(err as Error).message}`);
    }
  }

  reservations.sort((a, b) => minutes(a[0]) - minutes(b[0]) || minutes(a[1]) - minutes(b[1]) || (a[2] < b[2] ? -1 : a[2] > b[2] ? 1 : 0));
  return { reservations, problems };
}

function cancelled(event: ICAL.Event): boolean {
  const status = event.component.getFirstPropertyValue('status');
  return typeof status === 'string' && status.toUpperCase() === 'CANCELLED';
}

function summaryOf(event: ICAL.Event): string {
  const summary = event.summary;
  return typeof summary === 'string' ? summary.replace(/\s+/g, ' ').trim() : '';
}

function describeEvent(component: ICAL.Component): string {
  const uid = component.getFirstPropertyValue('uid');
  const summary = component.getFirstPropertyValue('summary');
  return `event ${typeof uid === 'string' ? uid : '(no UID)'}${typeof summary === 'string' ? ` "${summary}"` : ''}`;
}

/** The zone for a time ical.js could not place: the TZID if it names an IANA zone, else local. */
function zoneHint(component: ICAL.Component, property: string, fallback: string): string {
  const tzid = component.getFirstProperty(property)?.getParameter('tzid') ?? component.getFirstProperty('dtstart')?.getParameter('tzid');
  return typeof tzid === 'string' && validZone(tzid) ? tzid : fallback;
}

/** The instant (ms) of an ical.js time. */
function instant(time: ICAL.Time, hint: string, timeZone: string): number {
  // All-day dates are days of the server's calendar, whatever zone the file names.
  if (time.isDate) return wallToInstant(time.year, time.month, time.day, 0, 0, 0, timeZone);
  const tzid = time.zone?.tzid;
  // Floating, or a TZID the file does not define: ical.js would read it as UTC.
  if (!tzid || tzid === 'floating') return wallToInstant(time.year, time.month, time.day, time.hour, time.minute, time.second, hint);
  return time.toUnixTime() * 1000;
}

function wallClock(time: ICAL.Time): number {
  return Date.UTC(time.year, time.month - 1, time.day, time.hour, time.minute, time.second);
}

function minutes([h, m]: [number, number]): number {
  return h * 60 + m;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

interface WallTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

function wallParts(ms: number, timeZone: string): WallTime {
  if (timeZone === LOCAL) {
    const d = new Date(ms);
    return {
      year: d.getFullYear(),
      month: d.getMonth() + 1,
      day: d.getDate(),
      hour: d.getHours(),
      minute: d.getMinutes(),
      second: d.getSeconds(),
    };
  }
  const out: WallTime = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0 };
  for (const part of formatter(timeZone).formatToParts(ms)) {
    if (part.type in out) out[part.type as keyof WallTime] = Number(part.value);
  }
  return out;
}

/** How far `timeZone`'s clock is ahead of UTC at `ms`, in ms. */
function offsetAt(ms: number, timeZone: string): number {
  const p = wallParts(ms, timeZone);
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - (ms - (((ms % 1000) + 1000) % 1000));
}

/** The instant at which `timeZone`'s clock shows the given wall time (month 1-12; day may overflow). */
function wallToInstant(year: number, month: number, day: number, hour: number, minute: number, second: number, timeZone: string): number {
  if (timeZone === LOCAL) return new Date(year, month - 1, day, hour, minute, second).getTime();
  const wall = Date.UTC(year, month - 1, day, hour, minute, second);
  const first = offsetAt(wall, timeZone);
  const guess = wall - first;
  const second_ = offsetAt(guess, timeZone);
  // Around a DST change the offset at the guess differs; in a skipped hour either answer is fair.
  return second_ === first ? guess : wall - second_;
}

function dayBounds(date: Date, timeZone: string): DayBounds {
  const p = wallParts(date.getTime(), timeZone);
  return {
    start: wallToInstant(p.year, p.month, p.day, 0, 0, 0, timeZone),
    end: wallToInstant(p.year, p.month, p.day + 1, 0, 0, 0, timeZone),
    key: `${p.year}-${p.month}-${p.day}`,
  };
}

function timeOfDay(ms: number, timeZone: string): [number, number] {
  const p = wallParts(ms, timeZone);
  return [p.hour, p.minute];
}

/**
 * The server's own zone, read through Date's local-time methods. Any named zone goes through
 * Intl, whose time-zone data costs porter about 8 MB of memory once touched: only a config or a
 * calendar that names a zone pays for it.
 */
const LOCAL = '';

const zoneValidity = new Map<string, boolean>();

function validZone(timeZone: string): boolean {
  let valid = zoneValidity.get(timeZone);
  if (valid === undefined) {
    try {
      formatter(timeZone);
      valid = true;
    } catch {
      valid = false;
    }
    zoneValidity.set(timeZone, valid);
  }
  return valid;
}

function resolvePath(baseDir: string, file: string): string {
  return isAbsolute(file) ? resolve(file) : resolve(baseDir, file);
}

/** A URL fit for logs: calendar URLs often carry a secret in the path or query. */
function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    const parts = u.pathname.split('/').filter(Boolean);
    return `${u.protocol}//${u.host}/${parts.length > 1 ? '…/' : ''}${parts.at(-1) ?? ''}`;
  } catch {
    return '(invalid URL)';
  }
}

function describeError(err: unknown, config: ScheduleSourceConfig): string {
  if (err instanceof Error) {
    if (err.name === 'TimeoutError' && config.kind === 'url') return `timed out after ${config.timeout} s`;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'no such file';
    // fetch hides the network error (refused, DNS) in `cause`.
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return `${err.message}${cause}`;
  }
  return String(err);
}

async function readBody(res: Response, maxBytes: number): Promise<string> {
  const length = Number(res.headers.get('content-length'));
  if (length > maxBytes) {
    await res.body?.cancel();
    throw new Error(`larger than ${maxBytes} bytes`);
  }
  if (!res.body) return '';
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of res.body) {
    total += chunk.byteLength;
    if (total > maxBytes) throw new Error(`larger than ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
