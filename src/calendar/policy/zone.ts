/**
 * Wall-clock time in a resource's time zone (IANA TZID) from UTC and back, through Intl, so that
 * working hours, days and weeks follow daylight saving time.
 */

/** A wall-clock reading: `weekday` 0 = Sunday … 6 = Saturday, `minutes` since local midnight. */
export interface Wall {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly weekday: number;
  readonly minutes: number;
}

const WEEKDAYS: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };
const MINUTE = 60_000;
const formats = new Map<string, Intl.DateTimeFormat>();

function format(tz: string): Intl.DateTimeFormat {
  let f = formats.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      weekday: 'short',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
    });
    formats.set(tz, f);
  }
  return f;
}

/** Whether Intl knows `tz` as a time zone. */
export function isTimeZone(tz: string): boolean {
  try {
    format(tz);
    return true;
  } catch {
    return false;
  }
}

// The same minute is asked for over and over (a series' instances, the week's bounds): a small cache.
const cache = new Map<string, Wall>();

/** The wall clock in `tz` at `t` (UTC ms), to the minute. */
export function wallClock(t: number, tz: string): Wall {
  const minute = Math.floor(t / MINUTE);
  const key = `${tz} ${minute}`;
  const hit = cache.get(key);
  if (hit) return hit;
  let year = 0;
  let month = 0;
  let day = 0;
  let weekday = 0;
  let hour = 0;
  let min = 0;
  for (const part of format(tz).formatToParts(minute * MINUTE)) {
    if (part.type === 'year') year = Number(part.value);
    else if (part.type === 'month') month = Number(part.value);
    else if (part.type === 'day') day = Number(part.value);
    else if (part.type === 'weekday') weekday = WEEKDAYS[part.value] ?? 0;
    else if (part.type === 'hour') hour = Number(part.value);
    else if (part.type === 'minute') min = Number(part.value);
  }
  const wall = { year, month, day, weekday, minutes: hour * 60 + min };
  if (cache.size > 50_000) cache.clear();
  cache.set(key, wall);
  return wall;
}

/** How far `tz`'s wall clock is ahead of UTC at `t`, in ms. */
export function offsetAt(t: number, tz: string): number {
  const w = wallClock(t, tz);
  const minute = Math.floor(t / MINUTE) * MINUTE;
  return Date.UTC(w.year, w.month - 1, w.day) + w.minutes * MINUTE - minute;
}

/**
 * The UTC instant of a wall-clock time in `tz` (the day may overflow: day 32 is the next month's
 * first). A time skipped by a DST change maps to the instant after the gap; a repeated one to its
 * first occurrence.
 */
export function fromWall(year: number, month: number, day: number, minutes: number, tz: string): number {
  const local = Date.UTC(year, month - 1, day) + minutes * MINUTE;
  // A day either side of `local` the offset is the one before and the one after any change near it.
  const early = local - offsetAt(local - 86_400_000, tz);
  const late = local - offsetAt(local + 86_400_000, tz);
  const fits = (t: number) => t + offsetAt(t, tz) === local;
  if (fits(early)) return fits(late) ? Math.min(early, late) : early;
  if (fits(late)) return late;
  // In a gap: the wall time read with the offset before the change lands just after the gap.
  return early;
}

/** Local midnight starting the day `t` falls in. */
export function startOfDay(t: number, tz: string): number {
  const w = wallClock(t, tz);
  return fromWall(w.year, w.month, w.day, 0, tz);
}

const labels = new Map<string, Intl.DateTimeFormat>();

/** `Mon 23 Nov 2026 10:00–11:00` in `tz`, for reasons sent to people. */
export function describePeriod(start: number, end: number, tz: string): string {
  let f = labels.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-GB', {
      timeZone: tz,
      weekday: 'short',
      day: 'numeric',
      month: 'short',
      year: 'numeric',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    labels.set(tz, f);
  }
  return f
    .formatRange(start, end)
    .replace(/,/g, '')
    .replace(/\s*[–-]\s*/, '–');
}
