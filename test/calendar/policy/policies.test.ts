// Each booking policy on its own: what it accepts, what it refuses, and the reason it gives.
import { describe, expect, it } from 'vitest';
import { decide } from '../../../src/calendar/policy/index.js';
import { at, booking, context, DAY, single, span, weekly } from './build.js';

const taken = booking('other', span('2026-11-24 10:00', '11:00'));

describe('free', () => {
  it('accepts a free time and declines a taken one, saying when', () => {
    const ctx = context([{ type: 'free' }], [taken]);
    expect(decide(single(span('2026-11-24 11:00', '12:00')), ctx)).toEqual({
      outcome: 'ACCEPTED',
      policy: 'default',
      reason: 'Room 1 is booked.',
    });
    expect(decide(single(span('2026-11-24 10:30', '11:30')), ctx)).toEqual({
      outcome: 'DECLINED',
      policy: 'free',
      reason: 'Room 1 is already booked on Tue 24 Nov 2026 10:30–11:30.',
    });
  });

  it('does not count the request’s own earlier version', () => {
    const ctx = context([{ type: 'free' }], [booking('request-1', span('2026-11-24 10:00', '11:00'))]);
    expect(decide(single(span('2026-11-24 10:30', '11:30')), ctx).outcome).toBe('ACCEPTED');
  });
});

describe('capacity', () => {
  it('takes up to max bookings at once', () => {
    const two = [taken, booking('other-2', span('2026-11-24 10:30', '11:30'))];
    const ctx = context([{ type: 'capacity', max: 2 }], two);
    expect(decide(single(span('2026-11-24 11:00', '12:00')), ctx).outcome).toBe('ACCEPTED');
    const full = decide(single(span('2026-11-24 10:45', '11:15')), ctx);
    expect(full).toMatchObject({ outcome: 'DECLINED', policy: 'capacity' });
    expect(full.reason).toBe('Room 1 is fully booked (2 at once) on Tue 24 Nov 2026 10:45–11:15.');
    // Two bookings touch the period but never at the same moment: room for one more.
    expect(
      decide(
        single(span('2026-11-24 09:00', '12:00')),
        context([{ type: 'capacity', max: 2 }], [taken, booking('x', span('2026-11-24 11:00', '11:30'))]),
      ).outcome,
    ).toBe('ACCEPTED');
  });
});

describe('recurring', () => {
  const series = weekly(span('2026-11-24 10:00', '11:00'), 12);
  const clashes = (n: number) =>
    Array.from({ length: n }, (_, i) =>
      booking(`c${i}`, { start: series.occurrences[i * 2]?.start ?? 0, end: (series.occurrences[i * 2]?.start ?? 0) + 1_800_000 }),
    );

  it('declines just the clashing instances and books the rest', () => {
    const d = decide(series, context([{ type: 'recurring' }, { type: 'free' }], clashes(2)));
    expect(d.outcome).toBe('ACCEPTED');
    expect(d.policy).toBe('recurring');
    expect(d.declinedInstances).toEqual([series.occurrences[0]?.recurrenceId, series.occurrences[2]?.recurrenceId]);
    expect(d.reason).toBe(
      'Room 1 is booked, except 2 dates: Room 1 is already booked on 2 of 12 dates (first Tue 24 Nov 2026 10:00–11:00).',
    );
  });

  it('declines the whole series past max-conflicts or max-conflict-share', () => {
    expect(decide(series, context([{ type: 'recurring', 'max-conflicts': 1 }], clashes(2)))).toMatchObject({
      outcome: 'DECLINED',
      policy: 'recurring',
    });
    expect(decide(series, context([{ type: 'recurring', 'max-conflict-share': 0.1 }], clashes(2))).outcome).toBe('DECLINED');
    // Google's limits by default: more than 5 clashing dates, or more than a third, is too many.
    expect(decide(series, context([{ type: 'recurring' }], clashes(4))).outcome).toBe('ACCEPTED');
    const third = decide(series, context([{ type: 'recurring' }], clashes(5)));
    expect(third.outcome).toBe('DECLINED');
    expect(third.reason).toBe(
      'Room 1 is already booked on more than 4 of 12 dates (first Tue 24 Nov 2026 10:00–11:00); at most 5 and 33% of the dates may clash for the rest to be booked.',
    );
    const long = weekly(span('2026-11-24 10:00', '11:00'), 30);
    const many = (n: number) => long.occurrences.slice(0, n).map((o, i) => booking(`d${i}`, o));
    expect(decide(long, context([{ type: 'recurring' }], many(5))).declinedInstances).toHaveLength(5);
    expect(decide(long, context([{ type: 'recurring' }], many(6))).outcome).toBe('DECLINED');
  });

  it('leaves single events to the other policies', () => {
    expect(decide(single(span('2026-11-24 10:00', '11:00')), context([{ type: 'recurring' }], [taken])).outcome).toBe('ACCEPTED');
  });
});

describe('no-recurring', () => {
  it('refuses series, not single events', () => {
    const ctx = context([{ type: 'no-recurring' }]);
    expect(decide(weekly(span('2026-11-24 10:00', '11:00'), 3), ctx)).toMatchObject({ outcome: 'DECLINED', policy: 'no-recurring' });
    expect(decide(single(span('2026-11-24 10:00', '11:00')), ctx).outcome).toBe('ACCEPTED');
  });
});

describe('window', () => {
  it('declines bookings further ahead than days, and in the past', () => {
    const ctx = context([{ type: 'window', days: 30 }]);
    expect(decide(single(span('2026-12-20 10:00', '11:00')), ctx).outcome).toBe('ACCEPTED');
    const far = decide(single(span('2027-01-20 10:00', '11:00')), ctx);
    expect(far).toMatchObject({ outcome: 'DECLINED', policy: 'window' });
    expect(far.reason).toBe('Room 1 can be booked at most 30 days ahead; this booking is later than that.');
    expect(decide(single(span('2026-11-20 10:00', '11:00')), ctx).reason).toBe('Room 1 cannot be booked in the past.');
  });

  it('clips a series to the window when asked, declining the later dates', () => {
    const series = weekly(span('2026-11-24 10:00', '11:00'), 10);
    expect(decide(series, context([{ type: 'window', days: 30 }])).outcome).toBe('DECLINED');
    const d = decide(series, context([{ type: 'window', days: 30, action: 'clip' }]));
    expect(d.outcome).toBe('ACCEPTED');
    expect(d.declinedInstances).toEqual(series.occurrences.slice(5).map((o) => o.recurrenceId));
  });
});

describe('duration', () => {
  it('keeps bookings between min and max minutes', () => {
    const ctx = context([{ type: 'duration', min: 30, max: 240 }]);
    expect(decide(single(span('2026-11-24 10:00', '11:00')), ctx).outcome).toBe('ACCEPTED');
    expect(decide(single(span('2026-11-24 10:00', '10:15')), ctx).reason).toBe(
      'Bookings of Room 1 must last at least 30 minutes; this one lasts 15.',
    );
    expect(decide(single(span('2026-11-24 10:00', '15:00')), ctx)).toMatchObject({
      outcome: 'DECLINED',
      policy: 'duration',
      reason: 'Bookings of Room 1 may last at most 240 minutes; this one lasts 300.',
    });
  });
});

describe('counter', () => {
  it('proposes the next free slot of the same length when the time is taken', () => {
    const ctx = context([{ type: 'counter' }, { type: 'free' }], [taken, booking('o2', span('2026-11-24 11:00', '11:30'))]);
    const d = decide(single(span('2026-11-24 10:00', '11:00')), ctx);
    expect(d).toEqual({
      outcome: 'COUNTER',
      policy: 'counter',
      reason: 'Room 1 is already booked on Tue 24 Nov 2026 10:00–11:00; it is free Tue 24 Nov 2026 11:30–12:30.',
      counter: span('2026-11-24 11:30', '12:30'),
    });
    expect(decide(single(span('2026-11-24 12:00', '13:00')), ctx).outcome).toBe('ACCEPTED');
  });

  it('proposes only times the list’s hours and window allow', () => {
    const late = booking('late', span('2026-11-24 16:00', '18:00'));
    const ctx = context(
      [{ type: 'window', days: 60 }, { type: 'hours', times: 'mon-fri 08:00-18:00' }, { type: 'counter' }, { type: 'free' }],
      [late],
    );
    expect(decide(single(span('2026-11-24 16:00', '17:00')), ctx).counter).toEqual(span('2026-11-25 08:00', '09:00'));
  });

  it('declines when nothing is free within the horizon, and leaves series to the other policies', () => {
    const month = booking('month', span('2026-11-24 00:00', '2026-12-24 00:00'));
    const ctx = context([{ type: 'counter', horizon: 3 }, { type: 'free' }], [month]);
    expect(decide(single(span('2026-11-24 10:00', '11:00')), ctx)).toMatchObject({
      outcome: 'DECLINED',
      policy: 'counter',
      reason: 'Room 1 is already booked on Tue 24 Nov 2026 10:00–11:00, and has no free time of that length in the next 3 days.',
    });
    expect(decide(weekly(span('2026-11-24 10:00', '11:00'), 3), ctx).policy).toBe('free');
  });
});

describe('who', () => {
  const groups = new Map([['staff', ['Carl@Partner.org']]]);

  it('takes bookings from the listed domains, addresses and groups only', () => {
    const ctx = context([{ type: 'who', domains: ['example.org'], allow: ['dora@elsewhere.org', 'staff'] }], [], { groups });
    const from = (organizer: string) => decide(single(span('2026-11-24 10:00', '11:00'), { organizer }), ctx);
    expect(from('ann@example.org').outcome).toBe('ACCEPTED');
    expect(from('ann@lab.example.org').outcome).toBe('ACCEPTED');
    expect(from('dora@elsewhere.org').outcome).toBe('ACCEPTED');
    expect(from('carl@partner.org').outcome).toBe('ACCEPTED');
    expect(from('eve@evil.org')).toEqual({
      outcome: 'DECLINED',
      policy: 'who',
      reason: 'eve@evil.org may not book Room 1 (it takes bookings from example.org).',
    });
    expect(from('eve@notexample.org').outcome).toBe('DECLINED');
  });

  it('refuses deny first, and lets everyone else through when nothing is allowed explicitly', () => {
    const ctx = context([{ type: 'who', deny: ['staff', 'ann@example.org'] }], [], { groups });
    expect(decide(single(span('2026-11-24 10:00', '11:00')), ctx).outcome).toBe('DECLINED');
    expect(decide(single(span('2026-11-24 10:00', '11:00'), { organizer: 'carl@partner.org' }), ctx).outcome).toBe('DECLINED');
    expect(decide(single(span('2026-11-24 10:00', '11:00'), { organizer: 'bob@example.org' }), ctx).outcome).toBe('ACCEPTED');
  });
});

describe('approval', () => {
  it('holds bookings tentative until a delegate confirms, except for delegates and `except`', () => {
    const groups = new Map([['managers', ['boss@example.org']]]);
    const ctx = context([{ type: 'approval', delegates: ['facilities@example.org'], except: ['managers'] }], [], { groups });
    const from = (organizer: string) => decide(single(span('2026-11-24 10:00', '11:00'), { organizer }), ctx);
    expect(from('ann@example.org')).toEqual({
      outcome: 'TENTATIVE',
      policy: 'approval',
      reason: 'Room 1 is free, but its bookings need approval: the booking is tentative until one of its managers confirms it.',
    });
    expect(from('boss@example.org').outcome).toBe('ACCEPTED');
    expect(from('facilities@example.org').outcome).toBe('ACCEPTED');
  });
});

describe('quota', () => {
  const mine = (uid: string, p: { start: number; end: number }) => booking(uid, p, 'ann@example.org');

  it('limits hours per week per organiser, counting what they hold already', () => {
    const held = [mine('m1', span('2026-11-23 09:00', '12:00')), mine('m2', span('2026-11-25 09:00', '13:00'))];
    const ctx = context([{ type: 'quota', hours: 8, period: 'week' }], held);
    expect(decide(single(span('2026-11-26 09:00', '10:00')), ctx).outcome).toBe('ACCEPTED');
    expect(decide(single(span('2026-11-26 09:00', '11:00')), ctx)).toEqual({
      outcome: 'DECLINED',
      policy: 'quota',
      reason: 'ann@example.org may book Room 1 for at most 8 hours per week; this booking would go over it.',
    });
    // Next week (from Monday 00:00 local time) starts afresh; others' bookings do not count.
    expect(decide(single(span('2026-11-30 00:00', '04:00')), ctx).outcome).toBe('ACCEPTED');
    expect(decide(single(span('2026-11-26 09:00', '11:00'), { organizer: 'bob@example.org' }), ctx).outcome).toBe('ACCEPTED');
  });

  it('limits bookings per day, and shares a group quota among its members', () => {
    const groups = new Map([['team', ['ann@example.org', 'bob@example.org']]]);
    const held = [booking('b1', span('2026-11-24 09:00', '10:00'), 'bob@example.org')];
    const perGroup = context([{ type: 'quota', per: 'group', groups: ['team'], bookings: 1, period: 'day' }], held, { groups });
    expect(decide(single(span('2026-11-24 14:00', '15:00')), perGroup)).toMatchObject({ outcome: 'DECLINED', policy: 'quota' });
    expect(decide(single(span('2026-11-25 14:00', '15:00')), perGroup).outcome).toBe('ACCEPTED');
    expect(decide(single(span('2026-11-24 14:00', '15:00'), { organizer: 'zed@example.org' }), perGroup).outcome).toBe('ACCEPTED');
    const perPerson = context([{ type: 'quota', bookings: 1, period: 'day' }], held, { groups });
    expect(decide(single(span('2026-11-24 14:00', '15:00')), perPerson).outcome).toBe('ACCEPTED');
  });

  it('declines the dates of a series over the quota and books the rest', () => {
    const held = [mine('m1', span('2026-12-01 09:00', '10:00'))];
    const series = weekly(span('2026-11-24 14:00', '15:00'), 4);
    const d = decide(series, context([{ type: 'quota', bookings: 1, period: 'week' }], held));
    expect(d.outcome).toBe('ACCEPTED');
    expect(d.declinedInstances).toEqual([series.occurrences[1]?.recurrenceId]);
  });

  it('counts months in the resource’s time zone', () => {
    const held = [mine('m1', span('2026-11-30 23:30', '2026-12-01 00:00'))];
    const ctx = context([{ type: 'quota', bookings: 1, period: 'month' }], held);
    expect(decide(single(span('2026-12-01 00:00', '01:00')), ctx).outcome).toBe('ACCEPTED');
    expect(decide(single(span('2026-11-02 00:00', '01:00')), ctx).outcome).toBe('DECLINED');
  });
});

describe('an empty request', () => {
  it('is declined: nothing to book in the window', () => {
    const nothing = { ...single(span('2026-11-24 10:00', '11:00')), occurrences: [] };
    expect(decide(nothing, context([]))).toMatchObject({ outcome: 'DECLINED', policy: 'request' });
    expect(at('2026-11-24 10:00') + DAY).toBe(at('2026-11-25 10:00'));
  });
});
