// Policies composed in order, and pools of resources delegating to a member.
import { describe, expect, it } from 'vitest';
import { decide, MemoryBookingIndex, type PolicyContext, parsePolicies } from '../../../src/calendar/policy/index.js';
import { booking, context, single, span, weekly } from './build.js';

const taken = booking('other', span('2026-11-24 10:00', '11:00'));

describe('composition', () => {
  const list = [
    { type: 'who', domains: ['example.org'] },
    { type: 'window', days: 90 },
    { type: 'duration', max: 240 },
    { type: 'hours', times: 'mon-fri 08:00-18:00' },
    { type: 'recurring' },
    { type: 'counter' },
    { type: 'capacity', max: 1 },
    { type: 'approval', delegates: ['facilities@example.org'] },
  ];
  const ctx = context(list, [taken]);

  it('lets the first policy that does not pass decide', () => {
    // Outsider, too far, too long and out of hours: who comes first.
    const everything = single(span('2027-06-05 06:00', '12:00'), { organizer: 'eve@evil.org' });
    expect(decide(everything, ctx).policy).toBe('who');
    expect(decide({ ...everything, organizer: 'ann@example.org' }, ctx).policy).toBe('window');
    expect(decide(single(span('2026-11-28 06:00', '12:00')), ctx).policy).toBe('duration');
    expect(decide(single(span('2026-11-28 10:00', '11:00')), ctx).policy).toBe('hours');
    expect(decide(single(span('2026-11-24 10:00', '11:00')), ctx).policy).toBe('counter');
    expect(decide(single(span('2026-11-24 12:00', '13:00')), ctx)).toMatchObject({ outcome: 'TENTATIVE', policy: 'approval' });
  });

  it('runs later policies on what earlier ones left of a series, and keeps their declined dates', () => {
    const series = weekly(span('2026-11-24 10:00', '11:00'), 8);
    const d = decide(series, ctx);
    expect(d.outcome).toBe('TENTATIVE');
    expect(d.policy).toBe('approval');
    expect(d.declinedInstances).toEqual([series.occurrences[0]?.recurrenceId]);
    expect(d.reason).toMatch(
      /^Room 1 is free, but its bookings need approval.* Some dates are declined: Room 1 is already booked on 1 of 8 dates/,
    );
  });

  it('reorders to the same effect only when the order says so', () => {
    // Capacity before counter: a taken time is simply declined.
    const strict = context([{ type: 'capacity', max: 1 }, { type: 'counter' }], [taken]);
    expect(decide(single(span('2026-11-24 10:00', '11:00')), strict)).toMatchObject({ outcome: 'DECLINED', policy: 'capacity' });
    // Without free or capacity nothing declines a taken time.
    expect(decide(single(span('2026-11-24 10:00', '11:00')), context([{ type: 'duration', max: 60 }], [taken])).outcome).toBe('ACCEPTED');
  });
});

describe('pools', () => {
  const policies = parsePolicies([{ type: 'free' }]);
  const member = (address: string, bookings: ReturnType<typeof booking>[], list = policies) => ({
    address,
    bookings: new MemoryBookingIndex(bookings),
    policies: list,
    tzid: 'Europe/Amsterdam',
  });
  const pool = (members: ReturnType<typeof member>[], own: unknown[] = [{ type: 'free' }]): PolicyContext => {
    const all = members.flatMap((m) => m.bookings.overlapping({ start: 0, end: Number.MAX_SAFE_INTEGER }));
    return {
      ...context(own, all),
      resource: { address: 'rooms@example.org', tzid: 'Europe/Amsterdam', name: 'Meeting rooms' },
      pool: { members },
    };
  };

  it('delegates to the first member that is free and accepts', () => {
    const ctx = pool([member('room1@example.org', [taken]), member('room2@example.org', []), member('room3@example.org', [])]);
    expect(decide(single(span('2026-11-24 10:00', '11:00')), ctx)).toEqual({
      outcome: 'DELEGATED',
      policy: 'pool',
      delegateTo: 'room2@example.org',
      reason: 'Meeting rooms passes the booking to room2@example.org: room2@example.org is booked.',
    });
    expect(decide(single(span('2026-11-24 12:00', '13:00')), ctx).delegateTo).toBe('room1@example.org');
  });

  it('goes by each member’s own policies, preferring one that takes every date', () => {
    const small = parsePolicies([{ type: 'duration', max: 30 }, { type: 'free' }]);
    const series = weekly(span('2026-11-24 10:00', '11:00'), 4);
    const ctx = pool([
      member('room1@example.org', [], small),
      member('room2@example.org', [taken], parsePolicies([{ type: 'recurring' }, { type: 'free' }])),
      member('room3@example.org', []),
    ]);
    expect(decide(series, ctx).delegateTo).toBe('room3@example.org');
    const partial = pool([
      member('room1@example.org', [], small),
      member('room2@example.org', [taken], parsePolicies([{ type: 'recurring' }, { type: 'free' }])),
    ]);
    const d = decide(series, partial);
    expect(d).toMatchObject({ outcome: 'DELEGATED', delegateTo: 'room2@example.org', declinedInstances: [series.occurrences[0]?.start] });
  });

  it('falls back to the pool’s own decision: decline with the members’ reasons, or counter', () => {
    const both = [member('room1@example.org', [taken]), member('room2@example.org', [booking('o2', span('2026-11-24 10:00', '11:30'))])];
    const declined = decide(single(span('2026-11-24 10:00', '11:00')), pool(both, [{ type: 'capacity', max: 2 }]));
    expect(declined).toMatchObject({ outcome: 'DECLINED', policy: 'capacity' });
    const countered = decide(single(span('2026-11-24 10:00', '11:00')), pool(both, [{ type: 'counter' }, { type: 'capacity', max: 2 }]));
    expect(countered).toMatchObject({ outcome: 'COUNTER', counter: span('2026-11-24 11:00', '12:00') });
    // The pool's list would book, yet no member does (room1 takes only short bookings): declined with why.
    const picky = [member('room1@example.org', [], parsePolicies([{ type: 'duration', max: 30 }]))];
    const none = decide(single(span('2026-11-24 10:00', '11:00')), pool(picky, []));
    expect(none.outcome).toBe('DECLINED');
    expect(none.policy).toBe('pool');
    expect(none.reason).toBe(
      "None of Meeting rooms's resources can take the booking. room1@example.org: Bookings of room1@example.org may last at most 30 minutes; this one lasts 60.",
    );
  });
});
