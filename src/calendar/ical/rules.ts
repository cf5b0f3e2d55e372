/**
 * Recurrence rules expanded fast: the common rules by arithmetic on wall-clock seconds, the others
 * through ical.js's RecurIterator started as near the window as the rule allows.
 */
import ICAL from 'ical.js';
import { floating, wall } from './wallclock.js';

/** The rule with UNTIL read as a floating time in `zone`, so that it can run on floating times. */
export function floatingRule(rule: ICAL.Recur, zone: ICAL.Timezone | undefined): ICAL.Recur {
  if (!zone || !rule.until || rule.until.isDate) return rule;
  const copy = rule.clone();
  const until = rule.until.zone === ICAL.Timezone.localTimezone ? rule.until : rule.until.convertToZone(zone);
  copy.until = floating(until);
  return copy;
}

const WEEKDAYS = ['SU', 'MO', 'TU', 'WE', 'TH', 'FR', 'SA'];
/** Day of the week (0 Sunday) of a day counted from 1970-01-01, a Thursday. */
const weekday = (day: number): number => (((day + 4) % 7) + 7) % 7;

/**
 * The instants of a plain DAILY rule, or a WEEKLY one with at most BYDAY, in wall-clock seconds,
 * by arithmetic, starting a period before `fromWall` when the rule has no COUNT; undefined for
 * any other rule, which ical.js expands. These are most series, and ical.js steps through them
 * a thousand times slower.
 */
export function plainSteps(rule: ICAL.Recur, start: ICAL.Time, fromWall: number): (() => number | undefined) | undefined {
  const parts = Object.entries(rule.parts).filter(([, v]) => Array.isArray(v) && v.length > 0);
  if (rule.freq === 'MONTHLY')
    return monthlySteps(
      rule,
      start,
      fromWall,
      parts.map(([k]) => k),
    );
  if (rule.freq === 'DAILY' ? parts.length > 0 : rule.freq !== 'WEEKLY' || parts.some(([k]) => k !== 'BYDAY')) return undefined;
  const byday = (rule.parts.BYDAY ?? []).map(String);
  if (byday.some((d) => !WEEKDAYS.includes(d))) return undefined;
  const interval = rule.interval || 1;
  const count = rule.count ?? Number.POSITIVE_INFINITY;
  const until = rule.until ? wall(rule.until) + (rule.until.isDate && !start.isDate ? 86399 : 0) : Number.POSITIVE_INFINITY;
  const w0 = wall(start);
  const day0 = Math.floor(w0 / 86400);
  const timeOfDay = w0 - day0 * 86400;
  let emitted = 0;
  if (rule.freq === 'DAILY') {
    const step = interval * 86400;
    let k = count === Number.POSITIVE_INFINITY && fromWall - w0 > step ? Math.floor((fromWall - w0) / step) - 1 : 0;
    return () => {
      const at = w0 + k * step;
      if (emitted >= count || at > until) return undefined;
      k += 1;
      emitted += 1;
      return at;
    };
  }
  const wkst = (typeof rule.wkst === 'number' ? rule.wkst : 2) - 1;
  const offsets = [
    ...new Set((byday.length > 0 ? byday : [WEEKDAYS[weekday(day0)]!]).map((d) => (WEEKDAYS.indexOf(d) - wkst + 7) % 7)),
  ].sort((a, b) => a - b);
  const startOffset = (weekday(day0) - wkst + 7) % 7;
  // RFC 5545 counts DTSTART as the first instance even when the rule would not produce it: leave that to ical.js.
  if (count !== Number.POSITIVE_INFINITY && !offsets.includes(startOffset)) return undefined;
  const week0 = day0 - startOffset;
  const gapWeeks = Math.floor((Math.floor(fromWall / 86400) - week0) / 7);
  let week = count === Number.POSITIVE_INFINITY && gapWeeks > interval ? (Math.floor(gapWeeks / interval) - 1) * interval : 0;
  let i = 0;
  return () => {
    for (;;) {
      if (emitted >= count) return undefined;
      if (i >= offsets.length) {
        i = 0;
        week += interval;
      }
      const day = week0 + week * 7 + offsets[i]!;
      i += 1;
      if (day < day0) continue;
      const at = day * 86400 + timeOfDay;
      if (at > until) return undefined;
      emitted += 1;
      return at;
    }
  };
}

/** Days since 1970-01-01 of a date. */
const epochDay = (year: number, month: number, day: number): number => Date.UTC(year, month - 1, day) / 86400_000;

/**
 * The instants of a MONTHLY rule with no BY-part, or with only BYMONTHDAY, or only BYDAY, by
 * arithmetic, like `plainSteps`; undefined when it has a COUNT or other parts.
 */
function monthlySteps(
  rule: ICAL.Recur,
  start: ICAL.Time,
  fromWall: number,
  parts: readonly string[],
): (() => number | undefined) | undefined {
  if (rule.count || parts.length > 1 || (parts.length === 1 && parts[0] !== 'BYDAY' && parts[0] !== 'BYMONTHDAY')) return undefined;
  const byday: { n: number; day: number }[] = [];
  for (const item of (rule.parts.BYDAY ?? []).map(String)) {
    const m = /^([+-]?\d{1,2})?([A-Z]{2})$/.exec(item);
    const day = m ? WEEKDAYS.indexOf(m[2]!) : -1;
    if (!m || day < 0) return undefined;
    byday.push({ n: m[1] ? Number(m[1]) : 0, day });
  }
  const bymonthday = (rule.parts.BYMONTHDAY ?? []).map(Number);
  if (bymonthday.some((d) => !Number.isInteger(d) || d === 0 || Math.abs(d) > 31)) return undefined;
  const interval = rule.interval || 1;
  const until = rule.until ? wall(rule.until) + (rule.until.isDate && !start.isDate ? 86399 : 0) : Number.POSITIVE_INFINITY;
  const w0 = wall(start);
  const day0 = Math.floor(w0 / 86400);
  const timeOfDay = w0 - day0 * 86400;
  const month0 = start.year * 12 + start.month - 1;
  const from = new Date(fromWall * 1000);
  const gap = from.getUTCFullYear() * 12 + from.getUTCMonth() - month0;
  let period = gap > interval ? Math.floor(gap / interval) - 1 : 0;
  let pending: number[] = [];
  const daysOf = (year: number, month: number): number[] => {
    const length = new Date(Date.UTC(year, month, 0)).getUTCDate();
    const first = epochDay(year, month, 1);
    const days: number[] = [];
    if (byday.length > 0) {
      for (const { n, day } of byday) {
        const firstOf = 1 + ((day - weekday(first) + 7) % 7);
        if (n === 0) for (let d = firstOf; d <= length; d += 7) days.push(d);
        else if (n > 0) days.push(firstOf + (n - 1) * 7);
        else days.push(length - ((weekday(first + length - 1) - day + 7) % 7) + (n + 1) * 7);
      }
    } else if (bymonthday.length > 0) for (const d of bymonthday) days.push(d > 0 ? d : length + d + 1);
    else days.push(start.day);
    return [...new Set(days.filter((d) => d >= 1 && d <= length))].sort((a, b) => a - b).map((d) => first + d - 1);
  };
  return () => {
    for (let guard = 0; guard < 10_000; guard++) {
      const day = pending.shift();
      if (day === undefined) {
        const month = month0 + period * interval;
        period += 1;
        pending = daysOf(Math.floor(month / 12), (month % 12) + 1);
        continue;
      }
      if (day < day0) continue;
      const at = day * 86400 + timeOfDay;
      return at > until ? undefined : at;
    }
    return undefined;
  };
}

/**
 * An ical.js iterator for a monthly or yearly rule without COUNT, started a period before
 * `fromWall` rather than at DTSTART. With BY-parts it starts on the first of the month (or of
 * January), from which ical.js yields the first day the rule matches; without, on DTSTART's own
 * day, which every such month (or year) has.
 */
export function iteratorNear(rule: ICAL.Recur, start: ICAL.Time, fromWall: number): ICAL.RecurIterator {
  const parts = Object.entries(rule.parts)
    .filter(([, v]) => Array.isArray(v) && v.length > 0)
    .map(([k]) => k);
  const interval = rule.interval || 1;
  const from = new Date(fromWall * 1000);
  const monthly =
    rule.freq === 'MONTHLY' && parts.every((k) => k === 'BYDAY' || k === 'BYMONTHDAY') && (parts.length > 0 || start.day <= 28);
  const yearly =
    rule.freq === 'YEARLY' &&
    (parts.length === 0
      ? !(start.month === 2 && start.day === 29)
      : parts.includes('BYMONTH') && parts.every((k) => k === 'BYMONTH' || k === 'BYDAY' || k === 'BYMONTHDAY'));
  if (rule.count || !(monthly || yearly)) return rule.iterator(start);
  const monthsPerPeriod = monthly ? interval : 12 * interval;
  const gap = (from.getUTCFullYear() - start.year) * 12 + (from.getUTCMonth() + 1 - start.month);
  const periods = Math.floor(gap / monthsPerPeriod) - 1;
  if (periods <= 0) return rule.iterator(start);
  const months = start.year * 12 + (start.month - 1) + periods * monthsPerPeriod;
  const shifted = ICAL.Time.fromData(
    {
      year: Math.floor(months / 12),
      month: parts.length > 0 && yearly ? 1 : (months % 12) + 1,
      day: parts.length > 0 ? 1 : start.day,
      ...(start.isDate ? { isDate: true } : { hour: start.hour, minute: start.minute, second: start.second }),
    },
    ICAL.Timezone.localTimezone,
  );
  return rule.iterator(shifted);
}
