// Free time: the peak of overlapping bookings, and the next free slot for counter-proposals.
import { describe, expect, it } from 'vitest';
import { MemoryBookingIndex, nextFreeSlot, peakOverlap } from '../../../src/calendar/policy/index.js';
import { at, booking, DAY, HOUR, span } from './build.js';

describe('peakOverlap', () => {
  it('counts bookings running at the same moment, not all that touch the period', () => {
    const p = span('2026-11-24 09:00', '12:00');
    const a = booking('a', span('2026-11-24 09:00', '10:00'));
    const b = booking('b', span('2026-11-24 10:00', '11:00'));
    const c = booking('c', span('2026-11-24 09:30', '10:30'));
    expect(peakOverlap([a, b], p)).toBe(1);
    expect(peakOverlap([a, b, c], p)).toBe(2);
    expect(peakOverlap([], p)).toBe(0);
  });
});

describe('nextFreeSlot', () => {
  const index = new MemoryBookingIndex([
    booking('a', span('2026-11-24 09:00', '10:00')),
    booking('b', span('2026-11-24 10:00', '11:30')),
    booking('c', span('2026-11-24 12:00', '13:00')),
  ]);
  const wanted = span('2026-11-24 09:00', '10:00');
  const after = at('2026-11-23 09:00');

  it('finds the first gap long enough after the wanted start', () => {
    expect(nextFreeSlot(index, wanted, { duration: HOUR, after, horizon: 7 * DAY })).toEqual(span('2026-11-24 13:00', '14:00'));
    expect(nextFreeSlot(index, wanted, { duration: HOUR / 2, after, horizon: 7 * DAY })).toEqual(span('2026-11-24 11:30', '12:00'));
  });

  it('returns the wanted time when it is free, and never starts before `after`', () => {
    const free = span('2026-11-25 09:00', '10:00');
    expect(nextFreeSlot(index, free, { duration: HOUR, after, horizon: DAY })).toEqual(free);
    expect(nextFreeSlot(index, wanted, { duration: HOUR, after: at('2026-11-24 12:30'), horizon: DAY })).toEqual(
      span('2026-11-24 13:00', '14:00'),
    );
  });

  it('ignores the UID being moved, and counts to the capacity', () => {
    expect(nextFreeSlot(index, wanted, { duration: HOUR, after, horizon: DAY, exceptUid: 'a' })).toEqual(wanted);
    expect(nextFreeSlot(index, wanted, { duration: HOUR, after, horizon: DAY, capacity: 2 })).toEqual(wanted);
  });

  it('keeps to what `permitted` allows, on the step', () => {
    const notBefore14 = (p: { start: number }) => p.start >= at('2026-11-24 14:00');
    expect(nextFreeSlot(index, wanted, { duration: HOUR, after, horizon: DAY, permitted: notBefore14 })).toEqual(
      span('2026-11-24 14:00', '15:00'),
    );
  });

  it('gives up at the horizon', () => {
    const busy = new MemoryBookingIndex([booking('all', span('2026-11-24 00:00', '2026-12-24 00:00'))]);
    expect(nextFreeSlot(busy, wanted, { duration: HOUR, after, horizon: 7 * DAY })).toBeUndefined();
    expect(nextFreeSlot(busy, wanted, { duration: HOUR, after, horizon: 31 * DAY })).toEqual(span('2026-12-24 00:00', '01:00'));
  });
});
