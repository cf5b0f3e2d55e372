/**
 * The occupancy service: the one state every transport talks to. It applies pushes and
 * schedules, records them, and fans each change out to the client sessions as tkbd's messages,
 * filtered by each session's `set_msgFilter`.
 *
 * API:
 *   OccupancyService.open({ layout, history?, log, replayBatches?, now? })   → Promise<service>
 *   service.openSession(link, options?)      → Session   (OccupancyEndpoint; see protocol.ts)
 *   service.applyPush(updates)               → StateChange | undefined; throws UnplacedPcError
 *   service.setSchedule(room, reservations)  → boolean (changed); throws on an unknown room
 *   service.reconfigure(layout)              → boolean (changed): a new layout, clients reloaded
 *   service.queryHistory(query)              → Promise<HistoryPage>; throws OccupancyQueryError
 *   service.seq, service.state, service.sessionCount, service.close()
 *
 * Semantics (../shared/reference/joyce.md):
 * * `openSession` delivers the first messages before it returns (the link must be ready to
 *   take them). A Joyce session (no options) gets `welcome` and `tags`. A stream session
 *   gets `welcome` and then the full state for its filter (`tags`, `tagMap`, and
 *   `roomMap`, `occupation`, `schedule` where its filter is not `[]`); resuming with `since`, it
 *   gets the batches it missed if the last `replayBatches` still hold them, else `reload` and
 *   the full state. Every change batch has a sequence number (`seq`), one more than the last;
 *   it starts one past the last saved value after a restart, so a stream from before the
 *   restart always reloads.
 * * Filters: `[]` (the default) lets nothing through, `null` everything, a list of tags the
 *   rooms of those tags. Unknown tags are dropped; values that are neither a list nor null, and
 *   missing keys, leave a filter as it was (as tkbd does: no `error` for them).
 * * Per batch, in this order: `tags` and `tagMap` to everyone if the tags changed; `roomMap`
 *   (the whole filtered map) if a room in the filter changed; `occupation_update`; `schedule`
 *   (the whole filtered schedule) if a room in the filter changed.
 * * `occupation_update` carries the changed PCs in the session's occupation filter and, when
 *   the session follows the room map (its roomMap filter is not `[]`), only PCs in that too:
 *   tkb.js looks every updated PC up in its room map. A session that wants occupation gets an
 *   update for every occupation version, empty if nothing in its filter changed, so that
 *   tkb.js's "version must be last + 1" check does not make every filtered client ask for the
 *   whole occupation after each push elsewhere. A mirror (occupation `null`, roomMap `[]`)
 *   gets every PC.
 * * Messages are serialised once per distinct filter per batch and the same `Serialized`
 *   objects go to every session with that filter.
 * * `get_historic_updates` is answered from the store as it was when asked; until the answer
 *   is read, later messages for that session wait, so replies keep their order.
 * * A malformed message is answered with an `error` message; the session goes on.
 */
import type { Logger } from '../../core/log.js';
import { type HistoryPage, type HistoryQuery, MAX_HISTORIC_COUNT, type OccupancyHistory } from './history.js';
import {
  type ClientLink,
  type MessageFilter,
  type OccupancyEndpoint,
  type PcState,
  type Reservation,
  type RoomMap,
  Serialized,
  type ServerMessage,
  type Session,
  type StreamOptions,
  type TagFilter,
} from './protocol.js';
import type { RoomLayout } from './rules.js';
import { OccupancyState, type PcUpdate, type RoomEntry, type StateChange } from './state.js';

export interface OccupancyServiceOptions {
  readonly layout: RoomLayout;
  /** Where changes are recorded and the state is kept between runs; without it, memory only. */
  readonly history?: OccupancyHistory;
  readonly log: Logger;
  /** How many recent change batches a resuming stream can be given. Default 1000. */
  readonly replayBatches?: number;
  /** The clock, ms since the epoch (tests pin it). */
  readonly now?: () => number;
}

/** A history query the service cannot run: an unknown room or tag. */
export class OccupancyQueryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OccupancyQueryError';
  }
}

/** The history query of the HTTP API: PCs given by name, room or tag (all lists combine). */
export interface OccupancyHistoryQuery extends Omit<HistoryQuery, 'pcs'> {
  readonly pcs?: readonly string[];
  readonly rooms?: readonly string[];
  readonly tags?: readonly string[];
}

export const DEFAULT_REPLAY_BATCHES = 1000;
const NO_FILTER: MessageFilter = { occupation: [], schedule: [], roomMap: [] };
const WELCOME = new Serialized({ type: 'welcome', protocols: [1] });

/** What a filter lets through, as rooms: null for every room. */
interface Scope {
  readonly wantsOccupation: boolean;
  /** The occupation filter's rooms, narrowed to the roomMap filter's when the session follows the room map. */
  readonly occupationRooms: ReadonlySet<string> | null;
  readonly followsRoomMap: boolean;
  readonly roomMapRooms: ReadonlySet<string> | null;
  readonly wantsSchedule: boolean;
  readonly scheduleRooms: ReadonlySet<string> | null;
}

/** What a session needs of its service; kept off the service's public face. */
interface SessionHost {
  readonly seq: number;
  setFilter(session: ClientSession, request: Record<string, unknown>): void;
  answer(kind: AnswerKind, group: FilterGroup): Serialized;
  historicUpdates(offset: number, count: number): Promise<Serialized>;
  closed(session: ClientSession): void;
  deliveryFailed(error: unknown): void;
}

type AnswerKind = 'occupation' | 'roomMap' | 'schedule' | 'tags' | 'tagMap';

/** Sessions that share one filter, and so every message of a batch. */
class FilterGroup {
  readonly key: string;
  readonly filter: MessageFilter;
  scope: Scope;
  readonly sessions = new Set<ClientSession>();
  /** Answers to get_*, by kind, valid while the versions in `versions` hold. */
  readonly answers = new Map<string, { versions: string; message: Serialized }>();

  constructor(key: string, filter: MessageFilter, scope: Scope) {
    this.key = key;
    this.filter = filter;
    this.scope = scope;
  }
}

interface ReplayEntry {
  readonly seq: number;
  readonly change: StateChange;
}

/** Messages every group shares in one batch. */
interface SharedMessages {
  readonly tags?: Serialized;
  readonly tagMap?: Serialized;
}

export class OccupancyService implements OccupancyEndpoint {
  readonly #state: OccupancyState;
  readonly #history: OccupancyHistory | undefined;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #groups = new Map<string, FilterGroup>();
  /** The last batches, at index seq % length. */
  readonly #replay: (ReplayEntry | undefined)[];
  #replayCount = 0;
  #seq: number;
  #closed = false;
  #sessionCount = 0;
  #tagsCache: { version: number; tags: Serialized; tagMap: Serialized } | undefined;
  readonly #host: SessionHost;

  /** Use `OccupancyService.open`, which reads the history first. */
  private constructor(options: OccupancyServiceOptions, state: OccupancyState, seq: number) {
    this.#state = state;
    this.#history = options.history;
    this.#log = options.log;
    this.#now = options.now ?? Date.now;
    this.#replay = new Array(Math.max(0, Math.floor(options.replayBatches ?? DEFAULT_REPLAY_BATCHES)));
    this.#seq = seq;
    const service = this;
    this.#host = {
      get seq() {
        return service.#seq;
      },
      setFilter: (session, request) => this.#setFilter(session, request),
      answer: (kind, group) => this.#answer(kind, group),
      historicUpdates: (offset, count) => this.#historicUpdates(offset, count),
      closed: (session) => {
        this.#leave(session);
        this.#sessionCount--;
      },
      deliveryFailed: (error) => this.#log.error({ err: error }, 'a transport failed to take occupancy messages'),
    };
  }

  /** Opens the service: restores the state the history kept (laid out by `layout`) and saves it back. */
  static async open(options: OccupancyServiceOptions): Promise<OccupancyService> {
    const persisted = await options.history?.open();
    const now = (options.now ?? Date.now)();
    let state: OccupancyState;
    if (persisted?.snapshot) {
      const restored = OccupancyState.restore(options.layout, persisted.snapshot, now);
      state = restored.state;
      if (restored.change) options.log.info({ versions: state.versions }, 'the layout changed since the last run');
    } else {
      state = new OccupancyState(options.layout);
    }
    const service = new OccupancyService(options, state, (persisted?.streamSeq ?? -1) + 1);
    service.#saveMeta({ roomMap: true, tagMap: true, schedule: true });
    return service;
  }

  /** The sequence number of the last change batch. */
  get seq(): number {
    return this.#seq;
  }

  /** The state, to read (the board's HTTP routes); change it only through the service. */
  get state(): OccupancyState {
    return this.#state;
  }

  get sessionCount(): number {
    return this.#sessionCount;
  }

  openSession(link: ClientLink, options?: StreamOptions): Session {
    const filter = options?.filter ? this.#normalize(options.filter, NO_FILTER) : NO_FILTER;
    const session = new ClientSession(this.#host, link, this.#groupFor(filter));
    this.#sessionCount++;
    if (options === undefined) {
      session.send([WELCOME, this.#tagMessages().tags], this.#seq);
      return session;
    }
    const scope = session.group.scope;
    const messages: Serialized[] = [WELCOME];
    const missed = options.since === undefined ? undefined : this.#missedSince(options.since);
    if (missed) {
      for (const entry of missed) messages.push(...this.#changeMessages(entry.change, scope, sharedMessages(entry.change)));
    } else {
      if (options.since !== undefined) messages.push(new Serialized({ type: 'reload', seq: this.#seq }));
      messages.push(...this.#fullState(session.group));
    }
    session.send(messages, this.#seq);
    return session;
  }

  /**
   * Applies a batch of PC updates (from a push or a master) and fans it out. Nothing is applied
   * if a PC matches no room rule (`UnplacedPcError`). Undefined if nothing changed.
   */
  applyPush(updates: readonly PcUpdate[]): StateChange | undefined {
    this.#assertOpen();
    const change = this.#state.apply(updates, this.#now());
    if (change) this.#commit(change);
    return change;
  }

  /** Sets one room's reservations for today (from the schedule source); true if they changed. */
  setSchedule(room: string, reservations: readonly Reservation[]): boolean {
    this.#assertOpen();
    const change = this.#state.setSchedule(room, reservations, this.#now());
    if (change) this.#commit(change);
    return change !== undefined;
  }

  /** Lays the board out anew (a changed config); every session gets the full state again. */
  reconfigure(layout: RoomLayout): boolean {
    this.#assertOpen();
    const change = this.#state.reconfigure(layout, this.#now());
    if (change) this.#commit(change);
    return change !== undefined;
  }

  /** Recorded changes for the HTTP API; rooms and tags stand for the PCs now in them. */
  async queryHistory(query: OccupancyHistoryQuery = {}): Promise<HistoryPage> {
    let pcs: Set<string> | undefined;
    if (query.pcs || query.rooms || query.tags) {
      pcs = new Set((query.pcs ?? []).map((pc) => pc.toLowerCase()));
      const rooms = new Set<string>(query.rooms ?? []);
      for (const tag of query.tags ?? []) {
        const tagRooms = this.#state.tagMap.get(tag);
        if (!tagRooms) throw new OccupancyQueryError(`unknown tag "${tag}"`);
        for (const room of tagRooms) rooms.add(room);
      }
      for (const room of rooms) {
        if (!this.#state.layout.rooms.has(room)) throw new OccupancyQueryError(`unknown room "${room}"`);
        for (const pc of this.#state.rooms.get(room)?.pcs ?? []) pcs.add(pc);
      }
    }
    const { pcs: _names, rooms: _rooms, tags: _tags, ...range } = query;
    if (!this.#history) return { total: 0, offset: range.offset ?? 0, limit: range.limit ?? 0, records: [] };
    return this.#history.query({ ...range, ...(pcs && { pcs: [...pcs] }) });
  }

  /** Stops fan-out and writes what the history holds; the history closes, the store does not. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const group of this.#groups.values()) for (const session of group.sessions) session.detach();
    this.#groups.clear();
    await this.#history?.close();
  }

  // --- internals ------------------------------------------------------------------------------

  /** The session's filter after `set_msgFilter`; parts not given keep their old value. */
  #setFilter(session: ClientSession, request: Record<string, unknown>): void {
    const filter = this.#normalize(request, session.group.filter);
    if (filterKey(filter) === session.group.key) return;
    this.#leave(session);
    session.group = this.#groupFor(filter);
    session.group.sessions.add(session);
  }

  /** The answer to a get_*, shared by the sessions of a group until a version it depends on moves. */
  #answer(kind: AnswerKind, group: FilterGroup): Serialized {
    if (kind === 'tags') return this.#tagMessages().tags;
    if (kind === 'tagMap') return this.#tagMessages().tagMap;
    const v = this.#state.versions;
    const versions =
      kind === 'occupation'
        ? `${v.occupation}/${v.roomMap}/${v.tagMap}`
        : kind === 'roomMap'
          ? `${v.roomMap}/${v.tagMap}`
          : `${v.schedule}/${v.tagMap}`;
    const cached = group.answers.get(kind);
    if (cached?.versions === versions) return cached.message;
    const message = new Serialized(this.#snapshotMessage(kind, group.scope));
    group.answers.set(kind, { versions, message });
    return message;
  }

  async #historicUpdates(offset: number, count: number): Promise<Serialized> {
    const from = Math.max(0, Math.floor(offset));
    const clamped = Math.min(MAX_HISTORIC_COUNT, Math.max(0, Math.floor(count)));
    const updates = this.#history ? await this.#history.historicUpdates(from, clamped) : [];
    return new Serialized({ type: 'historic_updates', offset: from, count: clamped, updates });
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error('the occupancy service is closed');
  }

  #commit(change: StateChange): void {
    const seq = ++this.#seq;
    if (this.#replay.length > 0) {
      this.#replay[seq % this.#replay.length] = { seq, change };
      this.#replayCount = Math.min(this.#replayCount + 1, this.#replay.length);
    }
    if (this.#history && change.occupation) {
      for (const c of change.occupation.changes) this.#history.record(c.pc, c.source, change.at, c.state);
    }
    this.#saveMeta({ roomMap: !!change.roomMap, tagMap: !!change.tagMap, schedule: !!change.schedule });
    if (change.tagMap || change.reset) {
      for (const group of this.#groups.values()) {
        group.scope = this.#scopeOf(group.filter);
        group.answers.clear();
      }
    }
    const shared = sharedMessages(change);
    for (const group of this.#groups.values()) {
      const messages = change.reset ? this.#fullState(group) : this.#changeMessages(change, group.scope, shared);
      if (messages.length === 0) continue;
      for (const session of group.sessions) session.send(messages, seq);
    }
  }

  #saveMeta(parts: { roomMap: boolean; tagMap: boolean; schedule: boolean }): void {
    const history = this.#history;
    if (!history) return;
    history.saveMeta('versions', { ...this.#state.versions, seq: this.#seq });
    if (parts.roomMap) history.saveMeta('roomMap', this.#state.roomMapJson());
    if (parts.tagMap) history.saveMeta('tagMap', this.#state.tagMapJson());
    if (parts.schedule) history.saveMeta('schedule', this.#state.scheduleJson());
  }

  /** The batches after `since`, or undefined when they are not all held (or `since` is not ours). */
  #missedSince(since: number): ReplayEntry[] | undefined {
    if (!Number.isInteger(since) || since > this.#seq || this.#seq - since > this.#replayCount) return undefined;
    const entries: ReplayEntry[] = [];
    for (let seq = since + 1; seq <= this.#seq; seq++) {
      const entry = this.#replay[seq % this.#replay.length];
      if (!entry || entry.seq !== seq || entry.change.reset) return undefined;
      entries.push(entry);
    }
    return entries;
  }

  /** What one batch means for one scope, in the order clients need it. */
  #changeMessages(change: StateChange, scope: Scope, shared: SharedMessages): Serialized[] {
    const out: Serialized[] = [];
    if (shared.tags) out.push(shared.tags);
    if (shared.tagMap) out.push(shared.tagMap);
    const roomMap = change.roomMap;
    if (roomMap && scope.followsRoomMap && touches(roomMap.rooms, scope.roomMapRooms)) {
      out.push(new Serialized({ type: 'roomMap', version: roomMap.version, roomMap: roomMapJson(roomMap.roomMap, scope.roomMapRooms) }));
    }
    const occupation = change.occupation;
    if (occupation && scope.wantsOccupation) {
      const rooms = scope.occupationRooms;
      const update: Record<string, PcState> = {};
      for (const c of occupation.changes) if (rooms === null || rooms.has(c.room)) update[c.pc] = c.state;
      out.push(new Serialized({ type: 'occupation_update', version: occupation.version, update }));
    }
    const schedule = change.schedule;
    if (schedule && scope.wantsSchedule && touches(schedule.rooms, scope.scheduleRooms)) {
      out.push(
        new Serialized({ type: 'schedule', version: schedule.version, schedule: scheduleJson(schedule.schedule, scope.scheduleRooms) }),
      );
    }
    return out;
  }

  /** Everything a session's filter lets through, as after a (re)connect. */
  #fullState(group: FilterGroup): Serialized[] {
    const out = [this.#tagMessages().tags, this.#tagMessages().tagMap];
    if (group.scope.followsRoomMap) out.push(this.#answer('roomMap', group));
    if (group.scope.wantsOccupation) out.push(this.#answer('occupation', group));
    if (group.scope.wantsSchedule) out.push(this.#answer('schedule', group));
    return out;
  }

  #snapshotMessage(kind: 'occupation' | 'roomMap' | 'schedule', scope: Scope): ServerMessage {
    const state = this.#state;
    const v = state.versions;
    if (kind === 'roomMap') {
      return { type: 'roomMap', version: v.roomMap, roomMap: scope.followsRoomMap ? roomMapJson(state.rooms, scope.roomMapRooms) : {} };
    }
    if (kind === 'schedule') {
      return {
        type: 'schedule',
        version: v.schedule,
        schedule: scope.wantsSchedule ? scheduleJson(state.schedule, scope.scheduleRooms) : {},
      };
    }
    const occupation: Record<string, PcState> = {};
    if (scope.wantsOccupation) {
      const rooms = scope.occupationRooms;
      if (rooms === null) {
        for (const [pc, pcState] of state.occupation) occupation[pc] = pcState;
      } else {
        for (const room of rooms) {
          for (const pc of state.rooms.get(room)?.pcs ?? []) {
            const pcState = state.occupation.get(pc);
            if (pcState !== undefined) occupation[pc] = pcState;
          }
        }
      }
    }
    return { type: 'occupation', version: v.occupation, occupation };
  }

  #tagMessages(): { tags: Serialized; tagMap: Serialized } {
    const version = this.#state.versions.tagMap;
    if (this.#tagsCache?.version !== version) {
      const tagMap = this.#state.tagMapJson();
      this.#tagsCache = {
        version,
        tags: new Serialized({ type: 'tags', version, tags: Object.keys(tagMap) }),
        tagMap: new Serialized({ type: 'tagMap', version, tagMap }),
      };
    }
    return this.#tagsCache;
  }

  /** A filter with unknown tags dropped and tags in one order; parts not given come from `base`. */
  #normalize(request: Partial<Record<keyof MessageFilter, unknown>>, base: MessageFilter): MessageFilter {
    const part = (value: unknown, old: TagFilter): TagFilter => {
      if (value === null) return null;
      if (!Array.isArray(value)) return old;
      const tags = new Set<string>();
      for (const tag of value) if (typeof tag === 'string' && this.#state.tagMap.has(tag)) tags.add(tag);
      return [...tags].sort();
    };
    return {
      occupation: part(request.occupation, base.occupation),
      schedule: part(request.schedule, base.schedule),
      roomMap: part(request.roomMap, base.roomMap),
    };
  }

  #scopeOf(filter: MessageFilter): Scope {
    const state = this.#state;
    const followsRoomMap = filter.roomMap === null || filter.roomMap.length > 0;
    const roomMapRooms = state.roomsOfTags(filter.roomMap);
    const occupationOnly = state.roomsOfTags(filter.occupation);
    return {
      wantsOccupation: filter.occupation === null || filter.occupation.length > 0,
      occupationRooms: followsRoomMap ? intersect(occupationOnly, roomMapRooms) : occupationOnly,
      followsRoomMap,
      roomMapRooms,
      wantsSchedule: filter.schedule === null || filter.schedule.length > 0,
      scheduleRooms: state.roomsOfTags(filter.schedule),
    };
  }

  #groupFor(filter: MessageFilter): FilterGroup {
    const key = filterKey(filter);
    let group = this.#groups.get(key);
    if (!group) {
      group = new FilterGroup(key, filter, this.#scopeOf(filter));
      if (!this.#closed) this.#groups.set(key, group);
    }
    return group;
  }

  #leave(session: ClientSession): void {
    const group = session.group;
    group.sessions.delete(session);
    if (group.sessions.size === 0 && this.#groups.get(group.key) === group) this.#groups.delete(group.key);
  }
}

/** One client. Sends go straight to the link, except while an answer from the store is awaited. */
class ClientSession implements Session {
  readonly #service: SessionHost;
  readonly #link: ClientLink;
  group: FilterGroup;
  #closed = false;
  /** While set, sends wait here in order; an entry without messages is an answer not yet read. */
  #outbox: { messages: readonly Serialized[] | undefined; seq: number }[] | undefined;

  constructor(service: SessionHost, link: ClientLink, group: FilterGroup) {
    this.#service = service;
    this.#link = link;
    this.group = group;
    group.sessions.add(this);
  }

  handle(message: unknown): void {
    if (this.#closed) return;
    if (typeof message !== 'object' || message === null || Array.isArray(message)) {
      this.#error('a message must be an object with a "type"', message);
      return;
    }
    const request = message as Record<string, unknown>;
    const type = request.type;
    if (typeof type !== 'string') {
      this.#error('a message needs a "type" string', message);
      return;
    }
    const service = this.#service;
    switch (type) {
      case 'set_msgFilter':
        service.setFilter(this, request);
        return;
      case 'get_occupation':
        this.send([service.answer('occupation', this.group)], service.seq);
        return;
      case 'get_roomMap':
        this.send([service.answer('roomMap', this.group)], service.seq);
        return;
      case 'get_schedule':
        this.send([service.answer('schedule', this.group)], service.seq);
        return;
      case 'get_tag_names':
        this.send([service.answer('tags', this.group)], service.seq);
        return;
      case 'get_tagMap':
        this.send([service.answer('tagMap', this.group)], service.seq);
        return;
      case 'get_historic_updates':
        this.#historicUpdates(request);
        return;
      default:
        this.#error(`unknown message type ${JSON.stringify(type)}`, message);
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#outbox = undefined;
    this.#service.closed(this);
  }

  /** The service is closing: deliver nothing more. */
  detach(): void {
    this.#closed = true;
    this.#outbox = undefined;
  }

  send(messages: readonly Serialized[], seq: number): void {
    if (this.#closed) return;
    if (this.#outbox) {
      this.#outbox.push({ messages, seq });
      return;
    }
    this.#deliver(messages, seq);
  }

  #deliver(messages: readonly Serialized[], seq: number): void {
    try {
      this.#link.deliver(messages, seq);
    } catch (error) {
      this.#service.deliveryFailed(error);
    }
  }

  #historicUpdates(request: Record<string, unknown>): void {
    const { offset, count } = request;
    for (const [name, value] of [
      ['offset', offset],
      ['count', count],
    ] as const) {
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        this.#error(`get_historic_updates needs "${name}" as a number`, request);
        return;
      }
    }
    const slot: { messages: readonly Serialized[] | undefined; seq: number } = { messages: undefined, seq: this.#service.seq };
    if (this.#outbox) this.#outbox.push(slot);
    else this.#outbox = [slot];
    this.#service.historicUpdates(offset as number, count as number).then(
      (answer) => {
        slot.messages = [answer];
        this.#drain();
      },
      (error: unknown) => {
        this.#service.deliveryFailed(error);
        slot.messages = [new Serialized({ type: 'error', message: 'the history cannot be read just now', request })];
        this.#drain();
      },
    );
  }

  #drain(): void {
    const outbox = this.#outbox;
    if (!outbox || this.#closed) return;
    while (outbox.length > 0 && outbox[0]?.messages !== undefined) {
      const next = outbox.shift();
      if (next?.messages) this.#deliver(next.messages, next.seq);
    }
    if (outbox.length === 0) this.#outbox = undefined;
  }

  #error(message: string, request: unknown): void {
    this.send([new Serialized({ type: 'error', message, request })], this.#service.seq);
  }
}

function filterKey(filter: MessageFilter): string {
  return JSON.stringify([filter.occupation, filter.schedule, filter.roomMap]);
}

function sharedMessages(change: StateChange): SharedMessages {
  const tagMap = change.tagMap;
  if (!tagMap) return {};
  const json: Record<string, string[]> = {};
  for (const [tag, rooms] of tagMap.tagMap) json[tag] = [...rooms];
  return {
    tags: new Serialized({ type: 'tags', version: tagMap.version, tags: Object.keys(json) }),
    tagMap: new Serialized({ type: 'tagMap', version: tagMap.version, tagMap: json }),
  };
}

function touches(changed: ReadonlySet<string>, rooms: ReadonlySet<string> | null): boolean {
  if (rooms === null) return true;
  for (const room of changed) if (rooms.has(room)) return true;
  return false;
}

function intersect(a: ReadonlySet<string> | null, b: ReadonlySet<string> | null): ReadonlySet<string> | null {
  if (a === null) return b;
  if (b === null) return a;
  const out = new Set<string>();
  for (const room of a) if (b.has(room)) out.add(room);
  return out;
}

function roomMapJson(rooms: ReadonlyMap<string, RoomEntry>, only: ReadonlySet<string> | null): RoomMap {
  const out: RoomMap = {};
  for (const [room, entry] of rooms) {
    // Entries are never mutated (state.ts), so the message may share the PC list.
    if (only === null || only.has(room)) out[room] = [entry.name, entry.pcs as string[]];
  }
  return out;
}

function scheduleJson(
  schedule: ReadonlyMap<string, readonly Reservation[]>,
  only: ReadonlySet<string> | null,
): Record<string, Reservation[]> {
  const out: Record<string, Reservation[]> = {};
  for (const [room, reservations] of schedule) if (only === null || only.has(room)) out[room] = reservations as Reservation[];
  return out;
}
