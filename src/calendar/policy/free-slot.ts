/**
 * Free time in a booking index: how many bookings run at once in a period, and the next free
 * slot of a given length (for counter-proposals and for suggesting times).
 */
import type { Booking, BookingIndex, Period } from '../model.js';

const MINUTE = 60_000;

/** The most bookings running at the same moment inside `period` (0 when it is free). */
export function peakOverlap(bookings: readonly Booking[], period: Period): number {
  if (bookings.length <= 1) return bookings.length;
  const edges: number[] = [];
  // Starts as +1, ends as -1, encoded so that at equal times an end sorts before a start (half-open periods).
  for (const b of bookings) {
    edges.push(Math.max(b.start, period.start) * 2 + 1);
    edges.push(Math.min(b.end, period.end) * 2);
  }
  edges.sort((x, y) => x - y);
  let now = 0;
  let peak = 0;
  for (const e of edges) {
    now += e % 2 === 1 ? 1 : -1;
    if (now > peak) peak = now;
  }
  return peak;
}

/** Whether `period` has room for one more booking when `capacity` may run at once. */
export function hasRoom(bookings: BookingIndex, period: Period, capacity: number, exceptUid?: string): boolean {
  const over = bookings.overlapping(period, exceptUid);
  return over.length < capacity || peakOverlap(over, period) < capacity;
}

export interface FreeSlotOptions {
  /** Length of the slot, ms. */
  readonly duration: number;
  /** The slot starts no earlier than this (UTC ms), nor earlier than `wanted.start`. */
  readonly after: number;
  /** The slot must end within this many ms of where the search starts. */
  readonly horizon: number;
  /** Bookings that may run at once (1). */
  readonly capacity?: number;
  /** Whether a candidate slot is allowed (permitted times, booking window…). */
  readonly permitted?: (p: Period) => boolean;
  /** Occurrences of this UID do not count (the event being moved). */
  readonly exceptUid?: string;
  /** Granularity of the search where `permitted` refuses, ms (15 minutes); the slot starts on it. */
  readonly step?: number;
}

/**
 * The earliest free period of `o.duration` from `max(wanted.start, o.after)` on, ending within
 * `o.horizon`, or undefined when there is none. Candidates are the search start, the ends of
 * the bookings in the way and, where `permitted` refuses, the next step.
 */
export function nextFreeSlot(bookings: BookingIndex, wanted: Period, o: FreeSlotOptions): Period | undefined {
  const capacity = o.capacity ?? 1;
  const step = o.step ?? 15 * MINUTE;
  const from = Math.max(wanted.start, o.after);
  const limit = from + o.horizon;
  if (!(o.duration > 0)) return undefined;
  let t = from;
  while (t + o.duration <= limit) {
    const slot = { start: t, end: t + o.duration };
    if (o.permitted && !o.permitted(slot)) {
      t = (Math.floor(t / step) + 1) * step;
      continue;
    }
    const over = bookings.overlapping(slot, o.exceptUid);
    if (over.length < capacity || peakOverlap(over, slot) < capacity) return slot;
    // With room for one, nothing starting before the last end in the way can be free; with
    // more, the first end is the next moment the count may drop.
    let next = capacity === 1 ? t : Number.POSITIVE_INFINITY;
    for (const b of over) {
      if (capacity === 1) next = Math.max(next, b.end);
      else if (b.end > t) next = Math.min(next, b.end);
    }
    t = next > t ? next : t + step;
  }
  return undefined;
}
