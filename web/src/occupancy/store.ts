// The board's data layer: parses tkbd ServerMessages, folds them into one state, and derives the
// rooms to show. Pure functions only, so any transport (SSE today) can feed it and tests can drive it.
import type { PcState, Reservation, RoomMap, ServerMessage } from '../../../src/hooks/occupancy/protocol.js';

export type { PcState, Reservation, RoomMap, ServerMessage };

/** How the board shows a state: `booted` is a PC that is on but whose use is unknown. */
export type PcKind = 'off' | 'unknown' | 'free' | 'used' | 'booted';

// A Record over PcState: adding a state to protocol.ts fails the type-check here until it is placed.
const KINDS: Record<PcState, PcKind> = {
  o: 'off',
  x: 'unknown',
  wf: 'free',
  lf: 'free',
  wu: 'used',
  lu: 'used',
  wx: 'booted',
  lx: 'booted',
};

/** A PC the server names but has sent no state for yet is unknown. */
export function kindOf(state: PcState | undefined): PcKind {
  return state === undefined ? 'unknown' : KINDS[state];
}

/** tkb.js counts `wf`, `lf` and `o` as free and every other state (and no state) as used. */
export function countsAsFree(state: PcState | undefined): boolean {
  return state === 'wf' || state === 'lf' || state === 'o';
}

export function isPcState(value: unknown): value is PcState {
  return typeof value === 'string' && Object.hasOwn(KINDS, value);
}

type Versioned = 'tags' | 'tagMap' | 'occupation' | 'roomMap' | 'schedule';

export interface BoardState {
  /** The protocols of the last `welcome`; undefined until the server has greeted. */
  readonly protocols: readonly number[] | undefined;
  readonly tags: readonly string[];
  readonly tagMap: Readonly<Record<string, readonly string[]>>;
  readonly roomMap: Readonly<RoomMap>;
  readonly occupation: Readonly<Record<string, PcState>>;
  readonly schedule: Readonly<Record<string, readonly Reservation[]>>;
  readonly versions: Readonly<Partial<Record<Versioned, number>>>;
  /** The last `error` the server sent, or a batch that could not be read. */
  readonly error: string | undefined;
}

export const initialState: BoardState = {
  protocols: undefined,
  tags: [],
  tagMap: {},
  roomMap: {},
  occupation: {},
  schedule: {},
  versions: {},
  error: undefined,
};

/** Folds one message into the state; messages the board does not show leave it as it is. */
export function reduce(state: BoardState, message: ServerMessage): BoardState {
  switch (message.type) {
    case 'welcome':
      return { ...state, protocols: message.protocols };
    case 'tags':
      return { ...state, tags: message.tags, versions: { ...state.versions, tags: message.version } };
    case 'tagMap':
      return { ...state, tagMap: message.tagMap, versions: { ...state.versions, tagMap: message.version } };
    // Full messages replace their part whatever their version: after a server restart the versions may
    // start lower, and the newest message is the truth.
    case 'roomMap':
      return { ...state, roomMap: message.roomMap, versions: { ...state.versions, roomMap: message.version } };
    case 'occupation':
      return { ...state, occupation: message.occupation, versions: { ...state.versions, occupation: message.version } };
    case 'schedule':
      return { ...state, schedule: message.schedule, versions: { ...state.versions, schedule: message.version } };
    case 'occupation_update': {
      // An update older than the full occupation already in hand would move PCs back in time. One of the
      // same version is what that occupation already holds, so applying it changes nothing.
      const known = state.versions.occupation;
      if (known !== undefined && message.version < known) return state;
      return {
        ...state,
        occupation: { ...state.occupation, ...message.update },
        versions: { ...state.versions, occupation: Math.max(known ?? message.version, message.version) },
      };
    }
    case 'reload':
      // The full state for the stream's filter follows; tags and the tag map are not part of it.
      return {
        ...state,
        roomMap: {},
        occupation: {},
        schedule: {},
        versions: { tags: state.versions.tags, tagMap: state.versions.tagMap },
      };
    case 'error':
      return { ...state, error: message.message };
    case 'historic_updates':
      return state;
  }
}

export function reduceAll(state: BoardState, messages: readonly ServerMessage[]): BoardState {
  return messages.reduce(reduce, state);
}

/** The tags the server has named, from `tags` and from the keys of `tagMap`, in the server's order. */
export function knownTags(state: BoardState): string[] {
  const out = [...state.tags];
  for (const tag of Object.keys(state.tagMap)) if (!out.includes(tag)) out.push(tag);
  return out;
}

// ---- the rooms to show ------------------------------------------------------------------------

export interface PcView {
  readonly name: string;
  readonly state: PcState | undefined;
  readonly kind: PcKind;
}

export interface RoomView {
  readonly id: string;
  readonly name: string;
  readonly pcs: readonly PcView[];
  readonly free: number;
  readonly used: number;
  /** The reservation under way now, if any. */
  readonly current: Reservation | undefined;
  /** The next one to start today, if any. */
  readonly next: Reservation | undefined;
}

/**
 * The rooms of `tag`, in the tag map's order. Without the tag map (not sent yet, or no tag chosen)
 * every room of the room map is shown, by name: the stream's filter already limits the room map.
 */
export function boardRooms(state: BoardState, tag: string | undefined, minuteOfDay: number): RoomView[] {
  const ids = tag !== undefined ? state.tagMap[tag] : undefined;
  const rooms = ids ?? Object.keys(state.roomMap).sort((a, b) => byName(state, a, b));
  const out: RoomView[] = [];
  for (const id of rooms) {
    const entry = state.roomMap[id];
    if (!entry) continue;
    const [name, pcNames] = entry;
    const pcs = pcNames.map((pc) => {
      const pcState = state.occupation[pc];
      return { name: pc, state: pcState, kind: kindOf(pcState) };
    });
    const free = pcs.filter((pc) => countsAsFree(pc.state)).length;
    out.push({ id, name, pcs, free, used: pcs.length - free, ...reservationsAt(state.schedule[id] ?? [], minuteOfDay) });
  }
  return out;
}

function byName(state: BoardState, a: string, b: string): number {
  const nameOf = (id: string) => state.roomMap[id]?.[0] ?? id;
  return nameOf(a).localeCompare(nameOf(b), undefined, { numeric: true });
}

// ---- the schedule -----------------------------------------------------------------------------

/** Minutes since midnight: the schedule is in the server's local time of day, compared with ours. */
export function minuteOf([hour, minute]: readonly [number, number]): number {
  return hour * 60 + minute;
}

export function minuteOfDay(date: Date): number {
  return date.getHours() * 60 + date.getMinutes();
}

export function reservationsAt(
  reservations: readonly Reservation[],
  minute: number,
): { current: Reservation | undefined; next: Reservation | undefined } {
  const sorted = [...reservations].sort((a, b) => minuteOf(a[0]) - minuteOf(b[0]));
  const current = sorted.find((r) => minuteOf(r[0]) <= minute && minute < minuteOf(r[1]));
  const next = sorted.find((r) => minuteOf(r[0]) > minute);
  return { current, next };
}

export function formatTime([hour, minute]: readonly [number, number]): string {
  return `${String(hour).padStart(2, '0')}:${String(minute).padStart(2, '0')}`;
}

// ---- reading the stream -----------------------------------------------------------------------

/** A stream event the board cannot read; the state stays as it was. */
export class StreamFormatError extends Error {
  override name = 'StreamFormatError';
}

/**
 * Reads one event's `data`: a JSON array of ServerMessages. Messages of a type the board does not
 * know are skipped (a newer server may send more); a known type with the wrong shape rejects the whole
 * batch, because applying part of a batch could show a room map without the PCs' states.
 */
export function parseBatch(data: string): ServerMessage[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    throw new StreamFormatError(`an event that is not JSON: ${data.slice(0, 80)}`);
  }
  if (!Array.isArray(parsed)) throw new StreamFormatError('an event that is not a JSON array of messages');
  const out: ServerMessage[] = [];
  parsed.forEach((item, i) => {
    const message = readMessage(item, i);
    if (message) out.push(message);
  });
  return out;
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

function isTime(value: unknown): value is [number, number] {
  return Array.isArray(value) && value.length === 2 && value.every((v) => Number.isInteger(v));
}

function isReservation(value: unknown): value is Reservation {
  return Array.isArray(value) && value.length === 3 && isTime(value[0]) && isTime(value[1]) && typeof value[2] === 'string';
}

function isRecordOf<T>(value: unknown, check: (v: unknown) => v is T): value is Record<string, T> {
  return isObject(value) && Object.values(value).every(check);
}

function isRoomEntry(value: unknown): value is [string, string[]] {
  return Array.isArray(value) && value.length === 2 && typeof value[0] === 'string' && isStringArray(value[1]);
}

function isReservations(value: unknown): value is Reservation[] {
  return Array.isArray(value) && value.every(isReservation);
}

function readMessage(item: unknown, index: number): ServerMessage | undefined {
  if (!isObject(item) || typeof item.type !== 'string') throw new StreamFormatError(`message ${index} has no type`);
  const bad = (field: string) => new StreamFormatError(`message ${index} (${item.type}): bad ${field}`);
  const version = () => {
    if (typeof item.version !== 'number' || !Number.isFinite(item.version)) throw bad('version');
    return item.version;
  };
  switch (item.type) {
    case 'welcome':
      if (!Array.isArray(item.protocols) || !item.protocols.includes(1)) throw bad('protocols');
      return { type: 'welcome', protocols: [1] };
    case 'tags':
      if (!isStringArray(item.tags)) throw bad('tags');
      return { type: 'tags', version: version(), tags: item.tags };
    case 'tagMap':
      if (!isRecordOf(item.tagMap, isStringArray)) throw bad('tagMap');
      return { type: 'tagMap', version: version(), tagMap: item.tagMap };
    case 'roomMap':
      if (!isRecordOf(item.roomMap, isRoomEntry)) throw bad('roomMap');
      return { type: 'roomMap', version: version(), roomMap: item.roomMap };
    case 'occupation':
      if (!isRecordOf(item.occupation, isPcState)) throw bad('occupation');
      return { type: 'occupation', version: version(), occupation: item.occupation };
    case 'occupation_update':
      if (!isRecordOf(item.update, isPcState)) throw bad('update');
      return { type: 'occupation_update', version: version(), update: item.update };
    case 'schedule':
      if (!isRecordOf(item.schedule, isReservations)) throw bad('schedule');
      return { type: 'schedule', version: version(), schedule: item.schedule };
    case 'reload':
      if (typeof item.seq !== 'number') throw bad('seq');
      return { type: 'reload', seq: item.seq };
    case 'error':
      return { type: 'error', message: typeof item.message === 'string' ? item.message : 'the server reported an error' };
    default:
      return undefined;
  }
}
