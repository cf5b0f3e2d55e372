/**
 * An organizer taking an attendee's counter-proposal (RFC 5546 §3.2.7): the stored event moved to
 * the proposed time, with a higher SEQUENCE (§2.1.5: a change of time is a new version the
 * attendees must answer again), written as the REQUEST that goes to every attendee.
 */
import ICAL from 'ical.js';
import { copyOf, mainOf, setTime, startOf, timeLike } from '../../calendar/ical/components.js';
import { parseItip } from '../../calendar/ical/index.js';
import { serialise, wrapEvents } from '../../calendar/ical/object.js';
import type { CalendarObject, Period } from '../../calendar/model.js';

/** The event (its master, or its only instance) moved to `period`; every attendee but `organizer` asked again. */
export function rescheduled(object: CalendarObject, period: Period, organizer: string): { text: string; object: CalendarObject } {
  const { events, zones } = copyOf(object);
  const main = mainOf(events);
  if (!main) throw new Error(`no VEVENT in ${object.uid}`);
  const start = startOf(main);
  // Written in the event's own zone, so a series keeps its wall-clock time across daylight saving changes.
  const like = start && !start.isDate ? start : undefined;
  setTime(main, 'dtstart', timeLike(period.start, like));
  main.removeAllProperties('duration');
  setTime(main, 'dtend', timeLike(period.end, like));
  const now = ICAL.Time.fromJSDate(new Date(), true);
  for (const event of events) {
    event.updatePropertyWithValue('sequence', object.sequence + 1);
    setTime(event, 'dtstamp', now);
    for (const attendee of event.getAllProperties('attendee')) {
      if (
        String(attendee.getFirstValue())
          .toLowerCase()
          .replace(/^mailto:/, '') === organizer
      )
        continue;
      attendee.setParameter('partstat', 'NEEDS-ACTION');
      attendee.setParameter('rsvp', 'TRUE');
    }
  }
  const text = serialise(wrapEvents(events, zones, 'REQUEST'));
  const moved = parseItip(text).objects[0];
  if (!moved) throw new Error(`no VEVENT in the new version of ${object.uid}`);
  return { text, object: moved };
}
