/** Occurrences of recurring events and the free/busy they make. */
import type { BusyPeriod, CalendarObject, Occurrence, Period } from '../model.js';

export function occurrences(_object: CalendarObject, _window: Period): Occurrence[] {
  return [];
}

export function busyPeriods(_objects: readonly CalendarObject[], _window: Period): BusyPeriod[] {
  return [];
}
