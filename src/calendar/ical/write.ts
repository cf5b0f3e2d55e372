/** Writing the iTIP messages the agents send. */
import type { BusyPeriod, CalendarObject, FreeBusyObject, ItipMethod, PartStat, Period, RequestStatus } from '../model.js';

export function writeReply(_o: {
  object: CalendarObject;
  attendee: string;
  partstat: PartStat;
  comment?: string;
  declinedInstances?: readonly number[];
  requestStatus?: RequestStatus;
}): string {
  return '';
}

export function writeCounter(_o: { object: CalendarObject; attendee: string; period: Period; comment?: string }): string {
  return '';
}

export function writeDeclineCounter(_o: { object: CalendarObject; attendee: string; comment?: string }): string {
  return '';
}

export function writeRequest(_object: CalendarObject, _method: 'REQUEST' | 'PUBLISH' | 'CANCEL' = 'REQUEST'): string {
  return '';
}

export function writeRefresh(_o: { object: CalendarObject; attendee: string }): string {
  return '';
}

export function writeError(_o: { uid?: string; organizer?: string; attendee: string; status: RequestStatus; method?: ItipMethod }): string {
  return '';
}

export function writeFreeBusyReply(_o: { request: FreeBusyObject; attendee: string; busy: readonly BusyPeriod[] }): string {
  return '';
}

export function writeFreeBusy(_o: { owner: string; name?: string; window: Period; busy: readonly BusyPeriod[]; url?: string }): string {
  return '';
}

export function writeFeed(_o: { name: string; objects: readonly CalendarObject[] }): string {
  return '';
}

export function writeInvitation(_o: {
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
  throw new Error('writeInvitation: not yet written');
}
