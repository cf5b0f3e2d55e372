/**
 * Wall-clock time: reading a local time in a zone as UTC ms. ical.js's own conversion walks the
 * zone's changes for every time; here each day's offset is looked up once.
 */
import ICAL from 'ical.js';

export const ms = (time: ICAL.Time): number => time.toUnixTime() * 1000;

/** Seconds since 1970 of a time's wall-clock reading, as if it were UTC. */
export function wall(time: ICAL.Time): number {
  return Date.UTC(time.year, time.month - 1, time.day, time.hour, time.minute, time.second) / 1000;
}

/**
 * Wall-clock seconds in `zone` to UTC ms. ical.js's own conversion walks the zone's changes for
 * every time; here a month (or, in a month with a change, a day) whose offset does not change is
 * looked up once, so only the few instances on a DST change day take the slow way.
 */
const dayOffsets = new WeakMap<ICAL.Timezone, Map<number, number>>();

function zoneOffset(zone: ICAL.Timezone, wallSeconds: number): number {
  const d = new Date(wallSeconds * 1000);
  const time = ICAL.Time.fromData(
    {
      year: d.getUTCFullYear(),
      month: d.getUTCMonth() + 1,
      day: d.getUTCDate(),
      hour: d.getUTCHours(),
      minute: d.getUTCMinutes(),
      second: d.getUTCSeconds(),
    },
    zone,
  );
  return zone.utcOffset(time);
}

/** Records the offset of every day of `day`'s month when the month has one offset throughout (most months). */
function fillMonth(zone: ICAL.Timezone, days: Map<number, number>, day: number): void {
  const date = new Date(day * 86400_000);
  const first = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1) / 86400_000;
  const next = Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1) / 86400_000;
  const offset = zoneOffset(zone, first * 86400);
  if (offset !== zoneOffset(zone, next * 86400 - 1)) return;
  for (let d = first; d < next; d++) days.set(d, offset);
}

export function wallToUtc(zone: ICAL.Timezone | undefined, wallSeconds: number): number {
  if (!zone) return wallSeconds * 1000;
  let days = dayOffsets.get(zone);
  if (!days) {
    days = new Map();
    dayOffsets.set(zone, days);
  }
  const day = Math.floor(wallSeconds / 86400);
  let offset = days.get(day);
  if (offset === undefined) {
    fillMonth(zone, days, day);
    offset = days.get(day);
  }
  if (offset === undefined) {
    const atStart = zoneOffset(zone, day * 86400);
    offset = atStart === zoneOffset(zone, day * 86400 + 86399) ? atStart : Number.NaN;
    days.set(day, offset);
  }
  return (wallSeconds - (Number.isNaN(offset) ? zoneOffset(zone, wallSeconds) : offset)) * 1000;
}

/** The zone a time is read in, when it is a named zone (not UTC, floating or a date). */
export function namedZone(time: ICAL.Time): ICAL.Timezone | undefined {
  const zone = time.zone;
  if (time.isDate || !zone || zone === ICAL.Timezone.utcTimezone || zone === ICAL.Timezone.localTimezone || zone.tzid === 'UTC')
    return undefined;
  return zone;
}

export function floating(time: ICAL.Time): ICAL.Time {
  return ICAL.Time.fromData(
    time.isDate
      ? { year: time.year, month: time.month, day: time.day, isDate: true }
      : { year: time.year, month: time.month, day: time.day, hour: time.hour, minute: time.minute, second: time.second },
    ICAL.Timezone.localTimezone,
  );
}
