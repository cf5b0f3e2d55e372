// The `policies:` config: defaults filled in, and every mistake reported at its key.
import { describe, expect, it } from 'vitest';
import { parsePolicies, poolSchema } from '../../../src/calendar/policy/index.js';

function problems(input: unknown): string {
  try {
    parsePolicies(input);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('the config was accepted');
}

describe('policies config', () => {
  it('fills in the documented defaults', () => {
    const p = parsePolicies([
      { type: 'free' },
      { type: 'recurring' },
      { type: 'window', days: 180 },
      { type: 'hours', times: 'mon-fri 08:00-18:00' },
      { type: 'counter' },
      { type: 'approval', delegates: ['facilities@example.org'] },
      { type: 'quota', hours: 10 },
    ]);
    expect(p[0]).toEqual({ type: 'free', capacity: 1 });
    expect(p[1]).toEqual({ type: 'recurring', 'max-conflicts': 5, 'max-conflict-share': 1 / 3 });
    expect(p[2]).toEqual({ type: 'window', days: 180, action: 'decline' });
    expect(p[3]).toMatchObject({ type: 'hours', action: 'decline', horizon: 7 });
    expect(p[4]).toEqual({ type: 'counter', horizon: 7, step: 15 });
    expect(p[5]).toEqual({ type: 'approval', delegates: ['facilities@example.org'], except: [] });
    expect(p[6]).toEqual({ type: 'quota', per: 'organizer', hours: 10, period: 'week' });
  });

  it('names the key of a bad value', () => {
    expect(problems([{ type: 'free' }, { type: 'window', days: 3 }, { type: 'capacity', max: 0 }])).toBe(
      'policies[2].max: expected a positive integer',
    );
    expect(problems([{ type: 'capacity', max: 1.5 }])).toBe('policies[0].max: expected a positive integer');
    expect(problems([{ type: 'capacity' }])).toBe('policies[0].max: expected a positive integer');
    expect(problems([{ type: 'recurring', 'max-conflict-share': 2 }])).toBe(
      'policies[0].max-conflict-share: expected a fraction between 0 and 1',
    );
    expect(problems([{ type: 'window', days: 30, action: 'cut' }])).toBe('policies[0].action: expected "decline" or "clip"');
    expect(problems([{ type: 'hours', times: 'mon-fri 8-18' }])).toBe(
      "policies[0].times: expected weekday ranges like 'mon-fri 08:00-18:00', not 'mon-fri 8-18'",
    );
    expect(problems([{ type: 'hours', times: 'mon-fri 18:00-08:00' }])).toMatch(/^policies\[0\]\.times: the range 18:00-08:00/);
    expect(problems([{ type: 'hours', times: ['mon-fri 08:00-18:00'], tzid: 'Mars/Olympus' }])).toBe('policies[0].tzid: unknown time zone');
    expect(problems([{ type: 'duration', min: 60, max: 30 }])).toBe('policies[0].max: expected max ≥ min');
    expect(problems([{ type: 'duration' }])).toBe('policies[0].max: expected min or max (minutes)');
    expect(problems([{ type: 'quota', period: 'week' }])).toBe('policies[0].hours: expected hours or bookings');
    expect(problems([{ type: 'quota', per: 'group', bookings: 3 }])).toBe('policies[0].groups: a quota per group needs groups');
    expect(problems([{ type: 'approval', delegates: [] }])).toBe('policies[0].delegates: expected at least one delegate');
    expect(problems([{ type: 'who' }])).toBe('policies[0].allow: expected domains, allow or deny');
    expect(problems([{ type: 'who', domains: ['not a domain'] }])).toBe('policies[0].domains[0]: expected a domain name');
  });

  it('refuses unknown types and keys, and a list that is not a list', () => {
    expect(problems([{ type: 'bogus' }])).toMatch(/^policies\[0\]\.type: expected a policy type: free, capacity, /);
    expect(problems([{ type: 'free', capasity: 2 }])).toBe('policies[0].capasity: unknown key');
    expect(problems({ type: 'free' })).toBe('policies: expected a list');
  });

  it('lists every problem, one per line', () => {
    expect(
      problems([
        { type: 'capacity', max: -1 },
        { type: 'duration', min: 'ten' },
      ]).split('\n'),
    ).toEqual(['policies[0].max: expected a positive integer', 'policies[1].min: expected a positive number']);
  });

  it('reads a pool: lower-case member addresses, the pool declines by default', () => {
    const pool = poolSchema.parse({ members: ['Room1@Example.org', 'mailto:room2@example.org'] });
    expect(pool).toEqual({ members: ['room1@example.org', 'room2@example.org'], policies: [{ type: 'free', capacity: 1 }] });
    const bad = poolSchema.safeParse({ members: ['room1'] });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]).toMatchObject({ path: ['members', 0], message: 'expected a mail address' });
  });
});
