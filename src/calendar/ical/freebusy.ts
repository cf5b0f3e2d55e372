/** Free/busy: the busy time a set of events makes over a window, merged per busy type. */
import type { BusyPeriod, BusyType, CalendarObject, Period } from '../model.js';
import { covering } from './expand.js';

const TYPE_ORDER: Record<BusyType, number> = { BUSY: 0, 'BUSY-UNAVAILABLE': 1, 'BUSY-TENTATIVE': 2 };

/** Merged busy time within the window: sorted by start, overlapping periods of one type merged. */
export function busyPeriods(objects: readonly CalendarObject[], window: Period): BusyPeriod[] {
  if (!(window.end > window.start)) return [];
  const busy = new Spans();
  const tentative = new Spans();
  for (const object of objects) {
    for (const i of covering(object, window)) {
      if (i.start >= window.end || i.end <= window.start || i.cancelled || i.transparent || i.end <= i.start) continue;
      (i.tentative ? tentative : busy).add(Math.max(i.start, window.start), Math.min(i.end, window.end));
    }
  }
  return [...busy.union('BUSY'), ...tentative.union('BUSY-TENTATIVE')].sort(
    (a, b) => a.start - b.start || TYPE_ORDER[a.type] - TYPE_ORDER[b.type],
  );
}

/**
 * Spans of one busy type, merged by a sweep over their starts and ends sorted apart (numeric
 * typed-array sorts, no comparator): a merged span opens when none is open and closes when the
 * last open one ends; a span starting where another ends continues it.
 */
class Spans {
  #starts = new Float64Array(256);
  #ends = new Float64Array(256);
  #count = 0;

  add(start: number, end: number): void {
    if (this.#count === this.#starts.length) {
      const grow = (from: Float64Array) => {
        const to = new Float64Array(from.length * 2);
        to.set(from);
        return to;
      };
      this.#starts = grow(this.#starts);
      this.#ends = grow(this.#ends);
    }
    this.#starts[this.#count] = start;
    this.#ends[this.#count] = end;
    this.#count += 1;
  }

  union(type: BusyType): BusyPeriod[] {
    const n = this.#count;
    const starts = this.#starts.subarray(0, n).sort();
    const ends = this.#ends.subarray(0, n).sort();
    const out: BusyPeriod[] = [];
    let open = 0;
    let from = 0;
    let s = 0;
    let e = 0;
    while (e < n) {
      if (s < n && starts[s]! <= ends[e]!) {
        if (open === 0) from = starts[s]!;
        open += 1;
        s += 1;
      } else {
        open -= 1;
        if (open === 0) out.push({ start: from, end: ends[e]!, type });
        e += 1;
      }
    }
    return out;
  }
}

/** Sorts busy periods and merges those of one type that overlap or touch. */
export function mergeBusy(periods: readonly BusyPeriod[]): BusyPeriod[] {
  const byType = new Map<BusyType, Spans>();
  for (const p of periods) {
    if (p.end <= p.start) continue;
    let spans = byType.get(p.type);
    if (!spans) {
      spans = new Spans();
      byType.set(p.type, spans);
    }
    spans.add(p.start, p.end);
  }
  return [...byType]
    .flatMap(([type, spans]) => spans.union(type))
    .sort((a, b) => a.start - b.start || TYPE_ORDER[a.type] - TYPE_ORDER[b.type]);
}
