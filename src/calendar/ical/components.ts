/**
 * Small operations on ical.js components shared by the merging and the writing of objects: copies,
 * times in an event's own zone, attendee properties, and overrides made from the master.
 */
import ICAL from 'ical.js';
import type { CalendarObject } from '../model.js';
import { addressOf, parsedOf } from './object.js';

/** Deep copies of the object's VEVENTs and VTIMEZONEs, free to change. */
export function copyOf(object: CalendarObject): { events: ICAL.Component[]; zones: ICAL.Component[] } {
  const parsed = parsedOf(object);
  const copy = (c: ICAL.Component) => new ICAL.Component(ICAL.helpers.clone(c.toJSON(), true) as unknown[]);
  return { events: parsed.events.map(copy), zones: parsed.zones.map(copy) };
}

/** UTC ms as an ICAL.Time in the zone (and DATE-ness) of `like`. */
export function timeLike(msValue: number, like?: ICAL.Time): ICAL.Time {
  const utc = ICAL.Time.fromJSDate(new Date(msValue), true);
  if (!like) return utc;
  if (like.isDate) return ICAL.Time.fromData({ year: utc.year, month: utc.month, day: utc.day, isDate: true });
  if (like.zone === ICAL.Timezone.utcTimezone || !like.zone) return utc;
  if (like.zone === ICAL.Timezone.localTimezone) {
    return ICAL.Time.fromData(
      { year: utc.year, month: utc.month, day: utc.day, hour: utc.hour, minute: utc.minute, second: utc.second },
      ICAL.Timezone.localTimezone,
    );
  }
  return utc.convertToZone(like.zone);
}

/** Sets a DATE or DATE-TIME property, with TZID when the time has a named zone. */
export function setTime(component: ICAL.Component, name: string, time: ICAL.Time): ICAL.Property {
  component.removeAllProperties(name);
  return addTime(component, name, time);
}

/** Adds a DATE or DATE-TIME property (another EXDATE or RDATE), with TZID when the time has a named zone. */
export function addTime(component: ICAL.Component, name: string, time: ICAL.Time): ICAL.Property {
  const property = new ICAL.Property(name, component);
  component.addProperty(property);
  if (
    time.zone &&
    time.zone !== ICAL.Timezone.utcTimezone &&
    time.zone !== ICAL.Timezone.localTimezone &&
    time.zone.tzid !== 'UTC' &&
    !time.isDate
  ) {
    property.setParameter('tzid', time.zone.tzid);
  }
  if (time.isDate) property.resetType('date');
  property.setValue(time);
  return property;
}

export function startOf(component: ICAL.Component): ICAL.Time | undefined {
  const value = component.getFirstPropertyValue('dtstart');
  return value instanceof ICAL.Time ? value : undefined;
}

export function recurrenceIdOf(component: ICAL.Component): number | undefined {
  const value = component.getFirstPropertyValue('recurrence-id');
  return value instanceof ICAL.Time ? value.toUnixTime() * 1000 : undefined;
}

export function findAttendee(component: ICAL.Component, address: string): ICAL.Property | undefined {
  return component.getAllProperties('attendee').find((p) => addressOf(p.getFirstValue()) === address);
}

/** An override for the instance at `recurrenceId`, made from the master (same length, no recurrence rules). */
export function overrideFrom(master: ICAL.Component, recurrenceId: number): ICAL.Component {
  const override = new ICAL.Component(ICAL.helpers.clone(master.toJSON(), true) as unknown[]);
  for (const name of ['rrule', 'rdate', 'exdate', 'exrule']) override.removeAllProperties(name);
  const start = startOf(master);
  const instanceStart = timeLike(recurrenceId, start);
  setTime(override, 'recurrence-id', instanceStart);
  const end = master.getFirstPropertyValue('dtend');
  if (start && end instanceof ICAL.Time) {
    const length = end.subtractDateTz(start);
    const instanceEnd = instanceStart.clone();
    instanceEnd.addDuration(length);
    setTime(override, 'dtend', instanceEnd);
  }
  setTime(override, 'dtstart', instanceStart);
  return override;
}

/** The master, or else the first component. */
export function mainOf(events: readonly ICAL.Component[]): ICAL.Component | undefined {
  return events.find((e) => !e.hasProperty('recurrence-id')) ?? events[0];
}
