/**
 * Dates in an agent's time zone, for the week views: local midnight of a day as UTC ms, and the
 * Monday of the week a moment falls in. Built on Intl, which knows every IANA zone.
 */

const DAY = 86_400_000;

/** The zone's offset from UTC at `at`, in ms (positive east of Greenwich). */
function offsetAt(tzid: string, at: number): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: tzid,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(new Date(at));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  const local = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return local - Math.floor(at / 1000) * 1000;
}

/** UTC ms of 00:00 local time on the date `y-m-d` in `tzid` (twice corrected, for days that change offset). */
export function localMidnight(tzid: string, y: number, m: number, d: number): number {
  const wall = Date.UTC(y, m - 1, d);
  let guess = wall - offsetAt(tzid, wall);
  guess = wall - offsetAt(tzid, guess);
  return guess;
}

/** The local calendar date of `at` in `tzid`. */
export function localDate(tzid: string, at: number): { y: number; m: number; d: number; weekday: number } {
  const local = new Date(at + offsetAt(tzid, at));
  return { y: local.getUTCFullYear(), m: local.getUTCMonth() + 1, d: local.getUTCDate(), weekday: (local.getUTCDay() + 6) % 7 };
}

/** The week [Monday 00:00, next Monday 00:00) in `tzid` that starts on `start` (YYYY-MM-DD), or that holds `now`. */
export function weekOf(tzid: string, start: string | undefined, now = Date.now()): { start: number; end: number } {
  let y: number;
  let m: number;
  let d: number;
  if (start) {
    [y, m, d] = start.split('-').map(Number) as [number, number, number];
  } else {
    const today = localDate(tzid, now);
    const monday = new Date(Date.UTC(today.y, today.m - 1, today.d) - today.weekday * DAY);
    [y, m, d] = [monday.getUTCFullYear(), monday.getUTCMonth() + 1, monday.getUTCDate()];
  }
  const next = new Date(Date.UTC(y, m - 1, d) + 7 * DAY);
  return {
    start: localMidnight(tzid, y, m, d),
    end: localMidnight(tzid, next.getUTCFullYear(), next.getUTCMonth() + 1, next.getUTCDate()),
  };
}

export const iso = (ms: number): string => new Date(ms).toISOString();
export { DAY };
