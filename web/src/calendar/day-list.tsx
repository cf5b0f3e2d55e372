// A week as seven day lists, for a person's events and a resource's bookings alike.
import type { ReactNode } from 'react';
import { type DateKey, formatDate, formatTime } from './time.js';
import { type Timed, weekDays } from './week.js';

export interface WeekListProps<T extends Timed> {
  readonly monday: DateKey;
  readonly tz: string;
  readonly items: readonly T[];
  readonly label: string;
  readonly empty: string;
  readonly itemKey: (item: T) => string;
  /** What follows the time on an item's line. */
  readonly render: (item: T) => ReactNode;
  readonly allDay?: (item: T) => boolean;
}

export function WeekList<T extends Timed>({ monday, tz, items, label, empty, itemKey, render, allDay }: WeekListProps<T>) {
  const days = weekDays(monday, tz, items, allDay);
  return (
    <ol className="cal-week" aria-label={label}>
      {days.map((day) => (
        <li key={day.date} className="cal-day" data-date={day.date}>
          <h3>{formatDate(day.date)}</h3>
          {day.items.length === 0 ? (
            <p className="quiet">{empty}</p>
          ) : (
            <ul>
              {day.items.map((item) => (
                <li key={itemKey(item)} className="cal-item">
                  <span className="cal-time">
                    {allDay?.(item) ? 'all day' : `${formatTime(item.start, tz)}–${formatTime(item.end, tz)}`}
                  </span>{' '}
                  {render(item)}
                </li>
              ))}
            </ul>
          )}
        </li>
      ))}
    </ol>
  );
}
