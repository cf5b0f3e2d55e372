/**
 * The calendar agents at work: what a person's or a resource's agent does with one scheduling
 * mail (imip-agent's imip_person, imip_person_outgoing and imip_resource), and what a person does
 * through the web page (answer a pending request, send an invitation). Each step returns the
 * mails to send, so the hook sends them and a dry run prints them. Decisions of one resource are
 * made one at a time, and each booking is written only if the resource's version did not move.
 */
import {
  applyAdd,
  applyCancel,
  applyReply,
  busyPeriods,
  CalendarError,
  calendarParts,
  isNewer,
  occurrences,
  parseItip,
  parseObject,
  withPartstat,
  writeCounter,
  writeDeclineCounter,
  writeError,
  writeFreeBusy,
  writeFreeBusyReply,
  writeInvitation,
  writeRefresh,
  writeReply,
  writeRequest,
} from '../../calendar/ical/index.js';
import type {
  Booking,
  BookingIndex,
  BookingRequest,
  BusyPeriod,
  CalendarObject,
  Decision,
  FreeBusyObject,
  ItipMethod,
  PartStat,
  Period,
  RequestStatus,
} from '../../calendar/model.js';
import { decide, MemoryBookingIndex, type PolicyConfig, UnionIndex } from '../../calendar/policy/index.js';
import type { Logger } from '../../core/log.js';
import type { Preferences } from './config.js';
import { type AnswerWord, formatPeriod, reasonIn, texts } from './lang.js';
import { rescheduled } from './reschedule.js';
import { BookingConflict, type CalendarStore, type ObjectRow, type OccurrenceRow, toBooking } from './store.js';
import { DAY } from './time.js';

export interface Agent {
  readonly id: string;
  readonly kind: 'person' | 'resource' | 'pool';
  /** The agent's mail address (its channel's source). */
  readonly address: string;
  readonly name?: string;
  readonly tzid: string;
  readonly prefs: Preferences;
  readonly resourceKind?: 'room' | 'equipment';
  readonly capacity?: number;
  readonly policies: readonly PolicyConfig[];
  /** A pool's member resources, by id. */
  readonly members: readonly string[];
}

/** One mail an agent sends: an iTIP message as the text/calendar part. */
export interface OutgoingPart {
  readonly from: string;
  readonly fromName?: string;
  readonly to: readonly string[];
  readonly subject: string;
  readonly text: string;
  readonly method: string;
  readonly content: string;
  readonly inReplyTo?: string;
  /** More text/calendar parts: the agent's free/busy when it bundles it. */
  readonly attachments?: readonly { readonly filename: string; readonly contentType: string; readonly content: string }[];
}

/** What an agent made of one mail: the mails to send, and for a person what to tell them of it. */
export interface Received {
  readonly parts: OutgoingPart[];
  /** The iTIP method, or `FREEBUSY` for free/busy; undefined when there was nothing to record (no calendar part, refused, not participating). */
  readonly method?: string;
  /** For mail a person received from others: a summary in their language. */
  readonly summary?: { readonly subject: string; readonly text: string };
}

export interface IncomingMail {
  readonly source: Buffer | string;
  /** The first From: address, lower case. */
  readonly sender: string | undefined;
  readonly messageId?: string;
}

/** A resource's bookings as of a store version (see `CalendarAgents.#cached`). */
interface CachedBookings {
  version: number;
  /** What was read: the agent's window when it was read, or more. */
  readonly window: Period;
  readonly bookings: MemoryBookingIndex;
  /** Counter-offers held, expired or not (`LiveHolds` checks the expiry at use). */
  readonly holds: MemoryBookingIndex;
  /** The last free/busy computed from these, valid for its window until a hold in it lapses. */
  busy: { readonly window: Period; readonly until: number; readonly periods: BusyPeriod[] } | undefined;
}

/** A counter-offer held for its organizer until `expires`. */
interface Hold extends Booking {
  readonly expires: number;
}

function toHold(row: OccurrenceRow): Hold {
  return { ...toBooking(row), expires: Number(row.expires) };
}

/** The holds of an index that have not lapsed at `now`. */
class LiveHolds implements BookingIndex {
  constructor(
    private readonly holds: MemoryBookingIndex,
    private readonly now: number,
  ) {}

  overlapping(period: Period, exceptUid?: string): readonly Booking[] {
    return this.holds.overlapping(period, exceptUid).filter((b) => (b as Hold).expires > this.now);
  }

  byOrganizer(organizer: string, period: Period): readonly Booking[] {
    return this.holds.byOrganizer(organizer, period).filter((b) => (b as Hold).expires > this.now);
  }
}

/** A refusal of our own making, with the REQUEST-STATUS to answer. */
export class ItipRefusal extends Error {
  readonly status: RequestStatus;
  constructor(status: RequestStatus, message: string) {
    super(message);
    this.status = status;
  }
}

const ORGANIZER_METHODS = new Set<ItipMethod>(['REQUEST', 'ADD', 'CANCEL', 'PUBLISH', 'DECLINECOUNTER']);
/** Methods whose sender waits for an answer: a failure gets a REQUEST-STATUS reply. */
const ANSWERABLE = new Set(['REQUEST', 'ADD']);
const MAX_BOOKING_TRIES = 20;

const methodLine = (text: string): string | undefined => /^METHOD:([A-Za-z-]+)\s*$/m.exec(text)?.[1]?.toUpperCase();
const uidLine = (text: string): string | undefined => /^UID:(.+?)\s*$/m.exec(text)?.[1];

export class CalendarAgents {
  readonly byId = new Map<string, Agent>();
  readonly byAddress = new Map<string, Agent>();
  readonly store: CalendarStore;
  readonly #log: Logger;
  readonly #windowBack: number;
  readonly #windowAhead: number;
  readonly #maxBytes: number;
  readonly #groups: ReadonlyMap<string, readonly string[]>;
  readonly #chains = new Map<string, Promise<unknown>>();
  /**
   * Each resource's bookings in memory, as of the store version they were read at: a decision
   * then reads one version number, not every occurrence of the window. Another writer (a second
   * porter on the same PostgreSQL) moves the version, and the next decision reads them again.
   */
  readonly #cached = new Map<string, CachedBookings>();
  readonly #now: () => number;

  constructor(o: {
    agents: readonly Agent[];
    store: CalendarStore;
    log: Logger;
    windowBackDays: number;
    windowAheadDays: number;
    maxBytes: number;
    groups?: ReadonlyMap<string, readonly string[]>;
    now?: () => number;
  }) {
    for (const agent of o.agents) {
      this.byId.set(agent.id, agent);
      this.byAddress.set(agent.address, agent);
    }
    this.store = o.store;
    this.#log = o.log;
    this.#windowBack = o.windowBackDays * DAY;
    this.#windowAhead = o.windowAheadDays * DAY;
    this.#maxBytes = o.maxBytes;
    this.#groups = o.groups ?? new Map();
    this.#now = o.now ?? Date.now;
  }

  /** The rolling window recurring series are expanded over. */
  window(now = this.#now()): Period {
    return { start: now - this.#windowBack, end: now + this.#windowAhead };
  }

  /**
   * Reads every resource's and pool's bookings into memory, one after another, so the first
   * decision and the first free/busy after a start do not pay for it. Never rejects.
   */
  async warm(): Promise<void> {
    for (const agent of this.byId.values()) {
      if (agent.kind === 'person') continue;
      try {
        await this.#serial(agent.id, () => this.#cachedBookings(agent, this.window()));
      } catch (error) {
        this.#log.warn({ err: error, agent: agent.id }, 'cannot read the bookings ahead; the first decision will');
      }
    }
  }

  /** The window free/busy is published for: whole UTC days, so it reads well and is computed once a day, not per request. */
  publishedWindow(now = this.#now()): Period {
    const { start, end } = this.window(now);
    return { start: Math.floor(start / DAY) * DAY, end: Math.ceil(end / DAY) * DAY };
  }

  /** What `agent` does with one mail; never throws for bad input (it is logged and, where allowed, answered). */
  async handle(agent: Agent, mail: IncomingMail): Promise<OutgoingPart[]> {
    return (await this.receive(agent, mail)).parts;
  }

  /** As `handle`, with what the mail was, so the person's copy of it can be passed on as they prefer. */
  async receive(agent: Agent, mail: IncomingMail): Promise<Received> {
    if (!agent.prefs.participating) return { parts: [] };
    let parts: { method?: string; text: string }[];
    try {
      parts = await calendarParts(mail.source, { maxBytes: this.#maxBytes });
    } catch (error) {
      return { parts: this.#failed(agent, mail, error, undefined) };
    }
    const part = parts[0];
    if (!part) {
      this.#log.debug({ agent: agent.id, sender: mail.sender, messageId: mail.messageId }, 'no calendar part in the mail');
      return { parts: [] };
    }
    let itip: ReturnType<typeof parseItip>;
    try {
      itip = parseItip(part.text);
      const said = part.method?.toUpperCase();
      if (said && said !== itip.method)
        throw new ItipRefusal(
          { code: '3.1', text: 'Invalid property value' },
          `the part says method=${said} but the calendar says METHOD:${itip.method}`,
        );
      this.#checkSender(agent, itip, mail.sender);
    } catch (error) {
      return { parts: this.#failed(agent, mail, error, part.text) };
    }
    this.#log.info(
      { agent: agent.id, sender: mail.sender, method: itip.method, uids: itip.objects.map((o) => o.uid), messageId: mail.messageId },
      `calendar ${itip.method} for ${agent.id}`,
    );
    const own = agent.kind === 'person' && mail.sender === agent.address;
    const summary = agent.kind === 'person' && !own ? this.#summary(agent, itip, mail.sender ?? '') : undefined;
    try {
      let out: OutgoingPart[];
      if (itip.freebusy) {
        // The person's own free/busy mail (a copy of what they sent) is not theirs to answer.
        out = own ? [] : await this.#freebusy(agent, itip.method, itip.freebusy, mail.sender);
      } else if (agent.kind !== 'person') out = await this.#resource(agent, itip.method, itip.objects, mail.sender);
      // A person's mail is also taken one at a time, so a REPLY cannot overtake the REQUEST it answers.
      else if (own) out = await this.#serial(agent.id, () => this.#personOutgoing(agent, itip.method, itip.objects));
      else out = await this.#serial(agent.id, () => this.#personIncoming(agent, itip.method, itip.objects, mail.sender));
      return { parts: await this.bundle(agent, out), method: itip.freebusy ? 'FREEBUSY' : itip.method, summary };
    } catch (error) {
      return { parts: this.#failed(agent, mail, error, part.text) };
    }
  }

  /** What a person is told of a scheduling mail they received, in their language. */
  #summary(agent: Agent, itip: ReturnType<typeof parseItip>, sender: string): { subject: string; text: string } {
    const t = texts(agent.prefs.LANG);
    if (itip.freebusy) return { subject: t.summarySubject('FREEBUSY', ''), text: `${t.summary('FREEBUSY', sender, '', '')}\n` };
    const window = this.window();
    const lines = itip.objects.map((object) => {
      const first = occurrences(object, window)[0];
      const when = first ? formatPeriod(agent.prefs.LANG, agent.tzid, first.start, first.end) : '';
      return t.summary(itip.method, sender, object.summary ?? object.uid, when);
    });
    const title = itip.objects[0]?.summary ?? itip.objects[0]?.uid ?? '';
    return { subject: t.summarySubject(itip.method, title), text: `${lines.join('\n')}\n\n${t.summaryFooter}\n` };
  }

  /**
   * The parts with the agent's free/busy attached (a VFREEBUSY PUBLISH over the published window)
   * when it bundles free/busy (imip-agent's `freebusy_bundling`), so correspondents learn its
   * busy time with every message.
   */
  async bundle(agent: Agent, parts: OutgoingPart[]): Promise<OutgoingPart[]> {
    if (parts.length === 0 || agent.prefs.freebusy_bundling !== 'always' || !agent.prefs.freebusy_sharing) return parts;
    const window = this.publishedWindow();
    const content = writeFreeBusy({ owner: agent.address, name: agent.name, window, busy: await this.busy(agent, window) });
    return parts.map((p) => ({
      ...p,
      attachments: [
        ...(p.attachments ?? []),
        { filename: 'freebusy.ifb', contentType: 'text/calendar; method=PUBLISH; charset=utf-8', content },
      ],
    }));
  }

  /** The roles RFC 5546 gives each method: an attendee replies for itself, the organizer sends the rest. */
  #checkSender(agent: Agent, itip: ReturnType<typeof parseItip>, sender: string | undefined): void {
    if (!sender) throw new ItipRefusal({ code: '3.7', text: 'Invalid calendar user' }, 'the mail has no sender');
    if (agent.kind === 'person' && sender === agent.address) return;
    for (const object of itip.objects) {
      if (ORGANIZER_METHODS.has(itip.method) && itip.method !== 'REQUEST' && object.organizer !== sender)
        throw new ItipRefusal(
          { code: '3.7', text: 'Invalid calendar user' },
          `${itip.method} for ${object.uid} comes from ${sender}, not from its organizer ${object.organizer ?? '(none)'}`,
        );
      if (
        (itip.method === 'REPLY' || itip.method === 'COUNTER' || itip.method === 'REFRESH') &&
        !object.attendees.some((a) => a.address === sender)
      )
        throw new ItipRefusal(
          { code: '3.7', text: 'Invalid calendar user' },
          `${itip.method} for ${object.uid} comes from ${sender}, who is not the attendee it names (${object.attendees.map((a) => a.address).join(', ') || 'none'})`,
        );
    }
  }

  /** Logs a message that failed; answers with a REQUEST-STATUS when its sender waits for an answer. Nothing is stored. */
  #failed(agent: Agent, mail: IncomingMail, error: unknown, text: string | undefined): OutgoingPart[] {
    if (!(error instanceof CalendarError) && !(error instanceof ItipRefusal)) {
      this.#log.error({ err: error, agent: agent.id, sender: mail.sender, messageId: mail.messageId }, 'cannot handle a calendar message');
      return [];
    }
    const status = error.status;
    const method = text ? methodLine(text) : undefined;
    const uid = text ? uidLine(text) : undefined;
    this.#log.warn(
      { agent: agent.id, sender: mail.sender, messageId: mail.messageId, method, uid, status: `${status.code} ${status.text}` },
      `calendar message refused: ${error.message}`,
    );
    if (!mail.sender || mail.sender === agent.address || !method || !ANSWERABLE.has(method)) return [];
    const content = writeError({ uid, organizer: mail.sender, attendee: agent.address, status, method: method as ItipMethod });
    return [
      this.#part(
        agent,
        [mail.sender],
        'REPLY',
        content,
        `${texts(agent.prefs.LANG).notUnderstood}: ${status.code} ${status.text}`,
        `${error.message}\n`,
        mail.messageId,
      ),
    ];
  }

  #part(
    agent: Agent,
    to: readonly string[],
    method: string,
    content: string,
    subject: string,
    text: string,
    inReplyTo?: string,
  ): OutgoingPart {
    return { from: agent.address, fromName: agent.name, to, method, content, subject, text, inReplyTo };
  }

  // ---- People ---------------------------------------------------------------------------

  async #personIncoming(
    agent: Agent,
    method: ItipMethod,
    objects: readonly CalendarObject[],
    sender: string | undefined,
  ): Promise<OutgoingPart[]> {
    const out: OutgoingPart[] = [];
    for (const object of objects) {
      const row = await this.store.object(agent.id, object.uid);
      const stored = row ? parseObject(row.ics) : undefined;
      switch (method) {
        case 'REQUEST':
        case 'PUBLISH': {
          if (stored && !isNewer(object, stored)) {
            this.#ignoreOlder(agent, method, object);
            continue;
          }
          this.#checkOrganizer(agent, object, stored);
          const mine = object.attendees.find((a) => a.address === agent.address);
          await this.#putObject(agent, object, mine?.partstat ?? '');
          if (method === 'REQUEST') await this.#putPending(agent, 'REQUEST', object, object.organizer ?? sender ?? '');
          break;
        }
        case 'REPLY': {
          if (!stored) {
            this.#log.info({ agent: agent.id, uid: object.uid }, 'REPLY for an unknown event: ignored');
            continue;
          }
          if (object.sequence < stored.sequence) {
            this.#ignoreOlder(agent, method, object);
            continue;
          }
          await this.#putObject(agent, applyReply(stored, object), row?.partstat ?? '');
          break;
        }
        case 'CANCEL': {
          if (!stored) continue;
          const left = applyCancel(stored, object);
          if (left) await this.#putObject(agent, left, row?.partstat ?? '');
          else await this.store.deleteObject(agent.id, object.uid);
          if (!left) this.#log.info({ agent: agent.id, uid: object.uid }, 'event cancelled');
          break;
        }
        case 'ADD': {
          if (stored) {
            await this.#putObject(agent, applyAdd(stored, object), row?.partstat ?? '');
            await this.#putPending(agent, 'ADD', applyAdd(stored, object), object.organizer ?? sender ?? '');
          } else out.push(...this.#unknownAdd(agent, object));
          break;
        }
        case 'REFRESH':
          // Only the organizer's copy is the event as it stands.
          if (stored && stored.organizer === agent.address) out.push(...this.#refresh(agent, stored, sender));
          break;
        case 'COUNTER':
          await this.#putPending(agent, 'COUNTER', object, sender ?? '');
          break;
        case 'DECLINECOUNTER':
          this.#log.info({ agent: agent.id, uid: object.uid, organizer: object.organizer }, 'the organizer declined a counter-proposal');
          await this.store.deletePending(agent.id, object.uid);
          break;
      }
    }
    return out;
  }

  /** What the person sent themselves (their own invitations, replies, cancellations): recorded, never answered. */
  async #personOutgoing(agent: Agent, method: ItipMethod, objects: readonly CalendarObject[]): Promise<OutgoingPart[]> {
    for (const object of objects) {
      const row = await this.store.object(agent.id, object.uid);
      const stored = row ? parseObject(row.ics) : undefined;
      switch (method) {
        case 'REQUEST':
        case 'PUBLISH':
          if (stored && !isNewer(object, stored)) this.#ignoreOlder(agent, method, object);
          else await this.#putObject(agent, object, '');
          break;
        case 'REPLY': {
          const mine = object.attendees.find((a) => a.address === agent.address);
          if (!mine) break;
          const base = stored ?? object;
          await this.#putObject(agent, withPartstat(base, agent.address, mine.partstat), mine.partstat);
          await this.store.deletePending(agent.id, object.uid);
          break;
        }
        case 'CANCEL': {
          if (!stored) break;
          const left = applyCancel(stored, object);
          if (left) await this.#putObject(agent, left, row?.partstat ?? '');
          else await this.store.deleteObject(agent.id, object.uid);
          break;
        }
        case 'ADD':
          if (stored) await this.#putObject(agent, applyAdd(stored, object), row?.partstat ?? '');
          break;
        case 'COUNTER':
          await this.store.deletePending(agent.id, object.uid);
          break;
        default:
          break;
      }
    }
    return [];
  }

  /**
   * A REQUEST that gives a stored event another ORGANIZER is allowed by `organiser_replacement`:
   * `any`, `attendee` (the new organizer was one of the event's attendees: the meeting was handed
   * over) or `never`.
   */
  #checkOrganizer(agent: Agent, object: CalendarObject, stored: CalendarObject | undefined): void {
    if (!stored?.organizer || !object.organizer || stored.organizer === object.organizer) return;
    const rule = agent.prefs.organiser_replacement;
    if (rule === 'any' || (rule === 'attendee' && stored.attendees.some((a) => a.address === object.organizer))) {
      this.#log.info({ agent: agent.id, uid: object.uid, from: stored.organizer, to: object.organizer }, 'the event has a new organizer');
      return;
    }
    throw new ItipRefusal(
      { code: '3.7', text: 'Invalid calendar user' },
      `${object.organizer} may not replace ${stored.organizer} as the organizer of ${object.uid} (organiser_replacement: ${rule})`,
    );
  }

  #ignoreOlder(agent: Agent, method: string, object: CalendarObject): void {
    this.#log.info({ agent: agent.id, uid: object.uid, sequence: object.sequence }, `an older ${method} than the stored event: ignored`);
  }

  async #putObject(agent: Agent, object: CalendarObject, partstat: string): Promise<void> {
    await this.store.putObject(this.#objectRow(agent, object, partstat));
  }

  async #putPending(agent: Agent, method: string, object: CalendarObject, sender: string): Promise<void> {
    const first = occurrences(object, { start: this.#now() - this.#windowBack, end: this.#now() + this.#windowAhead })[0];
    await this.store.putPending({
      agent: agent.id,
      uid: object.uid,
      method,
      sender,
      summary: object.summary ?? '',
      start: first?.start ?? 0,
      end: first?.end ?? 0,
      sequence: object.sequence,
      recurring: object.recurring ? 1 : 0,
      received: this.#now(),
      ics: object.ics,
    });
  }

  #unknownAdd(agent: Agent, object: CalendarObject): OutgoingPart[] {
    if (agent.prefs.add_method_response !== 'refresh' || !object.organizer) return [];
    const content = writeRefresh({ object, attendee: agent.address });
    return [
      this.#part(
        agent,
        [object.organizer],
        'REFRESH',
        content,
        `${texts(agent.prefs.LANG).refresh}: ${object.summary ?? object.uid}`,
        `${texts(agent.prefs.LANG).refreshText}\n`,
      ),
    ];
  }

  #refresh(agent: Agent, stored: CalendarObject, sender: string | undefined): OutgoingPart[] {
    if (agent.prefs.event_refreshing !== 'always' || !sender) return [];
    const content = writeRequest(stored, 'REQUEST');
    return [this.#part(agent, [sender], 'REQUEST', content, stored.summary ?? stored.uid, `${texts(agent.prefs.LANG).asItStands}\n`)];
  }

  /** The person's busy time: every stored event they did not decline. */
  async busy(agent: Agent, window: Period): Promise<BusyPeriod[]> {
    if (agent.kind !== 'person') {
      const cached = await this.#cachedBookings(agent, window);
      const now = this.#now();
      // Kept until the bookings change, the window moves or a hold in it lapses.
      const valid = cached.busy?.window.start === window.start && cached.busy.window.end === window.end && now < cached.busy.until;
      if (cached.busy && valid) return cached.busy.periods;
      const holds = new LiveHolds(cached.holds, now).overlapping(window) as readonly Hold[];
      const clip = (b: { start: number; end: number; type: string }): BusyPeriod => ({
        start: Math.max(Number(b.start), window.start),
        end: Math.min(Number(b.end), window.end),
        type: b.type as BusyPeriod['type'],
      });
      const periods = mergeBusy([...cached.bookings.overlapping(window).map(clip), ...holds.map(clip)]);
      const until = holds.reduce((soonest, h) => Math.min(soonest, h.expires), Number.POSITIVE_INFINITY);
      cached.busy = { window, until, periods };
      return periods;
    }
    const rows = await this.store.objects(agent.id);
    const objects = rows.filter((r) => r.partstat !== 'DECLINED').map((r) => parseObject(r.ics));
    return busyPeriods(objects, window);
  }

  /**
   * Another calendar user's busy time as `agent` (a person) knows it from the mail it received
   * (imip-agent's free/busy of others): the events that user organizes and invited the person to
   * count as busy for them (a CANCEL takes them away with the event or its dates), and the last
   * VFREEBUSY REPLY or PUBLISH they sent is added over its own span. Undefined when the person's
   * agent knows nothing of `address`.
   */
  async othersBusy(agent: Agent, address: string, window: Period): Promise<BusyPeriod[] | undefined> {
    if (agent.kind !== 'person' || address === agent.address) return undefined;
    const rows = (await this.store.objects(agent.id)).filter((r) => r.organizer === address);
    const received = await this.store.freeBusyOf(agent.id, address);
    if (rows.length === 0 && !received) return undefined;
    const fromEvents = busyPeriods(
      rows.map((r) => parseObject(r.ics)),
      window,
    );
    const fromFreeBusy = (received?.busy ?? [])
      .filter((b) => b.end > window.start && b.start < window.end)
      .map((b) => ({ start: Math.max(b.start, window.start), end: Math.min(b.end, window.end), type: b.type }));
    return mergeBusy([...fromEvents, ...fromFreeBusy]);
  }

  // ---- Free/busy --------------------------------------------------------------------------

  async #freebusy(agent: Agent, method: ItipMethod, fb: FreeBusyObject, sender: string | undefined): Promise<OutgoingPart[]> {
    if (method === 'REQUEST') {
      if (!agent.prefs.freebusy_sharing) {
        this.#log.info({ agent: agent.id, sender }, 'free/busy request not answered: freebusy_sharing is off');
        return [];
      }
      const to = fb.organizer ?? sender;
      if (!to) return [];
      const busy = await this.busy(agent, { start: fb.start, end: fb.end });
      const content = writeFreeBusyReply({ request: fb, attendee: agent.address, busy });
      const t = texts(agent.prefs.LANG);
      return [this.#part(agent, [to], 'REPLY', content, t.freebusyOf(agent.name ?? agent.address), `${t.freebusyText}\n`)];
    }
    if (agent.kind === 'person') {
      const whose = method === 'REPLY' ? (fb.attendees[0] ?? sender) : (fb.organizer ?? sender);
      if (whose) await this.store.putFreeBusy(agent.id, whose, fb.start, fb.end, fb.busy);
    }
    return [];
  }

  // ---- Resources and pools -------------------------------------------------------------

  async #resource(
    agent: Agent,
    method: ItipMethod,
    objects: readonly CalendarObject[],
    sender: string | undefined,
  ): Promise<OutgoingPart[]> {
    const out: OutgoingPart[] = [];
    for (const object of objects) {
      out.push(...(await this.#serial(agent.id, () => this.#resourceOne(agent, method, object, sender))));
    }
    return out;
  }

  /** Runs `task` after every earlier task of `key`: one decision at a time per resource. */
  #serial<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#chains.get(key) ?? Promise.resolve();
    const next = previous.then(task, task);
    const settled = next.catch(() => undefined);
    this.#chains.set(key, settled);
    void settled.then(() => {
      if (this.#chains.get(key) === settled) this.#chains.delete(key);
    });
    return next;
  }

  async #resourceOne(agent: Agent, method: ItipMethod, object: CalendarObject, sender: string | undefined): Promise<OutgoingPart[]> {
    const row = await this.store.object(agent.id, object.uid);
    const stored = row ? parseObject(row.ics) : undefined;
    if ((method === 'REQUEST' || method === 'ADD') && !object.attendees.some((a) => a.address === agent.address))
      throw new ItipRefusal({ code: '3.7', text: 'Invalid calendar user' }, `${agent.address} is not an attendee of ${object.uid}`);
    switch (method) {
      case 'REQUEST':
        if (stored && !isNewer(object, stored)) {
          this.#ignoreOlder(agent, method, object);
          return [];
        }
        this.#checkOrganizer(agent, object, stored);
        if (object.status === 'CANCELLED') return this.#resourceCancel(agent, object, stored);
        return this.#decideAndBook(agent, object);
      case 'ADD':
        if (!stored) return this.#unknownAdd(agent, object);
        return this.#decideAndBook(agent, applyAdd(stored, object));
      case 'CANCEL':
        return stored ? this.#resourceCancel(agent, object, stored) : [];
      case 'REFRESH':
        return stored ? this.#refresh(agent, stored, sender) : [];
      case 'DECLINECOUNTER':
        if (stored && row?.partstat === 'NEEDS-ACTION') await this.#rebook(agent, object.uid, [], undefined);
        this.#log.info({ agent: agent.id, uid: object.uid }, 'counter-proposal declined: the held slot is free again');
        return [];
      default:
        this.#log.info({ agent: agent.id, uid: object.uid }, `${method} means nothing to a resource: ignored`);
        return [];
    }
  }

  async #resourceCancel(agent: Agent, cancel: CalendarObject, stored: CalendarObject | undefined): Promise<OutgoingPart[]> {
    if (!stored) return [];
    const left = applyCancel(stored, cancel);
    if (!left) {
      await this.#rebook(agent, cancel.uid, [], undefined, true);
      this.#log.info({ agent: agent.id, uid: cancel.uid }, 'booking cancelled');
      return [];
    }
    const rows = await this.store.occurrences(agent.id, -8.64e15, 8.64e15);
    const kept = new Set(rows.filter((r) => r.uid === cancel.uid).map((r) => Number(r.recurrence)));
    const remaining = occurrences(left, this.window()).filter((o) => kept.has(o.recurrenceId ?? 0));
    const type = rows.find((r) => r.uid === cancel.uid)?.type ?? 'BUSY';
    const occurrenceRows = remaining.map((o) => this.#row(agent, left, o, type, null));
    const partstat = (await this.store.object(agent.id, cancel.uid))?.partstat ?? '';
    await this.#rebook(agent, cancel.uid, occurrenceRows, this.#objectRow(agent, left, partstat));
    return [];
  }

  /** Replaces a UID's occurrences without a decision (cancellations), retried if another writer came first. */
  async #rebook(
    agent: Agent,
    uid: string,
    rows: readonly OccurrenceRow[],
    object: ObjectRow | undefined,
    deleteObject = false,
  ): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const version = await this.store.version(agent.id);
      try {
        await this.store.book({ agent: agent.id, version, uid, occurrences: rows, object, deleteObject });
        this.#booked(agent, version, uid, rows);
        return;
      } catch (error) {
        if (!(error instanceof BookingConflict) || attempt >= MAX_BOOKING_TRIES) throw error;
      }
    }
  }

  #objectRow(agent: Agent, object: CalendarObject, partstat: string): ObjectRow {
    return {
      agent: agent.id,
      uid: object.uid,
      sequence: object.sequence,
      dtstamp: object.dtstamp,
      organizer: object.organizer ?? '',
      summary: object.summary ?? '',
      partstat,
      ics: object.ics,
      updated: this.#now(),
    };
  }

  #row(agent: Agent, object: CalendarObject, o: Period & { recurrenceId?: number }, type: string, expires: number | null): OccurrenceRow {
    return {
      agent: agent.id,
      uid: object.uid,
      recurrence: o.recurrenceId ?? 0,
      start: o.start,
      end: o.end,
      organizer: object.organizer ?? '',
      summary: object.summary ?? '',
      type,
      expires,
    };
  }

  /** The bookings index of a resource as they stand, without `exceptUid`. */
  /** A resource's bookings and live holds overlapping `window`, from memory while the store's version has not moved. */
  async #index(agent: Agent, window: Period, version?: number): Promise<BookingIndex> {
    const cached = await this.#cachedBookings(agent, window, version);
    return cached.holds.size === 0 ? cached.bookings : new UnionIndex([cached.bookings, new LiveHolds(cached.holds, this.#now())]);
  }

  async #cachedBookings(agent: Agent, window: Period, version?: number): Promise<CachedBookings> {
    const current = version ?? (await this.store.version(agent.id));
    const cached = this.#cached.get(agent.id);
    if (cached && cached.version === current && cached.window.start <= window.start && cached.window.end >= window.end) return cached;
    // Read the whole window the agent works in (or more, if asked), holds expired or not: a
    // hold's expiry is checked when it is used.
    // A day more on each side: the agent's window moves with the clock, and without the margin
    // the next decision's window would end a few milliseconds past what was read.
    const whole = this.window(this.#now());
    const span = { start: Math.min(whole.start, window.start) - DAY, end: Math.max(whole.end, window.end) + DAY };
    const rows = await this.store.occurrences(agent.id, span.start, span.end, 0);
    const fresh: CachedBookings = {
      version: current,
      window: span,
      bookings: new MemoryBookingIndex(rows.filter((r) => r.expires === null).map(toBooking)),
      holds: new MemoryBookingIndex(rows.filter((r) => r.expires !== null).map(toHold)),
      busy: undefined,
    };
    this.#cached.set(agent.id, fresh);
    return fresh;
  }

  /** After this agent booked at `version` (now `version + 1`), the cache follows without reading the store again. */
  #booked(agent: Agent, version: number, uid: string, rows: readonly OccurrenceRow[]): void {
    const cached = this.#cached.get(agent.id);
    if (!cached || cached.version !== version) {
      this.#cached.delete(agent.id);
      return;
    }
    const inside = rows.filter((r) => Number(r.end) > cached.window.start && Number(r.start) < cached.window.end);
    cached.bookings.replaceUid(uid, inside.filter((r) => r.expires === null).map(toBooking));
    cached.holds.replaceUid(uid, inside.filter((r) => r.expires !== null).map(toHold));
    cached.version = version + 1;
    cached.busy = undefined;
  }

  /**
   * Runs the policies on a request and books the outcome; if another writer booked in between
   * (the version moved), decides again on the new bookings.
   */
  async #decideAndBook(agent: Agent, object: CalendarObject): Promise<OutgoingPart[]> {
    const organizer = object.organizer;
    if (!organizer) return [];
    for (let attempt = 0; ; attempt++) {
      const now = this.#now();
      const window = this.window(now);
      const request: BookingRequest = {
        uid: object.uid,
        sequence: object.sequence,
        organizer,
        summary: object.summary,
        recurring: object.recurring,
        occurrences: occurrences(object, window),
        now,
      };
      const version = await this.store.version(agent.id);
      const decision = await this.#decide(agent, request, window, version);
      const { rows, partstat } = this.#outcome(agent, object, request, decision, now);
      const answer = this.#answer(agent, object, organizer, decision);
      try {
        await this.store.book({
          agent: agent.id,
          version,
          uid: object.uid,
          occurrences: rows,
          object: this.#objectRow(agent, object, partstat),
          decision: {
            agent: agent.id,
            at: now,
            uid: object.uid,
            organizer,
            summary: object.summary ?? '',
            outcome: decision.outcome,
            reason: decision.reason,
            policy: decision.policy,
          },
        });
      } catch (error) {
        if (error instanceof BookingConflict && attempt < MAX_BOOKING_TRIES) continue;
        throw error;
      }
      this.#booked(agent, version, object.uid, rows);
      this.#log.info({ agent: agent.id, uid: object.uid, organizer, outcome: decision.outcome, policy: decision.policy }, decision.reason);
      if (decision.outcome === 'DELEGATED' && decision.delegateTo)
        return [answer, ...(await this.#delegate(agent, object, decision.delegateTo))];
      return [answer];
    }
  }

  async #decide(agent: Agent, request: BookingRequest, whole: Period, version: number): Promise<Decision> {
    const window = relevant(request, whole, [agent.policies, ...agent.members.map((id) => this.byId.get(id)?.policies ?? [])].flat());
    // The policies leave the request's own UID out themselves (a new version of a booking does not clash with the old).
    const bookings = await this.#index(agent, window, version);
    const ctx = {
      policies: agent.policies,
      bookings,
      resource: { address: agent.address, tzid: agent.tzid, name: agent.name },
      groups: this.#groups,
    };
    if (agent.kind !== 'pool') return decide(request, ctx);
    const members = [];
    for (const id of agent.members) {
      const member = this.byId.get(id);
      if (!member) continue;
      members.push({
        address: member.address,
        bookings: await this.#index(member, window),
        policies: member.policies,
        tzid: member.tzid,
      });
    }
    return decide(request, { ...ctx, pool: { members } });
  }

  #outcome(
    agent: Agent,
    object: CalendarObject,
    request: BookingRequest,
    decision: Decision,
    now: number,
  ): { rows: OccurrenceRow[]; partstat: string } {
    // Dates a policy declined are left out of an acceptance, tentative or not (say, `recurring`
    // declined two dates and `approval` then made the rest wait for a delegate).
    const declined = new Set(decision.declinedInstances ?? []);
    const kept = () => request.occurrences.filter((o) => !declined.has(o.recurrenceId ?? o.start));
    switch (decision.outcome) {
      case 'ACCEPTED':
        return { rows: kept().map((o) => this.#row(agent, object, o, 'BUSY', null)), partstat: 'ACCEPTED' };
      case 'TENTATIVE':
        return { rows: kept().map((o) => this.#row(agent, object, o, 'BUSY-TENTATIVE', null)), partstat: 'TENTATIVE' };
      case 'COUNTER': {
        // The proposed slot is held for the organizer, so no one else takes it meanwhile.
        const held = decision.counter
          ? [this.#row(agent, object, decision.counter, 'BUSY-TENTATIVE', now + agent.prefs.freebusy_offers * 1000)]
          : [];
        return { rows: held, partstat: 'NEEDS-ACTION' };
      }
      case 'DELEGATED':
        return { rows: [], partstat: 'DELEGATED' };
      default:
        return { rows: [], partstat: 'DECLINED' };
    }
  }

  /** The agent's answer to the organizer, written before anything is stored, so a reply that cannot be written stores nothing. */
  #answer(agent: Agent, object: CalendarObject, organizer: string, decision: Decision): OutgoingPart {
    const title = object.summary ?? object.uid;
    const who = agent.name ?? agent.address;
    const t = texts(agent.prefs.LANG);
    // The decision is recorded with the policy's own (English) reason; the organizer reads it in the agent's language.
    const reason = reasonIn(agent.prefs.LANG, decision, who, agent.tzid);
    if (decision.outcome === 'COUNTER' && decision.counter) {
      const content = writeCounter({ object, attendee: agent.address, period: decision.counter, comment: reason });
      return this.#part(agent, [organizer], 'COUNTER', content, `${t.proposed}: ${title}`, `${who}: ${reason}\n`);
    }
    const partstat: PartStat =
      decision.outcome === 'ACCEPTED' || decision.outcome === 'TENTATIVE' || decision.outcome === 'DELEGATED'
        ? decision.outcome
        : 'DECLINED';
    const content = writeReply({
      object,
      attendee: agent.address,
      partstat,
      comment: reason,
      ...((decision.outcome === 'ACCEPTED' || decision.outcome === 'TENTATIVE') && decision.declinedInstances
        ? { declinedInstances: decision.declinedInstances }
        : {}),
    });
    const word = t.answer[partstat as AnswerWord] ?? t.answer.DECLINED;
    return this.#part(agent, [organizer], 'REPLY', content, `${word}: ${title}`, `${who}: ${reason}\n`);
  }

  /** A pool's booking passed on: a member hosted here decides at once and answers as itself; another gets the request. */
  async #delegate(agent: Agent, object: CalendarObject, to: string): Promise<OutgoingPart[]> {
    const member = this.byAddress.get(to);
    if (member?.kind === 'resource') return this.#serial(member.id, () => this.#decideAndBook(member, object));
    return [
      this.#part(
        agent,
        [to],
        'REQUEST',
        writeRequest(object, 'REQUEST'),
        object.summary ?? object.uid,
        `${texts(agent.prefs.LANG).passedOnBy(agent.name ?? agent.address)}\n`,
      ),
    ];
  }

  // ---- What a person does on the web page --------------------------------------------------

  /**
   * Answers a pending request as the person: the reply to send; the event leaves the pending list.
   * A counter-proposal the person received as organizer is taken (`ACCEPTED`: the event moves to
   * the proposed time and goes to every attendee as a REQUEST with a higher SEQUENCE) or turned
   * down (`DECLINED`: a DECLINECOUNTER to the attendee who proposed it).
   */
  async answer(
    agent: Agent,
    uid: string,
    answer: 'ACCEPTED' | 'DECLINED' | 'TENTATIVE' | 'COUNTER',
    o: { counter?: Period; comment?: string },
  ): Promise<OutgoingPart> {
    const pending = await this.store.pendingOne(agent.id, uid);
    if (!pending) throw new AnswerError(404, `no pending request with uid "${uid}"`);
    const object = parseObject(pending.ics);
    const organizer = object.organizer ?? pending.sender;
    const title = object.summary ?? uid;
    const t = texts(agent.prefs.LANG);
    let part: OutgoingPart;
    if (pending.method === 'COUNTER') {
      if (answer === 'ACCEPTED') part = await this.#takeCounter(agent, object, o.comment);
      else if (answer === 'DECLINED') {
        const content = writeDeclineCounter({ object, attendee: pending.sender, comment: o.comment });
        part = this.#part(
          agent,
          [pending.sender],
          'DECLINECOUNTER',
          content,
          `${t.proposalDeclined}: ${title}`,
          `${o.comment ?? t.proposalDeclined}\n`,
        );
      } else throw new AnswerError(409, `answer: a counter-proposal is ACCEPTED or DECLINED, not ${answer}`);
    } else if (answer === 'COUNTER') {
      if (!o.counter) throw new AnswerError(400, 'counter: needed with answer COUNTER');
      const content = writeCounter({ object, attendee: agent.address, period: o.counter, comment: o.comment });
      part = this.#part(agent, [organizer], 'COUNTER', content, `${t.proposed}: ${title}`, `${o.comment ?? t.anotherTime}\n`);
    } else {
      const content = writeReply({ object, attendee: agent.address, partstat: answer, comment: o.comment });
      const stored = await this.store.object(agent.id, uid);
      await this.#putObject(agent, withPartstat(stored ? parseObject(stored.ics) : object, agent.address, answer), answer);
      const word = t.answer[answer];
      part = this.#part(agent, [organizer], 'REPLY', content, `${word}: ${title}`, `${o.comment ?? `${word}.`}\n`);
    }
    await this.store.deletePending(agent.id, uid);
    return (await this.bundle(agent, [part]))[0] as OutgoingPart;
  }

  /** The person's event moved to the time an attendee proposed: stored, and the new REQUEST to every attendee. */
  async #takeCounter(agent: Agent, counter: CalendarObject, comment: string | undefined): Promise<OutgoingPart> {
    const row = await this.store.object(agent.id, counter.uid);
    const stored = row ? parseObject(row.ics) : undefined;
    if (!stored || stored.organizer !== agent.address)
      throw new AnswerError(409, `uid: ${counter.uid} is not an event ${agent.address} organizes here, so it cannot be moved`);
    if (counter.instances.length > 0 && !counter.recurring && stored.recurring)
      throw new AnswerError(409, 'answer: a proposal for one date of a series is taken by inviting to that date again');
    const proposed = occurrences(counter, { start: -8.64e15, end: 8.64e15 })[0];
    if (!proposed) throw new AnswerError(409, 'answer: the counter-proposal names no time');
    const { text, object } = rescheduled(stored, proposed, agent.address);
    await this.#putObject(agent, object, row?.partstat ?? '');
    const to = object.attendees.map((a) => a.address).filter((a) => a !== agent.address);
    const title = object.summary ?? object.uid;
    const t = texts(agent.prefs.LANG);
    const when = formatPeriod(agent.prefs.LANG, agent.tzid, proposed.start, proposed.end);
    return this.#part(
      agent,
      to,
      'REQUEST',
      text,
      `${t.newTime}: ${title}`,
      `${comment ?? t.invites(agent.name ?? agent.address, `${title} (${when})`)}\n`,
    );
  }

  /** A new event organized by the person: the invitation to send, and the event in their schedule. */
  async invite(
    agent: Agent,
    o: { summary: string; start: number; end: number; attendees: readonly string[] },
  ): Promise<{ uid: string; part: OutgoingPart }> {
    const { text, object } = writeInvitation({
      organizer: agent.address,
      organizerName: agent.name,
      attendees: o.attendees.map((address) => {
        const hosted = this.byAddress.get(address);
        const cutype = hosted?.kind === 'person' || !hosted ? undefined : hosted.resourceKind === 'equipment' ? 'RESOURCE' : 'ROOM';
        return { address, name: hosted?.name, cutype };
      }),
      summary: o.summary,
      start: o.start,
      end: o.end,
      tzid: agent.tzid,
    });
    await this.#putObject(agent, object, '');
    return {
      uid: object.uid,
      part: (
        await this.bundle(agent, [
          this.#part(
            agent,
            o.attendees,
            'REQUEST',
            text,
            o.summary,
            `${texts(agent.prefs.LANG).invites(agent.name ?? agent.address, o.summary)}\n`,
          ),
        ])
      )[0] as OutgoingPart,
    };
  }
}

/**
 * The bookings a decision can look at: the request's dates, a month either side for quotas by
 * day, week or month, and as far as any policy looks for a free slot. Reading only these
 * keeps a decision as fast with a year of bookings as with a week's.
 */
function relevant(request: BookingRequest, whole: Period, policies: readonly PolicyConfig[]): Period {
  if (request.occurrences.length === 0) return whole;
  let start = Number.POSITIVE_INFINITY;
  let end = Number.NEGATIVE_INFINITY;
  for (const o of request.occurrences) {
    start = Math.min(start, o.start);
    end = Math.max(end, o.end);
  }
  const horizon = Math.max(0, ...policies.map((p) => ('horizon' in p && typeof p.horizon === 'number' ? p.horizon : 0)));
  return { start: Math.max(whole.start, start - (32 + horizon) * DAY), end: Math.min(whole.end, end + (32 + horizon) * DAY) };
}

/** A request of the web page that cannot be done, with the HTTP status to answer. */
export class AnswerError extends Error {
  readonly statusCode: number;
  constructor(statusCode: number, message: string) {
    super(message);
    this.statusCode = statusCode;
  }
}

/** Sorts busy periods and merges overlapping ones of the same type. */
export function mergeBusy(periods: readonly BusyPeriod[]): BusyPeriod[] {
  const sorted = periods.filter((p) => p.end > p.start).sort((a, b) => a.start - b.start || a.end - b.end);
  const out: BusyPeriod[] = [];
  // Only the newest period can grow: one of another type in between keeps them apart. Plain
  // variables, not a new object per step: a year of a busy room is 50,000 periods.
  let start = 0;
  let end = 0;
  let type: BusyPeriod['type'] | undefined;
  for (const p of sorted) {
    if (type === p.type && end >= p.start) {
      if (p.end > end) end = p.end;
      continue;
    }
    if (type !== undefined) out.push({ start, end, type });
    ({ start, end, type } = p);
  }
  if (type !== undefined) out.push({ start, end, type });
  return out;
}
