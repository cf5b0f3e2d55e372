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
      if (rule instanceof ICAL.Recur) rules.push(rule);
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
    ...(start ? { start } : {}),
  };
  prepared.set(parsed, result);
  return result;
}

/** Rule iterator started as close before `from` as the rule allows: whole periods of simple rules are skipped. */
function iteratorFrom(rule: ICAL.Recur, start: ICAL.Time, from: number): ICAL.RecurIterator {
  const startMs = ms(start);
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
  const add = (time: ICAL.Time, explicitEnd?: ICAL.Time): void => {
    const r = ms(time);
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
    } else e = explicitEnd ? ms(explicitEnd) : endOf(time, r, p.wallSeconds);
    if (s < to && e > from) out.push(instanceOf(p, r, s, e, future ?? p.facts));
  };
  add(start);
  for (const rdate of p.rdates) add(rdate.start, rdate.end);
  for (const rule of p.rules) {
    const iterator = iteratorFrom(rule, start, lo);
    for (let n = 0; n < MAX_INSTANCES; n++) {
      const next = iterator.next();
      if (!next) break;
      if (ms(next) >= hi) break;
      add(next);
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

/** Every instance (cancelled ones included) overlapping the window, sorted by start. */
function instances(object: CalendarObject, window: Period): readonly Instance[] {
  if (!(window.end > window.start)) return [];
  const p = prepare(object);
  const cached = p.cached;
  if (cached && cached.from <= window.start && cached.to >= window.end) {
    if (cached.from === window.start && cached.to === window.end) return cached.instances;
    return cached.instances.filter((i) => i.start < window.end && i.end > window.start);
  }
  const list = expandRange(p, window.start, window.end);
  p.cached = { from: window.start, to: window.end, instances: list };
  return list;
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
  const raw: BusyPeriod[] = [];
  for (const object of objects) {
    for (const i of instances(object, window)) {
      if (i.cancelled || i.transparent || i.end <= i.start) continue;
      raw.push({ start: Math.max(i.start, window.start), end: Math.min(i.end, window.end), type: i.tentative ? 'BUSY-TENTATIVE' : 'BUSY' });
    }
  }
  return mergeBusy(raw);
}

/** Sorts busy periods and merges those of one type that overlap or touch. */
export function mergeBusy(periods: readonly BusyPeriod[]): BusyPeriod[] {
  const sorted = [...periods].sort((a, b) => TYPE_ORDER[a.type] - TYPE_ORDER[b.type] || a.start - b.start);
  const merged: BusyPeriod[] = [];
  let current: { start: number; end: number; type: BusyType } | undefined;
  for (const p of sorted) {
    if (current && current.type === p.type && p.start <= current.end) current.end = Math.max(current.end, p.end);
    else {
      if (current) merged.push(current);
      current = { start: p.start, end: p.end, type: p.type };
    }
  }
  if (current) merged.push(current);
  return merged.sort((a, b) => a.start - b.start || TYPE_ORDER[a.type] - TYPE_ORDER[b.type]);
}
