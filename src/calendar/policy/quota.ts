/**
 * The `quota` policy: how many hours or bookings an organiser (or everyone in a group together)
 * may hold per day, week or month of the resource's calendar.
 */
import type { Occurrence, Period } from '../model.js';
import { matches } from './access.js';
import type { PolicyOf } from './config.js';
import { decided, PASS, type Run, type Verdict } from './context.js';
import { fromWall, wallClock } from './zone.js';

const HOUR = 3_600_000;

/** The day, week (Monday first) or month of `tz` that `t` falls in. */
export function calendarPeriod(t: number, period: 'day' | 'week' | 'month', tz: string): Period {
  const w = wallClock(t, tz);
  if (period === 'day') return { start: fromWall(w.year, w.month, w.day, 0, tz), end: fromWall(w.year, w.month, w.day + 1, 0, tz) };
  if (period === 'week') {
    const monday = w.day - ((w.weekday + 6) % 7);
    return { start: fromWall(w.year, w.month, monday, 0, tz), end: fromWall(w.year, w.month, monday + 7, 0, tz) };
  }
  return { start: fromWall(w.year, w.month, 1, 0, tz), end: fromWall(w.year, w.month + 1, 1, 0, tz) };
}

/** Whose bookings count together: the organiser alone, or every member of its groups the quota names. */
function sharing(cfg: PolicyOf<'quota'>, run: Run, organizer: string): readonly string[] | undefined {
  const groups = run.ctx.groups;
  const mine = (cfg.groups ?? []).filter((g) => matches(organizer, g, groups));
  if (cfg.groups !== undefined && mine.length === 0) return undefined;
  if (cfg.per === 'organizer') return [organizer];
  const members = new Set<string>([organizer]);
  for (const g of mine) for (const m of groups?.get(g) ?? []) members.add(m.toLowerCase());
  return [...members];
}

/** `quota`: declines the instances that would take the organiser (or its group) past its quota. */
export function quota(cfg: PolicyOf<'quota'>, run: Run): Verdict {
  const organizer = run.request.organizer.toLowerCase();
  const who = sharing(cfg, run, organizer);
  if (!who) return PASS;
  const tz = run.ctx.resource.tzid;
  const used = new Map<number, { hours: number; bookings: number }>();
  const over: Occurrence[] = [];
  for (const o of run.occurrences) {
    const period = calendarPeriod(o.start, cfg.period, tz);
    let sum = used.get(period.start);
    if (!sum) {
      sum = { hours: 0, bookings: 0 };
      for (const member of who) {
        for (const b of run.ctx.bookings.byOrganizer(member, period)) {
          if (b.uid === run.request.uid || b.start < period.start || b.start >= period.end) continue;
          sum.hours += (b.end - b.start) / HOUR;
          sum.bookings += 1;
        }
      }
      used.set(period.start, sum);
    }
    const hours = sum.hours + (o.end - o.start) / HOUR;
    if ((cfg.hours !== undefined && hours > cfg.hours + 1e-9) || (cfg.bookings !== undefined && sum.bookings + 1 > cfg.bookings)) {
      over.push(o);
      continue;
    }
    sum.hours = hours;
    sum.bookings += 1;
  }
  if (over.length === 0) return PASS;
  const limits = [cfg.hours !== undefined ? `${cfg.hours} hours` : '', cfg.bookings !== undefined ? `${cfg.bookings} bookings` : '']
    .filter(Boolean)
    .join(' and ');
  const whose = cfg.per === 'group' ? `${organizer}'s group` : organizer;
  const reason = `${whose} may book ${run.name} for at most ${limits} per ${cfg.period}`;
  if (run.request.recurring && over.length < run.occurrences.length) {
    return { kind: 'drop', occurrences: over, reason: `${reason}: ${over.length} dates are over that` };
  }
  return decided('DECLINED', 'quota', `${reason}; this booking would go over it.`);
}
