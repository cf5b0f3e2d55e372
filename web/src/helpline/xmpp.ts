// The helpline pages' transport on an XMPP server: XMPP over WebSocket (RFC 7395) from the browser,
// rooms through multi-user chat (XEP-0045). Clients log in anonymously on the server's anonymous
// virtual host; staff with their bare JID and password.
import { type Client, client, xml } from '@xmpp/client';
import type { ChatConnection, ChatLogin, ChatReach, Connect } from './transport.js';

type Element = ReturnType<typeof xml>;

const NS_MUC = 'http://jabber.org/protocol/muc';
const NS_MUC_USER = 'http://jabber.org/protocol/muc#user';
const NS_DELAY = 'urn:xmpp:delay';
const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
/** The status text of a leave on purpose, as porter's xmpp plug (`clean-exit`) and HelpIM read it. */
export const CLEAN_EXIT = 'Clean Exit';
const STATUS_SELF = '110';
const STATUS_KICKED = '307';
/** The room's own history length bounds the replay; this only keeps a misconfigured room from flooding the page. */
const HISTORY_STANZAS = 100;
/** How long a join or a leave waits for the room's answer. */
const ANSWER_MS = 15_000;

/** What an error presence's condition means to someone joining a helpline room. */
const JOIN_ERRORS: Record<string, string> = {
  'not-authorized': 'wrong password',
  conflict: 'the nick is taken in this room',
  forbidden: 'banned from this room',
  'registration-required': 'the room is for members only',
  'service-unavailable': 'the room is full',
  'item-not-found': 'no such room (or it is not open yet)',
  'not-allowed': 'no such room (and it may not be created)',
  'jid-malformed': 'no nick given',
  'not-acceptable': 'the nick is not acceptable in this room',
};

interface Pending {
  resolve(): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

interface Room {
  /** Our nick in the room, as the room confirmed it (a server may change the one asked for). */
  nick: string;
  joined: boolean;
  /** Occupants other than this connection, by nick, to tell a join from a presence update. */
  readonly others: Set<string>;
  join?: Pending;
  leave?: Pending;
}

function bareOf(address: string): string {
  const slash = address.indexOf('/');
  return (slash < 0 ? address : address.slice(0, slash)).toLowerCase();
}

function resourceOf(address: string): string | undefined {
  const slash = address.indexOf('/');
  return slash < 0 ? undefined : address.slice(slash + 1);
}

/** The first child named `name` in namespace `xmlns` (or any namespace when not given). */
function child(element: Element, name: string, xmlns?: string): Element | undefined {
  return element.getChild(name, xmlns) ?? undefined;
}

/** The defined condition of an error stanza, and its text when the server gave one. */
function errorOf(stanza: Element): { condition: string; text?: string } {
  const error = child(stanza, 'error');
  const condition = error?.children.find((c): c is Element => typeof c !== 'string' && c.attrs.xmlns === NS_STANZAS && c.name !== 'text');
  const text = error?.getChildText('text', NS_STANZAS) ?? undefined;
  return { condition: condition?.name ?? 'undefined-condition', ...(text ? { text } : {}) };
}

/** A random id for the user agent element (crypto.randomUUID is missing outside secure contexts). */
function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function settle(pending: Pending | undefined, error?: Error): void {
  if (!pending) return;
  clearTimeout(pending.timer);
  if (error) pending.reject(error);
  else pending.resolve();
}

/** Why a login failed, in words a page can show. */
function loginFailure(error: unknown, who: string, service: string): Error {
  const condition = (error as { condition?: unknown } | undefined)?.condition;
  if (condition === 'not-authorized') return new Error(`XMPP login refused for ${who}: wrong address or password`);
  if (typeof condition === 'string') return new Error(`XMPP login failed for ${who}: ${condition}`);
  const message = error instanceof Error ? error.message : String(error);
  return new Error(`cannot connect to the XMPP server at ${service}: ${message}`);
}

function clientOptions(reach: Extract<ChatReach, { kind: 'xmpp' }>, login: ChatLogin) {
  const service = reach.websocket;
  if (!service) throw new Error('the helpline gives no XMPP WebSocket URL (its chat.websocket); the server cannot be reached from a page');
  if (!/^wss?:\/\//i.test(service)) throw new Error(`the helpline's XMPP WebSocket URL must start with ws:// or wss://, not ${service}`);
  const userAgent = xml('user-agent', { id: randomId() });
  if (login.kind === 'anonymous') {
    if (!reach.anonymous) throw new Error('the helpline names no anonymous XMPP host (its chat.anonymous); clients cannot log in');
    return { service, domain: reach.anonymous, userAgent, who: `anonymous on ${reach.anonymous}` };
  }
  const at = login.username.indexOf('@');
  if (at <= 0 || at === login.username.length - 1 || login.username.includes('/'))
    throw new Error(`staff log in with a bare JID such as ada@example.org, not ${login.username}`);
  return {
    service,
    domain: login.username.slice(at + 1),
    username: login.username.slice(0, at),
    password: login.password,
    userAgent,
    who: login.username,
  };
}

export const connectXmpp: Connect = async (reach, login, events) => {
  if (reach.kind !== 'xmpp') throw new Error(`the XMPP transport cannot reach ${reach.kind} rooms`);
  const { who, ...options } = clientOptions(reach, login);
  const xmpp: Client = client(options);
  // A helpline conversation cannot survive a new connection (the room sees a lost connection), so
  // the transport does not reconnect: the page learns the connection is gone.
  xmpp.reconnect.stop();
  const rooms = new Map<string, Room>();
  let closing = false;
  let lastError: string | undefined;
  let online = false;

  const forget = (bare: string, error: Error): void => {
    const room = rooms.get(bare);
    if (!room) return;
    rooms.delete(bare);
    settle(room.join, error);
    settle(room.leave);
  };

  const onPresence = (stanza: Element): void => {
    const from = String(stanza.attrs.from ?? '');
    const bare = bareOf(from);
    const nick = resourceOf(from);
    const room = rooms.get(bare);
    if (!room || nick === undefined) return;
    const type = stanza.attrs.type as string | undefined;
    if (type === 'error') {
      const { condition, text } = errorOf(stanza);
      if (room.join) {
        const reason = JOIN_ERRORS[condition] ?? condition;
        forget(bare, new Error(`cannot join ${bare}: ${reason}${text ? ` (${text})` : ''}`));
      }
      return;
    }
    const x = child(stanza, 'x', NS_MUC_USER);
    const codes = new Set((x?.getChildren('status') ?? []).map((s) => String(s.attrs.code)));
    // Our own presence: status 110, or our nick, which no one else can hold in the room.
    const self = codes.has(STATUS_SELF) || nick === room.nick;
    if (self) {
      if (type !== 'unavailable') {
        room.nick = nick;
        room.joined = true;
        settle(room.join);
        room.join = undefined;
        return;
      }
      const leave = room.leave;
      const destroy = x ? child(x, 'destroy') : undefined;
      const reason = (destroy ?? (x ? child(x, 'item') : undefined))?.getChildText('reason') ?? undefined;
      const wasJoined = room.joined;
      forget(bare, new Error(`removed from ${bare}${reason ? `: ${reason}` : ''}`));
      // A leave of our own is not a removal; a kick or destruction before or after it is.
      if (destroy) events.removed(bare, 'destroyed', reason);
      else if (codes.has(STATUS_KICKED)) events.removed(bare, 'kicked', reason);
      else if (!leave && wasJoined) events.removed(bare, 'kicked', reason);
      return;
    }
    if (type === 'unavailable') {
      if (!room.others.delete(nick)) return;
      const status = stanza.getChildText('status') ?? undefined;
      const kicked = codes.has(STATUS_KICKED);
      events.presence({ room: bare, nick, event: 'left', clean: !kicked && status === CLEAN_EXIT, kicked });
      return;
    }
    if (!room.others.has(nick)) {
      room.others.add(nick);
      events.presence({ room: bare, nick, event: 'joined' });
    }
  };

  const onMessage = (stanza: Element): void => {
    if (stanza.attrs.type !== 'groupchat') return;
    const from = String(stanza.attrs.from ?? '');
    const bare = bareOf(from);
    const nick = resourceOf(from);
    const room = rooms.get(bare);
    const body = stanza.getChildText('body');
    // Messages from the room itself (no nick) are the service's notices, not lines.
    if (!room || nick === undefined || body === null || body === undefined) return;
    const delay = child(stanza, 'delay', NS_DELAY);
    const stamp = delay?.attrs.stamp as string | undefined;
    const at = stamp && !Number.isNaN(Date.parse(stamp)) ? new Date(stamp).toISOString() : new Date().toISOString();
    events.line({ room: bare, from: nick, text: body, at, mine: nick === room.nick, history: delay !== undefined });
  };

  xmpp.on('error', (error: Error) => {
    lastError = error.message;
  });
  xmpp.on('stanza', (stanza: Element) => {
    if (stanza.is('presence')) onPresence(stanza);
    else if (stanza.is('message')) onMessage(stanza);
  });
  // The socket going away ('disconnect') or a stop ('offline') ends the connection; only the first counts.
  const ended = (): void => {
    if (!online) return;
    online = false;
    const gone = new Error(`the XMPP connection closed${lastError ? `: ${lastError}` : ''}`);
    for (const bare of [...rooms.keys()]) forget(bare, gone);
    if (!closing) events.disconnected(gone.message.replace(/^the /, ''));
  };
  xmpp.on('disconnect', ended);
  xmpp.on('offline', ended);

  try {
    await xmpp.start();
  } catch (error) {
    await xmpp.stop().catch(() => undefined);
    throw loginFailure(error, who, options.service);
  }
  online = true;

  const pending = (what: string, resolve: () => void, reject: (error: Error) => void): Pending => ({
    resolve,
    reject,
    timer: setTimeout(() => reject(new Error(`${what}: no answer from the XMPP server within ${ANSWER_MS / 1000} s`)), ANSWER_MS),
  });

  const connection: ChatConnection = {
    async join(address, password, nick) {
      const bare = bareOf(address);
      if (!bare.includes('@') || address.includes('/'))
        throw new Error(`a room is a bare JID such as room@conference.example.org, not ${address}`);
      if (!nick) throw new Error(`cannot join ${bare}: no nick given`);
      if (!online) throw new Error(`cannot join ${bare}: the XMPP connection is closed`);
      if (rooms.get(bare)?.joined) return;
      if (rooms.has(bare)) throw new Error(`already joining ${bare}`);
      const room: Room = { nick, joined: false, others: new Set() };
      rooms.set(bare, room);
      const joined = new Promise<void>((resolve, reject) => {
        room.join = pending(`joining ${bare}`, resolve, (error) => {
          if (rooms.get(bare) === room) rooms.delete(bare);
          reject(error);
        });
      });
      const x = xml('x', { xmlns: NS_MUC }, xml('password', {}, password), xml('history', { maxstanzas: String(HISTORY_STANZAS) }));
      await xmpp.send(xml('presence', { to: `${bare}/${nick}` }, x));
      await joined;
    },

    async say(address, text) {
      const bare = bareOf(address);
      if (!rooms.get(bare)?.joined) throw new Error(`cannot say in ${bare}: not in that room`);
      await xmpp.send(xml('message', { to: bare, type: 'groupchat' }, xml('body', {}, text)));
    },

    async leave(address) {
      const bare = bareOf(address);
      const room = rooms.get(bare);
      if (!room) return;
      if (!room.joined) {
        forget(bare, new Error(`left ${bare} before joining it`));
        return;
      }
      const left = new Promise<void>((resolve, reject) => {
        room.leave = pending(`leaving ${bare}`, resolve, reject);
      });
      await xmpp.send(xml('presence', { to: `${bare}/${room.nick}`, type: 'unavailable' }, xml('status', {}, CLEAN_EXIT)));
      await left.catch(() => forget(bare, new Error(`left ${bare}`)));
    },

    async close() {
      if (closing) return;
      closing = true;
      if (online) await Promise.allSettled([...rooms.keys()].map((bare) => connection.leave(bare)));
      await xmpp.stop().catch(() => undefined);
    },
  };
  return connection;
};
