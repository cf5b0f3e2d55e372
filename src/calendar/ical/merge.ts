/**
 * Merging iTIP messages into stored objects (RFC 5546): which copy is newer, an attendee's REPLY,
 * a CANCEL of the event or of some instances, an ADD of instances, and an attendee's own answer.
 */
import ICAL from 'ical.js';
import type { CalendarObject, PartStat } from '../model.js';
import { addTime, copyOf, findAttendee, mainOf, overrideFrom, recurrenceIdOf, setTime, startOf, timeLike } from './components.js';
import { CalendarError, STATUS } from './errors.js';
import { addressOf, toObject } from './object.js';

/** SEQUENCE first, then DTSTAMP (RFC 5546 §2.1.5): true when `incoming` supersedes `stored`. */
export function isNewer(incoming: CalendarObject, stored: CalendarObject): boolean {
  if (incoming.sequence !== stored.sequence) return incoming.sequence > stored.sequence;
  return incoming.dtstamp > stored.dtstamp;
}

function setPartstat(component: ICAL.Component, address: string, partstat: PartStat, add: boolean, delegatedTo?: string): boolean {
  let property = findAttendee(component, address);
  if (!property) {
    if (!add) return false;
    property = component.addPropertyWithValue('attendee', `mailto:${address}`);
  }
  property.setParameter('partstat', partstat);
  property.removeParameter('rsvp');
  if (delegatedTo) property.setParameter('delegated-to', `mailto:${delegatedTo}`);
  return true;
}

/** The override for `recurrenceId` among `events`, made from the master when there is none yet. */
function instanceIn(events: ICAL.Component[], recurrenceId: number): ICAL.Component | undefined {
  const found = events.find((e) => recurrenceIdOf(e) === recurrenceId);
  if (found) return found;
  const master = events.find((e) => !e.hasProperty('recurrence-id'));
  if (!master) return undefined;
  const made = overrideFrom(master, recurrenceId);
  events.push(made);
  return made;
}

/** Merges the replying attendee's PARTSTAT, per instance where the reply names RECURRENCE-IDs. */
export function applyReply(stored: CalendarObject, reply: CalendarObject): CalendarObject {
  const { events, zones } = copyOf(stored);
  const answers = copyOf(reply).events;
  for (const answer of answers) {
    for (const property of answer.getAllProperties('attendee')) {
      const address = addressOf(property.getFirstValue());
      const partstat = String(property.getParameter('partstat') ?? 'NEEDS-ACTION').toUpperCase() as PartStat;
      const delegated = property.getParameter('delegated-to');
      const delegatedTo = typeof delegated === 'string' ? addressOf(delegated) : undefined;
      if (!events.some((e) => findAttendee(e, address))) {
        throw new CalendarError(STATUS.invalidUser, `${address} is not an attendee of ${stored.uid}`);
      }
      const recurrenceId = recurrenceIdOf(answer);
      if (recurrenceId === undefined) {
        for (const event of events) setPartstat(event, address, partstat, false, delegatedTo);
      } else {
        const instance = instanceIn(events, recurrenceId);
        if (instance) setPartstat(instance, address, partstat, true, delegatedTo);
      }
    }
  }
  return toObject(events, zones);
}

/** Undefined when the whole event is cancelled; else the event with the named instances cancelled. */
export function applyCancel(stored: CalendarObject, cancel: CalendarObject): CalendarObject | undefined {
  const { events, zones } = copyOf(stored);
  const master = events.find((e) => !e.hasProperty('recurrence-id'));
  for (const item of copyOf(cancel).events) {
    const rid = item.getFirstProperty('recurrence-id');
    const recurrenceId = recurrenceIdOf(item);
    if (!rid || recurrenceId === undefined) return undefined;
    const future = String(rid.getParameter('range') ?? '').toUpperCase() === 'THISANDFUTURE';
    if (future) {
      const start = master ? startOf(master) : undefined;
      if (!master || !start || recurrenceId <= start.toUnixTime() * 1000) return undefined;
      endSeriesBefore(master, events, recurrenceId);
      continue;
    }
    const override = events.find((e) => recurrenceIdOf(e) === recurrenceId);
    if (override) override.updatePropertyWithValue('status', 'CANCELLED');
    else if (master) addTime(master, 'exdate', timeLike(recurrenceId, startOf(master)));
  }
  return toObject(events, zones);
}

/** Ends the series just before `recurrenceId`: RRULE UNTIL, later RDATEs and overrides dropped. */
function endSeriesBefore(master: ICAL.Component, events: ICAL.Component[], recurrenceId: number): void {
  for (const property of master.getAllProperties('rrule')) {
    const rule = property.getFirstValue();
    if (!(rule instanceof ICAL.Recur)) continue;
    const copy = rule.clone();
    copy.count = null;
    const until = ICAL.Time.fromJSDate(new Date(recurrenceId - 1000), true);
    copy.until = startOf(master)?.isDate
      ? ICAL.Time.fromData({ year: until.year, month: until.month, day: until.day, isDate: true })
      : until;
    property.setValue(copy);
  }
  for (const property of master.getAllProperties('rdate')) {
    const kept = property.getValues().filter((v) => {
      const t = v instanceof ICAL.Period ? v.start : v;
      return !(t instanceof ICAL.Time) || t.toUnixTime() * 1000 < recurrenceId;
    });
    if (kept.length === 0) master.removeProperty(property);
    else property.setValues(kept);
  }
  for (let i = events.length - 1; i >= 0; i--) {
    const r = recurrenceIdOf(events[i]!);
    if (r !== undefined && r >= recurrenceId) events.splice(i, 1);
  }
}

/** Adds the ADD's instances: as RDATEs of the master, with an override where an instance differs. */
export function applyAdd(stored: CalendarObject, add: CalendarObject): CalendarObject {
  const { events, zones } = copyOf(stored);
  const added = copyOf(add);
  const master = events.find((e) => !e.hasProperty('recurrence-id'));
  for (const item of added.events) {
    const recurrenceId = recurrenceIdOf(item) ?? startOf(item)?.toUnixTime();
    if (recurrenceId === undefined) continue;
    const rid = recurrenceIdOf(item) ?? recurrenceId * 1000;
    const index = events.findIndex((e) => recurrenceIdOf(e) === rid);
    if (index >= 0) events.splice(index, 1);
    if (master && !item.hasProperty('recurrence-id')) {
      const start = startOf(item)!;
      addTime(master, 'rdate', start);
      setTime(item, 'recurrence-id', start);
    }
    events.push(item);
  }
  const sequence = Math.max(stored.sequence, add.sequence);
  if (master) master.updatePropertyWithValue('sequence', sequence);
  zones.push(...added.zones.filter((z) => !zones.some((y) => y.getFirstPropertyValue('tzid') === z.getFirstPropertyValue('tzid'))));
  return toObject(events, zones);
}

/** The object as `attendee` answered it: PARTSTAT everywhere, DECLINED on the declined instances. */
export function withPartstat(
  object: CalendarObject,
  attendee: string,
  partstat: PartStat,
  declinedInstances: readonly number[] = [],
): CalendarObject {
  const address = addressOf(attendee);
  const { events, zones } = copyOf(object);
  const main = mainOf(events);
  for (const event of events) setPartstat(event, address, partstat, event === main);
  for (const recurrenceId of declinedInstances) {
    const instance = instanceIn(events, recurrenceId);
    if (instance) setPartstat(instance, address, 'DECLINED', true);
  }
  return toObject(events, zones);
}
