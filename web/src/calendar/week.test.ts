// A week of events laid out by day in the agent's zone, and the pages' paths.
import { describe, expect, it } from 'vitest';
import { idFromPath, PERSON_PATH, personHref, plannerHref } from './paths.js';
import { weekDays, weekStart } from './week.js';

const utc = (s: string) => Date.parse(s);

describe('a week by day', () => {
  it('puts each event on the days it touches in the zone, in order of start', () => {
    const items = [
      { id: 'late', start: utc('2026-11-24T15:00:00Z'), end: utc('2026-11-24T16:00:00Z') },
      { id: 'early', start: utc('2026-11-24T07:00:00Z'), end: utc('2026-11-24T08:00:00Z') },
      // 23:30–00:30 in Berlin: Tuesday and Wednesday.
      { id: 'night', start: utc('2026-11-24T22:30:00Z'), end: utc('2026-11-24T23:30:00Z') },
      // Monday 00:30 in Berlin, still Sunday in UTC.
      { id: 'monday', start: utc('2026-11-22T23:30:00Z'), end: utc('2026-11-22T23:30:00Z') },
    ];
    const days = weekDays('2026-11-23', 'Europe/Berlin', items);
    expect(days.map((d) => d.date)).toEqual([
      '2026-11-23',
      '2026-11-24',
      '2026-11-25',
      '2026-11-26',
      '2026-11-27',
      '2026-11-28',
      '2026-11-29',
    ]);
    expect(days.map((d) => d.items.map((i) => i.id))).toEqual([['monday'], ['early', 'late', 'night'], ['night'], [], [], [], []]);
  });

  it('shows an all-day event on its own dates in every zone', () => {
    const holiday = { id: 'holiday', start: utc('2026-11-24T00:00:00Z'), end: utc('2026-11-26T00:00:00Z'), allDay: true };
    const meeting = { id: 'meeting', start: utc('2026-11-24T00:30:00Z'), end: utc('2026-11-24T01:30:00Z'), allDay: false };
    for (const tz of ['Europe/Berlin', 'America/New_York', 'Pacific/Auckland']) {
      const days = weekDays('2026-11-23', tz, [holiday], (i) => i.allDay);
      expect(
        days.map((d) => d.items.length),
        tz,
      ).toEqual([0, 1, 1, 0, 0, 0, 0]);
    }
    // A timed event at 00:30 UTC is still Monday evening in New York.
    const days = weekDays('2026-11-23', 'America/New_York', [meeting], (i) => i.allDay);
    expect(days.map((d) => d.items.length)).toEqual([1, 0, 0, 0, 0, 0, 0]);
  });

  it('reads the week the API answered for as its Monday in the zone', () => {
    // Monday 00:00 in Auckland is Sunday in UTC.
    expect(weekStart(utc('2026-11-22T11:00:00Z'), 'Pacific/Auckland')).toBe('2026-11-23');
    expect(weekStart(utc('2026-11-22T11:00:00Z'), 'UTC')).toBe('2026-11-16');
  });
});

describe('the pages’ paths', () => {
  it('builds and reads back an id, escaped', () => {
    expect(personHref('ann')).toBe('/calendar/person/ann');
    expect(personHref('a b', '2026-11-30')).toBe('/calendar/person/a%20b?start=2026-11-30');
    expect(idFromPath('/calendar/person/a%20b/', PERSON_PATH)).toBe('a b');
    expect(idFromPath('/calendar/person', PERSON_PATH)).toBeUndefined();
    expect(idFromPath('/calendar/person/a/b', PERSON_PATH)).toBeUndefined();
    expect(idFromPath('/calendar/person/%E0%A4%A', PERSON_PATH)).toBeUndefined();
  });

  it('puts the planner’s choices in its query', () => {
    expect(plannerHref({ from: 'ann', who: ['bob@example.org', 'room1@example.org'], date: '2026-11-23', view: 'week' })).toBe(
      '/calendar/planner?from=ann&who=bob%40example.org%2Croom1%40example.org&date=2026-11-23&view=week',
    );
    expect(plannerHref({ from: 'ann', who: [], view: 'day' })).toBe('/calendar/planner?from=ann');
  });
});
