/**
 * The booking policies about time: conflicts (`free`, `capacity`, `recurring`, `counter`),
 * series (`no-recurring`), the booking window, durations and permitted hours.
 */
import type { Occurrence, Period } from '../model.js';
import type { PolicyOf } from './config.js';
import { DAY, decided, MINUTE, PASS, type Run, type Verdict } from './context.js';
import { hasRoom, nextFreeSlot } from './free-slot.js';
import { describeTimes, withinTimes } from './hours.js';
import { describePeriod } from './zone.js';

/** The instances that find the resource full (the first `stopAfter` of them). */
export function clashing(run: Run, stopAfter = Number.POSITIVE_INFINITY): Occurrence[] {
  const out: Occurrence[] = [];
  for (const o of run.occurrences) {
    if (hasRoom(run.ctx.bookings, o, run.capacity, run.request.uid)) continue;
    out.push(o);
    if (out.length >= stopAfter) break;
  }
  return out;
}

function when(run: Run, p: Period): string {
  return describePeriod(p.start, p.end, run.ctx.resource.tzid);
}

/** `on 3 of 52 dates (first Mon 23 Nov 2026 10:00–11:00)` or `on Mon 23 Nov 2026 10:00–11:00`. */
function dates(run: Run, some: readonly Occurrence[], of: number): string {
  const first = some[0];
  if (!first) return '';
  if (of === 1) return `on ${when(run, first)}`;
  return `on ${some.length} of ${of} dates (${some.length === 1 ? '' : 'first '}${when(run, first)})`;
}

function full(run: Run): string {
  return run.capacity === 1 ? 'already booked' : `fully booked (${run.capacity} at once)`;
}

/** `free` and `capacity`: declines when any instance finds the resource full. */
export function conflicts(policy: 'free' | 'capacity', run: Run): Verdict {
  const [clash] = clashing(run, 1);
  if (!clash) return PASS;
  const total = run.occurrences.length;
  const which = total === 1 ? `on ${when(run, clash)}` : `on ${when(run, clash)}, one of the ${total} dates`;
  return decided('DECLINED', policy, `${run.name} is ${full(run)} ${which}.`);
}

/** `recurring`: a series declines its clashing instances, or the whole series past the limits. */
export function recurring(cfg: PolicyOf<'recurring'>, run: Run): Verdict {
  if (!run.request.recurring) return PASS;
  const total = run.occurrences.length;
  const max = cfg['max-conflicts'];
  const share = cfg['max-conflict-share'];
  // Counting stops one past what is allowed: the series is declined whatever the rest do.
  const allowed = Math.min(max, Math.floor(share * total + 1e-9), total - 1);
  const clash = clashing(run, allowed + 1);
  if (clash.length === 0) return PASS;
  if (clash.length > allowed) {
    const count = clash.length === total ? `all ${total}` : `more than ${allowed} of ${total}`;
    const limit =
      clash.length === total ? '' : `; at most ${max} and ${Math.round(share * 100)}% of the dates may clash for the rest to be booked`;
    return decided(
      'DECLINED',
      'recurring',
      `${run.name} is ${full(run)} on ${count} dates (first ${when(run, clash[0] as Occurrence)})${limit}.`,
    );
  }
  return { kind: 'drop', occurrences: clash, reason: `${run.name} is ${full(run)} ${dates(run, clash, total)}` };
}

/** `no-recurring`: refuses series. */
export function noRecurring(run: Run): Verdict {
  if (!run.request.recurring) return PASS;
  return decided('DECLINED', 'no-recurring', `${run.name} does not take recurring bookings; please book each date on its own.`);
}

/** `window`: instances must end within `days` of the request (and not be over already). */
export function window(cfg: PolicyOf<'window'>, run: Run): Verdict {
  const { now } = run.request;
  const limit = now + cfg.days * DAY;
  if (!run.request.recurring && run.occurrences.some((o) => o.end <= now)) {
    return decided('DECLINED', 'window', `${run.name} cannot be booked in the past.`);
  }
  const beyond = run.occurrences.filter((o) => o.end > limit);
  if (beyond.length === 0) return PASS;
  const until = `${run.name} can be booked at most ${cfg.days} days ahead`;
  if (cfg.action === 'clip' && beyond.length < run.occurrences.length) {
    return { kind: 'drop', occurrences: beyond, reason: `${until}: the ${beyond.length} dates after that are declined` };
  }
  return decided('DECLINED', 'window', `${until}; this booking ${run.request.recurring ? 'runs' : 'is'} later than that.`);
}

/** `duration`: every instance lasts between `min` and `max` minutes. */
export function duration(cfg: PolicyOf<'duration'>, run: Run): Verdict {
  for (const o of run.occurrences) {
    const minutes = (o.end - o.start) / MINUTE;
    if (cfg.min !== undefined && minutes < cfg.min) {
      return decided('DECLINED', 'duration', `Bookings of ${run.name} must last at least ${cfg.min} minutes; this one lasts ${minutes}.`);
    }
    if (cfg.max !== undefined && minutes > cfg.max) {
      return decided('DECLINED', 'duration', `Bookings of ${run.name} may last at most ${cfg.max} minutes; this one lasts ${minutes}.`);
    }
  }
  return PASS;
}

/** `hours`: instances inside the permitted times; outside, decline, or COUNTER with the next permitted free slot. */
export function hours(cfg: PolicyOf<'hours'>, run: Run): Verdict {
  const tz = cfg.tzid ?? run.ctx.resource.tzid;
  const outside = run.occurrences.filter((o) => !withinTimes(o, cfg.times, tz));
  if (outside.length === 0) return PASS;
  const only = `${run.name} can be booked ${describeTimes(cfg.times)} (${tz} time)`;
  if (run.request.recurring && outside.length < run.occurrences.length) {
    return { kind: 'drop', occurrences: outside, reason: `${only}: declined ${dates(run, outside, run.occurrences.length)}` };
  }
  const wanted = run.occurrences[0];
  if (cfg.action === 'counter' && !run.request.recurring && wanted && run.occurrences.length === 1) {
    const slot = nextFreeSlot(run.ctx.bookings, wanted, {
      duration: wanted.end - wanted.start,
      after: run.request.now,
      horizon: cfg.horizon * DAY,
      capacity: run.capacity,
      permitted: permittedBy(run),
      exceptUid: run.request.uid,
    });
    if (slot) return decided('COUNTER', 'hours', `${only}; it is free ${when(run, slot)}.`, { counter: slot });
  }
  return decided('DECLINED', 'hours', `${only}; this booking is outside them.`);
}

/** `counter`: when a single booking finds the resource full, propose the next free slot of the same length. */
export function counter(cfg: PolicyOf<'counter'>, run: Run): Verdict {
  const wanted = run.occurrences[0];
  if (run.request.recurring || !wanted || run.occurrences.length !== 1) return PASS;
  if (hasRoom(run.ctx.bookings, wanted, run.capacity, run.request.uid)) return PASS;
  const slot = nextFreeSlot(run.ctx.bookings, wanted, {
    duration: wanted.end - wanted.start,
    after: run.request.now,
    horizon: cfg.horizon * DAY,
    capacity: run.capacity,
    permitted: permittedBy(run),
    exceptUid: run.request.uid,
    step: cfg.step * MINUTE,
  });
  const taken = `${run.name} is ${full(run)} ${dates(run, [wanted], 1)}`;
  if (!slot) return decided('DECLINED', 'counter', `${taken}, and has no free time of that length in the next ${cfg.horizon} days.`);
  return decided('COUNTER', 'counter', `${taken}; it is free ${when(run, slot)}.`, { counter: slot });
}

/** What the list's `hours`, `window` and `duration` allow, for choosing a counter-proposal they would accept. */
function permittedBy(run: Run): ((p: Period) => boolean) | undefined {
  const checks: ((p: Period) => boolean)[] = [];
  for (const cfg of run.ctx.policies) {
    if (cfg.type === 'hours') {
      const tz = cfg.tzid ?? run.ctx.resource.tzid;
      checks.push((p) => withinTimes(p, cfg.times, tz));
    } else if (cfg.type === 'window') {
      const limit = run.request.now + cfg.days * DAY;
      checks.push((p) => p.end <= limit);
    }
  }
  if (checks.length === 0) return undefined;
  return (p) => checks.every((check) => check(p));
}
