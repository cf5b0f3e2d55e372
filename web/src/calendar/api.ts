// The calendar hook's HTTP API as the pages use it: the types of its answers, the readers that check
// them, and one function per route. Times are ms since the epoch here; the wire carries ISO 8601 UTC.
import { ApiFormatError, type Reader, Reader as ReaderOf } from './read.js';
import { iso } from './time.js';

export { ApiFormatError };

export interface Person {
  readonly id: string;
  readonly address: string;
  readonly name: string;
  readonly tzid: string;
}

/** One entry of a resource's ordered policy list: its `type` and that policy's own keys. */
export interface Policy {
  readonly type: string;
  readonly [key: string]: unknown;
}

export interface Resource extends Person {
  readonly kind: 'room' | 'equipment';
  readonly capacity?: number;
  readonly policies: readonly Policy[];
}

export interface Pool {
  readonly id: string;
  readonly address: string;
  readonly name: string;
  readonly members: readonly string[];
}

export interface Agents {
  readonly people: readonly Person[];
  readonly resources: readonly Resource[];
  readonly pools: readonly Pool[];
}

export interface WeekEvent {
  readonly uid: string;
  readonly recurrenceId?: string;
  readonly summary: string;
  readonly start: number;
  readonly end: number;
  readonly organizer: string;
  readonly status: string;
  readonly partstat: string;
  readonly allDay: boolean;
}

export interface PendingRequest {
  readonly uid: string;
  readonly method: string;
  readonly summary: string;
  readonly organizer: string;
  readonly start: number;
  readonly end: number;
  readonly sequence: number;
  readonly received: number;
  readonly recurring: boolean;
}

export interface PersonWeek {
  readonly id: string;
  readonly tzid: string;
  readonly start: number;
  readonly end: number;
  readonly events: readonly WeekEvent[];
  readonly pending: readonly PendingRequest[];
}

export type Answer = 'ACCEPTED' | 'TENTATIVE' | 'DECLINED' | 'COUNTER';

export interface AnswerBody {
  readonly answer: Answer;
  /** The proposed time, for COUNTER. */
  readonly counter?: { readonly start: number; readonly end: number };
  readonly comment?: string;
}

export interface ResourceBooking {
  readonly uid: string;
  readonly recurrenceId?: string;
  readonly summary: string;
  readonly organizer: string;
  readonly start: number;
  readonly end: number;
  readonly status: string;
}

export interface BookingDecision {
  readonly at: number;
  readonly uid: string;
  readonly organizer: string;
  readonly summary: string;
  readonly outcome: string;
  readonly reason: string;
  readonly policy: string;
}

export interface ResourceBookings {
  readonly id: string;
  readonly tzid: string;
  readonly start: number;
  readonly end: number;
  readonly bookings: readonly ResourceBooking[];
  readonly decisions: readonly BookingDecision[];
}

export interface BusyBlock {
  readonly start: number;
  readonly end: number;
  /** BUSY, BUSY-TENTATIVE or BUSY-UNAVAILABLE. */
  readonly type: string;
}

/**
 * One address's free/busy: its busy blocks, or `unknown` when this porter may not tell. `as` names
 * the person whose agent knows the blocks from mail it received (the calendar is not shared).
 */
export type Calendar = { readonly unknown: false; readonly busy: readonly BusyBlock[]; readonly as?: string } | { readonly unknown: true };

export interface FreeBusy {
  readonly start: number;
  readonly end: number;
  readonly calendars: Readonly<Record<string, Calendar>>;
}

export interface Invitation {
  /** The id of the person the invitation is sent from. */
  readonly from: string;
  readonly summary: string;
  readonly start: number;
  readonly end: number;
  readonly attendees: readonly string[];
}

// ---- readers -------------------------------------------------------------------------------------

const readPerson = (r: Reader): Person => ({
  id: r.string('id'),
  address: r.string('address'),
  name: r.string('name'),
  tzid: r.string('tzid'),
});

export function readAgents(json: unknown): Agents {
  const r = new ReaderOf(json, '');
  return {
    people: r.list('people', readPerson),
    resources: r.list('resources', (item) => {
      const capacity = item.optionalNumber('capacity');
      return {
        ...readPerson(item),
        kind: item.oneOf('kind', ['room', 'equipment'] as const),
        ...(capacity === undefined ? {} : { capacity }),
        policies: item.list('policies', (policy) => ({ ...Object.fromEntries(policy.entries()), type: policy.string('type') })),
      };
    }),
    pools: r.list('pools', (item) => ({
      id: item.string('id'),
      address: item.string('address'),
      name: item.string('name'),
      members: item.strings('members'),
    })),
  };
}

/** What every item of a week has: its UID, the instance, the title and the span. */
function readItem(r: Reader): { uid: string; recurrenceId?: string; summary: string; start: number; end: number } {
  const recurrenceId = r.optionalString('recurrenceId');
  return {
    uid: r.string('uid'),
    ...(recurrenceId === undefined ? {} : { recurrenceId }),
    summary: r.optionalString('summary') ?? '',
    start: r.time('start'),
    end: r.time('end'),
  };
}

/** The agent and the span an answer is about. */
const readSpan = (r: Reader) => ({ id: r.string('id'), tzid: r.string('tzid'), start: r.time('start'), end: r.time('end') });

export function readPersonWeek(json: unknown): PersonWeek {
  const r = new ReaderOf(json, '');
  return {
    ...readSpan(r),
    events: r.list('events', (e) => ({
      ...readItem(e),
      organizer: e.optionalString('organizer') ?? '',
      status: e.optionalString('status') ?? '',
      partstat: e.optionalString('partstat') ?? '',
      allDay: e.boolean('allDay', false),
    })),
    pending: r.list('pending', (p) => ({
      uid: p.string('uid'),
      method: p.string('method'),
      summary: p.optionalString('summary') ?? '',
      organizer: p.optionalString('organizer') ?? '',
      start: p.time('start'),
      end: p.time('end'),
      sequence: p.optionalNumber('sequence') ?? 0,
      received: p.time('received'),
      recurring: p.boolean('recurring', false),
    })),
  };
}

export function readResourceBookings(json: unknown): ResourceBookings {
  const r = new ReaderOf(json, '');
  return {
    ...readSpan(r),
    bookings: r.list('bookings', (b) => ({
      ...readItem(b),
      organizer: b.optionalString('organizer') ?? '',
      status: b.optionalString('status') ?? '',
    })),
    decisions: r.list('decisions', (d) => ({
      at: d.time('at'),
      uid: d.string('uid'),
      organizer: d.optionalString('organizer') ?? '',
      summary: d.optionalString('summary') ?? '',
      outcome: d.string('outcome'),
      reason: d.optionalString('reason') ?? '',
      policy: d.optionalString('policy') ?? '',
    })),
  };
}

const readBusy = (b: Reader): BusyBlock => ({ start: b.time('start'), end: b.time('end'), type: b.optionalString('type') ?? 'BUSY' });

export function readFreeBusy(json: unknown): FreeBusy {
  const r = new ReaderOf(json, '');
  const calendars = r.object('calendars');
  const out: Record<string, Calendar> = {};
  for (const address of calendars.keys()) {
    const value = calendars.raw(address);
    // An address this porter may not show is `{ "unknown": true }`; a known one is its list of blocks.
    if (Array.isArray(value)) out[address] = { unknown: false, busy: calendars.list(address, readBusy) };
    else if (calendars.object(address).boolean('unknown', false)) out[address] = { unknown: true };
    else {
      const calendar = calendars.object(address);
      const as = calendar.optionalString('as');
      out[address] = { unknown: false, busy: calendar.list('busy', readBusy), ...(as === undefined ? {} : { as }) };
    }
  }
  return { start: r.time('start'), end: r.time('end'), calendars: out };
}

// ---- the routes -----------------------------------------------------------------------------------

/** The API answered with an error status; `message` is its `error` text. */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

async function call<T>(path: string, read: (json: unknown) => T, init: RequestInit = {}): Promise<T> {
  const response = await fetch(path, { ...init, headers: { accept: 'application/json', ...init.headers } });
  const json: unknown = await response.json().catch(() => undefined);
  if (!response.ok) {
    const error = typeof json === 'object' && json !== null && 'error' in json && typeof json.error === 'string' ? json.error : undefined;
    throw new ApiError(error ?? `${path} answered ${response.status}`, response.status);
  }
  return read(json);
}

const post = (body: unknown): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

const query = (params: Record<string, string | undefined>): string => {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined) q.set(key, value);
  const text = q.toString();
  return text ? `?${text}` : '';
};

const BASE = '/api/calendar';
const seg = encodeURIComponent;

export function fetchAgents(signal?: AbortSignal): Promise<Agents> {
  return call(`${BASE}/agents`, readAgents, signal ? { signal } : {});
}

/** A person's week from the Monday `start` (YYYY-MM-DD; this week when absent). */
export function fetchPersonWeek(id: string, start: string | undefined, signal?: AbortSignal): Promise<PersonWeek> {
  return call(`${BASE}/people/${seg(id)}/week${query({ start })}`, readPersonWeek, signal ? { signal } : {});
}

export function answerPending(personId: string, uid: string, body: AnswerBody): Promise<{ sent: boolean; messageId: string }> {
  const wire = {
    answer: body.answer,
    ...(body.counter ? { counter: { start: iso(body.counter.start), end: iso(body.counter.end) } } : {}),
    ...(body.comment ? { comment: body.comment } : {}),
  };
  return call(
    `${BASE}/people/${seg(personId)}/pending/${seg(uid)}`,
    (json) => {
      const r = new ReaderOf(json, '');
      return { sent: r.boolean('sent'), messageId: r.optionalString('messageId') ?? '' };
    },
    post(wire),
  );
}

/** A resource's bookings over [start, end) (this week when absent). */
export function fetchResourceBookings(
  id: string,
  start: number | undefined,
  end: number | undefined,
  signal?: AbortSignal,
): Promise<ResourceBookings> {
  const params = { start: start === undefined ? undefined : iso(start), end: end === undefined ? undefined : iso(end) };
  return call(`${BASE}/resources/${seg(id)}/bookings${query(params)}`, readResourceBookings, signal ? { signal } : {});
}

/** Free/busy of `who`; calendars not shared are filled in with what person `as` knows of them. */
export function fetchFreeBusy(who: readonly string[], start: number, end: number, signal?: AbortSignal, as?: string): Promise<FreeBusy> {
  return call(
    `${BASE}/freebusy${query({ who: who.join(','), start: iso(start), end: iso(end), as })}`,
    readFreeBusy,
    signal ? { signal } : {},
  );
}

export function sendInvitation(invitation: Invitation): Promise<{ uid: string; messageId: string }> {
  const wire = { ...invitation, start: iso(invitation.start), end: iso(invitation.end) };
  return call(
    `${BASE}/invitations`,
    (json) => {
      const r = new ReaderOf(json, '');
      return { uid: r.string('uid'), messageId: r.optionalString('messageId') ?? '' };
    },
    post(wire),
  );
}

/** The public feeds a calendar client subscribes to (text/calendar). */
export const feeds = {
  bookings: (address: string) => `/calendar/bookings/${seg(address)}.ics`,
  freebusy: (address: string) => `/calendar/freebusy/${seg(address)}.ifb`,
};
