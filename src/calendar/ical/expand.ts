/**
 * Occurrences of events: RRULE, RDATE, EXDATE, overridden instances (RECURRENCE-ID,
 * RANGE=THISANDFUTURE), time zones and DST, all-day events, DURATION or DTEND. Each object's
 * prepared rules and its last expansion are cached, so that asking again repeats no parsing and,
 * for a window inside the last one, no expansion.
 */
import ICAL from 'ical.js';
import type { CalendarObject, Occurrence, Period } from '../model.js';
import { CalendarError, STATUS } from './errors.js';
import { type Parsed, parsedOf } from './object.js';
import { floatingRule, iteratorNear, plainSteps } from './rules.js';
import { floating, ms, namedZone, wall, wallToUtc } from './wallclock.js';

/** One instance with what free/busy needs. */
export interface Instance extends Omit<Occurrence, 'recurrenceId'> {
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
export function covering(object: CalendarObject, window: Period): readonly Instance[] {
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
