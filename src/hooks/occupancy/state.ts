/**
 * The board's state in memory: each PC's state, the room map (rooms with display names and the
 * PCs seen in them), the tags, and each room's schedule, with a version each that grows by one
 * per change batch. Pure: no I/O, no clock, no clients. Every change returns a `StateChange`
 * that says what moved, for the service to fan out and record.
 *
 * API:
 *   new OccupancyState(layout)                         empty state; tags from the layout
 *   OccupancyState.restore(layout, snapshot)           → { state, change }  (change if the layout moved things)
 *   state.apply(updates, at)                           → StateChange | undefined; throws UnplacedPcError
 *   state.setSchedule(room, reservations, at)          → StateChange | undefined; throws on an unknown room
 *   state.reconfigure(layout, at)                      → StateChange | undefined (a `reset`)
 *   state.versions, state.occupation, state.rooms, state.tagMap, state.schedule, state.layout
 *   state.roomOf(pc), state.roomsOfTags(filter), state.snapshot(), state.roomMapJson(), …
 *
 * Rooms appear in the room map with their first PC, as in tkbd, so a client never sees an
 * empty room it would count as 0 of 0; a room's PCs are kept in natural order (pc2 before pc10).
 * A PC that appears is never removed, except by a new layout that places it nowhere.
 */
import { PC_STATES, type PcState, type Reservation, type RoomMap, type TagFilter } from './protocol.js';
import { IGNORED, normalizePcName, type RoomLayout } from './rules.js';

/** One PC's new state, as a push (or a mirror) reports it. */
export interface PcUpdate {
  readonly pc: string;
  readonly state: PcState;
  /** Where it came from: the push's `datasource` (`scan`, `log`, …), or `mirror`. */
  readonly source: string;
}

/** A room as clients see it. Never mutated: a change replaces the entry, so snapshots are cheap. */
export interface RoomEntry {
  readonly name: string;
  readonly pcs: readonly string[];
}

export interface Versions {
  readonly occupation: number;
  readonly roomMap: number;
  readonly tagMap: number;
  readonly schedule: number;
}

/** One PC whose state changed, with the room it is in. */
export interface PcChange {
  readonly pc: string;
  readonly room: string;
  readonly state: PcState;
  readonly source: string;
}

export interface TagMapChange {
  readonly version: number;
  readonly tagMap: ReadonlyMap<string, readonly string[]>;
}

export interface RoomMapChange {
  readonly version: number;
  /** Rooms whose entry changed (a PC added, a new name). */
  readonly rooms: ReadonlySet<string>;
  /** The whole room map after the change. */
  readonly roomMap: ReadonlyMap<string, RoomEntry>;
}

export interface OccupationChange {
  readonly version: number;
  /** In the order applied; a PC may appear twice if a batch named it twice. */
  readonly changes: readonly PcChange[];
}

export interface ScheduleChange {
  readonly version: number;
  readonly rooms: ReadonlySet<string>;
  /** The whole schedule after the change. */
  readonly schedule: ReadonlyMap<string, readonly Reservation[]>;
}

/** What one change batch did. Absent parts did not change. */
export interface StateChange {
  /** When it was applied, ms since the epoch. */
  readonly at: number;
  /**
   * A new layout re-placed rooms, tags or PCs (or dropped some): clients need the full state
   * again, since tkbd's messages cannot say "this PC is gone".
   */
  readonly reset: boolean;
  readonly tagMap?: TagMapChange;
  readonly roomMap?: RoomMapChange;
  readonly occupation?: OccupationChange;
  readonly schedule?: ScheduleChange;
}

/** The state as JSON, as history keeps it between runs. */
export interface StateSnapshot {
  readonly versions: Versions;
  readonly occupation: Readonly<Record<string, PcState>>;
  readonly roomMap: RoomMap;
  readonly tagMap: Readonly<Record<string, readonly string[]>>;
  readonly schedule: Readonly<Record<string, readonly Reservation[]>>;
}

/** PCs that match no room rule; a batch naming one is refused whole. */
export class UnplacedPcError extends Error {
  readonly pcs: readonly string[];

  constructor(pcs: readonly string[]) {
    super(`no room rule matches ${pcs.map((pc) => `"${pc}"`).join(', ')}`);
    this.name = 'UnplacedPcError';
    this.pcs = pcs;
  }
}

/** pc2 before pc10: runs of digits compare as numbers. (Not Intl.Collator: its data costs megabytes.) */
function naturalOrder(a: string, b: string): number {
  const pa = a.match(/\d+|\D+/g) ?? [];
  const pb = b.match(/\d+|\D+/g) ?? [];
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i] as string;
    const y = pb[i] as string;
    if (x === y) continue;
    const nx = /^\d/.test(x) && /^\d/.test(y);
    if (nx) {
      const d = Number(x) - Number(y);
      if (d !== 0) return d;
      return x.length - y.length;
    }
    return x < y ? -1 : 1;
  }
  return pa.length - pb.length;
}
const VALID_STATES: ReadonlySet<string> = new Set(PC_STATES);

export class OccupancyState {
  #layout: RoomLayout;
  #versions: { occupation: number; roomMap: number; tagMap: number; schedule: number } = {
    occupation: 0,
    roomMap: 0,
    tagMap: 0,
    schedule: 0,
  };
  readonly #occupation = new Map<string, PcState>();
  readonly #pcRoom = new Map<string, string>();
  /** In the layout's room order. */
  #rooms = new Map<string, RoomEntry>();
  #tagMap: ReadonlyMap<string, readonly string[]>;
  readonly #schedule = new Map<string, readonly Reservation[]>();

  constructor(layout: RoomLayout) {
    this.#layout = layout;
    this.#tagMap = layout.tags;
  }

  /**
   * The state as it was saved, laid out again by `layout` (which may differ from the one it was
   * saved under: rooms renamed, patterns changed, tags edited). `change` says what the new
   * layout moved; its versions are already counted.
   */
  static restore(layout: RoomLayout, snapshot: StateSnapshot, at = 0): { state: OccupancyState; change: StateChange | undefined } {
    const state = new OccupancyState(layout);
    state.#versions = { ...snapshot.versions };
    // Saved JSON is checked as it is read: a damaged value loses that part, not the start.
    const tagMap = new Map<string, readonly string[]>();
    for (const [tag, rooms] of Object.entries(snapshot.tagMap)) if (isStringList(rooms)) tagMap.set(tag, [...rooms]);
    state.#tagMap = tagMap;
    for (const [room, entry] of Object.entries(snapshot.roomMap)) {
      if (!Array.isArray(entry) || typeof entry[0] !== 'string' || !isStringList(entry[1])) continue;
      state.#rooms.set(room, { name: entry[0], pcs: [...entry[1]] });
      for (const pc of entry[1]) state.#pcRoom.set(pc, room);
    }
    for (const [pc, pcState] of Object.entries(snapshot.occupation)) {
      if (VALID_STATES.has(pcState)) state.#occupation.set(pc, pcState);
    }
    for (const [room, reservations] of Object.entries(snapshot.schedule)) {
      if (Array.isArray(reservations) && reservations.every(isReservation) && reservations.length > 0)
        state.#schedule.set(room, reservations);
    }
    return { state, change: state.reconfigure(layout, at) };
  }

  get layout(): RoomLayout {
    return this.#layout;
  }

  get versions(): Versions {
    return { ...this.#versions };
  }

  get occupation(): ReadonlyMap<string, PcState> {
    return this.#occupation;
  }

  /** Room id → entry, rooms with at least one PC only, in layout order. */
  get rooms(): ReadonlyMap<string, RoomEntry> {
    return this.#rooms;
  }

  get tagMap(): ReadonlyMap<string, readonly string[]> {
    return this.#tagMap;
  }

  get schedule(): ReadonlyMap<string, readonly Reservation[]> {
    return this.#schedule;
  }

  /** The room a PC is shown in, if it has appeared. */
  roomOf(pc: string): string | undefined {
    return this.#pcRoom.get(normalizePcName(pc));
  }

  /** The rooms a tag filter lets through: null for every room; unknown tags add nothing. */
  roomsOfTags(filter: TagFilter): ReadonlySet<string> | null {
    if (filter === null) return null;
    const rooms = new Set<string>();
    for (const tag of filter) for (const room of this.#tagMap.get(tag) ?? []) rooms.add(room);
    return rooms;
  }

  /**
   * Applies one batch. PCs are lower-cased and placed by the layout; ignored PCs are skipped.
   * Nothing is applied if any PC matches no rule. A PC seen for the first time joins its room
   * (a roomMap change); a PC whose state differs is an occupation change. Undefined if nothing
   * changed.
   */
  apply(updates: readonly PcUpdate[], at: number): StateChange | undefined {
    const placed: { pc: string; room: string; update: PcUpdate }[] = [];
    const unplaced: string[] = [];
    for (const update of updates) {
      const pc = normalizePcName(update.pc);
      const known = this.#pcRoom.get(pc);
      if (known !== undefined) {
        placed.push({ pc, room: known, update });
        continue;
      }
      const room = this.#layout.place(pc);
      if (room === IGNORED) continue;
      if (room === undefined) unplaced.push(pc);
      else placed.push({ pc, room, update });
    }
    if (unplaced.length > 0) throw new UnplacedPcError(unplaced);

    const joined = new Map<string, string[]>();
    const changes: PcChange[] = [];
    for (const { pc, room, update } of placed) {
      if (!this.#pcRoom.has(pc)) {
        this.#pcRoom.set(pc, room);
        const list = joined.get(room);
        if (list) list.push(pc);
        else joined.set(room, [pc]);
      }
      if (this.#occupation.get(pc) !== update.state) {
        this.#occupation.set(pc, update.state);
        changes.push({ pc, room, state: update.state, source: update.source });
      }
    }
    if (joined.size === 0 && changes.length === 0) return undefined;

    let roomMap: RoomMapChange | undefined;
    if (joined.size > 0) {
      let newRoom = false;
      for (const [room, pcs] of joined) {
        const entry = this.#rooms.get(room);
        if (!entry) newRoom = true;
        const all = [...(entry?.pcs ?? []), ...pcs].sort(naturalOrder);
        this.#rooms.set(room, { name: entry?.name ?? this.#layout.displayName(room) ?? room, pcs: all });
      }
      if (newRoom) this.#rooms = this.#inLayoutOrder(this.#rooms);
      this.#versions.roomMap++;
      roomMap = { version: this.#versions.roomMap, rooms: new Set(joined.keys()), roomMap: new Map(this.#rooms) };
    }
    let occupation: OccupationChange | undefined;
    if (changes.length > 0) {
      this.#versions.occupation++;
      occupation = { version: this.#versions.occupation, changes };
    }
    return { at, reset: false, ...(roomMap && { roomMap }), ...(occupation && { occupation }) };
  }

  /**
   * Replaces one room's reservations for today (an empty list clears it). The room must be in
   * the layout, with or without PCs. Undefined if the schedule is what it was.
   */
  setSchedule(room: string, reservations: readonly Reservation[], at: number): StateChange | undefined {
    if (!this.#layout.rooms.has(room)) throw new Error(`unknown room "${room}"`);
    const current = this.#schedule.get(room);
    if (sameJson(current ?? [], reservations)) return undefined;
    if (reservations.length === 0) this.#schedule.delete(room);
    else this.#schedule.set(room, structuredClone(reservations) as Reservation[]);
    this.#versions.schedule++;
    return {
      at,
      reset: false,
      schedule: { version: this.#versions.schedule, rooms: new Set([room]), schedule: new Map(this.#schedule) },
    };
  }

  /**
   * Lays the state out by a new layout: tags and display names from it, every PC placed again
   * (moved, or dropped when it now matches nothing or is ignored), schedules of rooms it no
   * longer has dropped. Each part that differs gets a new version. Undefined if nothing did.
   */
  reconfigure(layout: RoomLayout, at = 0): StateChange | undefined {
    this.#layout = layout;
    let tagMap: TagMapChange | undefined;
    if (!sameJson([...this.#tagMap], [...layout.tags])) {
      this.#tagMap = layout.tags;
      this.#versions.tagMap++;
      tagMap = { version: this.#versions.tagMap, tagMap: this.#tagMap };
    }

    const pcs = new Set([...this.#pcRoom.keys(), ...this.#occupation.keys()]);
    let dropped = false;
    const byRoom = new Map<string, string[]>();
    for (const pc of pcs) {
      const room = layout.place(pc);
      if (room === undefined || room === IGNORED) {
        this.#pcRoom.delete(pc);
        if (this.#occupation.delete(pc)) dropped = true;
        continue;
      }
      this.#pcRoom.set(pc, room);
      const list = byRoom.get(room);
      if (list) list.push(pc);
      else byRoom.set(room, [pc]);
    }
    const rooms = new Map<string, RoomEntry>();
    for (const [room, name] of layout.rooms) {
      const list = byRoom.get(room);
      if (list) rooms.set(room, { name, pcs: list.sort(naturalOrder) });
    }
    let roomMap: RoomMapChange | undefined;
    if (!sameJson([...this.#rooms], [...rooms])) {
      const touched = new Set([...this.#rooms.keys(), ...rooms.keys()]);
      this.#rooms = rooms;
      this.#versions.roomMap++;
      roomMap = { version: this.#versions.roomMap, rooms: touched, roomMap: new Map(rooms) };
    }
    let occupation: OccupationChange | undefined;
    if (dropped) {
      this.#versions.occupation++;
      occupation = { version: this.#versions.occupation, changes: [] };
    }
    const gone = [...this.#schedule.keys()].filter((room) => !layout.rooms.has(room));
    let schedule: ScheduleChange | undefined;
    if (gone.length > 0) {
      for (const room of gone) this.#schedule.delete(room);
      this.#versions.schedule++;
      schedule = { version: this.#versions.schedule, rooms: new Set(gone), schedule: new Map(this.#schedule) };
    }
    if (!tagMap && !roomMap && !occupation && !schedule) return undefined;
    return {
      at,
      reset: true,
      ...(tagMap && { tagMap }),
      ...(roomMap && { roomMap }),
      ...(occupation && { occupation }),
      ...(schedule && { schedule }),
    };
  }

  /** The room map as tkbd sends it: room → [display name, PCs]. */
  roomMapJson(): RoomMap {
    const out: RoomMap = {};
    for (const [room, entry] of this.#rooms) out[room] = [entry.name, [...entry.pcs]];
    return out;
  }

  tagMapJson(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const [tag, rooms] of this.#tagMap) out[tag] = [...rooms];
    return out;
  }

  scheduleJson(): Record<string, Reservation[]> {
    const out: Record<string, Reservation[]> = {};
    for (const [room, reservations] of this.#schedule) out[room] = [...reservations];
    return out;
  }

  snapshot(): StateSnapshot {
    return {
      versions: this.versions,
      occupation: Object.fromEntries(this.#occupation),
      roomMap: this.roomMapJson(),
      tagMap: this.tagMapJson(),
      schedule: this.scheduleJson(),
    };
  }

  #inLayoutOrder(rooms: ReadonlyMap<string, RoomEntry>): Map<string, RoomEntry> {
    const ordered = new Map<string, RoomEntry>();
    for (const room of this.#layout.rooms.keys()) {
      const entry = rooms.get(room);
      if (entry) ordered.set(room, entry);
    }
    return ordered;
  }
}

function isStringList(value: unknown): value is readonly string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

function isTime(value: unknown): boolean {
  return Array.isArray(value) && value.length === 2 && value.every((v) => typeof v === 'number');
}

function isReservation(value: unknown): value is Reservation {
  return Array.isArray(value) && value.length === 3 && isTime(value[0]) && isTime(value[1]) && typeof value[2] === 'string';
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
