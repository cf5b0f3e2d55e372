// The helpline hook's HTTP API as the pages use it (src/hooks/helpline/README.md): the client's
// queue ticket, and the staff routes with a bearer token. Every answer is checked before a page
// uses it, and a wrong one fails naming the field.
import { ApiFormatError, Reader } from '../calendar/read.js';
import type { ChatReach } from './transport.js';

export { ApiFormatError };

/** The API's default place; a page may be pointed elsewhere with `?api=`. */
export const DEFAULT_API = '/api/helpline';

/** An error answer of the API: its status and its words. */
export class HelplineError extends Error {
  override name = 'HelplineError';
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

export interface HelplineInfo {
  readonly chat: ChatReach;
  readonly open: boolean;
  readonly message?: string;
}

export type TicketView =
  | { readonly status: 'waiting'; readonly position: number }
  | { readonly status: 'invited'; readonly room: string; readonly password: string; readonly nick: string; readonly chat: ChatReach }
  | { readonly status: 'joined'; readonly room: string }
  | { readonly status: 'left' };

export type QueueAnswer = ({ readonly ticket: string } & TicketView) | { readonly status: 'closed'; readonly message: string };

export interface StaffRoom {
  readonly room: string;
  readonly password: string;
  readonly state: string;
  readonly since: number;
}

export interface StaffView {
  readonly chat: ChatReach;
  readonly rooms: readonly StaffRoom[];
  readonly queue: readonly { readonly position: number; readonly waitingSeconds: number }[];
}

export interface GivenRoom {
  readonly room: string;
  readonly password: string;
  readonly chat: ChatReach;
}

export interface Conversation {
  readonly room: string;
  readonly staff: string;
  readonly started: number;
  readonly ended: number | undefined;
}

export interface Transcript {
  readonly room: string;
  readonly staff: string;
  readonly messages: readonly { readonly author: 'staff' | 'client'; readonly body: string | null; readonly at: number }[];
  readonly states: readonly { readonly from: string; readonly to: string; readonly at: number }[];
}

export interface Summary {
  readonly mean: number;
  readonly p50: number;
  readonly max: number;
}

export interface Stats {
  readonly clients: number;
  readonly waitSeconds: Summary;
  readonly waited15sShare: number;
  readonly chats: number;
  readonly chatSeconds: Summary;
  /** Each paired client's wait, newest first. */
  readonly waits: readonly { readonly paired: number; readonly seconds: number }[];
}

/** A staff member's credentials for the API. */
export interface StaffAuth {
  readonly api: string;
  readonly id: string;
  readonly token: string;
}

export function readChat(r: Reader): ChatReach {
  const kind = r.string('kind');
  if (kind === 'webchat') return { kind, path: r.string('path') };
  if (kind === 'xmpp') {
    const optional = (key: 'service' | 'muc' | 'websocket' | 'anonymous') => {
      const value = r.optionalString(key);
      return value === undefined ? {} : { [key]: value };
    };
    return { kind, ...optional('service'), ...optional('muc'), ...optional('websocket'), ...optional('anonymous') };
  }
  return { kind: 'other', network: r.optionalString('network') ?? kind };
}

function readTicketView(r: Reader): TicketView {
  const status = r.oneOf('status', ['waiting', 'invited', 'joined', 'left'] as const);
  switch (status) {
    case 'waiting':
      return { status, position: r.number('position') };
    case 'invited':
      return { status, room: r.string('room'), password: r.string('password'), nick: r.string('nick'), chat: readChat(r.object('chat')) };
    case 'joined':
      return { status, room: r.string('room') };
    default:
      return { status: 'left' };
  }
}

const summary = (r: Reader): Summary => ({ mean: r.number('mean'), p50: r.number('p50'), max: r.number('max') });

async function call<T>(url: string, read: (r: Reader) => T, init: RequestInit = {}): Promise<T> {
  const response = await fetch(url, { ...init, headers: { accept: 'application/json', ...init.headers } });
  const json: unknown = await response.json().catch(() => undefined);
  if (!response.ok) {
    const error = typeof json === 'object' && json !== null && 'error' in json && typeof json.error === 'string' ? json.error : undefined;
    throw new HelplineError(error ?? `${url} answered ${response.status}`, response.status);
  }
  return read(new Reader(json, ''));
}

const seg = encodeURIComponent;
const staffInit = (auth: StaffAuth, method = 'GET', signal?: AbortSignal): RequestInit => ({
  method,
  headers: { authorization: `Bearer ${auth.token}` },
  ...(signal ? { signal } : {}),
});

export function fetchInfo(api: string, signal?: AbortSignal): Promise<HelplineInfo> {
  return call(
    api,
    (r) => {
      const message = r.optionalString('message');
      return { chat: readChat(r.object('chat')), open: r.boolean('open'), ...(message !== undefined ? { message } : {}) };
    },
    signal ? { signal } : {},
  );
}

/** Asks for a chat: a ticket in the queue, or the closed message. A blocked client gets a HelplineError with status 403. */
export function askForChat(api: string): Promise<QueueAnswer> {
  return call(
    `${api}/queue`,
    (r): QueueAnswer =>
      r.string('status') === 'closed'
        ? { status: 'closed', message: r.string('message') }
        : { ticket: r.string('ticket'), ...readTicketView(r) },
    { method: 'POST' },
  );
}

/** The ticket now; with `position`, held (up to `waitSeconds`) until it differs from that position. */
export function pollTicket(
  api: string,
  ticket: string,
  position: number | undefined,
  waitSeconds: number,
  signal?: AbortSignal,
): Promise<TicketView> {
  const query = position === undefined ? '' : `?wait=${waitSeconds}&position=${position}`;
  return call(`${api}/queue/${seg(ticket)}${query}`, readTicketView, signal ? { signal } : {});
}

export function leaveQueue(api: string, ticket: string): Promise<void> {
  return call(`${api}/queue/${seg(ticket)}`, () => undefined, { method: 'DELETE' });
}

/** The staff member's rooms and the queue; also how a login is checked (401/403 for a wrong token). */
export function fetchStaffView(auth: StaffAuth, signal?: AbortSignal): Promise<StaffView> {
  return call(
    `${auth.api}/staff/${seg(auth.id)}`,
    (r) => ({
      chat: readChat(r.object('chat')),
      rooms: r.list('rooms', (room) => ({
        room: room.string('room'),
        password: room.string('password'),
        state: room.string('state'),
        since: room.time('since'),
      })),
      queue: r.list('queue', (q) => ({ position: q.number('position'), waitingSeconds: q.number('waitingSeconds') })),
    }),
    staffInit(auth, 'GET', signal),
  );
}

export function goAvailable(auth: StaffAuth): Promise<GivenRoom> {
  return call(
    `${auth.api}/staff/${seg(auth.id)}/available`,
    (r) => ({ room: r.string('room'), password: r.string('password'), chat: readChat(r.object('chat')) }),
    staffInit(auth, 'POST'),
  );
}

export function endRoom(auth: StaffAuth, room: string): Promise<void> {
  return call(`${auth.api}/rooms/${seg(room)}/end`, () => undefined, staffInit(auth, 'POST'));
}

export function blockRoom(auth: StaffAuth, room: string): Promise<void> {
  return call(`${auth.api}/rooms/${seg(room)}/block`, () => undefined, staffInit(auth, 'POST'));
}

export function fetchConversations(auth: StaffAuth, signal?: AbortSignal): Promise<Conversation[]> {
  return call(
    `${auth.api}/transcripts`,
    (r) =>
      r.list('conversations', (c) => ({
        room: c.string('room'),
        staff: c.string('staff'),
        started: c.time('started'),
        ended: c.optionalTime('ended'),
      })),
    staffInit(auth, 'GET', signal),
  );
}

export function fetchTranscript(auth: StaffAuth, room: string, signal?: AbortSignal): Promise<Transcript> {
  return call(
    `${auth.api}/transcripts/${seg(room)}`,
    (r) => ({
      room: r.string('room'),
      staff: r.string('staff'),
      messages: r.list('messages', (m) => ({
        author: m.oneOf('author', ['staff', 'client'] as const),
        body: m.optionalString('body') ?? null,
        at: m.time('at'),
      })),
      states: r.list('states', (s) => ({ from: s.string('from'), to: s.string('to'), at: s.time('at') })),
    }),
    staffInit(auth, 'GET', signal),
  );
}

export function fetchStats(auth: StaffAuth, signal?: AbortSignal): Promise<Stats> {
  return call(
    `${auth.api}/stats`,
    (r) => ({
      clients: r.number('clients'),
      waitSeconds: summary(r.object('waitSeconds')),
      waited15sShare: r.number('waited15sShare'),
      chats: r.number('chats'),
      chatSeconds: summary(r.object('chatSeconds')),
      waits: r.has('waits') ? r.list('waits', (w) => ({ paired: w.time('paired'), seconds: w.number('seconds') })) : [],
    }),
    staffInit(auth, 'GET', signal),
  );
}

/** The API a page talks to: `?api=` when given (a path on this origin), else the default. */
export function apiFrom(search: URLSearchParams): string {
  const api = search.get('api');
  if (!api) return DEFAULT_API;
  if (!api.startsWith('/') || api.startsWith('//')) throw new Error(`?api=${api}: expected a path on this site such as /api/helpline`);
  return api.replace(/\/+$/, '');
}
