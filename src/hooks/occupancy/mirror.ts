/** Mirror mode: follows another porter or a tkbd over Joyce and hands on its occupancy, room map, schedule and tags. */

/*
 * API
 *
 *   const mirror = new OccupancyMirror({ url, token?, requestTimeoutMs?, backoffFirstMs?, backoffMaxMs?, log?,
 *     onOccupation?(occupation, version), onUpdate?(update, version), onRoomMap?(roomMap, version),
 *     onSchedule?(schedule, version), onTags?(tags, version), onTagMap?(tagMap, version), onReset?(), onError?(error, retryInMs) });
 *   mirror.start();  await mirror.stop();
 *   mirror.occupation;  mirror.versions;  mirror.synced;  mirror.token;
 *
 * It opens a channel with a token of its own, lifts every filter (`null`: all rooms) and asks for
 * the full state. `occupation` is the master's whole state and replaces what the mirror holds;
 * `occupation_update` changes some PCs. An update older than the full state held is dropped; an
 * update that skips a version (answers lost to a timeout) is applied and the full state asked for
 * again. When the master welcomes the channel a second time (it restarted or forgot the channel,
 * which starts again with empty filters), onReset is called and the filter and requests are sent
 * again; after a failed request they are too, since an answer lost with the connection may have
 * carried changes. Messages that do not have the expected shape are logged and skipped.
 */
import pino from 'pino';
import { z } from 'zod';
import type { Logger } from '../../core/log.js';
import { JoyceClient, type JoyceClientOptions } from './joyce/client.js';
import { PC_STATES, type PcState, type Reservation, type RoomMap } from './protocol.js';

/** Where the master is and how to reach it are the Joyce client's options; the rest is what the mirror hands on. */
export interface OccupancyMirrorOptions
  extends Pick<
    JoyceClientOptions,
    'url' | 'token' | 'requestTimeoutMs' | 'backoffFirstMs' | 'backoffMaxMs' | 'log' | 'onReset' | 'onError'
  > {
  /** The master's whole occupation: it replaces what came before. */
  readonly onOccupation?: (occupation: Record<string, PcState>, version: number) => void;
  /** Some PCs changed. */
  readonly onUpdate?: (update: Record<string, PcState>, version: number) => void;
  readonly onRoomMap?: (roomMap: RoomMap, version: number) => void;
  readonly onSchedule?: (schedule: Record<string, Reservation[]>, version: number) => void;
  /** The tag names (a `tags` message without a version counts as version 0). */
  readonly onTags?: (tags: string[], version: number) => void;
  readonly onTagMap?: (tagMap: Record<string, string[]>, version: number) => void;
}

export interface MirrorVersions {
  occupation: number | undefined;
  roomMap: number | undefined;
  schedule: number | undefined;
  tags: number | undefined;
  tagMap: number | undefined;
}

const version = z.number().int().nonnegative();
const time = z.tuple([z.number().int(), z.number().int()]);
const roomMapMessage = z.object({ version, roomMap: z.record(z.string(), z.tuple([z.string(), z.array(z.string())])) });
const scheduleMessage = z.object({ version, schedule: z.record(z.string(), z.array(z.tuple([time, time, z.string()]))) });
const tagMap = z.record(z.string(), z.array(z.string()));
const tagMapMessage = z.object({ version, tagMap });
// tkbd answers get_tagMap with a `tags` message that carries the map: take it for what it is.
const tagsMessage = z.object({ version: version.optional(), tags: z.union([z.array(z.string()), tagMap]) });

const STATES: ReadonlySet<string> = new Set(PC_STATES);

/** Everything the mirror asks for, in the order the master answers: the rooms before the PCs in them. */
function subscription(): unknown[] {
  return [
    { type: 'set_msgFilter', occupation: null, roomMap: null, schedule: null },
    { type: 'get_tagMap' },
    { type: 'get_roomMap' },
    { type: 'get_schedule' },
    { type: 'get_occupation' },
  ];
}

export class OccupancyMirror {
  readonly #options: OccupancyMirrorOptions;
  readonly #log: Logger;
  readonly #client: JoyceClient;
  #occupation = new Map<string, PcState>();
  #versions: MirrorVersions = { occupation: undefined, roomMap: undefined, schedule: undefined, tags: undefined, tagMap: undefined };
  /** A get_occupation is out: updates that skip a version need not ask again. */
  #awaitingFull = false;
  /** The whole subscription is queued again after a failure, once until the full state is back. */
  #resyncing = false;
  #synced = false;

  constructor(options: OccupancyMirrorOptions) {
    this.#options = options;
    this.#log = options.log ?? pino({ level: 'silent' });
    this.#client = new JoyceClient({
      url: options.url,
      token: options.token,
      requestTimeoutMs: options.requestTimeoutMs,
      backoffFirstMs: options.backoffFirstMs,
      backoffMaxMs: options.backoffMaxMs,
      log: this.#log,
      onMessages: (messages) => {
        for (const m of messages) this.#handle(m);
      },
      onReset: () => this.#reset(),
      onError: (error, retryInMs) => {
        this.#resync();
        this.#call(() => options.onError?.(error, retryInMs));
      },
    });
  }

  get token(): string {
    return this.#client.token;
  }

  /** The master's occupation as last received. */
  get occupation(): ReadonlyMap<string, PcState> {
    return this.#occupation;
  }

  get versions(): Readonly<MirrorVersions> {
    return this.#versions;
  }

  /** The full occupation has arrived since the last start, reset or failed request. */
  get synced(): boolean {
    return this.#synced;
  }

  start(): void {
    if (this.#client.running) return;
    this.#synced = false;
    this.#awaitingFull = true;
    this.#resyncing = true;
    this.#client.send(...subscription());
    this.#client.start();
  }

  async stop(): Promise<void> {
    await this.#client.stop();
  }

  #reset(): void {
    this.#versions = { occupation: undefined, roomMap: undefined, schedule: undefined, tags: undefined, tagMap: undefined };
    this.#synced = false;
    this.#awaitingFull = true;
    this.#resyncing = true;
    this.#call(() => this.#options.onReset?.());
    this.#client.send(...subscription());
  }

  /**
   * After a failed request: an answer the master wrote may have been lost with the connection,
   * and with it changes to the room map or schedule that no version gap would reveal. The filter
   * goes first, so that a master that forgot the channel answers with everything.
   */
  #resync(): void {
    if (this.#resyncing) return;
    this.#resyncing = true;
    this.#awaitingFull = true;
    this.#synced = false;
    this.#client.send(...subscription());
  }

  #handle(message: unknown): void {
    if (typeof message !== 'object' || message === null) {
      this.#skip(message, 'not an object');
      return;
    }
    const m = message as Record<string, unknown>;
    switch (m.type) {
      case 'occupation':
        this.#full(m);
        break;
      case 'occupation_update':
        this.#update(m);
        break;
      case 'roomMap': {
        const r = this.#parse(roomMapMessage, m);
        if (!r) break;
        this.#versions.roomMap = r.version;
        this.#call(() => this.#options.onRoomMap?.(r.roomMap as RoomMap, r.version));
        break;
      }
      case 'schedule': {
        const r = this.#parse(scheduleMessage, m);
        if (!r) break;
        this.#versions.schedule = r.version;
        this.#call(() => this.#options.onSchedule?.(r.schedule as Record<string, Reservation[]>, r.version));
        break;
      }
      case 'tagMap': {
        const r = this.#parse(tagMapMessage, m);
        if (r) this.#tagMap(r.tagMap, r.version);
        break;
      }
      case 'tags': {
        const r = this.#parse(tagsMessage, m);
        if (!r) break;
        const v = r.version ?? 0;
        const tags = r.tags;
        if (!Array.isArray(tags)) {
          this.#tagMap(tags, v);
          break;
        }
        this.#versions.tags = v;
        this.#call(() => this.#options.onTags?.(tags, v));
        break;
      }
      case 'error':
        this.#log.warn({ error: m }, 'mirror: the master refused a message');
        break;
      default:
      // welcome, historic_updates and what later masters may add: nothing to mirror.
    }
  }

  #parse<T>(schema: z.ZodType<T>, m: Record<string, unknown>): T | undefined {
    const r = schema.safeParse(m);
    if (r.success) return r.data;
    this.#skip(m, r.error.message);
    return undefined;
  }

  #tagMap(map: Record<string, string[]>, v: number): void {
    this.#versions.tagMap = v;
    this.#call(() => this.#options.onTagMap?.(map, v));
  }

  #full(m: Record<string, unknown>): void {
    const v = m.version;
    const states = pcStates(m.occupation);
    if (!isVersion(v) || states === undefined) {
      this.#skip(m, 'an occupation needs a version and {pc: state}');
      return;
    }
    if (states.dropped > 0) this.#log.warn({ dropped: states.dropped }, 'mirror: PCs with unknown states skipped');
    this.#occupation = new Map(Object.entries(states.states));
    this.#versions.occupation = v;
    this.#awaitingFull = false;
    this.#resyncing = false;
    this.#synced = true;
    this.#call(() => this.#options.onOccupation?.(states.states, v));
  }

  #update(m: Record<string, unknown>): void {
    const v = m.version;
    const states = pcStates(m.update);
    if (!isVersion(v) || states === undefined) {
      this.#skip(m, 'an occupation_update needs a version and {pc: state}');
      return;
    }
    const held = this.#versions.occupation;
    // Already part of the full state held (it was queued before the master answered get_occupation).
    if (held !== undefined && v <= held) return;
    if (held !== undefined && v > held + 1 && !this.#awaitingFull) {
      this.#log.warn({ held, got: v }, 'mirror: occupation updates were missed; asking for the full state');
      this.#awaitingFull = true;
      this.#client.send({ type: 'get_occupation' });
    }
    if (states.dropped > 0) this.#log.warn({ dropped: states.dropped }, 'mirror: PCs with unknown states skipped');
    for (const [pc, state] of Object.entries(states.states)) this.#occupation.set(pc, state);
    if (held !== undefined) this.#versions.occupation = v;
    this.#call(() => this.#options.onUpdate?.(states.states, v));
  }

  #skip(message: unknown, why: string): void {
    this.#log.warn({ message, why }, 'mirror: message from the master skipped');
  }

  #call(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.#log.error({ err: error }, 'mirror: a listener failed');
    }
  }
}

function isVersion(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}

/** `{pc: state}` with the known states only; undefined if not an object. */
function pcStates(value: unknown): { states: Record<string, PcState>; dropped: number } | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const states: Record<string, PcState> = {};
  let dropped = 0;
  for (const [pc, state] of Object.entries(value)) {
    // `__proto__` would not be kept as a key of a plain object; no PC is called that.
    if (typeof state === 'string' && STATES.has(state) && pc !== '__proto__') states[pc] = state as PcState;
    else dropped++;
  }
  return { states, dropped };
}
