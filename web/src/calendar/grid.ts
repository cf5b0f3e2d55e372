// The planner's free/busy grid: the time slots of a day or a week in the organiser's time zone, each
// row's state per slot, and the span a person selects by clicking, dragging or the keyboard.
import type { Calendar } from './api.js';
import { addDays, type DateKey, daysFrom, formatTime, zonedToUtc } from './time.js';

export interface Slot {
  readonly index: number;
  readonly date: DateKey;
  readonly start: number;
  readonly end: number;
  /** `09:00`, the slot's start on the organiser's clock. */
  readonly label: string;
}

export interface GridShape {
  readonly tz: string;
  /** The first day shown. */
  readonly date: DateKey;
  readonly days: number;
  /** The hours of each day shown: [from, to) on the wall clock. */
  readonly fromHour: number;
  readonly toHour: number;
  readonly stepMinutes: number;
}

/** The slots of the grid, day by day; a slot that a DST change empties (02:30 in a spring gap) is left out. */
export function gridSlots(shape: GridShape): Slot[] {
  const slots: Slot[] = [];
  for (const date of daysFrom(shape.date, shape.days)) {
    for (let minute = shape.fromHour * 60; minute < shape.toHour * 60; minute += shape.stepMinutes) {
      const start = zonedToUtc(date, Math.floor(minute / 60), minute % 60, shape.tz);
      const next = minute + shape.stepMinutes;
      const end =
        next >= 24 * 60 ? zonedToUtc(addDays(date, 1), 0, 0, shape.tz) : zonedToUtc(date, Math.floor(next / 60), next % 60, shape.tz);
      if (end <= start || slots.some((s) => s.start === start)) continue;
      slots.push({ index: slots.length, date, start, end, label: formatTime(start, shape.tz) });
    }
  }
  return slots;
}

/** The whole span the grid covers, for the free/busy query: from the first day's midnight to the day after the last. */
export function gridWindow(shape: GridShape): { start: number; end: number } {
  return { start: zonedToUtc(shape.date, 0, 0, shape.tz), end: zonedToUtc(addDays(shape.date, shape.days), 0, 0, shape.tz) };
}

export type SlotState = 'free' | 'busy' | 'tentative' | 'unavailable' | 'unknown';

// When blocks of several types overlap a slot, the strongest shows.
const STRENGTH: Record<SlotState, number> = { free: 0, unknown: 1, tentative: 2, busy: 3, unavailable: 4 };

function stateOfType(type: string): SlotState {
  if (type === 'BUSY-TENTATIVE') return 'tentative';
  if (type === 'BUSY-UNAVAILABLE') return 'unavailable';
  return 'busy';
}

/** Each slot's state for one address; all `unknown` when this porter may not show its free/busy. */
export function rowStates(calendar: Calendar | undefined, slots: readonly Slot[]): SlotState[] {
  if (!calendar || calendar.unknown) return slots.map(() => 'unknown');
  const blocks = [...calendar.busy].sort((a, b) => a.start - b.start);
  return slots.map((slot) => {
    let state: SlotState = 'free';
    for (const block of blocks) {
      if (block.start >= slot.end) break;
      if (block.end <= slot.start) continue;
      const s = stateOfType(block.type);
      if (STRENGTH[s] > STRENGTH[state]) state = s;
    }
    return state;
  });
}

/** Per slot: true when no row is busy, tentative or unavailable there (unknown rows do not block). */
export function freeForAll(rows: readonly (readonly SlotState[])[], slotCount: number): boolean[] {
  return Array.from({ length: slotCount }, (_, i) => rows.every((row) => row[i] === 'free' || row[i] === 'unknown'));
}

export interface Selection {
  readonly first: number;
  readonly last: number;
  readonly start: number;
  readonly end: number;
}

/**
 * The span from slot `anchor` to slot `focus`, either way round, kept within one day: a meeting is
 * chosen on one day, so a drag past midnight stops at the anchor's day.
 */
export function selectSpan(slots: readonly Slot[], anchor: number, focus: number): Selection | undefined {
  const a = slots[anchor];
  if (!a) return undefined;
  let first = Math.min(anchor, focus);
  let last = Math.max(anchor, focus);
  while (first < anchor && slots[first]?.date !== a.date) first += 1;
  while (last > anchor && slots[last]?.date !== a.date) last -= 1;
  const from = slots[first];
  const to = slots[last];
  if (!from || !to) return undefined;
  return { first, last, start: from.start, end: to.end };
}

/** True when every slot of the selection is free for all. */
export function selectionFree(free: readonly boolean[], selection: Selection): boolean {
  for (let i = selection.first; i <= selection.last; i += 1) if (!free[i]) return false;
  return true;
}

/** The slot a key moves to from `index` in a grid of `perDay` slots a day: arrows by slot, Page keys by day. */
export function moveSlot(index: number, key: string, count: number, perDay: number): number | undefined {
  const to: Record<string, number> = {
    ArrowRight: index + 1,
    ArrowLeft: index - 1,
    PageDown: index + perDay,
    PageUp: index - perDay,
    Home: index - (index % perDay),
    End: index - (index % perDay) + perDay - 1,
  };
  const next = to[key];
  if (next === undefined) return undefined;
  return Math.max(0, Math.min(count - 1, next));
}
