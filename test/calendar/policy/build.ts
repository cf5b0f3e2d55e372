// Requests, bookings and contexts for the policy tests, in a resource's wall-clock time.

import type { Booking, BookingRequest, Occurrence, Period } from '../../../src/calendar/model.js';
import { fromWall, MemoryBookingIndex, type PolicyConfig, type PolicyContext, parsePolicies } from '../../../src/calendar/policy/index.js';

export const TZ = 'Europe/Amsterdam';
export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

/** UTC ms of `2026-11-24 10:00` read on `tz`'s wall clock. */
export function at(text: string, tz = TZ): number {
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2})$/.exec(text);
  if (!m) throw new Error(`bad time ${text}`);
  return fromWall(Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4]) * 60 + Number(m[5]), tz);
}

/** `2026-11-24 10:00` to `11:00` (or to another `YYYY-MM-DD HH:MM`). */
export function span(start: string, end: string, tz = TZ): Period {
  const s = at(start, tz);
  return { start: s, end: end.length === 5 ? at(`${start.slice(0, 10)} ${end}`, tz) : at(end, tz) };
}

export function booking(uid: string, p: Period, organizer = 'someone@example.org'): Booking {
  return { uid, organizer, type: 'BUSY', start: p.start, end: p.end };
}

/** A single event. */
export function single(p: Period, more: Partial<BookingRequest> = {}): BookingRequest {
  const uid = more.uid ?? 'request-1';
  return {
    uid,
    sequence: 0,
    organizer: 'ann@example.org',
    recurring: false,
    occurrences: [{ uid, start: p.start, end: p.end }],
    now: at('2026-11-23 09:00'),
    ...more,
  };
}

/** A weekly series of `count` instances from `first`, each instance's RECURRENCE-ID its start. */
export function weekly(first: Period, count: number, more: Partial<BookingRequest> = {}): BookingRequest {
  const uid = more.uid ?? 'series-1';
  const occurrences: Occurrence[] = [];
  for (let i = 0; i < count; i++) {
    const start = first.start + i * 7 * DAY;
    occurrences.push({ uid, start, end: start + (first.end - first.start), recurrenceId: start });
  }
  return { ...single(first, more), uid, recurring: true, occurrences, ...more };
}

export function context(policies: unknown[], bookings: Booking[] = [], more: Partial<PolicyContext> = {}): PolicyContext {
  return {
    policies: parsePolicies(policies) as PolicyConfig[],
    bookings: new MemoryBookingIndex(bookings),
    resource: { address: 'room1@example.org', tzid: TZ, name: 'Room 1' },
    ...more,
  };
}
