// The planner's grid: slots on the organiser's clock, each row's state, choosing a span, and keys.
import { describe, expect, it } from 'vitest';
import type { Calendar } from './api.js';
import { freeForAll, gridSlots, gridWindow, moveSlot, rowStates, selectionFree, selectSpan } from './grid.js';

const utc = (s: string) => Date.parse(s);
const day = { tz: 'Europe/Berlin', date: '2026-11-23', days: 1, fromHour: 8, toHour: 12, stepMinutes: 30 };

describe('the slots', () => {
  it('covers the hours of the day on the organiser’s clock', () => {
    const slots = gridSlots(day);
    expect(slots.map((s) => s.label)).toEqual(['08:00', '08:30', '09:00', '09:30', '10:00', '10:30', '11:00', '11:30']);
    expect(slots[0]?.start).toBe(utc('2026-11-23T07:00:00Z'));
    expect(slots.at(-1)?.end).toBe(utc('2026-11-23T11:00:00Z'));
    expect(slots.map((s) => s.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('lays out a week day by day, and leaves out the hour a spring night skips', () => {
    const week = gridSlots({ tz: 'Europe/Berlin', date: '2026-03-23', days: 7, fromHour: 0, toHour: 24, stepMinutes: 60 });
    // 7 × 24 hours, less 02:00 on Sunday 29 March, which does not exist in Berlin.
    expect(week).toHaveLength(7 * 24 - 1);
    expect(
      week
        .filter((s) => s.date === '2026-03-29')
        .map((s) => s.label)
        .slice(0, 3),
    ).toEqual(['00:00', '01:00', '03:00']);
    expect(week.at(-1)?.end).toBe(utc('2026-03-29T22:00:00Z'));
  });

  it('asks for free/busy from the first midnight to the one after the last day', () => {
    expect(gridWindow(day)).toEqual({ start: utc('2026-11-22T23:00:00Z'), end: utc('2026-11-23T23:00:00Z') });
  });
});

describe('the rows', () => {
  const slots = gridSlots(day);
  const ann: Calendar = {
    unknown: false,
    busy: [
      { start: utc('2026-11-23T07:30:00Z'), end: utc('2026-11-23T08:15:00Z'), type: 'BUSY' },
      { start: utc('2026-11-23T10:00:00Z'), end: utc('2026-11-23T10:30:00Z'), type: 'BUSY-TENTATIVE' },
      { start: utc('2026-11-23T10:15:00Z'), end: utc('2026-11-23T10:45:00Z'), type: 'BUSY-UNAVAILABLE' },
    ],
  };

  it('marks a slot by the strongest block that overlaps it, even in part', () => {
    expect(rowStates(ann, slots)).toEqual(['free', 'busy', 'busy', 'free', 'free', 'free', 'unavailable', 'unavailable']);
  });

  it('shows a calendar this porter may not show as unknown', () => {
    expect(rowStates({ unknown: true }, slots)).toEqual(slots.map(() => 'unknown'));
    expect(rowStates(undefined, slots)).toEqual(slots.map(() => 'unknown'));
  });

  it('finds the slots free for everyone, where unknown rows do not block', () => {
    const room: Calendar = {
      unknown: false,
      busy: [{ start: utc('2026-11-23T09:00:00Z'), end: utc('2026-11-23T09:30:00Z'), type: 'BUSY' }],
    };
    const rows = [rowStates(ann, slots), rowStates(room, slots), rowStates({ unknown: true }, slots)];
    expect(freeForAll(rows, slots.length)).toEqual([true, false, false, true, false, true, false, false]);
  });
});

describe('choosing a span', () => {
  const slots = gridSlots(day);

  it('spans from the anchor to the focus, either way round', () => {
    expect(selectSpan(slots, 2, 4)).toEqual({ first: 2, last: 4, start: utc('2026-11-23T08:00:00Z'), end: utc('2026-11-23T09:30:00Z') });
    expect(selectSpan(slots, 4, 2)).toEqual(selectSpan(slots, 2, 4));
    expect(selectSpan(slots, 3, 3)).toMatchObject({ first: 3, last: 3 });
    expect(selectSpan(slots, 99, 3)).toBeUndefined();
  });

  it('stays on the anchor’s day when a drag crosses into the next', () => {
    const week = gridSlots({ ...day, days: 2 });
    // Slot 6 is Monday 11:00; slot 9 is Tuesday 08:30.
    expect(selectSpan(week, 6, 9)).toMatchObject({ first: 6, last: 7 });
    expect(selectSpan(week, 9, 6)).toMatchObject({ first: 8, last: 9 });
  });

  it('is free only when each of its slots is', () => {
    const free = [true, true, false, true];
    expect(selectionFree(free, { first: 0, last: 1, start: 0, end: 0 })).toBe(true);
    expect(selectionFree(free, { first: 1, last: 3, start: 0, end: 0 })).toBe(false);
  });

  it('moves by slot with arrows and by day with Page keys, within the grid', () => {
    expect(moveSlot(3, 'ArrowRight', 20, 10)).toBe(4);
    expect(moveSlot(0, 'ArrowLeft', 20, 10)).toBe(0);
    expect(moveSlot(3, 'PageDown', 20, 10)).toBe(13);
    expect(moveSlot(13, 'PageDown', 20, 10)).toBe(19);
    expect(moveSlot(13, 'Home', 20, 10)).toBe(10);
    expect(moveSlot(13, 'End', 20, 10)).toBe(19);
    expect(moveSlot(3, 'a', 20, 10)).toBeUndefined();
  });
});
