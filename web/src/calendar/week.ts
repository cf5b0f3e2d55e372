// A week as the person and resource pages show it: seven days in the agent's time zone, each with the
// events or bookings that touch it, in order of their start.
import { addDays, type DateKey, dateKeyOf, daysFrom, mondayOf, zonedToUtc } from './time.js';

export interface Timed {
  readonly start: number;
  readonly end: number;
}

export interface Day<T> {
  readonly date: DateKey;
  readonly items: readonly T[];
}

/**
 * The seven days from `monday`, each with the items overlapping it in `tz` (an item over midnight shows
 * on both days). An all-day item holds whole dates, which iCalendar writes without a zone and the API
 * sends as UTC midnights: it shows on those dates, whatever `tz` is.
 */
export function weekDays<T extends Timed>(
  monday: DateKey,
  tz: string,
  items: readonly T[],
  allDay: (item: T) => boolean = () => false,
): Day<T>[] {
  const sorted = [...items].sort((a, b) => a.start - b.start || a.end - b.end);
  return daysFrom(monday, 7).map((date) => {
    const start = zonedToUtc(date, 0, 0, tz);
    const end = zonedToUtc(addDays(date, 1), 0, 0, tz);
    return {
      date,
      items: sorted.filter((item) => {
        if (allDay(item)) return dateKeyOf(item.start, 'UTC') <= date && date <= dateKeyOf(Math.max(item.start, item.end - 1), 'UTC');
        // A zero-length item (a reminder at 09:00) belongs to the day it falls on.
        if (item.start === item.end) return item.start >= start && item.start < end;
        return item.start < end && item.end > start;
      }),
    };
  });
}

/** The Monday of the week the API answered for, read in the agent's zone. */
export function weekStart(start: number, tz: string): DateKey {
  return mondayOf(dateKeyOf(start, tz));
}
