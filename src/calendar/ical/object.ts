/**
 * CalendarObject from ical.js components and back: one UID's VEVENTs (master and overrides) with
 * the VTIMEZONEs they use, their facts for the agents, and a per-object cache of the parsed
 * components so that expanding the same object again does not parse it again.
 */
import ICAL from 'ical.js';
import type { Attendee, CalendarObject, PartStat } from '../model.js';
import { readCalendar, SharedZoneCalendar } from './calendar.js';
import { CalendarError, STATUS } from './errors.js';
import { ianaVtimezone } from './zones.js';

export const PRODID = '-//porter//calendar//EN';

const PARTSTATS: readonly PartStat[] = ['NEEDS-ACTION', 'ACCEPTED', 'DECLINED', 'TENTATIVE', 'DELEGATED'];

/** A bare lower-case address from a CAL-ADDRESS value (`mailto:` dropped). */
export function addressOf(value: unknown): string {
  const text = typeof value === 'string' ? value.trim() : '';
  return text.replace(/^mailto:/i, '').toLowerCase();
}

/** A property's first value as UTC ms, or undefined. */
export function timeOf(component: ICAL.Component, name: string): number | undefined {
  const value = component.getFirstPropertyValue(name);
  return value instanceof ICAL.Time ? value.toUnixTime() * 1000 : undefined;
}

export function partstatOf(value: unknown): PartStat {
  const text = typeof value === 'string' ? value.toUpperCase() : '';
  return (PARTSTATS as readonly string[]).includes(text) ? (text as PartStat) : 'NEEDS-ACTION';
}

export function attendeesOf(component: ICAL.Component): Attendee[] {
  return component.getAllProperties('attendee').map((p) => {
    const name = p.getParameter('cn');
    const role = p.getParameter('role');
    const rsvp = p.getParameter('rsvp');
    const cutype = p.getParameter('cutype');
    const delegatedTo = p.getParameter('delegated-to');
    return {
      address: addressOf(p.getFirstValue()),
      partstat: partstatOf(p.getParameter('partstat')),
      ...(typeof name === 'string' ? { name } : {}),
      ...(typeof role === 'string' ? { role: role.toUpperCase() } : {}),
      ...(typeof rsvp === 'string' ? { rsvp: rsvp.toUpperCase() === 'TRUE' } : {}),
      ...(typeof cutype === 'string' ? { cutype: cutype.toUpperCase() } : {}),
      ...(typeof delegatedTo === 'string' ? { delegatedTo: addressOf(delegatedTo) } : {}),
    };
  });
}

/** The VTIMEZONE components `events` refer to: the calendar's own, else the IANA ones. */
function zonesFor(events: readonly ICAL.Component[], own: readonly ICAL.Component[]): ICAL.Component[] {
  const tzids = new Set<string>();
  for (const event of events) {
    for (const property of event.getAllProperties()) {
      const tzid = property.getParameter('tzid');
      if (typeof tzid === 'string') tzids.add(tzid);
    }
  }
  const zones: ICAL.Component[] = [];
  for (const tzid of tzids) {
    const found = own.find((z) => z.getFirstPropertyValue('tzid') === tzid);
    if (found) zones.push(new ICAL.Component(ICAL.helpers.clone(found.toJSON(), true) as unknown[]));
    else {
      const text = ianaVtimezone(tzid);
      if (text !== undefined) zones.push(new ICAL.Component(ICAL.parse(text) as unknown as unknown[]));
    }
  }
  return zones;
}

/** A VCALENDAR holding `events` (copied) and the VTIMEZONEs they use; `own` are the zones they came with. */
export function wrapEvents(events: readonly ICAL.Component[], own: readonly ICAL.Component[] = [], method?: string): ICAL.Component {
  const root = new SharedZoneCalendar('vcalendar');
  root.addPropertyWithValue('prodid', PRODID);
  root.addPropertyWithValue('version', '2.0');
  if (method) root.addPropertyWithValue('method', method);
  for (const zone of zonesFor(events, own)) root.addSubcomponent(zone);
  for (const event of events) root.addSubcomponent(new ICAL.Component(ICAL.helpers.clone(event.toJSON(), true) as unknown[]));
  return root;
}

/** Parsed form of one object, cached. */
export interface Parsed {
  readonly root: ICAL.Component;
  readonly events: readonly ICAL.Component[];
  readonly master?: ICAL.Component;
  readonly zones: readonly ICAL.Component[];
}

const byObject = new WeakMap<CalendarObject, Parsed>();
const byText = new Map<string, Parsed>();
const TEXT_CACHE = 4096;

/** The ical.js components of `object`, parsed once. */
export function parsedOf(object: CalendarObject): Parsed {
  let parsed = byObject.get(object);
  if (parsed) return parsed;
  parsed = byText.get(object.ics);
  if (!parsed) {
    parsed = parse(object.ics);
    if (byText.size >= TEXT_CACHE) byText.delete(byText.keys().next().value as string);
    byText.set(object.ics, parsed);
  }
  byObject.set(object, parsed);
  return parsed;
}

function parse(ics: string): Parsed {
  const root = readCalendar(ics);
  const events = root.getAllSubcomponents('vevent');
  const master = events.find((e) => !e.hasProperty('recurrence-id'));
  return { root, events, zones: root.getAllSubcomponents('vtimezone'), ...(master ? { master } : {}) };
}

/** Serialises a component as iCalendar text: CRLF lines folded at 75 octets (ical.js folds after `foldLength` octets plus the leading space). */
export function serialise(component: ICAL.Component): string {
  const saved = ICAL.foldLength;
  ICAL.foldLength = 74;
  try {
    return `${component.toString()}\r\n`;
  } finally {
    ICAL.foldLength = saved;
  }
}

/** Builds the CalendarObject for one UID's events (all with that UID), checking what every object needs. */
export function toObject(events: readonly ICAL.Component[], ownZones: readonly ICAL.Component[]): CalendarObject {
  const first = events[0];
  if (!first) throw new CalendarError(STATUS.missing, 'no VEVENT');
  const uid = String(first.getFirstPropertyValue('uid') ?? '');
  const master = events.find((e) => !e.hasProperty('recurrence-id'));
  const main = master ?? first;
  const root = wrapEvents(events, ownZones);
  const ics = serialise(root);
  const status = String(main.getFirstPropertyValue('status') ?? '').toUpperCase();
  const summary = main.getFirstPropertyValue('summary');
  const organizer = main.getFirstPropertyValue('organizer');
  const sequence = Number(main.getFirstPropertyValue('sequence') ?? 0);
  const instances = events
    .map((e) => timeOf(e, 'recurrence-id'))
    .filter((t): t is number => t !== undefined)
    .sort((a, b) => a - b);
  const object: CalendarObject = {
    uid,
    sequence: Number.isFinite(sequence) ? sequence : 0,
    dtstamp: timeOf(main, 'dtstamp') ?? 0,
    ...(organizer ? { organizer: addressOf(organizer) } : {}),
    attendees: attendeesOf(main),
    ...(typeof summary === 'string' ? { summary } : {}),
    ...(status === 'TENTATIVE' || status === 'CONFIRMED' || status === 'CANCELLED' ? { status } : {}),
    transparent: String(main.getFirstPropertyValue('transp') ?? '').toUpperCase() === 'TRANSPARENT',
    recurring: master !== undefined && (master.hasProperty('rrule') || master.hasProperty('rdate')),
    instances,
    ics,
  };
  const copies = root.getAllSubcomponents('vevent');
  const copy = copies.find((e) => !e.hasProperty('recurrence-id'));
  byObject.set(object, { root, events: copies, zones: root.getAllSubcomponents('vtimezone'), ...(copy ? { master: copy } : {}) });
  return object;
}

/** Re-reads a stored object's `ics`. */
export function parseObject(ics: string): CalendarObject {
  const root = readCalendar(ics);
  const events = root.getAllSubcomponents('vevent');
  const uids = new Set(events.map((e) => e.getFirstPropertyValue('uid')));
  if (events.length === 0 || uids.size !== 1 || !events[0]?.getFirstPropertyValue('uid')) {
    throw new CalendarError(STATUS.missing, 'a stored object holds the VEVENTs of exactly one UID');
  }
  return toObject(events, root.getAllSubcomponents('vtimezone'));
}
