// How a helpline page talks to its chat rooms, whatever network the helpline's plug is on: porter's
// web chat (webchat.ts) or an XMPP server over WebSocket (xmpp.ts). The pages see only this.

/** Where the rooms are, as the helpline API's `chat` field says (src/hooks/helpline/chat.ts). */
export type ChatReach =
  | { readonly kind: 'webchat'; readonly path: string }
  | {
      readonly kind: 'xmpp';
      readonly service?: string;
      readonly muc?: string;
      /** The server's XMPP-over-WebSocket URL a browser connects to (RFC 7395). */
      readonly websocket?: string;
      /** The virtual host where clients log in anonymously (SASL ANONYMOUS). */
      readonly anonymous?: string;
    }
  | { readonly kind: 'other'; readonly network: string };

/** Who connects: an anonymous client, or a staff member with their chat account. */
export type ChatLogin =
  | { readonly kind: 'anonymous' }
  /** Web chat: a staff account of the plug (`username`); XMPP: a bare JID. */
  | { readonly kind: 'staff'; readonly username: string; readonly password: string };

/** A line said in a room. */
export interface ChatLine {
  readonly room: string;
  /** The author's nick in the room. */
  readonly from: string;
  readonly text: string;
  /** ISO time. */
  readonly at: string;
  /** Said by this connection. */
  readonly mine: boolean;
  /** Replayed room history rather than said now. */
  readonly history: boolean;
}

/** Someone else entered or left a room. */
export interface ChatPresence {
  readonly room: string;
  readonly nick: string;
  readonly event: 'joined' | 'left';
  /** A leave on purpose (web chat `leave`/`bye`, XMPP status `Clean Exit`) rather than a lost connection. */
  readonly clean?: boolean;
  readonly kicked?: boolean;
}

export interface ChatEvents {
  line(line: ChatLine): void;
  presence(presence: ChatPresence): void;
  /** This connection is out of `room`: kicked by porter, or the room was destroyed. */
  removed(room: string, why: 'kicked' | 'destroyed', reason?: string): void;
  /** The connection is gone for good (after any reconnecting the transport does itself). */
  disconnected(reason: string): void;
}

export interface ChatConnection {
  /** Joins `room` (its address as the API gives it) as `nick` with `password`; rejects with a readable reason. */
  join(room: string, password: string, nick: string): Promise<void>;
  say(room: string, text: string): Promise<void>;
  /** A clean leave of one room (a lost connection is what `close` without leaving looks like). */
  leave(room: string): Promise<void>;
  /** Leaves every room cleanly and ends the connection. */
  close(): Promise<void>;
}

/** Opens a connection to the rooms `reach` names, as `login`. `origin` is porter's web origin (for web chat's path). */
export type Connect = (reach: ChatReach, login: ChatLogin, events: ChatEvents, origin: string) => Promise<ChatConnection>;
