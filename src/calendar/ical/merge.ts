/** Merging iTIP messages into stored objects: newer copies, replies, cancellations, additions. */
import type { CalendarObject, PartStat } from '../model.js';

export function isNewer(incoming: CalendarObject, stored: CalendarObject): boolean {
  if (incoming.sequence !== stored.sequence) return incoming.sequence > stored.sequence;
  return incoming.dtstamp > stored.dtstamp;
}

export function applyReply(stored: CalendarObject, _reply: CalendarObject): CalendarObject {
  return stored;
}

export function applyCancel(stored: CalendarObject, _cancel: CalendarObject): CalendarObject | undefined {
  return stored;
}

export function applyAdd(stored: CalendarObject, _add: CalendarObject): CalendarObject {
  return stored;
}

export function withPartstat(
  object: CalendarObject,
  _attendee: string,
  _partstat: PartStat,
  _declinedInstances?: readonly number[],
): CalendarObject {
  return object;
}
