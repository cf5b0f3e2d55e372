/**
 * Permitted times (working hours) as weekday ranges such as `mon-fri 08:00-18:00`, and whether a
 * period lies inside them on the resource's wall clock (so 08:00 stays 08:00 across DST changes).
 */
import type { Period } from '../model.js';
import { fromWall, wallClock } from './zone.js';

/** Per weekday (0 = Sunday), the permitted [from, to) minutes of the day, sorted. */
export type WeekTimes = readonly (readonly (readonly [number, number])[])[];

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const BAD = "expected weekday ranges like 'mon-fri 08:00-18:00'";

function dayIndex(name: string): number {
  return DAYS.indexOf(name.slice(0, 3));
}

function parseDays(spec: string): number[] | undefined {
  if (spec === 'daily' || spec === '*' || spec === 'all') return [0, 1, 2, 3, 4, 5, 6];
  const out: number[] = [];
  for (const part of spec.split(',')) {
    const [from, to] = part.split('-');
    if (from === undefined) return undefined;
    const a = dayIndex(from);
    const b = to === undefined ? a : dayIndex(to);
    if (a < 0 || b < 0) return undefined;
    for (let d = a; ; d = (d + 1) % 7) {
      out.push(d);
      if (d === b) break;
    }
  }
  return out;
}

function parseClock(text: string): number | undefined {
  const m = /^(\d{1,2}):(\d{2})$/.exec(text);
  if (!m) return undefined;
  const minutes = Number(m[1]) * 60 + Number(m[2]);
  return Number(m[2]) < 60 && minutes <= 24 * 60 ? minutes : undefined;
}

/**
 * Parses entries like `mon-fri 08:00-18:00`, `sat 10:00-12:00, 14:00-16:00`, `daily 00:00-24:00`
 * (`mon,wed,fri` lists days; ranges wrap, `fri-mon`). Returns the week or a message saying what is wrong.
 */
export function parseTimes(entries: readonly string[]): WeekTimes | string {
  const week: [number, number][][] = [[], [], [], [], [], [], []];
  for (const entry of entries) {
    const text = entry.trim().toLowerCase();
    const space = text.search(/\s/);
    if (space < 0) return `${BAD}, not '${entry}'`;
    const days = parseDays(text.slice(0, space));
    if (!days) return `unknown weekday in '${entry}' (use mon, tue, wed, thu, fri, sat, sun or daily)`;
    for (const range of text.slice(space).split(',')) {
      const [a, b] = range.trim().split('-');
      const from = a === undefined ? undefined : parseClock(a);
      const to = b === undefined ? undefined : parseClock(b);
      if (from === undefined || to === undefined) return `${BAD}, not '${entry}'`;
      if (to <= from) return `the range ${range.trim()} in '${entry}' ends before it starts (use 00:00-24:00 for whole days)`;
      for (const d of days) week[d]?.push([from, to]);
    }
  }
  // Touching or overlapping ranges merge, so 08:00-12:00 and 12:00-18:00 allow a booking 11:00-13:00.
  return week.map((ranges) => {
    const sorted = ranges.sort((x, y) => x[0] - y[0]);
    const merged: [number, number][] = [];
    for (const r of sorted) {
      const last = merged.at(-1);
      if (last && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
      else merged.push([r[0], r[1]]);
    }
    return merged;
  });
}

/**
 * Whether `period` lies inside the permitted times on `tz`'s wall clock. A period crossing
 * midnight must be permitted up to 24:00 and from 00:00 of the next day.
 */
export function withinTimes(period: Period, week: WeekTimes, tz: string): boolean {
  const first = wallClock(period.start, tz);
  const last = wallClock(period.end, tz);
  if (first.day === last.day && first.month === last.month && first.year === last.year && period.end > period.start) {
    // The usual case, within one local day.
    return (week[first.weekday] ?? []).some(([a, b]) => a <= first.minutes && last.minutes <= b);
  }
  let cur = period.start;
  while (cur < period.end) {
    const w = wallClock(cur, tz);
    const midnight = fromWall(w.year, w.month, w.day + 1, 0, tz);
    const pieceEnd = Math.min(period.end, midnight);
    const to = pieceEnd === midnight ? 24 * 60 : wallClock(pieceEnd, tz).minutes;
    const ranges = week[w.weekday] ?? [];
    if (!ranges.some(([a, b]) => a <= w.minutes && to <= b)) return false;
    cur = pieceEnd;
  }
  return true;
}

/** `mon-fri 08:00-18:00`-style text of a week, for reasons sent to people. */
export function describeTimes(week: WeekTimes): string {
  const clock = (m: number) => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
  const runs: { from: number; to: number; text: string }[] = [];
  for (let d = 1; d <= 7; d++) {
    const ranges = week[d % 7] ?? [];
    if (ranges.length === 0) continue;
    const text = ranges.map(([a, b]) => `${clock(a)}-${clock(b)}`).join(', ');
    const last = runs.at(-1);
    if (last && last.to === d - 1 && last.text === text) last.to = d;
    else runs.push({ from: d, to: d, text });
  }
  const parts = runs.map((r) => `${DAYS[r.from % 7]}${r.to > r.from ? `-${DAYS[r.to % 7]}` : ''} ${r.text}`);
  return parts.join('; ') || 'never';
}
