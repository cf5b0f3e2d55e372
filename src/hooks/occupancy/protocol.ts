/**
 * The occupancy board's messages (tkbd's, as its clients expect them; see
 * ../shared/reference/joyce.md) and the seams between its parts: the service that knows the
 * state, and the transports (Joyce long polling, WebSocket, SSE) that carry messages to clients.
 */

/** A PC's state: off, unknown, free/used/booted-but-unknown in Windows or Linux. */
export const PC_STATES = ['o', 'x', 'wf', 'lf', 'wu', 'lu', 'wx', 'lx'] as const;
export type PcState = (typeof PC_STATES)[number];

/** `[[hour, minute], [hour, minute], description]`, server-local time of day, today. */
export type Reservation = [start: [number, number], end: [number, number], description: string];

/** roomId → [display name, PCs]. */
export type RoomMap = Record<string, [displayName: string, pcs: string[]]>;

/** A filter of `set_msgFilter`: the tags a client wants, or null for everything. */
export type TagFilter = readonly string[] | null;

export interface MessageFilter {
  readonly occupation: TagFilter;
  readonly schedule: TagFilter;
  readonly roomMap: TagFilter;
}

/** What the server sends, exactly as tkbd does (plus `error`, and `reload` on streams). */
export type ServerMessage =
  | { type: 'welcome'; protocols: [1] }
  | { type: 'tags'; version: number; tags: string[] }
  | { type: 'tagMap'; version: number; tagMap: Record<string, string[]> }
  | { type: 'occupation'; version: number; occupation: Record<string, PcState> }
  | { type: 'occupation_update'; version: number; update: Record<string, PcState> }
  | { type: 'roomMap'; version: number; roomMap: RoomMap }
  | { type: 'schedule'; version: number; schedule: Record<string, Reservation[]> }
  | {
      type: 'historic_updates';
      offset: number;
      count: number;
      updates: [pc: string, source: string, unixSeconds: number, state: PcState][];
    }
  /** A client message porter could not act on; the channel stays open. */
  | { type: 'error'; message: string; request?: unknown }
  /** Streams only: the client missed updates it cannot be given; full state follows. */
  | { type: 'reload'; seq: number };

/** What a client may send. Anything else is answered with an `error` message. */
export type ClientMessage =
  | { type: 'set_msgFilter'; occupation?: unknown; schedule?: unknown; roomMap?: unknown }
  | { type: 'get_occupation' }
  | { type: 'get_roomMap' }
  | { type: 'get_schedule' }
  | { type: 'get_tag_names' }
  | { type: 'get_tagMap' }
  | { type: 'get_historic_updates'; offset: number; count: number };

/**
 * A message serialised once and shared by every client that gets it: fan-out to thousands of
 * clients costs one JSON.stringify per distinct filter, not one per client.
 */
export class Serialized {
  readonly message: ServerMessage;
  readonly json: string;

  constructor(message: ServerMessage, json: string = JSON.stringify(message)) {
    this.message = message;
    this.json = json;
  }
}

/** One client as a transport sees it: where the service puts messages for that client. */
export interface ClientLink {
  /**
   * Messages for this client, in order. `seq` is the service's update sequence number after
   * them (streams send it so a client can resume; Joyce ignores it).
   */
  deliver(messages: readonly Serialized[], seq: number): void;
}

/** One client as the service sees it. Transports create one per Joyce channel or stream. */
export interface Session {
  /** A message from the client (already JSON-parsed, not yet validated). */
  handle(message: unknown): void;
  /** The client is gone (channel expired, socket closed): stop delivering. */
  close(): void;
}

export interface StreamOptions {
  /** The filter to start with (streams take it from the URL; Joyce starts with all `[]`). */
  readonly filter?: MessageFilter;
  /**
   * Resume after this sequence number: the missed updates are delivered if the service still
   * holds them, otherwise a `reload` message and the full state (for the filter) are.
   */
  readonly since?: number;
}

/** The service every transport talks to. */
export interface OccupancyEndpoint {
  /**
   * Opens a session. A Joyce session (no options) first gets `welcome` and `tags`, as tkbd's
   * channels do; a stream session gets `welcome`, then the full state for its filter, or the
   * missed updates when resuming.
   */
  openSession(link: ClientLink, options?: StreamOptions): Session;
  /** The current update sequence number. */
  readonly seq: number;
}
