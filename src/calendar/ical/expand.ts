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
interface Instance extends Occurrence {
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
  const busyStatus = String(component.getFirstPropertyValue('x-microsoft-cdo-busystatus') ?? '').toUpperCase();
  return {
    cancelled: status === 'CANCELLED' || (inherited?.cancelled === true && status === ''),
    transparent: transp === 'TRANSPARENT' || busyStatus === 'FREE' || (inherited?.transparent === true && transp === ''),
    tentative: status === 'TENTATIVE' || busyStatus === 'TENTATIVE' || (inherited?.tentative === true && status === ''),
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

/** Rule iterator started as close before `from` as the rule allows: whole periods of simple rules are skipped. */
function iteratorFrom(rule: ICAL.Recur, start: ICAL.Time, from: number): ICAL.RecurIterator {
  const startMs = wall(start) * 1000;
  const interval = rule.interval || 1;
  const parts = Object.keys(rule.parts);
  const periodDays = rule.freq === 'DAILY' ? interval : rule.freq === 'WEEKLY' ? 7 * interval : 0;
  const simple =
    periodDays > 0 &&
    !rule.count &&
    parts.every((p) => p === 'BYDAY' && rule.freq === 'WEEKLY') &&
    (parts.length === 0 || (rule.parts.BYDAY ?? []).every((d) => /^[A-Z]{2}$/.test(String(d))));
  // Skipping needs DTSTART itself to be an instance of the rule, so that every shifted start is one too.
  const startDay = ['SU', 'MO', 'TU', 'WE', 'TH', 'FR', 'SA'][start.dayOfWeek() - 1];
  if (simple && parts.length === 1 && !(rule.parts.BYDAY ?? []).includes(String(startDay))) return rule.iterator(start);
  const gap = from - startMs - 2 * 86400_000;
  if (!simple || gap <= periodDays * 86400_000) return rule.iterator(start);
  const periods = Math.floor(gap / (periodDays * 86400_000));
  const shifted = start.clone();
  shifted.adjust(periods * periodDays, 0, 0, 0);
  return rule.iterator(shifted);
}

const MAX_INSTANCES = 200_000;

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
  /** Adds the instance at `time` (a real time; or floating, read in the series' zone, with `r` its UTC ms). */
  const add = (time: ICAL.Time, explicitEnd?: ICAL.Time, r = ms(time)): void => {
    if (r < lo || r >= hi || seen.has(r)) return;
    seen.add(r);
    if (p.exdates.has(r) || (p.exdays.size > 0 && p.exdays.has(time.year * 10000 + time.month * 100 + time.day))) return;
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
    else if (time.zone === ICAL.Timezone.localTimezone && !time.isDate) e = wallToUtc(p.zone, wall(time) + p.wallSeconds);
    else e = endOf(time, r, p.wallSeconds);
    if (s < to && e > from) out.push(instanceOf(p, r, s, e, future ?? p.facts));
  };
  add(start);
  for (const rdate of p.rdates) add(rdate.start, rdate.end);
  // Rules run on floating times (ical.js does no zone arithmetic per step); each instance is then read in the series' zone.
  const floatingStart = p.floatingStart ?? start;
  for (const rule of p.rules) {
    const iterator = iteratorFrom(rule, floatingStart, lo - 14 * 3600_000);
    for (let n = 0; n < MAX_INSTANCES; n++) {
      const next = iterator.next();
      if (!next) break;
      const r = next.isDate ? ms(next) : wallToUtc(p.zone, wall(next));
      if (r >= hi) break;
      add(next, undefined, r);
    }
  }
  // Overrides whose RECURRENCE-ID the rules do not produce (moved in from elsewhere) still happen.
  for (const o of p.overrides.values()) {
    if (!seen.has(o.recurrenceId) && o.start < to && o.end > from) out.push(instanceOf(p, o.recurrenceId, o.start, o.end, o));
  }
  return out.sort((a, b) => a.start - b.start || a.end - b.end);
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
  const recurring = p.rules.length > 0 || p.rdates.length > 0 || p.overrides.size > 0;
  return {
    uid: p.uid,
    start,
    end,
    ...(recurring ? { recurrenceId } : {}),
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
