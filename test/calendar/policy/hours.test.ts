// Permitted hours on the resource's wall clock, across daylight saving time changes.
import { describe, expect, it } from 'vitest';
import { decide, describeTimes, fromWall, parseTimes, type WeekTimes, wallClock, withinTimes } from '../../../src/calendar/policy/index.js';
import { at, booking, context, HOUR, single, span, weekly } from './build.js';

function week(...entries: string[]): WeekTimes {
  const parsed = parseTimes(entries);
  if (typeof parsed === 'string') throw new Error(parsed);
  return parsed;
}

describe('parseTimes', () => {
  it('reads day ranges, lists, several ranges a day and whole days', () => {
    const w = week('mon-fri 08:00-12:00, 13:00-18:00', 'sat,sun 10:00-14:00', 'fri-mon 20:00-24:00');
    expect(w[1]).toEqual([
      [480, 720],
      [780, 1080],
      [1200, 1440],
    ]);
    expect(w[3]).toEqual([
      [480, 720],
      [780, 1080],
    ]);
    expect(w[0]).toEqual([
      [600, 840],
      [1200, 1440],
    ]);
    expect(week('daily 00:00-24:00').every((d) => d.length === 1)).toBe(true);
    expect(describeTimes(week('mon-fri 08:00-18:00', 'sat 10:00-12:00'))).toBe('mon-fri 08:00-18:00; sat 10:00-12:00');
  });

  it('says what is wrong', () => {
    expect(parseTimes(['weekdays 08:00-18:00'])).toMatch(/^unknown weekday in 'weekdays 08:00-18:00'/);
    expect(parseTimes(['mon 08:00-25:00'])).toMatch(/^expected weekday ranges like/);
    expect(parseTimes(['mon-fri'])).toMatch(/^expected weekday ranges like/);
  });
});

describe('the wall clock across DST', () => {
  it('maps wall times to UTC on both sides of a change, and skipped or repeated times sensibly', () => {
    expect(new Date(fromWall(2026, 3, 28, 8 * 60, 'Europe/Amsterdam')).toISOString()).toBe('2026-03-28T07:00:00.000Z');
    expect(new Date(fromWall(2026, 3, 30, 8 * 60, 'Europe/Amsterdam')).toISOString()).toBe('2026-03-30T06:00:00.000Z');
    // 02:30 does not exist on 29 March: it lands after the gap, at 03:30 CEST.
    expect(new Date(fromWall(2026, 3, 29, 150, 'Europe/Amsterdam')).toISOString()).toBe('2026-03-29T01:30:00.000Z');
    // 02:30 happens twice on 25 October: the first one.
    expect(new Date(fromWall(2026, 10, 25, 150, 'Europe/Amsterdam')).toISOString()).toBe('2026-10-25T00:30:00.000Z');
    expect(wallClock(Date.UTC(2026, 9, 25, 1, 30), 'Europe/Amsterdam')).toMatchObject({ day: 25, minutes: 150, weekday: 0 });
    expect(wallClock(Date.UTC(2026, 2, 8, 12), 'America/New_York')).toMatchObject({ day: 8, minutes: 8 * 60 });
    expect(wallClock(Date.UTC(2026, 0, 1, 0), 'Asia/Kathmandu')).toMatchObject({ day: 1, minutes: 5 * 60 + 45 });
  });

  it('keeps 08:00-18:00 local on the days before, of and after a change', () => {
    const w = week('daily 08:00-18:00');
    const tz = 'Europe/Amsterdam';
    for (const day of ['2026-03-28', '2026-03-29', '2026-03-30', '2026-10-24', '2026-10-25', '2026-10-26']) {
      expect(withinTimes(span(`${day} 08:00`, '18:00'), w, tz)).toBe(true);
      expect(withinTimes(span(`${day} 07:30`, '08:30'), w, tz)).toBe(false);
      expect(withinTimes(span(`${day} 17:30`, '18:30'), w, tz)).toBe(false);
    }
    // On the short day 08:00-18:00 is 10 hours of wall clock, 10 of UTC too; the night around the change is not permitted.
    expect(withinTimes(span('2026-03-29 01:00', '04:00'), week('daily 00:00-24:00'), tz)).toBe(true);
    expect(withinTimes(span('2026-03-29 01:00', '04:00'), w, tz)).toBe(false);
  });

  it('needs every local day of a booking across midnight to be permitted', () => {
    const tz = 'Europe/Amsterdam';
    const nights = week('fri 18:00-24:00', 'sat 00:00-24:00', 'sun 00:00-12:00');
    expect(withinTimes(span('2026-10-23 19:00', '2026-10-25 11:00'), nights, tz)).toBe(true);
    expect(withinTimes(span('2026-10-23 19:00', '2026-10-25 13:00'), nights, tz)).toBe(false);
    expect(withinTimes(span('2026-10-22 23:00', '2026-10-23 01:00'), nights, tz)).toBe(false);
  });

  it('follows a weekly series at 09:00 New York time through the March change', () => {
    const tz = 'America/New_York';
    const first = span('2026-03-02 09:00', '10:00', tz);
    const series = weekly(first, 3, { now: at('2026-03-01 09:00', tz) });
    // The same wall time each week: the series as its organiser's client expands it in their zone.
    const local = series.occurrences.map((o, i) => {
      const start = at(`2026-03-${String(2 + 7 * i).padStart(2, '0')} 09:00`, tz);
      return { ...o, start, end: start + HOUR, recurrenceId: start };
    });
    const ctx = context([{ type: 'hours', times: 'mon-fri 09:00-17:00' }], [], {
      resource: { address: 'room@example.org', tzid: tz, name: 'Room 1' },
    });
    expect(decide({ ...series, occurrences: local }, ctx).outcome).toBe('ACCEPTED');
    // Fixed in UTC instead, 16:30-17:00 EST becomes 17:30-18:00 EDT after 8 March: those dates are declined.
    const utcFixed = weekly(span('2026-03-02 16:30', '17:00', tz), 3, { now: at('2026-03-01 09:00', tz) });
    const d = decide(utcFixed, ctx);
    expect(d.outcome).toBe('ACCEPTED');
    expect(d.declinedInstances).toEqual([utcFixed.occurrences[1]?.recurrenceId, utcFixed.occurrences[2]?.recurrenceId]);
    expect(d.reason).toBe(
      'Room 1 is booked, except 2 dates: Room 1 can be booked mon-fri 09:00-17:00 (America/New_York time): declined on 2 of 3 dates (first Mon 9 Mar 2026 17:30–18:00).',
    );
  });
});

describe('hours', () => {
  it('declines outside the permitted times, saying which they are', () => {
    const ctx = context([{ type: 'hours', times: ['mon-fri 08:00-18:00'] }]);
    expect(decide(single(span('2026-11-24 09:00', '10:00')), ctx).outcome).toBe('ACCEPTED');
    expect(decide(single(span('2026-11-28 09:00', '10:00')), ctx)).toEqual({
      outcome: 'DECLINED',
      policy: 'hours',
      reason: 'Room 1 can be booked mon-fri 08:00-18:00 (Europe/Amsterdam time); this booking is outside them.',
    });
  });

  it('corrects and counters with the next permitted free time, across a DST change', () => {
    const ctx = context(
      [{ type: 'hours', times: 'mon-fri 08:00-18:00', action: 'counter' }, { type: 'free' }],
      [booking('busy', span('2026-10-26 08:00', '09:00'))],
    );
    // Sunday of the October change: the next permitted time is Monday, and 08:00 there is taken.
    const d = decide(single(span('2026-10-25 10:00', '11:30'), { now: at('2026-10-20 09:00') }), ctx);
    expect(d.outcome).toBe('COUNTER');
    expect(d.counter).toEqual(span('2026-10-26 09:00', '10:30'));
    expect(d.reason).toBe('Room 1 can be booked mon-fri 08:00-18:00 (Europe/Amsterdam time); it is free Mon 26 Oct 2026 09:00–10:30.');
    // An evening request counters the next morning, 08:00 local after the clocks went back.
    expect(decide(single(span('2026-10-23 19:00', '20:00'), { now: at('2026-10-20 09:00') }), ctx).counter).toEqual(
      span('2026-10-26 09:00', '10:00'),
    );
  });

  it('uses its own tzid when given one', () => {
    const ctx = context([{ type: 'hours', times: 'mon-fri 09:00-17:00', tzid: 'Asia/Tokyo' }]);
    // 10:00 in Amsterdam is 18:00 in Tokyo.
    expect(decide(single(span('2026-11-24 10:00', '11:00')), ctx).outcome).toBe('DECLINED');
    expect(decide(single(span('2026-11-24 02:00', '03:00')), ctx).outcome).toBe('ACCEPTED');
  });
});
