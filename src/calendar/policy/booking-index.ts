/**
 * A resource's booked occurrences in memory, bucketed by time so that "what overlaps this hour"
 * reads a handful of buckets however many occurrences there are (100,000 and more).
 */
import type { Booking, BookingIndex, Period } from '../model.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Occurrences spanning more buckets than this are kept aside and checked on every query. */
const MAX_SPAN = 64;

/** Occurrences by fixed-width time bucket; an occurrence sits in every bucket it touches. */
class Level {
  readonly buckets = new Map<number, Booking[]>();

  constructor(readonly width: number) {}

  range(b: Period): [number, number] {
    return [Math.floor(b.start / this.width), Math.floor((Math.max(b.end, b.start + 1) - 1) / this.width)];
  }

  fits(b: Period): boolean {
    const [first, last] = this.range(b);
    return last - first < MAX_SPAN;
  }

  add(b: Booking): void {
    const [first, last] = this.range(b);
    for (let k = first; k <= last; k++) {
      const bucket = this.buckets.get(k);
      if (bucket) bucket.push(b);
      else this.buckets.set(k, [b]);
    }
  }

  remove(b: Booking): void {
    const [first, last] = this.range(b);
    for (let k = first; k <= last; k++) {
      const bucket = this.buckets.get(k);
      if (!bucket) continue;
      drop(bucket, b);
      if (bucket.length === 0) this.buckets.delete(k);
    }
  }

  overlapping(p: Period, exceptUid: string | undefined, out: Booking[]): void {
    const [first, last] = this.range(p);
    if (last - first > this.buckets.size) {
      // A period longer than the buckets in use (a whole year, "everything"): walk the buckets instead.
      for (const [k, bucket] of this.buckets) if (k >= first && k <= last) this.collect(k, first, bucket, p, exceptUid, out);
      return;
    }
    for (let k = first; k <= last; k++) {
      const bucket = this.buckets.get(k);
      if (bucket) this.collect(k, first, bucket, p, exceptUid, out);
    }
  }

  private collect(k: number, first: number, bucket: readonly Booking[], p: Period, exceptUid: string | undefined, out: Booking[]): void {
    for (const b of bucket) {
      if (b.start >= p.end || b.end <= p.start || b.uid === exceptUid) continue;
      // An occurrence in several buckets is reported from the first bucket both share.
      if (Math.max(Math.floor(b.start / this.width), first) === k) out.push(b);
    }
  }
}

/**
 * Occurrences in levels of coarser buckets: each occurrence goes to the finest level where it
 * spans few buckets (an hour's meeting in hour buckets, a week's loan in day buckets), so neither
 * long nor short ones slow a query down; longer than every level, a list checked every time.
 */
class Buckets {
  private readonly levels: Level[];
  private readonly long: Booking[] = [];

  constructor(widths: readonly number[]) {
    this.levels = widths.map((w) => new Level(w));
  }

  private level(b: Period): Level | undefined {
    return this.levels.find((l) => l.fits(b));
  }

  add(b: Booking): void {
    const level = this.level(b);
    if (level) level.add(b);
    else this.long.push(b);
  }

  remove(b: Booking): void {
    const level = this.level(b);
    if (level) level.remove(b);
    else drop(this.long, b);
  }

  overlapping(p: Period, exceptUid: string | undefined): Booking[] {
    const out: Booking[] = [];
    if (p.end <= p.start) return out;
    for (const level of this.levels) if (level.buckets.size > 0) level.overlapping(p, exceptUid, out);
    for (const b of this.long) if (b.start < p.end && b.end > p.start && b.uid !== exceptUid) out.push(b);
    return out;
  }
}

function drop(list: Booking[], b: Booking): void {
  const i = list.indexOf(b);
  if (i < 0) return;
  // Order within a bucket does not matter: swap with the last.
  const last = list.pop() as Booking;
  if (i < list.length) list[i] = last;
}

/** The in-memory BookingIndex: add, remove or replace a UID's occurrences; overlap queries stay fast at any size. */
export class MemoryBookingIndex implements BookingIndex {
  private readonly all = new Buckets([HOUR, DAY, 32 * DAY]);
  private readonly organizers = new Map<string, Buckets>();
  private readonly uids = new Map<string, Booking[]>();
  private count = 0;

  constructor(bookings?: Iterable<Booking>) {
    if (bookings) for (const b of bookings) this.add(b);
  }

  /** How many occurrences are booked. */
  get size(): number {
    return this.count;
  }

  add(b: Booking): void {
    this.all.add(b);
    let mine = this.organizers.get(b.organizer);
    if (!mine) {
      mine = new Buckets([DAY, 32 * DAY]);
      this.organizers.set(b.organizer, mine);
    }
    mine.add(b);
    const same = this.uids.get(b.uid);
    if (same) same.push(b);
    else this.uids.set(b.uid, [b]);
    this.count++;
  }

  /** Removes every occurrence of `uid` (a CANCEL of the whole event, or before a new version). */
  removeUid(uid: string): void {
    const list = this.uids.get(uid);
    if (!list) return;
    for (const b of list) {
      this.all.remove(b);
      this.organizers.get(b.organizer)?.remove(b);
    }
    this.uids.delete(uid);
    this.count -= list.length;
  }

  /** Replaces `uid`'s occurrences with `bookings` (a new SEQUENCE of the event). */
  replaceUid(uid: string, bookings: Iterable<Booking>): void {
    this.removeUid(uid);
    for (const b of bookings) this.add(b.uid === uid ? b : { ...b, uid });
  }

  /** The occurrences of `uid`, as added. */
  ofUid(uid: string): readonly Booking[] {
    return this.uids.get(uid) ?? [];
  }

  overlapping(period: Period, exceptUid?: string): readonly Booking[] {
    return this.all.overlapping(period, exceptUid);
  }

  byOrganizer(organizer: string, period: Period): readonly Booking[] {
    return this.organizers.get(organizer)?.overlapping(period, undefined) ?? [];
  }
}
