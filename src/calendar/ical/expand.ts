/**
 * Occurrences of events and the free/busy they make: RRULE, RDATE, EXDATE, overridden instances
 * (RECURRENCE-ID, RANGE=THISANDFUTURE), time zones and DST, all-day events, DURATION or DTEND.
 * Each object's prepared rules and its last expansion are cached, so a free/busy query over many
 * series repeats no parsing and, for the same window, no expansion.
 */
import ICAL from 'ical.js';
import type { BusyPeriod, BusyType, CalendarObject, Occurrence, Period } from '../model.js';
import { CalendarError, STATUS } from './errors.js';
import { type Parsed, parsedOf } from './object.js';

/** One instance with what free/busy needs. */
interface Instance extends Omit<Occurrence, 'recurrenceId'> {
  readonly recurrenceId: number | undefined;
  readonly cancelled: boolean;
  readonly transparent: boolean;
  readonly tentative: boolean;
}

interface Facts {
  readonly cancelled: boolean;
  readonly transparent: boolean;
  readonly tentative: boolean;
}

interface Override extends Facts {
  readonly recurrenceId: number;
  readonly start: number;
  readonly end: number;
  readonly thisAndFuture: boolean;
  /** For THISANDFUTURE: how far the instances move, and their new length in wall-clock seconds. */
  readonly shift: number;
  readonly wallSeconds: number;
}

interface Prepared {
  readonly uid: string;
  readonly facts: Facts;
  readonly start?: ICAL.Time;
  /** DTSTART as a floating time, and the zone it is read in (undefined: UTC, floating or all-day). */
  readonly floatingStart?: ICAL.Time;
  readonly zone?: ICAL.Timezone;
  /** Length of the master in wall-clock seconds (the same local time span for every instance). */
  readonly wallSeconds: number;
  readonly rules: readonly ICAL.Recur[];
  readonly rdates: readonly { start: ICAL.Time; end?: ICAL.Time }[];
  readonly exdates: ReadonlySet<number>;
  readonly exdays: ReadonlySet<number>;
  readonly overrides: ReadonlyMap<number, Override>;
  readonly futures: readonly Override[];
  /** Longest instance in ms, plus the largest THISANDFUTURE move: how far outside a window an instance can start and still overlap it. */
  readonly reach: number;
  cached?: { from: number; to: number; instances: readonly Instance[] };
}

const prepared = new WeakMap<Parsed, Prepared>();

function factsOf(component: ICAL.Component, inherited?: Facts): Facts {
  const status = String(component.getFirstPropertyValue('status') ?? '').toUpperCase();
  const transp = String(component.getFirstPropertyValue('transp') ?? '').toUpperCase();
  return {
    cancelled: status === 'CANCELLED' || (inherited?.cancelled === true && status === ''),
    transparent: transp === 'TRANSPARENT' || (inherited?.transparent === true && transp === ''),
    tentative: status === 'TENTATIVE' || (inherited?.tentative === true && status === ''),
  };
}

const ms = (time: ICAL.Time): number => time.toUnixTime() * 1000;

/** Seconds since 1970 of a time's wall-clock reading, as if it were UTC. */
function wall(time: ICAL.Time): number {
  return Date.UTC(time.year, time.month - 1, time.day, time.hour, time.minute, time.second) / 1000;
}

/** The component's length in wall-clock seconds, from DTEND or DURATION (RFC 5545 §3.6.1 defaults). */
function wallSecondsOf(component: ICAL.Component, start: ICAL.Time): number {
  const end = component.getFirstPropertyValue('dtend');
  if (end instanceof ICAL.Time) {
    const local = end.zone === start.zone || end.isDate || start.isDate ? end : end.convertToZone(start.zone);
    return Math.max(0, wall(local) - wall(start));
  }
  const duration = component.getFirstPropertyValue('duration');
  if (duration instanceof ICAL.Duration) return Math.max(0, duration.toSeconds());
  return start.isDate ? 86400 : 0;
}

/**
 * Wall-clock seconds in `zone` to UTC ms. ical.js's own conversion walks the zone's changes for
 * every time; here a day whose offset does not change is looked up once, so only the few
 * instances on a DST change day take the slow way.
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

function wallToUtc(zone: ICAL.Timezone | undefined, wallSeconds: number): number {
  if (!zone) return wallSeconds * 1000;
  let days = dayOffsets.get(zone);
  if (!days) {
    days = new Map();
    dayOffsets.set(zone, days);
  }
  const day = Math.floor(wallSeconds / 86400);
  let offset = days.get(day);
  if (offset === undefined) {
    const atStart = zoneOffset(zone, day * 86400);
    offset = atStart === zoneOffset(zone, day * 86400 + 86399) ? atStart : Number.NaN;
    days.set(day, offset);
  }
  return (wallSeconds - (Number.isNaN(offset) ? zoneOffset(zone, wallSeconds) : offset)) * 1000;
}

/** The zone a time is read in, when it is a named zone (not UTC, floating or a date). */
function namedZone(time: ICAL.Time): ICAL.Timezone | undefined {
  const zone = time.zone;
  if (time.isDate || !zone || zone === ICAL.Timezone.utcTimezone || zone === ICAL.Timezone.localTimezone || zone.tzid === 'UTC')
    return undefined;
  return zone;
}

function floating(time: ICAL.Time): ICAL.Time {
  return ICAL.Time.fromData(
    time.isDate
      ? { year: time.year, month: time.month, day: time.day, isDate: true }
      : { year: time.year, month: time.month, day: time.day, hour: time.hour, minute: time.minute, second: time.second },
    ICAL.Timezone.localTimezone,
  );
}

/** The rule with UNTIL read as a floating time in `zone`, so that it can run on floating times. */
function floatingRule(rule: ICAL.Recur, zone: ICAL.Timezone | undefined): ICAL.Recur {
  if (!zone || !rule.until || rule.until.isDate) return rule;
  const copy = rule.clone();
  const until = rule.until.zone === ICAL.Timezone.localTimezone ? rule.until : rule.until.convertToZone(zone);
  copy.until = floating(until);
  return copy;
}

function endOf(start: ICAL.Time, startMs: number, wallSeconds: number): number {
  if (wallSeconds === 0) return startMs;
  const zone = start.zone;
  if (start.isDate || zone === ICAL.Timezone.utcTimezone || zone === ICAL.Timezone.localTimezone || zone?.tzid === 'UTC') {
    return startMs + wallSeconds * 1000;
  }
  const end = start.clone();
  end.adjust(0, 0, 0, wallSeconds);
  return ms(end);
}

function prepare(object: CalendarObject): Prepared {
  const parsed = parsedOf(object);
  const found = prepared.get(parsed);
  if (found) return found;
  const master = parsed.master;
  const masterStart = master?.getFirstPropertyValue('dtstart');
  const start = masterStart instanceof ICAL.Time ? masterStart : undefined;
  const facts = master ? factsOf(master) : { cancelled: false, transparent: object.transparent, tentative: false };
  const wallSeconds = master && start ? wallSecondsOf(master, start) : 0;
  const rules: ICAL.Recur[] = [];
  const rdates: { start: ICAL.Time; end?: ICAL.Time }[] = [];
  const exdates = new Set<number>();
  const exdays = new Set<number>();
  if (master && start) {
    for (const property of master.getAllProperties('rrule')) {
      const rule = property.getFirstValue();
      if (rule instanceof ICAL.Recur) rules.push(floatingRule(rule, namedZone(start)));
      else throw new CalendarError(STATUS.invalidRule, `RRULE of ${object.uid}`);
    }
    for (const property of master.getAllProperties('rdate')) {
      for (const value of property.getValues()) {
        if (value instanceof ICAL.Time) rdates.push({ start: value });
        else if (value instanceof ICAL.Period) rdates.push({ start: value.start, end: value.getEnd() });
      }
    }
    for (const property of master.getAllProperties('exdate')) {
      for (const value of property.getValues()) {
        if (!(value instanceof ICAL.Time)) continue;
        if (value.isDate && !start.isDate) exdays.add(value.year * 10000 + value.month * 100 + value.day);
        else exdates.add(ms(value));
      }
    }
  }
  const overrides = new Map<number, Override>();
  const futures: Override[] = [];
  let reach = wallSeconds * 1000 + 3600_000;
  for (const event of parsed.events) {
    const rid = event.getFirstProperty('recurrence-id');
    const ridValue = rid?.getFirstValue();
    if (!rid || !(ridValue instanceof ICAL.Time)) continue;
    const recurrenceId = ms(ridValue);
    const evStartValue = event.getFirstPropertyValue('dtstart');
    const evStart = evStartValue instanceof ICAL.Time ? evStartValue : ridValue;
    const startMs = ms(evStart);
    const ownWall = event.hasProperty('dtend') || event.hasProperty('duration') ? wallSecondsOf(event, evStart) : wallSeconds;
    const override: Override = {
      ...factsOf(event, facts),
      recurrenceId,
      start: startMs,
      end: endOf(evStart, startMs, ownWall),
      thisAndFuture: String(rid.getParameter('range') ?? '').toUpperCase() === 'THISANDFUTURE',
      shift: startMs - recurrenceId,
      wallSeconds: ownWall,
    };
    overrides.set(recurrenceId, override);
    if (override.thisAndFuture) futures.push(override);
    reach = Math.max(reach, Math.abs(override.shift) + ownWall * 1000 + 3600_000);
  }
  futures.sort((a, b) => a.recurrenceId - b.recurrenceId);
  const zone = start ? namedZone(start) : undefined;
  const result: Prepared = {
    uid: object.uid,
    facts,
    wallSeconds,
    rules,
    rdates,
    exdates,
    exdays,
    overrides,
    futures,
    reach,
    ...(start ? { start, floatingStart: floating(start) } : {}),
    ...(zone ? { zone } : {}),
  };
  prepared.set(parsed, result);
  return result;
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
function plainSteps(rule: ICAL.Recur, start: ICAL.Time, fromWall: number): (() => number | undefined) | undefined {
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
function iteratorNear(rule: ICAL.Recur, start: ICAL.Time, fromWall: number): ICAL.RecurIterator {
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

/** A bound on the instances one rule yields per expansion, against a FREQ=SECONDLY series over years. */
const MAX_INSTANCES = 50_000;

function expandRange(p: Prepared, from: number, to: number): Instance[] {
  const out: Instance[] = [];
  const start = p.start;
  if (!start) {
    // Only overridden instances (e.g. a stored reply for some instances).
    for (const o of p.overrides.values()) if (o.start < to && o.end > from) out.push(instanceOf(p, o.recurrenceId, o.start, o.end, o));
    return out.sort((a, b) => a.start - b.start);
  }
  const lo = from - p.reach;
  const hi = to + p.reach;
  const seen = new Set<number>();
  /** Adds the instance at `r` (UTC ms): from a real time (`time`), or from wall-clock seconds in the series' zone (`at`). */
  const add = (r: number, at: number | undefined, time?: ICAL.Time, explicitEnd?: ICAL.Time): void => {
    if (r < lo || r >= hi || seen.has(r)) return;
    seen.add(r);
    if (p.exdates.has(r) || (p.exdays.size > 0 && p.exdays.has(dayKey(at, time)))) return;
    const exact = p.overrides.get(r);
    if (exact) {
      if (exact.start < to && exact.end > from) out.push(instanceOf(p, r, exact.start, exact.end, exact));
      return;
    }
    const future = futureFor(p.futures, r);
    let s = r;
    let e: number;
    if (future) {
      s = r + future.shift;
      e = s + future.wallSeconds * 1000;
    } else if (explicitEnd) e = ms(explicitEnd);
    else if (at !== undefined) e = start.isDate ? r + p.wallSeconds * 1000 : wallToUtc(p.zone, at + p.wallSeconds);
    else e = endOf(time ?? start, r, p.wallSeconds);
    if (s < to && e > from) out.push(instanceOf(p, r, s, e, future ?? p.facts));
  };
  add(ms(start), undefined, start);
  for (const rdate of p.rdates) add(ms(rdate.start), undefined, rdate.start, rdate.end);
  // Rules run on floating times (no zone arithmetic per step); each instance is then read in the series' zone.
  const floatingStart = p.floatingStart ?? start;
  const toUtc = (at: number) => (start.isDate ? at * 1000 : wallToUtc(p.zone, at));
  const fromWall = Math.floor(lo / 1000) - 14 * 3600;
  for (const rule of p.rules) {
    const step = plainSteps(rule, floatingStart, fromWall);
    if (step) {
      for (let at = step(), n = 0; at !== undefined && n < MAX_INSTANCES; at = step(), n++) {
        const r = toUtc(at);
        if (r >= hi) break;
        add(r, at);
      }
      continue;
    }
    const iterator = iteratorNear(rule, floatingStart, fromWall);
    for (let n = 0; n < MAX_INSTANCES; n++) {
      const next = iterator.next();
      if (!next) break;
      const at = wall(next);
      const r = toUtc(at);
      if (r >= hi) break;
      add(r, at);
    }
  }
  // Overrides whose RECURRENCE-ID the rules do not produce (moved in from elsewhere) still happen.
  for (const o of p.overrides.values()) {
    if (!seen.has(o.recurrenceId) && o.start < to && o.end > from) out.push(instanceOf(p, o.recurrenceId, o.start, o.end, o));
  }
  return out.sort((a, b) => a.start - b.start || a.end - b.end);
}

/** YYYYMMDD of an instance's local date, for EXDATEs given as dates. */
function dayKey(at: number | undefined, time: ICAL.Time | undefined): number {
  if (at === undefined) return time ? time.year * 10000 + time.month * 100 + time.day : 0;
  const d = new Date(at * 1000);
  return d.getUTCFullYear() * 10000 + (d.getUTCMonth() + 1) * 100 + d.getUTCDate();
}

function futureFor(futures: readonly Override[], r: number): Override | undefined {
  let found: Override | undefined;
  for (const f of futures) {
    if (f.recurrenceId <= r) found = f;
    else break;
  }
  return found;
}

function instanceOf(p: Prepared, recurrenceId: number, start: number, end: number, facts: Facts): Instance {
  // One object shape for every instance (no spread), so that V8 keeps the hot loops monomorphic.
  const recurring = p.rules.length > 0 || p.rdates.length > 0 || p.overrides.size > 0;
  return {
    uid: p.uid,
    start,
    end,
    recurrenceId: recurring ? recurrenceId : undefined,
    cancelled: facts.cancelled || p.facts.cancelled,
    transparent: facts.transparent,
    tentative: facts.tentative,
  };
}

/** The object's instances over a range covering the window (cached), sorted by start; the caller filters. */
function covering(object: CalendarObject, window: Period): readonly Instance[] {
  const p = prepare(object);
  const cached = p.cached;
  if (cached && cached.from <= window.start && cached.to >= window.end) return cached.instances;
  // Expand a little beyond the window, so that a rolling window moved forward is answered from the cache.
  const margin = Math.max(86400_000, Math.min(31 * 86400_000, Math.floor((window.end - window.start) / 12)));
  const from = window.start - margin;
  const to = window.end + margin;
  const list = expandRange(p, from, to);
  p.cached = { from, to, instances: list };
  return list;
}

/** Every instance (cancelled ones included) overlapping the window, sorted by start. */
function instances(object: CalendarObject, window: Period): readonly Instance[] {
  if (!(window.end > window.start)) return [];
  return covering(object, window).filter((i) => i.start < window.end && i.end > window.start);
}

/** Every occurrence overlapping the window; cancelled ones are left out. */
export function occurrences(object: CalendarObject, window: Period): Occurrence[] {
  const out: Occurrence[] = [];
  for (const i of instances(object, window)) {
    if (i.cancelled) continue;
    out.push(
      i.recurrenceId === undefined
        ? { uid: i.uid, start: i.start, end: i.end }
        : { uid: i.uid, start: i.start, end: i.end, recurrenceId: i.recurrenceId },
    );
  }
  return out;
}

const TYPE_ORDER: Record<BusyType, number> = { BUSY: 0, 'BUSY-UNAVAILABLE': 1, 'BUSY-TENTATIVE': 2 };

/** Merged busy time within the window: sorted by start, overlapping periods of one type merged. */
export function busyPeriods(objects: readonly CalendarObject[], window: Period): BusyPeriod[] {
  if (!(window.end > window.start)) return [];
  const busy = new Spans();
  const tentative = new Spans();
  for (const object of objects) {
    for (const i of covering(object, window)) {
      if (i.start >= window.end || i.end <= window.start || i.cancelled || i.transparent || i.end <= i.start) continue;
      (i.tentative ? tentative : busy).add(Math.max(i.start, window.start), Math.min(i.end, window.end));
    }
  }
  return [...busy.union('BUSY'), ...tentative.union('BUSY-TENTATIVE')].sort(
    (a, b) => a.start - b.start || TYPE_ORDER[a.type] - TYPE_ORDER[b.type],
  );
}

/**
 * Spans of one busy type, merged by a sweep over their starts and ends sorted apart (numeric
 * typed-array sorts, no comparator): a merged span opens when none is open and closes when the
 * last open one ends; a span starting where another ends continues it.
 */
class Spans {
  #starts = new Float64Array(256);
  #ends = new Float64Array(256);
  #count = 0;

  add(start: number, end: number): void {
    if (this.#count === this.#starts.length) {
      const grow = (from: Float64Array) => {
        const to = new Float64Array(from.length * 2);
        to.set(from);
        return to;
      };
      this.#starts = grow(this.#starts);
      this.#ends = grow(this.#ends);
    }
    this.#starts[this.#count] = start;
    this.#ends[this.#count] = end;
    this.#count += 1;
  }

  union(type: BusyType): BusyPeriod[] {
    const n = this.#count;
    const starts = this.#starts.subarray(0, n).sort();
    const ends = this.#ends.subarray(0, n).sort();
    const out: BusyPeriod[] = [];
    let open = 0;
    let from = 0;
    let s = 0;
    let e = 0;
    while (e < n) {
      if (s < n && starts[s]! <= ends[e]!) {
        if (open === 0) from = starts[s]!;
        open += 1;
        s += 1;
      } else {
        open -= 1;
        if (open === 0) out.push({ start: from, end: ends[e]!, type });
        e += 1;
      }
    }
    return out;
  }
}

/** Sorts busy periods and merges those of one type that overlap or touch. */
export function mergeBusy(periods: readonly BusyPeriod[]): BusyPeriod[] {
  const byType = new Map<BusyType, Spans>();
  for (const p of periods) {
    if (p.end <= p.start) continue;
    let spans = byType.get(p.type);
    if (!spans) {
      spans = new Spans();
      byType.set(p.type, spans);
    }
    spans.add(p.start, p.end);
  }
  return [...byType]
    .flatMap(([type, spans]) => spans.union(type))
    .sort((a, b) => a.start - b.start || TYPE_ORDER[a.type] - TYPE_ORDER[b.type]);
}
