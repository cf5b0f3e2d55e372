/**
 * Writing the iTIP messages the agents send (RFC 5546): replies, counter-proposals, refreshes,
 * error replies, free/busy, invitations and feeds. Each is a whole VCALENDAR with METHOD (but the
 * feed), PRODID, fresh DTSTAMPs, the VTIMEZONEs its times use, CRLF lines folded at 75 octets.
 */
import { randomUUID } from 'node:crypto';
import ICAL from 'ical.js';
import type { BusyPeriod, CalendarObject, FreeBusyObject, ItipMethod, PartStat, Period, RequestStatus } from '../model.js';
import { copyOf, findAttendee, mainOf, setTime, startOf, timeLike } from './components.js';
import { CalendarError, STATUS } from './errors.js';
import { mergeBusy } from './expand.js';
import { withPartstat } from './merge.js';
import { addressOf, serialise, wrapEvents } from './object.js';
import { parseItip } from './parse.js';
import { ensureZone } from './zones.js';

const utc = (ms: number): ICAL.Time => ICAL.Time.fromJSDate(new Date(ms), true);
const mailto = (address: string): string => `mailto:${addressOf(address)}`;

function stamp(component: ICAL.Component): void {
  setTime(component, 'dtstamp', utc(Date.now()));
}

function message(method: ItipMethod | undefined, components: readonly ICAL.Component[], zones: readonly ICAL.Component[] = []): string {
  for (const component of components) stamp(component);
  return serialise(wrapEvents(components, zones, method));
}

/** Keeps only `attendee` among the component's ATTENDEEs (a reply speaks for one). */
function onlyAttendee(component: ICAL.Component, attendee: string): void {
  const keep = findAttendee(component, attendee);
  component.removeAllProperties('attendee');
  if (keep) component.addProperty(keep);
  for (const alarm of component.getAllSubcomponents('valarm')) component.removeSubcomponent(alarm);
}

function setText(component: ICAL.Component, name: string, value: string | undefined): void {
  component.removeAllProperties(name);
  if (value !== undefined && value !== '') component.addPropertyWithValue(name, value);
}

function setStatus(component: ICAL.Component, status: RequestStatus | undefined): void {
  component.removeAllProperties('request-status');
  if (status) component.addPropertyWithValue('request-status', `${status.code};${status.text}`);
}

/** METHOD:REPLY with only the replying attendee, their PARTSTAT, and declined instances as overrides. */
export function writeReply(o: {
  object: CalendarObject;
  attendee: string;
  partstat: PartStat;
  comment?: string;
  declinedInstances?: readonly number[];
  requestStatus?: RequestStatus;
}): string {
  const attendee = addressOf(o.attendee);
  const answered = withPartstat(o.object, attendee, o.partstat, o.declinedInstances);
  const { events, zones } = copyOf(answered);
  for (const event of events) {
    onlyAttendee(event, attendee);
    setText(event, 'comment', o.comment);
    setText(event, 'description', undefined);
    setStatus(event, o.requestStatus);
  }
  return message('REPLY', events, zones);
}

/** METHOD:COUNTER proposing `period` for the event (its master, or its one instance). */
export function writeCounter(o: { object: CalendarObject; attendee: string; period: Period; comment?: string }): string {
  const { events, zones } = copyOf(o.object);
  const main = mainOf(events);
  if (!main) throw new CalendarError(STATUS.missing, `no VEVENT in ${o.object.uid}`);
  const start = startOf(main);
  setTime(main, 'dtstart', timeLike(o.period.start, start && !start.isDate ? start : undefined));
  main.removeAllProperties('duration');
  setTime(main, 'dtend', timeLike(o.period.end, start && !start.isDate ? start : undefined));
  setText(main, 'comment', o.comment);
  const attendee = addressOf(o.attendee);
  if (!findAttendee(main, attendee)) main.addPropertyWithValue('attendee', mailto(attendee));
  return message('COUNTER', [main], zones);
}

/** A bare VEVENT naming the event (UID, SEQUENCE, ORGANIZER, RECURRENCE-ID) and one attendee. */
function reference(object: CalendarObject, attendee: string): { event: ICAL.Component; zones: ICAL.Component[] } {
  const { events, zones } = copyOf(object);
  const main = mainOf(events);
  const event = new ICAL.Component('vevent');
  event.addPropertyWithValue('uid', object.uid);
  if (object.sequence > 0) event.addPropertyWithValue('sequence', object.sequence);
  if (object.organizer) event.addPropertyWithValue('organizer', mailto(object.organizer));
  const attendeeProperty = main ? findAttendee(main, addressOf(attendee)) : undefined;
  if (attendeeProperty) event.addProperty(attendeeProperty);
  else event.addPropertyWithValue('attendee', mailto(attendee));
  const rid = main?.getFirstProperty('recurrence-id');
  if (rid) event.addProperty(rid);
  return { event, zones };
}

/** METHOD:DECLINECOUNTER: the organizer turns down `attendee`'s counter-proposal. */
export function writeDeclineCounter(o: { object: CalendarObject; attendee: string; comment?: string }): string {
  const { event, zones } = reference(o.object, o.attendee);
  setText(event, 'comment', o.comment);
  return message('DECLINECOUNTER', [event], zones);
}

/** The stored event resent as REQUEST (answer to REFRESH), PUBLISH, or CANCEL. */
export function writeRequest(object: CalendarObject, method: 'REQUEST' | 'PUBLISH' | 'CANCEL' = 'REQUEST'): string {
  const { events, zones } = copyOf(object);
  if (method === 'CANCEL') for (const event of events) event.updatePropertyWithValue('status', 'CANCELLED');
  return message(method, events, zones);
}

/** METHOD:REFRESH: `attendee` asks the organizer for the current event. */
export function writeRefresh(o: { object: CalendarObject; attendee: string }): string {
  const { event, zones } = reference(o.object, o.attendee);
  return message('REFRESH', [event], zones);
}

/** A REPLY (DECLINECOUNTER for a failed COUNTER) carrying REQUEST-STATUS for a message that failed. */
export function writeError(o: { uid?: string; organizer?: string; attendee: string; status: RequestStatus; method?: ItipMethod }): string {
  const event = new ICAL.Component('vevent');
  event.addPropertyWithValue('uid', o.uid ?? `${randomUUID()}@porter`);
  if (o.organizer) event.addPropertyWithValue('organizer', mailto(o.organizer));
  event.addPropertyWithValue('attendee', mailto(o.attendee));
  setStatus(event, o.status);
  return message(o.method === 'COUNTER' ? 'DECLINECOUNTER' : 'REPLY', [event]);
}

function addBusy(component: ICAL.Component, busy: readonly BusyPeriod[], window: Period): void {
  for (const period of mergeBusy(busy)) {
    const start = Math.max(period.start, window.start);
    const end = Math.min(period.end, window.end);
    if (end <= start) continue;
    const property = new ICAL.Property('freebusy', component);
    property.setParameter('fbtype', period.type);
    property.setValue(ICAL.Period.fromData({ start: utc(start), end: utc(end) }));
    component.addProperty(property);
  }
}

/** METHOD:REPLY VFREEBUSY answering a free/busy request with `attendee`'s busy time. */
export function writeFreeBusyReply(o: { request: FreeBusyObject; attendee: string; busy: readonly BusyPeriod[] }): string {
  const component = new ICAL.Component('vfreebusy');
  if (o.request.uid) component.addPropertyWithValue('uid', o.request.uid);
  if (o.request.organizer) component.addPropertyWithValue('organizer', mailto(o.request.organizer));
  component.addPropertyWithValue('attendee', mailto(o.attendee));
  setTime(component, 'dtstart', utc(o.request.start));
  setTime(component, 'dtend', utc(o.request.end));
  addBusy(component, o.busy, o.request);
  return message('REPLY', [component]);
}

/** METHOD:PUBLISH VFREEBUSY for `owner` over `window` (an `.ifb` file). */
export function writeFreeBusy(o: { owner: string; name?: string; window: Period; busy: readonly BusyPeriod[]; url?: string }): string {
  const component = new ICAL.Component('vfreebusy');
  const organizer = component.addPropertyWithValue('organizer', mailto(o.owner));
  if (o.name) organizer.setParameter('cn', o.name);
  setTime(component, 'dtstart', utc(o.window.start));
  setTime(component, 'dtend', utc(o.window.end));
  if (o.url) component.addPropertyWithValue('url', o.url);
  addBusy(component, o.busy, o.window);
  return message('PUBLISH', [component]);
}

/** A plain VCALENDAR (no METHOD) with every event, for an `.ics` feed. */
export function writeFeed(o: { name: string; objects: readonly CalendarObject[] }): string {
  const events: ICAL.Component[] = [];
  const zones: ICAL.Component[] = [];
  for (const object of o.objects) {
    const copy = copyOf(object);
    events.push(...copy.events);
    zones.push(...copy.zones);
  }
  const root = wrapEvents(events, zones);
  root.addPropertyWithValue('x-wr-calname', o.name);
  return serialise(root);
}

/** METHOD:REQUEST inviting `attendees` to a new event; returns the text and the object as stored. */
export function writeInvitation(o: {
  organizer: string;
  organizerName?: string;
  attendees: readonly { address: string; name?: string; cutype?: string }[];
  summary: string;
  start: number;
  end: number;
  tzid?: string;
  uid?: string;
  description?: string;
}): { text: string; object: CalendarObject } {
  if (!(o.end > o.start)) throw new CalendarError(STATUS.invalidDate, 'an invitation ends after it starts');
  const event = new ICAL.Component('vevent');
  event.addPropertyWithValue('uid', o.uid ?? `${randomUUID()}@porter`);
  event.addPropertyWithValue('sequence', 0);
  let zone: ICAL.Time | undefined;
  if (o.tzid) {
    if (!ensureZone(o.tzid)) throw new CalendarError(STATUS.invalidParameterValue, `unknown time zone ${JSON.stringify(o.tzid)}`);
    const tz = ICAL.TimezoneService.get(o.tzid);
    if (tz && o.tzid !== 'UTC') zone = utc(o.start).convertToZone(tz);
  }
  setTime(event, 'dtstart', timeLike(o.start, zone));
  setTime(event, 'dtend', timeLike(o.end, zone));
  event.addPropertyWithValue('summary', o.summary);
  if (o.description) event.addPropertyWithValue('description', o.description);
  const organizer = event.addPropertyWithValue('organizer', mailto(o.organizer));
  if (o.organizerName) organizer.setParameter('cn', o.organizerName);
  for (const a of o.attendees) {
    const property = event.addPropertyWithValue('attendee', mailto(a.address));
    if (a.name) property.setParameter('cn', a.name);
    property.setParameter('cutype', (a.cutype ?? 'INDIVIDUAL').toUpperCase());
    property.setParameter('role', 'REQ-PARTICIPANT');
    property.setParameter('partstat', 'NEEDS-ACTION');
    property.setParameter('rsvp', 'TRUE');
  }
  const text = message('REQUEST', [event]);
  const object = parseItip(text).objects[0];
  if (!object) throw new CalendarError(STATUS.missing, 'invitation without event');
  return { text, object };
}
