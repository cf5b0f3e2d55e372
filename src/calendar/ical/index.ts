/**
 * porter's iCalendar/iTIP engine: reads iMIP mail and iTIP messages, expands recurring events to
 * occurrences and free/busy, merges replies, cancellations and additions, and writes the messages
 * the agents send. See README.md beside this file.
 */

export { CalendarError } from './errors.js';
export { busyPeriods, occurrences } from './expand.js';
export { applyAdd, applyCancel, applyReply, isNewer, withPartstat } from './merge.js';
export { calendarParts } from './mime.js';
export { parseObject } from './object.js';
export { parseItip } from './parse.js';
export {
  writeCounter,
  writeDeclineCounter,
  writeError,
  writeFeed,
  writeFreeBusy,
  writeFreeBusyReply,
  writeInvitation,
  writeRefresh,
  writeReply,
  writeRequest,
} from './write.js';
