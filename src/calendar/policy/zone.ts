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

const MINUTE = 60_000;
const formats = new Map<string, Intl.DateTimeFormat>();

function format(tz: string): Intl.DateTimeFormat {
  let f = formats.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
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

// Zone offsets change only on quarter hours of UTC (every zone's offset and change time are whole
// quarters), so one Intl reading per quarter hour and zone serves every instant in it.
const QUARTER = 15 * MINUTE;
const offsets = new Map<string, Map<number, number>>();
let lastZone: string | undefined;
let lastOffsets: Map<number, number> | undefined;

/** How far `tz`'s wall clock is ahead of UTC at `t`, in ms. */
export function offsetAt(t: number, tz: string): number {
  let zone = tz === lastZone ? lastOffsets : offsets.get(tz);
  if (!zone) {
    zone = new Map();
    offsets.set(tz, zone);
  }
  lastZone = tz;
  lastOffsets = zone;
  const quarter = Math.floor(t / QUARTER);
  let offset = zone.get(quarter);
  if (offset === undefined) {
    const at = quarter * QUARTER;
    const f: Record<string, number> = {};
    for (const part of format(tz).formatToParts(at)) if (part.type !== 'literal') f[part.type] = Number(part.value);
    offset = Date.UTC(f.year ?? 1970, (f.month ?? 1) - 1, f.day ?? 1, f.hour ?? 0, f.minute ?? 0) - at;
    if (zone.size > 100_000) zone.clear();
    zone.set(quarter, offset);
  }
  return offset;
}

/** The wall clock in `tz` at `t` (UTC ms), to the minute. */
export function wallClock(t: number, tz: string): Wall {
  const local = new Date(t + offsetAt(t, tz));
  return {
    year: local.getUTCFullYear(),
    month: local.getUTCMonth() + 1,
    day: local.getUTCDate(),
    weekday: local.getUTCDay(),
    minutes: local.getUTCHours() * 60 + local.getUTCMinutes(),
  };
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

const DAY_NAMES = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTH_NAMES = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function clock(w: Wall): string {
  return `${String(Math.floor(w.minutes / 60)).padStart(2, '0')}:${String(w.minutes % 60).padStart(2, '0')}`;
}

function date(w: Wall): string {
  return `${DAY_NAMES[w.weekday]} ${w.day} ${MONTH_NAMES[w.month - 1]} ${w.year}`;
}

/** `Mon 23 Nov 2026 10:00–11:00` (or `… 23:00 – Tue 24 Nov 2026 01:00`) in `tz`, for reasons sent to people. */
export function describePeriod(start: number, end: number, tz: string): string {
  const a = wallClock(start, tz);
  const b = wallClock(end, tz);
  const sameDay = a.year === b.year && a.month === b.month && a.day === b.day;
  return sameDay ? `${date(a)} ${clock(a)}–${clock(b)}` : `${date(a)} ${clock(a)} – ${date(b)} ${clock(b)}`;
}
