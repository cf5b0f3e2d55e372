/**
 * Parsing an iTIP message (RFC 5546): one VCALENDAR with a METHOD, its VEVENTs grouped by UID into
 * CalendarObjects, or its VFREEBUSY; checked against what the METHOD requires.
 */
import ICAL from 'ical.js';
import type { BusyPeriod, BusyType, CalendarObject, FreeBusyObject, ItipMessage, ItipMethod } from '../model.js';
import { readCalendar } from './calendar.js';
import { CalendarError, STATUS } from './errors.js';
import { addressOf, serialise, timeOf, toObject, wrapEvents } from './object.js';

const METHODS: readonly ItipMethod[] = ['PUBLISH', 'REQUEST', 'REPLY', 'ADD', 'CANCEL', 'REFRESH', 'COUNTER', 'DECLINECOUNTER'];
/** Methods in which every VEVENT needs an ORGANIZER (RFC 5546 §3.2; PUBLISH needs one too, but real feeds often omit it). */
const NEEDS_ORGANIZER: ReadonlySet<ItipMethod> = new Set(['REQUEST', 'REPLY', 'ADD', 'CANCEL', 'REFRESH', 'COUNTER', 'DECLINECOUNTER']);
/** Methods in which every VEVENT needs an ATTENDEE: the one who answers or asks. */
const NEEDS_ATTENDEE: ReadonlySet<ItipMethod> = new Set(['REPLY', 'REFRESH', 'COUNTER']);

/** Parses an iTIP message; throws CalendarError with the REQUEST-STATUS for what is wrong. */
export function parseItip(text: string): ItipMessage {
  const root = readCalendar(text);
  const rawMethod = root.getFirstPropertyValue('method');
  if (typeof rawMethod !== 'string' || rawMethod.trim() === '') throw new CalendarError(STATUS.missing, 'METHOD missing');
  const method = rawMethod.trim().toUpperCase() as ItipMethod;
  if (!METHODS.includes(method)) throw new CalendarError(STATUS.unsupportedCapability, `METHOD:${rawMethod}`);
  const events = root.getAllSubcomponents('vevent');
  const freebusy = root.getAllSubcomponents('vfreebusy');
  if (events.length > 0 && freebusy.length > 0) throw new CalendarError(STATUS.invalidSequence, 'VEVENT and VFREEBUSY in one message');
  if (freebusy.length > 0) return { method, objects: [], freebusy: freeBusyOf(method, freebusy[0]!) };
  if (events.length === 0) throw new CalendarError(STATUS.missing, `METHOD:${method} without a VEVENT`);
  const byUid = new Map<string, ICAL.Component[]>();
  for (const event of events) {
    const uid = event.getFirstPropertyValue('uid');
    if (typeof uid !== 'string' || uid.trim() === '') throw new CalendarError(STATUS.missing, 'VEVENT without UID');
    if (NEEDS_ORGANIZER.has(method) && !addressOf(event.getFirstPropertyValue('organizer'))) {
      throw new CalendarError(STATUS.missing, `METHOD:${method} VEVENT ${uid} without ORGANIZER`);
    }
    checkEvent(method, event, uid);
    const list = byUid.get(uid) ?? [];
    list.push(event);
    byUid.set(uid, list);
  }
  if ((method === 'REPLY' || method === 'COUNTER' || method === 'REFRESH') && byUid.size > 1) {
    throw new CalendarError(STATUS.invalidValue, `METHOD:${method} names ${byUid.size} UIDs; it answers one event`);
  }
  const zones = root.getAllSubcomponents('vtimezone');
  const objects: CalendarObject[] = [...byUid.values()].map((list) => toObject(list, zones));
  return { method, objects };
}

function checkEvent(method: ItipMethod, event: ICAL.Component, uid: string): void {
  const attendees = event.getAllProperties('attendee');
  if (NEEDS_ATTENDEE.has(method) && attendees.length === 0)
    throw new CalendarError(STATUS.missing, `METHOD:${method} VEVENT ${uid} without ATTENDEE`);
  if (method === 'REPLY' && attendees.length > 1) {
    throw new CalendarError(
      STATUS.invalidValue,
      `METHOD:REPLY VEVENT ${uid} carries ${attendees.length} ATTENDEEs; a reply is one attendee's`,
    );
  }
  if ((method === 'REQUEST' || method === 'PUBLISH' || method === 'ADD' || method === 'COUNTER') && !event.hasProperty('dtstart')) {
    throw new CalendarError(STATUS.missing, `METHOD:${method} VEVENT ${uid} without DTSTART`);
  }
  const start = timeOf(event, 'dtstart');
  const end = timeOf(event, 'dtend');
  if (start !== undefined && end !== undefined && end < start)
    throw new CalendarError(STATUS.invalidDate, `VEVENT ${uid} ends before it starts`);
  if (method === 'CANCEL' || method === 'REFRESH' || method === 'DECLINECOUNTER') return;
  const status = String(event.getFirstPropertyValue('status') ?? '').toUpperCase();
  if (status === 'CANCELLED' && method === 'REQUEST' && !event.hasProperty('recurrence-id')) {
    // A REQUEST whose whole event is cancelled contradicts itself: the content says CANCEL.
    throw new CalendarError(STATUS.invalidValue, `METHOD:REQUEST with STATUS:CANCELLED for ${uid}`);
  }
}

const FBTYPES: readonly BusyType[] = ['BUSY', 'BUSY-TENTATIVE', 'BUSY-UNAVAILABLE'];

function freeBusyOf(method: ItipMethod, component: ICAL.Component): FreeBusyObject {
  if (method !== 'REQUEST' && method !== 'REPLY' && method !== 'PUBLISH') {
    throw new CalendarError(STATUS.invalidValue, `METHOD:${method} does not apply to VFREEBUSY`);
  }
  const organizer = addressOf(component.getFirstPropertyValue('organizer'));
  const attendees = component.getAllProperties('attendee').map((p) => addressOf(p.getFirstValue()));
  if (method === 'REQUEST' && !organizer) throw new CalendarError(STATUS.missing, 'VFREEBUSY REQUEST without ORGANIZER');
  if (method !== 'PUBLISH' && attendees.length === 0) throw new CalendarError(STATUS.missing, `VFREEBUSY ${method} without ATTENDEE`);
  const start = timeOf(component, 'dtstart');
  const end = timeOf(component, 'dtend');
  if (start === undefined || end === undefined) throw new CalendarError(STATUS.missing, 'VFREEBUSY without DTSTART and DTEND');
  if (end < start) throw new CalendarError(STATUS.invalidDate, 'VFREEBUSY ends before it starts');
  const busy: BusyPeriod[] = [];
  for (const property of component.getAllProperties('freebusy')) {
    const raw = String(property.getParameter('fbtype') ?? 'BUSY').toUpperCase();
    if (raw === 'FREE') continue;
    const type = (FBTYPES as readonly string[]).includes(raw) ? (raw as BusyType) : 'BUSY';
    for (const value of property.getValues()) {
      if (!(value instanceof ICAL.Period)) continue;
      const from = value.start.toUnixTime() * 1000;
      const to = value.getEnd().toUnixTime() * 1000;
      busy.push({ start: from, end: to, type });
    }
  }
  busy.sort((a, b) => a.start - b.start || a.end - b.end);
  const uid = component.getFirstPropertyValue('uid');
  const root = wrapEvents([component], []);
  return {
    ...(organizer ? { organizer } : {}),
    attendees,
    start,
    end,
    ...(typeof uid === 'string' ? { uid } : {}),
    busy,
    ics: serialise(root),
  };
}
