// Reading the calendar API's answers: the agreed shapes become typed values with times in ms, and a
// wrong answer fails naming the field.
import { describe, expect, it } from 'vitest';
import { ApiFormatError, readAgents, readFreeBusy, readPersonWeek, readResourceBookings } from './api.js';

describe('reading answers', () => {
  it('reads the agents, keeping each policy’s own keys', () => {
    const agents = readAgents({
      people: [{ id: 'ann', address: 'ann@example.org', name: 'Ann Example', tzid: 'Europe/Berlin' }],
      resources: [
        {
          id: 'r1',
          address: 'room1@example.org',
          name: 'Room 1',
          tzid: 'Europe/Berlin',
          kind: 'room',
          capacity: 8,
          policies: [{ type: 'duration', max: 120 }, { type: 'free' }],
        },
        { id: 'beamer', address: 'beamer@example.org', name: 'Beamer', tzid: 'UTC', kind: 'equipment', policies: [] },
      ],
      pools: [{ id: 'rooms', address: 'rooms@example.org', name: 'Any room', members: ['r1'] }],
    });
    expect(agents.people[0]?.tzid).toBe('Europe/Berlin');
    expect(agents.resources[0]).toMatchObject({ kind: 'room', capacity: 8, policies: [{ type: 'duration', max: 120 }, { type: 'free' }] });
    expect(agents.resources[1]).not.toHaveProperty('capacity');
    expect(agents.pools[0]?.members).toEqual(['r1']);
  });

  it('reads a person’s week with times as ms and defaults for what may be left out', () => {
    const week = readPersonWeek({
      id: 'ann',
      tzid: 'Europe/Berlin',
      start: '2026-11-22T23:00:00Z',
      end: '2026-11-29T23:00:00Z',
      events: [
        {
          uid: 'e1',
          summary: 'Standup',
          start: '2026-11-23T08:00:00Z',
          end: '2026-11-23T08:15:00Z',
          organizer: 'bob@example.org',
          status: 'CONFIRMED',
          partstat: 'ACCEPTED',
          allDay: false,
        },
      ],
      pending: [
        {
          uid: 'p1',
          method: 'REQUEST',
          summary: 'Review',
          organizer: 'bob@example.org',
          start: '2026-11-24T13:00:00Z',
          end: '2026-11-24T14:00:00Z',
          sequence: 0,
          received: '2026-11-20T10:00:00Z',
          recurring: false,
        },
      ],
    });
    expect(week.start).toBe(Date.parse('2026-11-22T23:00:00Z'));
    expect(week.events[0]).toMatchObject({ uid: 'e1', start: Date.parse('2026-11-23T08:00:00Z'), allDay: false });
    expect(week.events[0]).not.toHaveProperty('recurrenceId');
    expect(week.pending[0]).toMatchObject({ uid: 'p1', received: Date.parse('2026-11-20T10:00:00Z') });
  });

  it('reads a resource’s bookings and decisions', () => {
    const bookings = readResourceBookings({
      id: 'r1',
      tzid: 'Europe/Berlin',
      start: '2026-11-22T23:00:00Z',
      end: '2026-11-29T23:00:00Z',
      bookings: [
        {
          uid: 'b1',
          recurrenceId: '20261124T090000Z',
          summary: 'Weekly',
          organizer: 'ann@example.org',
          start: '2026-11-24T08:00:00Z',
          end: '2026-11-24T09:00:00Z',
          status: 'CONFIRMED',
        },
      ],
      decisions: [
        {
          at: '2026-11-20T10:00:00Z',
          uid: 'b2',
          organizer: 'bob@example.org',
          summary: 'Party',
          outcome: 'DECLINED',
          reason: 'Longer than 2 hours',
          policy: 'duration',
        },
      ],
    });
    expect(bookings.bookings[0]?.recurrenceId).toBe('20261124T090000Z');
    expect(bookings.decisions[0]).toMatchObject({ outcome: 'DECLINED', reason: 'Longer than 2 hours', policy: 'duration' });
  });

  it('reads free/busy, with unknown calendars apart', () => {
    const fb = readFreeBusy({
      start: '2026-11-23T00:00:00Z',
      end: '2026-11-24T00:00:00Z',
      calendars: {
        'ann@example.org': [{ start: '2026-11-23T08:00:00Z', end: '2026-11-23T09:00:00Z', type: 'BUSY-TENTATIVE' }],
        'zed@elsewhere.org': { unknown: true },
        'room1@example.org': [],
        'org@elsewhere.org': { busy: [{ start: '2026-11-23T10:00:00Z', end: '2026-11-23T11:00:00Z', type: 'BUSY' }], as: 'ann' },
      },
    });
    expect(fb.calendars['ann@example.org']).toEqual({
      unknown: false,
      busy: [{ start: Date.parse('2026-11-23T08:00:00Z'), end: Date.parse('2026-11-23T09:00:00Z'), type: 'BUSY-TENTATIVE' }],
    });
    expect(fb.calendars['zed@elsewhere.org']).toEqual({ unknown: true });
    expect(fb.calendars['room1@example.org']).toEqual({ unknown: false, busy: [] });
    // Not shared, but known to Ann's agent from the mail it received.
    expect(fb.calendars['org@elsewhere.org']).toEqual({
      unknown: false,
      busy: [{ start: Date.parse('2026-11-23T10:00:00Z'), end: Date.parse('2026-11-23T11:00:00Z'), type: 'BUSY' }],
      as: 'ann',
    });
  });

  it('rejects a wrong answer naming the field', () => {
    const bad = (read: () => unknown) => {
      try {
        read();
      } catch (e) {
        expect(e).toBeInstanceOf(ApiFormatError);
        return (e as Error).message;
      }
      return 'no error';
    };
    expect(
      bad(() =>
        readAgents({ people: [], resources: [{ id: 'r', address: 'a', name: 'n', tzid: 'UTC', kind: 'hall', policies: [] }], pools: [] }),
      ),
    ).toBe('resources[0].kind: expected one of room, equipment');
    expect(bad(() => readPersonWeek({ id: 'ann', tzid: 'UTC', start: 'soon', end: '2026-11-29T23:00:00Z', events: [], pending: [] }))).toBe(
      'start: expected an ISO 8601 time',
    );
    expect(bad(() => readFreeBusy({ start: '2026-11-23T00:00:00Z', end: '2026-11-24T00:00:00Z', calendars: { a: [{ start: 1 }] } }))).toBe(
      'calendars.a[0].start: expected a string',
    );
    expect(bad(() => readResourceBookings(null))).toBe('answer: expected an object');
    expect(
      bad(() =>
        readAgents({
          people: [],
          resources: [{ id: 'r', address: 'a', name: 'n', tzid: 'UTC', kind: 'room', policies: [{ max: 1 }] }],
          pools: [],
        }),
      ),
    ).toBe('resources[0].policies[0].type: expected a string');
  });
});
