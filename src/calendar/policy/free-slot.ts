/**
 * Free time in a booking index: how many bookings run at once in a period, and the next free
 * slot of a given length (for counter-proposals and for suggesting times).
 */
import type { Booking, BookingIndex, Period } from '../model.js';

const MINUTE = 60_000;
/** Candidates tried before giving up, so that a long horizon with fine steps stays bounded. */
const MAX_TRIES = 20_000;

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
  // Near the wanted time, try candidates one by one: usually one of the first few is free.
  for (let tries = 0; tries < QUICK_TRIES && t + o.duration <= limit; tries++) {
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
  // A busy stretch: a day at a time, one query each and a sweep over its starts and ends.
  let tries = 0;
  for (let chunk = t; chunk + o.duration <= limit && tries < MAX_TRIES; chunk += SWEEP_CHUNK) {
    const window = { start: chunk, end: Math.min(limit, chunk + SWEEP_CHUNK + o.duration) };
    const found = sweep(bookings.overlapping(window, o.exceptUid), window, chunk + SWEEP_CHUNK, o, capacity, step, () => ++tries);
    if (found) return found;
  }
  return undefined;
}

const QUICK_TRIES = 8;
const SWEEP_CHUNK = 86_400_000;

/**
 * The first permitted slot inside `window`, starting before `startBefore`, in the runs of time
 * where fewer than `capacity` of `over` (every booking overlapping `window`) run.
 */
function sweep(
  over: readonly Booking[],
  window: Period,
  startBefore: number,
  o: FreeSlotOptions,
  capacity: number,
  step: number,
  tried: () => number,
): Period | undefined {
  const edges: number[] = [];
  // As in peakOverlap: at equal times an end (even) sorts before a start (odd).
  for (const b of over) edges.push(Math.max(b.start, window.start) * 2 + 1, b.end * 2);
  edges.sort((x, y) => x - y);
  const firstPermitted = (a: number, b: number): Period | undefined => {
    const end = Math.min(b, window.end);
    for (let s = a; s + o.duration <= end && s < startBefore && tried() < MAX_TRIES; ) {
      const slot = { start: s, end: s + o.duration };
      if (!o.permitted || o.permitted(slot)) return slot;
      s = (Math.floor(s / step) + 1) * step;
    }
    return undefined;
  };
  let running = 0;
  let runStart = window.start;
  for (const e of edges) {
    const time = Math.floor(e / 2);
    if (time >= window.end) break;
    if (e % 2 === 1) {
      if (running === capacity - 1) {
        const slot = firstPermitted(runStart, time);
        if (slot) return slot;
      }
      running++;
    } else {
      running--;
      if (running === capacity - 1) runStart = time;
    }
  }
  return running < capacity ? firstPermitted(runStart, window.end) : undefined;
}
