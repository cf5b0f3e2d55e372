/**
 * The webchat plug: porter's own chat over a WebSocket on its web server. Rooms are channels
 * (password-protected, capped, never listed), sessions are private channels, and the plug
 * creates, configures, invites to, kicks from and destroys rooms through core's rooms interface.
 * Staff log in with a user name and password from the config; clients are anonymous. See README.md.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import type { Channel } from '../../core/channel.js';
import { PlugError } from '../../core/errors.js';
import { type Message, type Receipt, RichText, renderPlain, type User } from '../../core/message.js';
import { Plug, type PlugCapabilities } from '../../core/plug.js';
import type { RejoinOutcome, RoomOccupant, RoomOptions, RoomsCapable, RoomUser } from '../../core/rooms.js';
import { onUpgrade, refuseUpgrade } from '../../services/http/upgrade.js';
import { ROOM_NAME, type WebChatConfig, webChatConfigSchema } from './config.js';
import { type ChatLine, type ClientFrame, type ErrorCode, type OccupantView, parseFrame, type ServerFrame } from './protocol.js';

export { type WebChatConfig, webChatConfigSchema } from './config.js';
export type { ClientFrame, ErrorCode, OccupantView, ServerFrame } from './protocol.js';

/** Frames kept for a session whose socket is down, delivered when it resumes. */
const BACKLOG = 200;
/** Names of destroyed rooms remembered, so that a late join hears "destroyed" rather than "no such room". */
const TOMBSTONES = 10_000;
/** Bytes waiting to be sent to one socket before it counts as dropped (a client that stopped reading). */
const MAX_BUFFERED = 1024 * 1024;
const CLOSE = { normal: 1000, goingAway: 1001, replaced: 4001 } as const;

/** One participant: anonymous (`anon/…`) or staff (`staff/<username>`); outlives its socket for the grace period. */
interface Session {
  readonly address: string;
  readonly token: string;
  readonly staff: boolean;
  readonly ip: string;
  readonly nick: string;
  conn: Conn | undefined;
  readonly rooms: Set<string>;
  graceTimer: NodeJS.Timeout | undefined;
  readonly backlog: string[];
}

/** One open socket; it speaks for a session once it said hello. */
interface Conn {
  readonly socket: WebSocket;
  readonly ip: string;
  session: Session | undefined;
  alive: boolean;
  tokens: number;
  refilled: number;
}

interface Occupant {
  readonly session: Session;
  readonly nick: string;
}

interface Room {
  readonly name: string;
  options: RoomOptions;
  /** By nick. */
  readonly occupants: Map<string, Occupant>;
  /** Addresses removed by a kick: they may not come back. */
  readonly kicked: Set<string>;
  /** Addresses invited: the members of a members-only room. */
  readonly members: Set<string>;
  readonly history: ChatLine[];
}

export class WebChatPlug extends Plug<WebChatConfig> implements RoomsCapable {
  static readonly configSchema = () => webChatConfigSchema;

  readonly network = 'Web chat';
  override readonly capabilities: PlugCapabilities = {
    edit: false,
    delete: false,
    files: false,
    richText: false,
    rooms: true,
    members: true,
    privateChannels: true,
  };
  // Porter's own messages are never handed back to the host, so there are no echoes to mark.
  override readonly marksEchoes = true;
  readonly #rooms = new Map<string, Room>();
  readonly #tombstones = new Set<string>();
  readonly #sessions = new Map<string, Set<Session>>();
  readonly #tokens = new Map<string, Session>();
  readonly #conns = new Set<Conn>();
  /** Open connections by IP address. */
  readonly #perIp = new Map<string, number>();
  /** Live sessions (connected or within their grace period) by IP address. */
  readonly #sessionsPerIp = new Map<string, number>();
  #wss: WebSocketServer | undefined;
  #pingTimer: NodeJS.Timeout | undefined;
  #accepting = false;

  /** Open sockets and live sessions (connected or within their grace period). */
  get counts(): { connections: number; sessions: number } {
    return { connections: this.#conns.size, sessions: this.#tokens.size };
  }

  protected override async start(): Promise<void> {
    const http = this.host.http;
    if (!http) throw new PlugError(`plug "${this.name}" needs porter's web server: add an http section to the config (http: {listen: …})`);
    if (!this.#wss) {
      this.#wss = new WebSocketServer({ noServer: true, maxPayload: this.config['max-frame'], perMessageDeflate: false });
      try {
        onUpgrade(http.app.server, this.config.path, (request, socket, head) => this.#upgrade(request, socket, head));
      } catch (error) {
        this.#wss = undefined;
        throw new PlugError(`plug "${this.name}" cannot serve ${this.config.path}: ${messageOf(error)}`, { cause: error });
      }
      // The web server closes before the plugs: end the sockets first, or it waits on them.
      try {
        http.app.addHook('preClose', async () => this.#closeAll());
      } catch (error) {
        this.log.debug({ err: error }, 'web server already listening; sockets close when the plug stops');
      }
    }
    for (const entry of this.config.rooms) {
      const room = this.#rooms.get(entry.name);
      const options: RoomOptions = { ...entry, persistent: true };
      if (room) room.options = options;
      else this.#rooms.set(entry.name, newRoom(entry.name, options));
    }
    this.#pingTimer = setInterval(() => this.#ping(), this.config.ping * 1000).unref();
    this.#accepting = true;
    this.log.info({ path: this.config.path }, 'web chat open');
  }

  protected override async stop(): Promise<void> {
    this.#accepting = false;
    clearInterval(this.#pingTimer);
    await this.#closeAll();
    // What lives only in memory is gone now, as after a restart; persistent rooms stay, empty.
    for (const [name, room] of this.#rooms) {
      if (room.options.persistent) room.occupants.clear();
      else this.#rooms.delete(name);
    }
  }

  async #closeAll(): Promise<void> {
    const closed: Promise<void>[] = [];
    for (const conn of this.#conns) {
      // Stopping is no lost connection: nobody is announced as having left.
      conn.session = undefined;
      closed.push(
        new Promise<void>((resolve) => {
          conn.socket.once('close', () => resolve());
          const timer = setTimeout(() => conn.socket.terminate(), 2000);
          timer.unref();
          conn.socket.close(CLOSE.goingAway, 'porter is stopping');
        }),
      );
    }
    for (const sessions of this.#sessions.values()) for (const s of sessions) clearTimeout(s.graceTimer);
    this.#sessions.clear();
    this.#tokens.clear();
    this.#sessionsPerIp.clear();
    for (const room of this.#rooms.values()) room.occupants.clear();
    await Promise.all(closed);
  }

  // ---- sockets -----------------------------------------------------------------------------

  #upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    const wss = this.#wss;
    if (!this.#accepting || !wss) {
      refuseUpgrade(socket, 503, 'the web chat is closed');
      return;
    }
    const ip = (this.config['trust-proxy'] && forwardedFor(request)) || request.socket.remoteAddress || 'unknown';
    if ((this.#perIp.get(ip) ?? 0) >= this.config['sessions-per-ip']) {
      this.log.warn({ ip }, 'too many connections from one address; refused');
      refuseUpgrade(socket, 503, 'too many connections from this address');
      return;
    }
    count(this.#perIp, ip, 1);
    let counted = true;
    const uncount = () => {
      if (!counted) return;
      counted = false;
      count(this.#perIp, ip, -1);
    };
    socket.once('close', uncount);
    wss.handleUpgrade(request, socket, head, (ws) => this.#accept(ws, ip, uncount));
  }

  #accept(socket: WebSocket, ip: string, uncount: () => void): void {
    const conn: Conn = { socket, ip, session: undefined, alive: true, tokens: this.config.rate * 2, refilled: Date.now() };
    this.#conns.add(conn);
    socket.on('pong', () => {
      conn.alive = true;
    });
    socket.on('error', (error) => {
      this.log.debug({ err: error.message, ip }, 'web chat socket error');
      socket.terminate();
    });
    socket.on('close', () => {
      uncount();
      this.#conns.delete(conn);
      this.#dropped(conn);
    });
    socket.on('message', (data: RawData, isBinary: boolean) => {
      try {
        this.#onFrame(conn, data, isBinary);
      } catch (error) {
        this.log.warn({ err: error }, 'cannot handle a web chat frame; ignored');
        this.#write(conn, { type: 'error', code: 'bad-frame', message: 'the frame could not be handled' });
      }
    });
  }

  #ping(): void {
    for (const conn of this.#conns) {
      if (!conn.alive) {
        conn.socket.terminate();
        continue;
      }
      conn.alive = false;
      try {
        conn.socket.ping();
      } catch (error) {
        this.log.debug({ err: error }, 'cannot ping a web chat socket');
        conn.socket.terminate();
      }
    }
  }

  /** The socket closed without a bye: the session waits `grace` seconds for a resume, then leaves its rooms uncleanly. */
  #dropped(conn: Conn): void {
    const session = conn.session;
    if (!session || session.conn !== conn) return;
    session.conn = undefined;
    clearTimeout(session.graceTimer);
    session.graceTimer = setTimeout(() => this.#endSession(session, false), this.config.grace * 1000);
    session.graceTimer.unref();
  }

  #write(conn: Conn, frame: ServerFrame): void {
    const socket = conn.socket;
    if (socket.readyState !== socket.OPEN) return;
    if (socket.bufferedAmount > MAX_BUFFERED) {
      this.log.warn({ ip: conn.ip }, 'a web chat client stopped reading; its socket is dropped');
      socket.terminate();
      return;
    }
    socket.send(JSON.stringify(frame));
  }

  /** Sends to a session's socket, or keeps the frame for when it resumes. */
  #push(session: Session, frame: ServerFrame): void {
    if (session.conn) {
      this.#write(session.conn, frame);
      return;
    }
    session.backlog.push(JSON.stringify(frame));
    if (session.backlog.length > BACKLOG) session.backlog.shift();
  }

  #allowed(conn: Conn): boolean {
    const now = Date.now();
    const burst = this.config.rate * 2;
    conn.tokens = Math.min(burst, conn.tokens + ((now - conn.refilled) / 1000) * this.config.rate);
    conn.refilled = now;
    if (conn.tokens < 1) return false;
    conn.tokens -= 1;
    return true;
  }

  // ---- frames ------------------------------------------------------------------------------

  #onFrame(conn: Conn, data: RawData, isBinary: boolean): void {
    if (!this.#allowed(conn)) {
      this.#write(conn, { type: 'error', code: 'rate-limited', message: `more than ${this.config.rate} frames per second; frame dropped` });
      return;
    }
    if (isBinary) {
      this.#write(conn, { type: 'error', code: 'bad-frame', message: 'frames are JSON text, not binary' });
      return;
    }
    const parsed = parseFrame(rawText(data));
    if (!parsed.ok) {
      this.log.debug({ ip: conn.ip, error: parsed.error }, 'bad web chat frame');
      this.#write(conn, { type: 'error', code: 'bad-frame', message: parsed.error, ...(parsed.ref ? { ref: parsed.ref } : {}) });
      return;
    }
    const frame = parsed.frame;
    const fail = (code: ErrorCode, message: string) => this.#write(conn, { type: 'error', code, message, ...ref(frame) });
    if (frame.type === 'hello') {
      this.#hello(conn, frame, fail);
      return;
    }
    const session = conn.session;
    if (!session) {
      fail('hello-first', 'say hello first');
      return;
    }
    if (frame.session !== undefined && frame.session !== session.address) {
      this.log.warn({ ip: conn.ip, claimed: frame.session, address: session.address }, 'a web chat frame claimed another session; refused');
      fail('forged', `this connection is ${session.address}, not ${frame.session}`);
      return;
    }
    switch (frame.type) {
      case 'join':
        this.#join(session, frame, fail);
        return;
      case 'leave': {
        const { room, occupant } = this.#inRoom(session, frame.room) ?? {};
        if (!room || !occupant) {
          fail('not-in-room', `you are not in room ${frame.room}`);
          return;
        }
        this.#removeOccupant(room, occupant, { clean: true });
        this.#push(session, { type: 'left', room: room.name, ...ref(frame) });
        return;
      }
      case 'say':
        this.#say(session, frame, fail);
        return;
      case 'typing': {
        const { room, occupant } = this.#inRoom(session, frame.room) ?? {};
        if (!room || !occupant) {
          fail('not-in-room', `you are not in room ${frame.room}`);
          return;
        }
        for (const other of room.occupants.values()) {
          if (other !== occupant) this.#push(other.session, { type: 'typing', room: room.name, nick: occupant.nick, active: frame.active });
        }
        return;
      }
      case 'bye':
        this.#push(session, { type: 'bye', ...ref(frame) });
        this.#endSession(session, true);
        conn.session = undefined;
        conn.socket.close(CLOSE.normal, 'bye');
        return;
    }
  }

  #hello(conn: Conn, frame: Extract<ClientFrame, { type: 'hello' }>, fail: (code: ErrorCode, message: string) => void): void {
    if (conn.session) {
      fail('bad-frame', `this connection is already ${conn.session.address}`);
      return;
    }
    if (frame.resume !== undefined) {
      const session = this.#tokens.get(frame.resume);
      if (!session) {
        fail('resume-failed', 'no session with that token (it ended, or porter restarted): say hello without resume');
        return;
      }
      if (session.conn) {
        // The newer socket wins: the old one is often a half-dead connection the client gave up on.
        const old = session.conn;
        old.session = undefined;
        old.socket.close(CLOSE.replaced, 'replaced by a newer connection');
      }
      clearTimeout(session.graceTimer);
      session.graceTimer = undefined;
      session.conn = conn;
      conn.session = session;
      this.#write(conn, welcome(session, true, frame.id));
      for (const text of session.backlog.splice(0)) if (conn.socket.readyState === conn.socket.OPEN) conn.socket.send(text);
      return;
    }
    // Sessions outlive their sockets, so they are limited too: else connect, hello, drop, repeat would pile them up.
    if ((this.#sessionsPerIp.get(conn.ip) ?? 0) >= this.config['sessions-per-ip']) {
      fail('too-many', 'too many sessions from this address: end one (bye) or wait for one to expire');
      return;
    }
    let staff: WebChatConfig['staff'][number] | undefined;
    if (frame.username !== undefined || frame.password !== undefined) {
      staff = this.config.staff.find((s) => s.username === frame.username);
      if (!staff || frame.password === undefined || !sameSecret(staff.password, frame.password)) {
        this.log.warn({ ip: conn.ip, username: frame.username }, 'web chat staff login refused');
        fail('not-authorized', 'wrong user name or password');
        return;
      }
    }
    const session: Session = {
      address: staff ? `staff/${staff.username}` : `anon/${randomBytes(9).toString('base64url')}`,
      token: randomBytes(24).toString('base64url'),
      staff: staff !== undefined,
      ip: conn.ip,
      nick: frame.nick ?? staff?.name ?? staff?.username ?? `guest-${randomBytes(3).toString('hex')}`,
      conn,
      rooms: new Set(),
      graceTimer: undefined,
      backlog: [],
    };
    conn.session = session;
    count(this.#sessionsPerIp, conn.ip, 1);
    this.#tokens.set(session.token, session);
    let same = this.#sessions.get(session.address);
    if (!same) {
      same = new Set();
      this.#sessions.set(session.address, same);
    }
    same.add(session);
    this.log.debug({ address: session.address, ip: conn.ip }, 'web chat session');
    this.#write(conn, welcome(session, false, frame.id));
  }

  #join(session: Session, frame: Extract<ClientFrame, { type: 'join' }>, fail: (code: ErrorCode, message: string) => void): void {
    const room = this.#rooms.get(frame.room);
    if (!room) {
      if (this.#tombstones.has(frame.room)) {
        fail('gone', `room ${frame.room} was destroyed`);
        return;
      }
      fail('not-found', `no room ${frame.room}`);
      return;
    }
    const present = occupantOf(room, session);
    if (present) {
      this.#push(session, joinedFrame(room, present.nick, session.staff, this.config.nick, frame.id));
      return;
    }
    if (room.kicked.has(session.address)) {
      fail('kicked', `you were removed from room ${room.name} and may not come back`);
      return;
    }
    if (!sameSecret(room.options.password, frame.password)) {
      fail('not-authorized', `wrong password for room ${room.name}`);
      return;
    }
    if (room.options.membersOnly && !session.staff && !room.members.has(session.address)) {
      fail('forbidden', `room ${room.name} is for invited people only`);
      return;
    }
    const max = room.options.maxOccupants;
    if (max !== undefined && room.occupants.size >= max) {
      fail('full', `room ${room.name} is full (${max})`);
      return;
    }
    const nick = frame.nick ?? session.nick;
    if (room.occupants.has(nick) || nick === this.config.nick) {
      fail('conflict', `the nick ${nick} is taken in room ${room.name}`);
      return;
    }
    const occupant: Occupant = { session, nick };
    room.occupants.set(nick, occupant);
    session.rooms.add(room.name);
    this.#push(session, joinedFrame(room, nick, session.staff, this.config.nick, frame.id));
    for (const other of room.occupants.values()) {
      if (other !== occupant) this.#push(other.session, { type: 'presence', room: room.name, nick, event: 'joined' });
    }
    this.#pushOccupants(room, occupant);
    this.receive({ id: newId(), channel: this.channel(room.name), at: new Date(), joined: [this.#roomUser(room, occupant)] });
  }

  #say(session: Session, frame: Extract<ClientFrame, { type: 'say' }>, fail: (code: ErrorCode, message: string) => void): void {
    const id = newId();
    const at = new Date();
    if (frame.room === undefined) {
      // Without a room it is a word to porter alone: the session's private channel.
      this.#push(session, {
        type: 'message',
        private: true,
        id,
        from: session.nick,
        text: frame.text,
        at: at.toISOString(),
        ...ref(frame),
      });
      const user: User = { id: session.address, plug: this.name, username: session.nick, raw: { address: session.address } };
      this.receive({ id, channel: this.channel(session.address), at, text: RichText.plain(frame.text), user });
      return;
    }
    const { room, occupant } = this.#inRoom(session, frame.room) ?? {};
    if (!room || !occupant) {
      fail('not-in-room', `you are not in room ${frame.room}`);
      return;
    }
    const line: ChatLine = { id, room: room.name, from: occupant.nick, text: frame.text, at: at.toISOString() };
    this.#broadcastLine(room, line, session, frame.id);
    this.receive({ id, channel: this.channel(room.name), at, text: RichText.plain(frame.text), user: this.#roomUser(room, occupant) });
  }

  /** The room of that name and the session's place in it, when it is there. */
  #inRoom(session: Session, name: string): { room: Room; occupant: Occupant } | undefined {
    const room = this.#rooms.get(name);
    const occupant = room && occupantOf(room, session);
    return room && occupant ? { room, occupant } : undefined;
  }

  #broadcastLine(room: Room, line: ChatLine, sender?: Session, senderRef?: string): void {
    room.history.push(line);
    const keep = room.options.historyLength ?? 20;
    if (room.history.length > keep) room.history.splice(0, room.history.length - keep);
    for (const o of room.occupants.values()) {
      this.#push(o.session, { type: 'message', ...line, ...(o.session === sender && senderRef ? { ref: senderRef } : {}) });
    }
  }

  #pushOccupants(room: Room, except?: Occupant): void {
    for (const o of room.occupants.values()) {
      if (o !== except)
        this.#push(o.session, { type: 'occupants', room: room.name, occupants: views(room, o.session.staff, this.config.nick) });
    }
  }

  /** Takes an occupant out of a room and tells the others and the host. */
  #removeOccupant(room: Room, occupant: Occupant, how: { clean: boolean; kicked?: boolean }): void {
    if (room.occupants.get(occupant.nick) !== occupant) return;
    room.occupants.delete(occupant.nick);
    occupant.session.rooms.delete(room.name);
    const kicked = how.kicked === true;
    for (const o of room.occupants.values()) {
      this.#push(o.session, { type: 'presence', room: room.name, nick: occupant.nick, event: 'left', clean: how.clean, kicked });
    }
    this.#pushOccupants(room);
    const left: RoomUser = { ...this.#roomUser(room, occupant), clean: how.clean, kicked };
    this.receive({ id: newId(), channel: this.channel(room.name), at: new Date(), left: [left] });
  }

  /** Ends a session: a bye (clean) or a grace period run out (lost). */
  #endSession(session: Session, clean: boolean): void {
    clearTimeout(session.graceTimer);
    session.graceTimer = undefined;
    for (const name of [...session.rooms]) {
      const room = this.#rooms.get(name);
      const occupant = room && occupantOf(room, session);
      if (room && occupant) this.#removeOccupant(room, occupant, { clean });
    }
    if (this.#tokens.delete(session.token)) count(this.#sessionsPerIp, session.ip, -1);
    const same = this.#sessions.get(session.address);
    same?.delete(session);
    if (same?.size === 0) this.#sessions.delete(session.address);
    if (!clean) this.log.debug({ address: session.address }, 'web chat session lost');
  }

  #roomUser(room: Room, occupant: Occupant): RoomUser {
    return {
      id: `${room.name}/${occupant.nick}`,
      plug: this.name,
      username: occupant.nick,
      nick: occupant.nick,
      address: occupant.session.address,
    };
  }

  // ---- messages ----------------------------------------------------------------------------

  async send(channel: Channel, message: Message): Promise<Receipt[]> {
    this.#own(channel, 'send to');
    const text = renderPlain(message);
    if (!text) return [];
    const id = newId();
    const at = new Date();
    const room = this.#rooms.get(channel.source);
    if (room) {
      this.#broadcastLine(room, { id, room: room.name, from: this.config.nick, text, at: at.toISOString() });
      return [{ id, channel, at }];
    }
    const sessions = this.#sessions.get(channel.source);
    if (!sessions?.size) {
      throw new PlugError(
        channel.source.includes('/')
          ? `cannot send to ${channel.key}: nobody is connected as ${channel.source}`
          : `cannot send to ${channel.key}: no room ${channel.source}`,
      );
    }
    for (const s of sessions) this.#push(s, { type: 'message', private: true, id, from: this.config.nick, text, at: at.toISOString() });
    return [{ id, channel, at }];
  }

  override async channelIsPrivate(channel: Channel): Promise<boolean> {
    return channel.source.includes('/');
  }

  override async channels(): Promise<Channel[]> {
    return [...this.#rooms.keys()].map((name) => this.channel(name));
  }

  // ---- rooms -------------------------------------------------------------------------------

  async createRoom(options: RoomOptions): Promise<Channel> {
    const name = options.name ?? `room-${randomBytes(6).toString('hex')}`;
    if (!ROOM_NAME.test(name))
      throw new PlugError(`cannot create room "${name}": not a valid room name (lower-case letters, digits, ".", "_", "-")`);
    checkOptions(name, options);
    if (this.#rooms.has(name)) throw new PlugError(`cannot create room ${name}: it exists already`);
    this.#tombstones.delete(name);
    this.#rooms.set(name, newRoom(name, options));
    return this.channel(name);
  }

  async configureRoom(channel: Channel, options: RoomOptions): Promise<void> {
    const room = this.#room(channel, 'configure');
    checkOptions(room.name, options);
    room.options = options;
    // Porter keeps the cap: whoever came last beyond a lowered cap is removed.
    const max = options.maxOccupants;
    if (max !== undefined) {
      for (const occupant of [...room.occupants.values()].slice(max).reverse()) this.#kickOccupant(room, occupant, 'The room is full');
    }
  }

  async rejoinRoom(channel: Channel, password: string): Promise<RejoinOutcome> {
    this.#own(channel, 'rejoin');
    const room = this.#rooms.get(channel.source);
    if (room) {
      room.options = { ...room.options, password };
      return 'joined';
    }
    if (!ROOM_NAME.test(channel.source)) throw new PlugError(`cannot rejoin ${channel.key}: not a room name`);
    this.#tombstones.delete(channel.source);
    this.#rooms.set(channel.source, newRoom(channel.source, { password }));
    this.log.info({ room: channel.source }, 'the room was gone (porter restarted); it was created again, empty');
    return 'recreated';
  }

  async invite(channel: Channel, address: string, options: { reason?: string; password?: string } = {}): Promise<void> {
    const room = this.#room(channel, 'invite to');
    const sessions = this.#sessions.get(address);
    if (!sessions?.size) throw new PlugError(`cannot invite "${address}" to ${room.name}: nobody is connected as ${address}`);
    room.members.add(address);
    const frame: ServerFrame = {
      type: 'invite',
      room: room.name,
      password: options.password ?? room.options.password,
      ...(options.reason ? { reason: options.reason } : {}),
    };
    for (const s of sessions) this.#push(s, frame);
  }

  async kick(channel: Channel, who: string, reason?: string): Promise<void> {
    const room = this.#room(channel, 'kick from');
    const byNick = room.occupants.get(who);
    const targets = byNick ? [byNick] : [...room.occupants.values()].filter((o) => o.session.address === who);
    if (!targets.length) throw new PlugError(`cannot kick "${who}" from ${room.name}: nobody of that nick or address is in the room`);
    for (const occupant of targets) this.#kickOccupant(room, occupant, reason);
  }

  #kickOccupant(room: Room, occupant: Occupant, reason: string | undefined): void {
    room.kicked.add(occupant.session.address);
    this.#push(occupant.session, { type: 'kicked', room: room.name, ...(reason ? { reason } : {}) });
    this.#removeOccupant(room, occupant, { clean: false, kicked: true });
  }

  async destroyRoom(channel: Channel, reason?: string): Promise<void> {
    const room = this.#room(channel, 'destroy');
    this.#rooms.delete(room.name);
    this.#tombstones.add(room.name);
    if (this.#tombstones.size > TOMBSTONES) this.#tombstones.delete(this.#tombstones.values().next().value as string);
    for (const occupant of room.occupants.values()) {
      occupant.session.rooms.delete(room.name);
      this.#push(occupant.session, { type: 'destroyed', room: room.name, ...(reason ? { reason } : {}) });
    }
    room.occupants.clear();
  }

  async occupants(channel: Channel): Promise<RoomOccupant[]> {
    const room = this.#room(channel, 'list the occupants of');
    return [...room.occupants.values()].map((o) => ({
      nick: o.nick,
      address: o.session.address,
      role: o.session.staff ? 'staff' : 'client',
      user: this.#roomUser(room, o),
    }));
  }

  #own(channel: Channel, what: string): void {
    if (channel.plug !== this) throw new PlugError(`cannot ${what} ${channel.key}: it is not a channel of plug "${this.name}"`);
  }

  #room(channel: Channel, what: string): Room {
    this.#own(channel, what);
    const room = this.#rooms.get(channel.source);
    if (!room) {
      const why = this.#tombstones.has(channel.source) ? 'it was destroyed' : 'no such room';
      throw new PlugError(`cannot ${what} ${channel.source}: ${why}`);
    }
    return room;
  }
}

/** The address the nearest proxy saw the client come from: the last entry of X-Forwarded-For. */
function forwardedFor(request: IncomingMessage): string | undefined {
  const header = request.headers['x-forwarded-for'];
  const value = Array.isArray(header) ? header.at(-1) : header;
  const last = value?.split(',').at(-1)?.trim();
  return last || undefined;
}

/** Adds `delta` to the count under `key`, forgetting keys that reach zero. */
function count(counts: Map<string, number>, key: string, delta: number): void {
  const n = (counts.get(key) ?? 0) + delta;
  if (n > 0) counts.set(key, n);
  else counts.delete(key);
}

function newRoom(name: string, options: RoomOptions): Room {
  return { name, options, occupants: new Map(), kicked: new Set(), members: new Set(), history: [] };
}

function checkOptions(name: string, options: RoomOptions): void {
  if (typeof options.password !== 'string') throw new PlugError(`cannot configure room ${name}: password must be a string`);
  for (const key of ['maxOccupants', 'historyLength'] as const) {
    const value = options[key];
    if (value !== undefined && !(Number.isInteger(value) && value >= 0)) {
      throw new PlugError(`cannot configure room ${name}: ${key} must be a whole number ≥ 0, not ${value}`);
    }
  }
}

function occupantOf(room: Room, session: Session): Occupant | undefined {
  for (const o of room.occupants.values()) if (o.session === session) return o;
  return undefined;
}

/** The occupant list as `viewer` may see it: real addresses to staff only. */
function views(room: Room, staffViewer: boolean, porterNick: string): OccupantView[] {
  const list: OccupantView[] = [{ nick: porterNick, role: 'owner' }];
  for (const o of room.occupants.values()) {
    list.push({ nick: o.nick, role: o.session.staff ? 'staff' : 'client', ...(staffViewer ? { address: o.session.address } : {}) });
  }
  return list;
}

function joinedFrame(room: Room, nick: string, staffViewer: boolean, porterNick: string, id: string | undefined): ServerFrame {
  return {
    type: 'joined',
    room: room.name,
    nick,
    occupants: views(room, staffViewer, porterNick),
    history: [...room.history],
    ...(id ? { ref: id } : {}),
  };
}

function welcome(session: Session, resumed: boolean, id: string | undefined): ServerFrame {
  return {
    type: 'welcome',
    address: session.address,
    token: session.token,
    nick: session.nick,
    staff: session.staff,
    resumed,
    rooms: [...session.rooms],
    ...(id ? { ref: id } : {}),
  };
}

function ref(frame: { id?: string | undefined }): { ref?: string } {
  return frame.id ? { ref: frame.id } : {};
}

/** Compares secrets in constant time (their hashes, so that lengths leak nothing either). */
function sameSecret(expected: string, given: string): boolean {
  const a = createHash('sha256').update(expected).digest();
  const b = createHash('sha256').update(given).digest();
  return timingSafeEqual(a, b);
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data as ArrayBuffer).toString('utf8');
}

// Message ids: unique across restarts (the sync hook's map in the store relies on it) without
// asking the kernel for random bytes on every message.
const ID_PREFIX = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}-`;
let idCounter = 0;
function newId(): string {
  return `${ID_PREFIX}${(++idCounter).toString(36)}`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
