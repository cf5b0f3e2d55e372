// A resource's policies in words: each known type reads as a sentence with its settings, and an
// unknown type still shows what it is set to.
import { describe, expect, it } from 'vitest';
import { describePolicies, describePolicy, formatValue } from './policies.js';

describe('policies in words', () => {
  it('says what each policy does with its settings', () => {
    const views = describePolicies([
      { type: 'who', domains: ['example.org'], deny: ['mallory@example.org'] },
      { type: 'window', days: 90 },
      { type: 'duration', min: 15, max: 240 },
      { type: 'hours', times: ['mon-fri 08:00-18:00', 'sat 09:00-13:00'], action: 'counter' },
      { type: 'no-recurring' },
      { type: 'capacity', max: 2 },
      { type: 'recurring', 'max-conflicts': 5, 'max-conflict-share': 0.33 },
      { type: 'counter', horizon: 14 },
      { type: 'approval', delegates: ['facilities@example.org'], except: ['managers'] },
      { type: 'window', days: 180, action: 'clip' },
      { type: 'hours', times: 'daily 00:00-24:00', tzid: 'UTC' },
      { type: 'quota', hours: 10, period: 'week' },
      { type: 'quota', bookings: 3, period: 'day', per: 'group', groups: ['students'] },
      { type: 'free' },
    ]);
    expect(views.map((v) => v.summary)).toEqual([
      'Accepts bookings only from people at example.org, never from mallory@example.org.',
      'Declines bookings more than 90 days ahead.',
      'Accepts bookings from 15 minutes to 4 hours long.',
      "Books only during mon-fri 08:00-18:00, sat 09:00-13:00 (in the resource's time zone); proposes the next permitted free time otherwise.",
      'Declines recurring bookings.',
      'Allows at most 2 bookings at the same time.',
      'Books a recurring series and declines only its clashing instances; declines the whole series when more than 5 instances clash or more than 33% of instances clash.',
      'When the time is taken, proposes the next free time of the same length within 14 days.',
      'Holds bookings as tentative until one of facilities@example.org confirms, except from managers.',
      'Declines bookings more than 180 days ahead; a series is booked up to then and its later dates declined.',
      'Books only during daily 00:00-24:00 (in UTC); declines other times.',
      'Allows each organiser at most 10 hours per week.',
      'Allows each group (students) at most 3 bookings per day.',
      'Accepts a booking when the time is free; declines it on a conflict.',
    ]);
    expect(views[2]?.settings).toEqual([
      { name: 'min', value: '15' },
      { name: 'max', value: '240' },
    ]);
  });

  it('shows a policy it does not know by its type and settings', () => {
    expect(describePolicy({ type: 'moon-phase', phase: 'full', strict: true })).toEqual({
      type: 'moon-phase',
      summary: 'A “moon-phase” policy.',
      settings: [
        { name: 'phase', value: 'full' },
        { name: 'strict', value: 'yes' },
      ],
    });
  });

  it('writes values as words', () => {
    expect(formatValue(['a', 'b'])).toBe('a, b');
    expect(formatValue({ mon: '08:00-18:00', sat: false })).toBe('mon 08:00-18:00; sat no');
    expect(formatValue(null)).toBe('—');
    expect(formatValue(1.5)).toBe('1.5');
  });
});
