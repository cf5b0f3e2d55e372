// Wall-clock time in an agent's time zone (its TZID) with the browser's Intl alone: the calendar pages
// show every time in the zone of the person or resource they are about, whatever the browser's zone.

/** A calendar date as `YYYY-MM-DD`, the form the API's `start` parameter takes. */
export type DateKey = string;

export interface WallClock {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
}

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

// Building a DateTimeFormat costs far more than using one; a page formats hundreds of times per render.
const partsFormats = new Map<string, Intl.DateTimeFormat>();

function partsFormat(tz: string): Intl.DateTimeFormat {
  let format = partsFormats.get(tz);
  if (!format) {
    format = new Intl.DateTimeFormat('en-GB', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
    });
    partsFormats.set(tz, format);
  }
  return format;
}

/** True when the browser knows `tz` as an IANA zone. */
export function isTimeZone(tz: string): boolean {
  try {
    partsFormat(tz);
    return true;
  } catch {
    return false;
  }
}

/** The wall clock in `tz` at the instant `ms`. */
export function wallClock(ms: number, tz: string): WallClock {
  const parts: Record<string, number> = {};
  for (const part of partsFormat(tz).formatToParts(ms)) if (part.type !== 'literal') parts[part.type] = Number(part.value);
  return { year: parts.year ?? 0, month: parts.month ?? 0, day: parts.day ?? 0, hour: parts.hour ?? 0, minute: parts.minute ?? 0 };
}

/** The zone's offset from UTC at `ms`, in ms (positive east of Greenwich), to the minute. */
export function zoneOffset(ms: number, tz: string): number {
  const w = wallClock(ms, tz);
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute);
  return asUtc - Math.floor(ms / MINUTE) * MINUTE;
}

/**
 * The instant the wall clock in `tz` reads the given date and time. In a DST gap (02:30 on a spring
 * night) it is the instant after the gap, the way calendar clients move such a time; in the repeated
 * hour of autumn it is the first of the two.
 */
export function zonedToUtc(date: DateKey, hour: number, minute: number, tz: string): number {
  const [y, m, d] = parseDateKey(date);
  const local = Date.UTC(y, m - 1, d, hour, minute);
  const before = local - zoneOffset(local - DAY / 2, tz);
  const after = local - zoneOffset(local + DAY / 2, tz);
  // The earlier candidate when it reads right (the first of a repeated hour), else the later one.
  const first = Math.min(before, after);
  if (readsAs(first, local, tz)) return first;
  const second = Math.max(before, after);
  if (readsAs(second, local, tz)) return second;
  // A gap: neither instant shows that wall time; the offset from before the gap carries it past.
  return before;
}

function readsAs(ms: number, local: number, tz: string): boolean {
  return ms + zoneOffset(ms, tz) === local;
}

/** The date in `tz` at the instant `ms`. */
export function dateKeyOf(ms: number, tz: string): DateKey {
  const w = wallClock(ms, tz);
  return toDateKey(w.year, w.month, w.day);
}

export function toDateKey(year: number, month: number, day: number): DateKey {
  return `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

export function isDateKey(value: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return false;
  const [y, m, d] = parseDateKey(value);
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

function parseDateKey(date: DateKey): [number, number, number] {
  const [y = 0, m = 1, d = 1] = date.split('-').map(Number);
  return [y, m, d];
}

/** Calendar arithmetic on dates, free of any zone: `addDays('2026-03-28', 2)` is `2026-03-30`. */
export function addDays(date: DateKey, days: number): DateKey {
  const [y, m, d] = parseDateKey(date);
  const next = new Date(Date.UTC(y, m - 1, d + days));
  return toDateKey(next.getUTCFullYear(), next.getUTCMonth() + 1, next.getUTCDate());
}

/** 0 for Monday … 6 for Sunday. */
export function weekdayOf(date: DateKey): number {
  const [y, m, d] = parseDateKey(date);
  return (new Date(Date.UTC(y, m - 1, d)).getUTCDay() + 6) % 7;
}

/** The Monday of the week holding `date`. */
export function mondayOf(date: DateKey): DateKey {
  return addDays(date, -weekdayOf(date));
}

/** The `count` dates from `start` on. */
export function daysFrom(start: DateKey, count: number): DateKey[] {
  return Array.from({ length: count }, (_, i) => addDays(start, i));
}

// ---- showing times ------------------------------------------------------------------------------

const pad = (n: number) => String(n).padStart(2, '0');

/** `09:30`, in `tz`. */
export function formatTime(ms: number, tz: string): string {
  const w = wallClock(ms, tz);
  return `${pad(w.hour)}:${pad(w.minute)}`;
}

const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `Mon 23 Nov`: a date the same in every browser, whatever its language. */
export function formatDate(date: DateKey): string {
  const [, m, d] = parseDateKey(date);
  return `${WEEKDAYS[weekdayOf(date)]} ${d} ${MONTHS[m - 1]}`;
}

/** `Mon 23 Nov 09:30–10:00`, or across days `Mon 23 Nov 22:00 – Tue 24 Nov 01:00`, in `tz`. */
export function formatSpan(start: number, end: number, tz: string): string {
  const startDate = dateKeyOf(start, tz);
  // An event ending at midnight ends on its own day, as people read it.
  const endDate = dateKeyOf(end - 1, tz);
  if (startDate === endDate) return `${formatDate(startDate)} ${formatTime(start, tz)}–${formatTime(end, tz)}`;
  return `${formatDate(startDate)} ${formatTime(start, tz)} – ${formatDate(dateKeyOf(end, tz))} ${formatTime(end, tz)}`;
}

/** `09:30` → [9, 30]; undefined for anything else. */
export function parseTime(value: string): [number, number] | undefined {
  const match = /^(\d{1,2}):(\d{2})$/.exec(value);
  if (!match) return undefined;
  const hour = Number(match[1]);
  const minute = Number(match[2]);
  return hour < 24 && minute < 60 ? [hour, minute] : undefined;
}

/** The ISO 8601 UTC form the API takes: `2026-11-23T09:30:00.000Z`. */
export function iso(ms: number): string {
  return new Date(ms).toISOString();
}
