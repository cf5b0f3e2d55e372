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

describe('nextFreeSlot on a busy calendar', () => {
  /** A repeatable pseudo-random sequence. */
  function random(seed: number): () => number {
    let s = seed;
    return () => {
      s = (s * 1_103_515_245 + 12_345) % 2_147_483_648;
      return s / 2_147_483_648;
    };
  }
  const MIN = 60_000;
  const T0 = at('2026-11-24 08:00');

  /** The first start, minute by minute, that has room and is permitted. */
  function brute(
    index: MemoryBookingIndex,
    from: number,
    duration: number,
    horizon: number,
    capacity: number,
    permitted?: (p: { start: number; end: number }) => boolean,
  ) {
    for (let t = from; t + duration <= from + horizon; t += MIN) {
      const p = { start: t, end: t + duration };
      if (permitted && !permitted(p)) continue;
      if (peakOverlap(index.overlapping(p), p) < capacity) return p;
    }
    return undefined;
  }

  it('finds the same slot as a minute-by-minute search, with and without permitted times', () => {
    const r = random(3);
    // Working hours 08:00-18:00 UTC-fixed days, on quarter hours as the step is.
    const hours = (p: { start: number; end: number }) => {
      const a = (p.start - T0) % DAY;
      const b = a + (p.end - p.start);
      return a >= 0 && b <= 10 * HOUR;
    };
    for (let round = 0; round < 40; round++) {
      const capacity = 1 + (round % 3);
      const list = Array.from({ length: 60 + (round % 5) * 20 }, (_, i) => {
        const start = T0 + Math.floor(r() * 3 * 24 * 12) * 5 * MIN;
        return booking(`b${i}`, { start, end: start + (1 + Math.floor(r() * 24)) * 5 * MIN });
      });
      const index = new MemoryBookingIndex(list);
      const duration = (1 + Math.floor(r() * 12)) * 15 * MIN;
      const wanted = { start: T0 + Math.floor(r() * 24) * 15 * MIN, end: 0 };
      wanted.end = wanted.start + duration;
      const o = { duration, after: T0, horizon: 3 * DAY, capacity };
      expect(nextFreeSlot(index, wanted, o)).toEqual(brute(index, wanted.start, duration, 3 * DAY, capacity));
      expect(nextFreeSlot(index, wanted, { ...o, permitted: hours })).toEqual(
        brute(index, wanted.start, duration, 3 * DAY, capacity, hours),
      );
    }
  });
});
