// The in-memory booking index: overlap and organiser queries against a plain scan, updates by
// UID, and queries that stay fast with 100,000 occurrences.
import { describe, expect, it } from 'vitest';
import type { Booking, Period } from '../../../src/calendar/model.js';
import { MemoryBookingIndex } from '../../../src/calendar/policy/index.js';
import { DAY, HOUR } from './build.js';

const T0 = Date.UTC(2026, 0, 1);

/** A repeatable pseudo-random sequence, so a failure can be replayed. */
function random(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1_103_515_245 + 12_345) % 2_147_483_648;
    return s / 2_147_483_648;
  };
}

function sample(n: number, seed = 1): Booking[] {
  const r = random(seed);
  const out: Booking[] = [];
  for (let i = 0; i < n; i++) {
    const start = T0 + Math.floor(r() * 365 * 96) * 15 * 60_000;
    // Mostly meetings; a few span days or weeks.
    const length = r() < 0.01 ? Math.floor(r() * 30 * DAY) : Math.floor((1 + r() * 16) * 15 * 60_000);
    out.push({ uid: `e${i % Math.ceil(n / 3)}`, organizer: `p${i % 17}@example.org`, type: 'BUSY', start, end: start + length });
  }
  return out;
}

const key = (b: Booking) => `${b.uid} ${b.start} ${b.end} ${b.organizer}`;
const sorted = (list: readonly Booking[]) => list.map(key).sort();
const scan = (all: Booking[], p: Period, keep: (b: Booking) => boolean = () => true) =>
  all.filter((b) => b.start < p.end && b.end > p.start && keep(b));

describe('MemoryBookingIndex', () => {
  it('finds exactly the occurrences a scan finds, each once', () => {
    const all = sample(5000);
    const index = new MemoryBookingIndex(all);
    expect(index.size).toBe(5000);
    expect(sorted(index.overlapping({ start: 0, end: Number.MAX_SAFE_INTEGER }))).toEqual(sorted(all));
    const r = random(7);
    for (let i = 0; i < 300; i++) {
      const start = T0 + Math.floor(r() * 370 * DAY);
      const p = { start, end: start + Math.floor(r() * (i % 10 === 0 ? 20 * DAY : 3 * HOUR)) + 1 };
      expect(sorted(index.overlapping(p))).toEqual(sorted(scan(all, p)));
      expect(sorted(index.overlapping(p, 'e3'))).toEqual(sorted(scan(all, p, (b) => b.uid !== 'e3')));
      expect(sorted(index.byOrganizer('p5@example.org', p))).toEqual(sorted(scan(all, p, (b) => b.organizer === 'p5@example.org')));
    }
  });

  it('treats periods as half-open: back-to-back bookings do not overlap', () => {
    const index = new MemoryBookingIndex([{ uid: 'a', organizer: 'x@example.org', type: 'BUSY', start: T0, end: T0 + HOUR }]);
    expect(index.overlapping({ start: T0 + HOUR, end: T0 + 2 * HOUR })).toEqual([]);
    expect(index.overlapping({ start: T0 - HOUR, end: T0 })).toEqual([]);
    expect(index.overlapping({ start: T0 + HOUR - 1, end: T0 + HOUR })).toHaveLength(1);
  });

  it('removes and replaces a UID', () => {
    const all = sample(3000, 3);
    const index = new MemoryBookingIndex(all);
    const whole = { start: T0 - 400 * DAY, end: T0 + 800 * DAY };
    index.removeUid('e10');
    const left = all.filter((b) => b.uid !== 'e10');
    expect(index.size).toBe(left.length);
    expect(sorted(index.overlapping(whole))).toEqual(sorted(left));
    const moved: Booking = { uid: 'e11', organizer: 'p1@example.org', type: 'BUSY', start: T0 + 5 * HOUR, end: T0 + 6 * HOUR };
    index.replaceUid('e11', [moved]);
    expect(index.ofUid('e11')).toEqual([moved]);
    expect(index.size).toBe(left.filter((b) => b.uid !== 'e11').length + 1);
    expect(sorted(index.overlapping(whole))).toEqual(sorted([...left.filter((b) => b.uid !== 'e11'), moved]));
    expect(index.byOrganizer('p1@example.org', { start: T0 + 5 * HOUR, end: T0 + 6 * HOUR }).map((b) => b.uid)).toContain('e11');
    index.removeUid('no-such-uid');
    expect(index.size).toBe(left.filter((b) => b.uid !== 'e11').length + 1);
  });

  it('answers an overlap query in well under a millisecond with 100,000 occurrences', () => {
    const index = new MemoryBookingIndex(sample(100_000, 11));
    const r = random(5);
    const queries = Array.from({ length: 20_000 }, () => {
      const start = T0 + Math.floor(r() * 365 * DAY);
      return { start, end: start + HOUR };
    });
    let found = 0;
    const began = performance.now();
    for (const q of queries) found += index.overlapping(q).length;
    const each = (performance.now() - began) / queries.length;
    expect(found).toBeGreaterThan(0);
    // A loaded machine is slower than this by far and still passes: the point is the order of magnitude.
    expect(each).toBeLessThan(0.5);
  });
});
