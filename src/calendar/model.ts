/**
 * The calendar's shared model: what the iCalendar engine (`ical/`) gives the agents and the
 * resource policies (`policy/`), and what they give back. Times are milliseconds since the epoch,
 * UTC; addresses are bare, lower-case mail addresses (no `mailto:`).
 */

export type ItipMethod = 'PUBLISH' | 'REQUEST' | 'REPLY' | 'ADD' | 'CANCEL' | 'REFRESH' | 'COUNTER' | 'DECLINECOUNTER';

export type PartStat = 'NEEDS-ACTION' | 'ACCEPTED' | 'DECLINED' | 'TENTATIVE' | 'DELEGATED';

export type BusyType = 'BUSY' | 'BUSY-TENTATIVE' | 'BUSY-UNAVAILABLE';

/** A half-open span of time, [start, end). */
export interface Period {
  readonly start: number;
  readonly end: number;
}

/** One occurrence of an event; `recurrenceId` is the instance's RECURRENCE-ID as UTC ms (absent for a single event). */
export interface Occurrence extends Period {
  readonly uid: string;
  readonly recurrenceId?: number;
}

/** A busy span for free/busy, with what made it busy. */
export interface BusyPeriod extends Period {
  readonly type: BusyType;
}

export interface Attendee {
  readonly address: string;
  readonly name?: string;
  readonly partstat: PartStat;
  readonly role?: string;
  readonly rsvp?: boolean;
  /** CUTYPE: INDIVIDUAL, ROOM, RESOURCE, GROUP… */
  readonly cutype?: string;
  readonly delegatedTo?: string;
}

/**
 * One scheduling object: a UID's VEVENT (the master and its overridden instances) as received,
 * with the facts the agents decide on. `ics` is a whole VCALENDAR holding only this UID's
 * components and the VTIMEZONEs they use; it is what the store keeps.
 */
export interface CalendarObject {
  readonly uid: string;
  readonly sequence: number;
  /** DTSTAMP of the master (or the first component), UTC ms. */
  readonly dtstamp: number;
  readonly organizer?: string;
  readonly attendees: readonly Attendee[];
  readonly summary?: string;
  readonly status?: 'TENTATIVE' | 'CONFIRMED' | 'CANCELLED';
  readonly transparent: boolean;
  /** Has RRULE or RDATE. */
  readonly recurring: boolean;
  /** RECURRENCE-IDs (UTC ms) of the instances this object carries on their own (overrides, or the instances a CANCEL or REPLY names). */
  readonly instances: readonly number[];
  readonly ics: string;
}

/** A parsed iTIP message: one METHOD, the objects in it (grouped by UID), or a VFREEBUSY. */
export interface ItipMessage {
  readonly method: ItipMethod;
  readonly objects: readonly CalendarObject[];
  /** Present when the message is a VFREEBUSY (request, reply or publish). */
  readonly freebusy?: FreeBusyObject;
}

export interface FreeBusyObject {
  readonly organizer?: string;
  readonly attendees: readonly string[];
  readonly start: number;
  readonly end: number;
  readonly uid?: string;
  readonly busy: readonly BusyPeriod[];
  readonly ics: string;
}

/** A REQUEST-STATUS code and text (RFC 5546 §3.6), for errors the protocol lets us answer. */
export interface RequestStatus {
  readonly code: string;
  readonly text: string;
}

// ---- Resource policies -------------------------------------------------------------------

/** What a resource is asked to book: one REQUEST (or ADD) expanded to its occurrences over the window the agent uses. */
export interface BookingRequest {
  readonly uid: string;
  readonly sequence: number;
  readonly organizer: string;
  readonly summary?: string;
  readonly recurring: boolean;
  /** Every occurrence inside the agent's window (an unbounded series is cut at its end). */
  readonly occurrences: readonly Occurrence[];
  /** When the request arrived; booking windows count from here. */
  readonly now: number;
}

/** One existing booking occurrence as the policies see it. */
export interface Booking extends Occurrence {
  readonly organizer: string;
  readonly type: BusyType;
}

/** The resource's existing bookings, indexed for fast overlap queries (the request's own UID is left out by the caller). */
export interface BookingIndex {
  /** Occurrences overlapping `period`, of any UID but `exceptUid`. */
  overlapping(period: Period, exceptUid?: string): readonly Booking[];
  /** Occurrences booked by `organizer` overlapping `period`. */
  byOrganizer(organizer: string, period: Period): readonly Booking[];
}

export type DecisionOutcome = 'ACCEPTED' | 'DECLINED' | 'TENTATIVE' | 'COUNTER' | 'DELEGATED';

export interface Decision {
  readonly outcome: DecisionOutcome;
  /** Human-readable reason, sent as the reply's COMMENT and recorded. */
  readonly reason: string;
  /** Which policy decided (its `type`), for the record. */
  readonly policy: string;
  /** For ACCEPTED with some instances declined: their RECURRENCE-IDs. */
  readonly declinedInstances?: readonly number[];
  /** For COUNTER: the proposed time. */
  readonly counter?: Period;
  /** For DELEGATED (pools): the member resource's address. */
  readonly delegateTo?: string;
}
