/**
 * The xmpp plug: a bot account on any XMPP server. Rooms (MUC, XEP-0045) are channels, one-to-one
 * chats are private channels, and the plug creates, configures, rejoins, invites to, kicks from
 * and destroys rooms through core's rooms interface. See README.md beside this file.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { type Client, client, xml } from '@xmpp/client';
import type { Channel } from '../../core/channel.js';
import { PlugError } from '../../core/errors.js';
import { type Message, type Receipt, RichText, renderPlain, type User } from '../../core/message.js';
import { Plug, type PlugCapabilities } from '../../core/plug.js';
import type { RejoinOutcome, RoomOccupant, RoomOptions, RoomsCapable, RoomUser } from '../../core/rooms.js';
import { serviceUrl, type XmppConfig, xmppConfigSchema } from './config.js';
import {
  configSubmit,
  destroyRequest,
  type Element,
  errorCondition,
  formFields,
  inviteMessage,
  joinPresence,
  kickRequest,
  leavePresence,
  mucItem,
  NS_DELAY,
  NS_MUC_OWNER,
  NS_MUC_USER,
  NS_STANZA_ID,
  statusCodes,
} from './stanzas.js';

export { type XmppConfig, xmppConfigSchema } from './config.js';

/** What the plug knows of one room it is in (or was in and will rejoin). */
interface Room {
  /** The password to join with; remembered for rejoins. */
  password?: string;
  /** The last options the room was configured with, to configure it again if the server loses it. */
  options?: RoomOptions;
  /** Porter's own presence in the room was confirmed. */
  joined: boolean;
  readonly occupants: Map<string, RoomOccupant>;
}

interface PendingJoin {
  resolve(created: boolean): void;
  reject(error: Error): void;
}

export interface XmppEvents {
  /** Connected and authenticated (at start and after each reconnect). */
  online: [];
  /** The connection is down; the next reconnect attempt is in `delayMs`. */
  offline: [delayMs: number];
  /** A configured or remembered room was joined, at start or after a reconnect. */
  rejoined: [channel: Channel, outcome: RejoinOutcome];
}

const NS_STREAMS = 'http://etherx.jabber.org/streams';
const NS_STARTTLS = 'urn:ietf:params:xml:ns:xmpp-tls';
const MUC_LEAVE_CODES = { kicked: ['307', '301', '321', '322'], renamed: '303' };

export class XmppPlug extends Plug<XmppConfig> implements RoomsCapable {
  static readonly configSchema = () => xmppConfigSchema;

  readonly network = 'XMPP';
  override readonly capabilities: PlugCapabilities = {
    edit: false,
    delete: false,
    files: false,
    richText: false,
    rooms: true,
    members: true,
    privateChannels: true,
  };
  // Porter knows its own nick in every room, so it marks the room's reflection of its messages.
  override readonly marksEchoes = true;
  readonly events = new EventEmitter<XmppEvents>();
  #xmpp: Client | undefined;
  readonly #rooms = new Map<string, Room>();
  readonly #joins = new Map<string, PendingJoin>();
  #stopping = false;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #attempt = 0;
  #online = false;
  #status = '';
  #keepalive: NodeJS.Timeout | undefined;

  get nick(): string {
    return this.config.nick ?? (this.config.jid.split('@')[0] as string);
  }

  /** Whether the connection is up now. */
  get online(): boolean {
    return this.#online;
  }

  protected override async start(): Promise<void> {
    this.#stopping = false;
    this.#status = this.config.status;
    const [username, domain] = this.config.jid.split('@') as [string, string];
    const url = serviceUrl(this.config);
    if (url.protocol.startsWith('ws')) await provideWebSocket();
    const xmpp = client({
      service: `${url.protocol}//${url.host}${url.pathname === '/' ? '' : url.pathname}`,
      domain,
      username,
      password: this.config.password,
      resource: this.config.resource,
    });
    // Reconnecting is ours: with backoff, and with the rooms rejoined afterwards.
    xmpp.reconnect.stop();
    xmpp.on('error', (error: Error) => this.log.warn({ err: error }, 'XMPP connection error'));
    xmpp.on('stanza', (stanza: Element) => {
      try {
        this.#onStanza(stanza);
      } catch (error) {
        this.log.warn({ err: error, stanza: stanza.toString().slice(0, 500) }, 'cannot handle stanza; ignored');
      }
    });
    if (this.config.tls === 'starttls') this.#requireStarttls(xmpp);
    xmpp.on('disconnect', () => this.#onDisconnect());
    xmpp.on('online', () => {
      // The first time, start() itself carries on; after a reconnect this restores the rooms.
      if (this.#online || this.#stopping || this.#xmpp !== xmpp || this.#attempt === 0) return;
      void this.#afterOnline().catch((error: unknown) => this.log.warn({ err: error }, 'cannot restore the rooms after reconnecting'));
    });
    this.#xmpp = xmpp;
    try {
      await xmpp.start();
    } catch (error) {
      this.#xmpp = undefined;
      await xmpp.stop().catch(() => {});
      throw new PlugError(`cannot connect to ${url.href} as ${this.config.jid}: ${messageOf(error)}`, { cause: error });
    }
    await this.#afterOnline();
  }

  protected override async stop(): Promise<void> {
    this.#stopping = true;
    clearInterval(this.#keepalive);
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    const xmpp = this.#xmpp;
    this.#xmpp = undefined;
    this.#online = false;
    this.#failJoins(new PlugError(`plug "${this.name}" is closing`));
    if (!xmpp) return;
    try {
      if (xmpp.status === 'online') {
        for (const [room, state] of this.#rooms)
          if (state.joined) await xmpp.send(leavePresence(room, this.nick, this.config['clean-exit']));
        await xmpp.send(leavePresenceOfAccount(this.config['clean-exit']));
      }
      await xmpp.stop();
    } catch (error) {
      this.log.debug({ err: error }, 'connection closed uncleanly');
    }
    for (const state of this.#rooms.values()) this.#forgetPresence(state);
  }

  // ---- connection --------------------------------------------------------------------------

  /** After connecting: presence, keepalive, then the configured rooms and every room porter was in, with their passwords. */
  async #afterOnline(): Promise<void> {
    const xmpp = this.#connected();
    this.#online = true;
    this.#attempt = 0;
    this.#startKeepalive(xmpp);
    const presence = presenceOfAccount(this.#status);
    await xmpp.send(presence);
    this.log.info({ jid: xmpp.jid?.toString() }, 'online');
    this.events.emit('online');
    const configured = new Map<string, string | undefined>();
    for (const entry of this.config.rooms) {
      const room = typeof entry === 'string' ? this.#roomJid(entry) : this.#roomJid(entry.room);
      configured.set(room, typeof entry === 'string' ? undefined : entry.password);
    }
    for (const [room, state] of this.#rooms) if (!configured.has(room)) configured.set(room, state.password);
    for (const [room, password] of configured) {
      try {
        const outcome = await this.rejoinRoom(this.channel(room), password ?? '');
        this.events.emit('rejoined', this.channel(room), outcome);
        if (outcome === 'recreated') this.log.warn({ room }, 'the server had lost the room; it was created and configured again');
      } catch (error) {
        this.log.warn({ err: error, room }, 'cannot join room');
      }
    }
  }

  /**
   * With `tls: starttls`, a stream whose features offer no STARTTLS is closed before anything is
   * negotiated on it, so no credentials cross it unencrypted. This listener runs before the
   * client's own negotiation, which then finds no features left to act on.
   */
  #requireStarttls(xmpp: Client): void {
    xmpp.prependListener('element', (element: Element) => {
      if (!element.is('features', NS_STREAMS) || isEncrypted(xmpp) || element.getChild('starttls', NS_STARTTLS)) return;
      element.children = [];
      xmpp.emit(
        'error',
        new PlugError(`the server at ${serviceUrl(this.config).href} offers no STARTTLS (tls: starttls); not logging in unencrypted`),
      );
      xmpp.disconnect().catch(() => {});
    });
  }

  /** Pings the server now and then: only a ping left unanswered shows a connection that died without a word. */
  #startKeepalive(xmpp: Client): void {
    clearInterval(this.#keepalive);
    if (this.config.keepalive === 0) return;
    let waiting = false;
    this.#keepalive = setInterval(() => {
      if (waiting || xmpp.status !== 'online') return;
      waiting = true;
      const ping = xml('iq', { type: 'get', to: this.config.jid.split('@')[1] as string }, xml('ping', { xmlns: 'urn:xmpp:ping' }));
      xmpp.iqCaller
        .request(ping, this.config.timeout * 1000)
        .catch((error: unknown) => {
          // An error answer (a server without ping) still proves the connection alive.
          if ((error as { condition?: string }).condition !== undefined || xmpp.status !== 'online') return;
          this.log.warn({ timeoutS: this.config.timeout }, 'no answer to a ping; dropping the connection to reconnect');
          dropSocket(xmpp);
        })
        .finally(() => {
          waiting = false;
        });
    }, this.config.keepalive * 1000);
  }

  #onDisconnect(): void {
    clearInterval(this.#keepalive);
    if (this.#stopping) return;
    const wasOnline = this.#online;
    this.#online = false;
    for (const state of this.#rooms.values()) this.#forgetPresence(state);
    this.#failJoins(new PlugError(`connection to ${serviceUrl(this.config).href} lost`));
    if (wasOnline || this.#attempt > 0) this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    if (this.#stopping || this.#reconnectTimer) return;
    const { min, max } = this.config.reconnect;
    const delayMs = Math.round(Math.min(min * 2 ** this.#attempt, max) * 1000);
    this.#attempt++;
    this.log.warn({ attempt: this.#attempt, delayMs }, 'XMPP connection lost; reconnecting');
    this.events.emit('offline', delayMs);
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      const xmpp = this.#xmpp;
      if (!xmpp || this.#stopping) return;
      const { service, domain, lang } = xmpp.options;
      // The 'online' listener restores the rooms; a failure lands in #onDisconnect or here.
      xmpp
        .connect(service as string)
        .then(() => xmpp.open({ domain: domain as string, lang }))
        .catch((error: unknown) => {
          this.log.debug({ err: error }, 'reconnect attempt failed');
          // A server that accepted the socket but never answered: let go of it before trying again.
          if (xmpp.status !== 'disconnect') dropSocket(xmpp);
          this.#scheduleReconnect();
        });
    }, delayMs);
  }

  #connected(): Client {
    const xmpp = this.#xmpp;
    if (xmpp?.status !== 'online') throw new PlugError(`plug "${this.name}" is not connected to ${serviceUrl(this.config).href}`);
    return xmpp;
  }

  /** Changes porter's presence status text, for the account and in every room it is in. */
  async setStatus(text: string): Promise<void> {
    const xmpp = this.#connected();
    this.#status = text;
    await xmpp.send(presenceOfAccount(text));
    for (const [room, state] of this.#rooms) {
      if (state.joined) await xmpp.send(xml('presence', { to: `${room}/${this.nick}` }, ...(text ? [xml('status', {}, text)] : [])));
    }
  }

  // ---- messages ----------------------------------------------------------------------------

  async send(channel: Channel, message: Message): Promise<Receipt[]> {
    const body = renderPlain(message);
    if (!body) return [];
    const xmpp = this.#connected();
    const room = this.#rooms.get(channel.source);
    if (room && !room.joined) throw new PlugError(`cannot send to ${channel.key}: porter is not in the room now`);
    if (!room && this.config.muc && channel.source.endsWith(`@${this.config.muc}`)) {
      throw new PlugError(
        `cannot send to ${channel.key}: porter is not in that room (list it under rooms in the config of plug "${this.name}")`,
      );
    }
    const id = randomBytes(9).toString('base64url');
    const stanza = xml('message', { to: channel.source, type: room ? 'groupchat' : 'chat', id }, xml('body', {}, body));
    await xmpp.send(stanza);
    return [{ id, channel, at: new Date() }];
  }

  override async channelIsPrivate(channel: Channel): Promise<boolean> {
    const [bare, resource] = splitJid(channel.source);
    if (this.#rooms.has(bare)) return resource !== undefined;
    return bare.split('@')[1] !== this.config.muc || resource !== undefined;
  }

  override async channels(): Promise<Channel[]> {
    return [...this.#rooms.keys()].map((room) => this.channel(room));
  }

  #onStanza(stanza: Element): void {
    if (stanza.is('presence')) this.#onPresence(stanza);
    else if (stanza.is('message')) this.#onMessage(stanza);
  }

  #onMessage(stanza: Element): void {
    const from = String(stanza.attrs.from ?? '');
    // Without a sender it comes from porter's own server (a notice), not from a channel.
    if (!from.includes('@')) return;
    const [bare, resource] = splitJid(from);
    const type = String(stanza.attrs.type ?? 'normal');
    if (type === 'error') {
      this.log.warn({ from, condition: errorCondition(stanza) }, 'the server refused a message');
      return;
    }
    if (stanza.getChild('x', NS_MUC_USER)?.getChild('invite')) {
      this.log.info({ room: bare }, 'invitation received; ignored');
      return;
    }
    // History replayed on join is old news, not something to bridge again.
    if (stanza.getChild('delay', NS_DELAY)) return;
    const room = this.#rooms.get(bare);
    const body = stanza.getChildText('body');
    const subject = stanza.getChildText('subject');
    const id = String(stanza.attrs.id ?? stanza.getChild('stanza-id', NS_STANZA_ID)?.attrs.id ?? randomBytes(9).toString('base64url'));
    if (type === 'groupchat') {
      if (!room) return;
      const user = resource === undefined ? undefined : this.#occupantUser(bare, resource, room.occupants.get(resource)?.address);
      const fromPorter = resource === this.nick;
      if (body) {
        this.receive({ id, channel: this.channel(bare), at: new Date(), text: RichText.plain(body), user, fromPorter, raw: stanza });
      } else if (subject !== null && subject !== undefined) {
        this.receive({ id, channel: this.channel(bare), at: new Date(), title: subject, user, fromPorter, raw: stanza });
      }
      return;
    }
    if (!body) return;
    // A private message through a room comes from the occupant's room address; any other from the account.
    const source = room && resource !== undefined ? `${bare}/${resource}` : bare;
    const user: User =
      room && resource !== undefined
        ? this.#occupantUser(bare, resource, room.occupants.get(resource)?.address)
        : { id: bare, plug: this.name, username: bare.split('@')[0] ?? bare, raw: from };
    this.receive({ id, channel: this.channel(source), at: new Date(), text: RichText.plain(body), user, raw: stanza });
  }

  #onPresence(stanza: Element): void {
    const from = String(stanza.attrs.from ?? '');
    const [bare, nick] = splitJid(from);
    const type = String(stanza.attrs.type ?? 'available');
    const pending = this.#joins.get(bare);
    if (type === 'error') {
      const condition = errorCondition(stanza);
      if (pending) {
        this.#joins.delete(bare);
        pending.reject(new PlugError(`cannot join room ${bare}: ${condition}${condition === 'not-authorized' ? ' (wrong password)' : ''}`));
      } else if (this.#rooms.has(bare)) {
        this.log.warn({ room: bare, condition }, 'the room refused a presence');
      }
      return;
    }
    const room = this.#rooms.get(bare);
    if (!room || nick === undefined) return;
    const codes = statusCodes(stanza);
    const item = mucItem(stanza);
    const leaving = type === 'unavailable';
    if (codes.has('110') || nick === this.nick) {
      if (leaving) {
        const removed = MUC_LEAVE_CODES.kicked.some((c) => codes.has(c)) || stanza.getChild('x', NS_MUC_USER)?.getChild('destroy');
        if (removed && !this.#stopping) this.log.warn({ room: bare, codes: [...codes] }, 'porter was removed from the room');
        this.#forgetPresence(room);
        return;
      }
      room.joined = true;
      if (pending) {
        this.#joins.delete(bare);
        pending.resolve(codes.has('201'));
      }
      return;
    }
    const status = stanza.getChildText('status') ?? undefined;
    if (leaving) {
      const occupant = room.occupants.get(nick);
      room.occupants.delete(nick);
      // A new nick follows in an available presence: a rename, not a leave.
      if (codes.has(MUC_LEAVE_CODES.renamed) || !room.joined) return;
      const kicked = MUC_LEAVE_CODES.kicked.some((c) => codes.has(c)) || !!stanza.getChild('x', NS_MUC_USER)?.getChild('destroy');
      const left: RoomUser = {
        ...this.#occupantUser(bare, nick, occupant?.address ?? bareOf(item?.jid)),
        clean: !kicked && status === this.config['clean-exit'],
        kicked,
      };
      this.receive({ id: randomBytes(9).toString('base64url'), channel: this.channel(bare), at: new Date(), left: [left], raw: stanza });
      return;
    }
    const known = room.occupants.has(nick);
    const address = item?.jid;
    room.occupants.set(nick, {
      nick,
      address,
      role: item?.role,
      affiliation: item?.affiliation,
      user: this.#occupantUser(bare, nick, address),
    });
    // Those already present when porter joins are not news; later arrivals are joins.
    if (known || !room.joined) return;
    const joined: RoomUser = this.#occupantUser(bare, nick, address);
    this.receive({ id: randomBytes(9).toString('base64url'), channel: this.channel(bare), at: new Date(), joined: [joined], raw: stanza });
    this.#enforceCap(bare, room, nick);
  }

  /** Prosody offers no occupant cap in the room form, so porter removes whoever joins beyond it. */
  #enforceCap(bare: string, room: Room, nick: string): void {
    const max = room.options?.maxOccupants;
    if (max === undefined || room.occupants.size <= max) return;
    const occupant = room.occupants.get(nick);
    if (occupant?.affiliation === 'owner' || occupant?.affiliation === 'admin') return;
    this.kick(this.channel(bare), nick, 'The room is full').catch((error: unknown) =>
      this.log.warn({ err: error, room: bare, nick }, 'cannot remove an occupant beyond the cap'),
    );
  }

  #occupantUser(room: string, nick: string, address: string | undefined): RoomUser {
    return { id: `${room}/${nick}`, plug: this.name, username: nick, nick, ...(address ? { address } : {}) };
  }

  #forgetPresence(room: Room): void {
    room.joined = false;
    room.occupants.clear();
  }

  #failJoins(error: Error): void {
    for (const pending of this.#joins.values()) pending.reject(error);
    this.#joins.clear();
  }

  // ---- rooms -------------------------------------------------------------------------------

  /**
   * Joins a room by short name or JID, creating it when it does not exist (`created`). A created
   * room stays locked to everyone else until `configureRoom` submits its configuration.
   */
  async joinRoom(room: string, password?: string): Promise<{ channel: Channel; created: boolean }> {
    const jid = this.#roomJid(room);
    const channel = this.channel(jid);
    if (this.#rooms.get(jid)?.joined) return { channel, created: false };
    const known = this.#rooms.get(jid);
    this.#rooms.set(jid, known ?? { joined: false, occupants: new Map() });
    try {
      const created = await this.#join(jid, password || undefined);
      const state = this.#rooms.get(jid);
      if (state && password) state.password = password;
      return { channel, created };
    } catch (error) {
      if (!known) this.#rooms.delete(jid);
      this.log.warn({ err: error, room: jid }, 'cannot join room');
      throw error;
    }
  }

  /** Leaves a room with a clean exit and forgets it: it is not rejoined after a reconnect. */
  async leaveRoom(channel: Channel): Promise<void> {
    this.#joinedRoom(channel, 'leave');
    await this.#leave(channel.source);
    this.#rooms.delete(channel.source);
  }

  async createRoom(options: RoomOptions): Promise<Channel> {
    const muc = this.#muc('create a room');
    const name = (options.name ?? `room-${randomBytes(6).toString('hex')}`).toLowerCase();
    if (!/^[^@/\s"&'<>:]+$/.test(name)) throw new PlugError(`cannot create room "${name}": not a valid room name`);
    const jid = `${name}@${muc}`;
    if (this.#rooms.get(jid)?.joined) throw new PlugError(`cannot create room ${jid}: porter is already in it`);
    const room: Room = { joined: false, occupants: new Map() };
    this.#rooms.set(jid, room);
    const channel = this.channel(jid);
    let created: boolean;
    try {
      created = await this.#join(jid, undefined);
    } catch (error) {
      this.#rooms.delete(jid);
      throw new PlugError(`cannot create room ${jid}: ${messageOf(error)}`, { cause: error });
    }
    if (!created) {
      await this.#leave(jid);
      this.#rooms.delete(jid);
      throw new PlugError(`cannot create room ${jid}: it exists already`);
    }
    try {
      await this.configureRoom(channel, options);
    } catch (error) {
      // A room that stays unconfigured stays locked: nobody could use it.
      await this.destroyRoom(channel, 'configuration refused').catch(() => {});
      throw error;
    }
    return channel;
  }

  async configureRoom(channel: Channel, options: RoomOptions): Promise<void> {
    const room = this.#joinedRoom(channel, 'configure');
    for (const key of ['maxOccupants', 'historyLength'] as const) {
      const value = options[key];
      if (value !== undefined && !(Number.isInteger(value) && value >= 0)) {
        throw new PlugError(`cannot configure room ${channel.source}: ${key} must be a whole number ≥ 0, not ${value}`);
      }
    }
    const xmpp = this.#connected();
    const jid = channel.source;
    try {
      const form = await xmpp.iqCaller.request(
        xml('iq', { type: 'get', to: jid }, xml('query', { xmlns: NS_MUC_OWNER })),
        this.config.timeout * 1000,
      );
      const offered = formFields(form.getChild('query', NS_MUC_OWNER));
      const history = options.historyLength ?? 20;
      const values: Record<string, string | number | boolean> = {
        roomname: options.name ?? jid.split('@')[0] ?? jid,
        persistentroom: options.persistent ?? false,
        publicroom: false,
        membersonly: options.membersOnly ?? false,
        moderatedroom: false,
        roomsecret: options.password,
        passwordprotectedroom: options.password !== '',
        whois: 'moderators',
        allowinvites: false,
        allowpm: 'none',
        changesubject: false,
        historylength: history,
        defaulthistorymessages: history,
      };
      if (options.maxOccupants !== undefined) values.maxusers = options.maxOccupants + 1;
      await xmpp.iqCaller.request(configSubmit(jid, offered, values), this.config.timeout * 1000);
    } catch (error) {
      const condition = (error as { condition?: string }).condition;
      this.log.warn({ err: error, room: jid, condition }, 'the server refused the room configuration');
      throw new PlugError(`cannot configure room ${jid}: ${condition ?? messageOf(error)}`, { cause: error });
    }
    room.options = options;
    room.password = options.password;
  }

  async rejoinRoom(channel: Channel, password: string): Promise<RejoinOutcome> {
    if (channel.plug !== this) throw new PlugError(`cannot rejoin ${channel.key}: it is not a channel of plug "${this.name}"`);
    const jid = channel.source;
    let room = this.#rooms.get(jid);
    if (room?.joined) {
      room.password = password;
      return 'joined';
    }
    const known = room !== undefined;
    room ??= { joined: false, occupants: new Map() };
    this.#rooms.set(jid, room);
    let created: boolean;
    try {
      created = await this.#join(jid, password || undefined);
    } catch (error) {
      if (!known) this.#rooms.delete(jid);
      this.log.warn({ err: error, room: jid }, 'cannot rejoin room');
      throw error instanceof PlugError ? error : new PlugError(`cannot rejoin room ${jid}: ${messageOf(error)}`, { cause: error });
    }
    room.password = password;
    if (!created) return 'joined';
    await this.configureRoom(channel, { ...room.options, password });
    return 'recreated';
  }

  async invite(channel: Channel, address: string, options: { reason?: string; password?: string } = {}): Promise<void> {
    const room = this.#joinedRoom(channel, 'invite to');
    if (!/^[^@/\s]+@[^@/\s]+(\/.+)?$/.test(address)) throw new PlugError(`cannot invite "${address}" to ${channel.source}: not a JID`);
    await this.#connected().send(inviteMessage(channel.source, address, options.reason, options.password ?? room.password));
  }

  async kick(channel: Channel, who: string, reason?: string): Promise<void> {
    const room = this.#joinedRoom(channel, 'kick from');
    let nick = room.occupants.has(who) ? who : undefined;
    if (nick === undefined) {
      for (const o of room.occupants.values()) {
        if (o.address && (o.address === who || bareOf(o.address) === who)) nick = o.nick;
      }
    }
    if (nick === undefined)
      throw new PlugError(`cannot kick "${who}" from ${channel.source}: nobody of that nick or address is in the room`);
    await this.#request(kickRequest(channel.source, nick, reason), `kick ${nick} from ${channel.source}`);
  }

  async destroyRoom(channel: Channel, reason?: string): Promise<void> {
    this.#joinedRoom(channel, 'destroy');
    await this.#request(destroyRequest(channel.source, reason), `destroy room ${channel.source}`);
    this.#rooms.delete(channel.source);
  }

  async occupants(channel: Channel): Promise<RoomOccupant[]> {
    return [...this.#joinedRoom(channel, 'list the occupants of').occupants.values()];
  }

  /** Sends an IQ and turns a refusal into a PlugError naming the server's condition, logged at warn. */
  async #request(iq: Element, what: string): Promise<Element> {
    try {
      return await this.#connected().iqCaller.request(iq, this.config.timeout * 1000);
    } catch (error) {
      if (error instanceof PlugError) throw error;
      const condition = (error as { condition?: string }).condition;
      this.log.warn({ err: error, condition }, `the server refused to ${what}`);
      throw new PlugError(`cannot ${what}: ${condition ?? messageOf(error)}`, { cause: error });
    }
  }

  /** Joins `room` and resolves whether the server created it (status 201). */
  #join(room: string, password: string | undefined): Promise<boolean> {
    const xmpp = this.#connected();
    if (this.#joins.has(room)) return Promise.reject(new PlugError(`already joining room ${room}`));
    return new Promise<boolean>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#joins.delete(room);
        reject(new PlugError(`cannot join room ${room}: no answer within ${this.config.timeout} s`));
      }, this.config.timeout * 1000);
      this.#joins.set(room, {
        resolve: (created) => {
          clearTimeout(timer);
          resolve(created);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      xmpp.send(joinPresence(room, this.nick, password, this.#status)).catch((error: unknown) => {
        this.#joins.get(room)?.reject(new PlugError(`cannot join room ${room}: ${messageOf(error)}`, { cause: error }));
        this.#joins.delete(room);
      });
    });
  }

  async #leave(room: string): Promise<void> {
    await this.#connected().send(leavePresence(room, this.nick, this.config['clean-exit']));
    const state = this.#rooms.get(room);
    if (state) this.#forgetPresence(state);
  }

  #joinedRoom(channel: Channel, what: string): Room {
    if (channel.plug !== this) throw new PlugError(`cannot ${what} ${channel.key}: it is not a channel of plug "${this.name}"`);
    const room = this.#rooms.get(channel.source);
    if (!room?.joined) throw new PlugError(`cannot ${what} ${channel.source}: porter is not in that room`);
    return room;
  }

  #muc(what: string): string {
    if (!this.config.muc) throw new PlugError(`cannot ${what}: set muc (the MUC service's domain) in the config of plug "${this.name}"`);
    return this.config.muc;
  }

  /** A room's JID from a config entry: a JID as it is, a short name on the MUC service. */
  #roomJid(entry: string): string {
    return entry.includes('@') ? entry.toLowerCase() : `${entry.toLowerCase()}@${this.#muc(`join room "${entry}"`)}`;
  }
}

function presenceOfAccount(status: string): Element {
  return status ? xml('presence', {}, xml('status', {}, status)) : xml('presence');
}

function leavePresenceOfAccount(status: string): Element {
  return xml('presence', { type: 'unavailable' }, xml('status', {}, status));
}

function splitJid(jid: string): [string, string | undefined] {
  const slash = jid.indexOf('/');
  return slash < 0 ? [jid.toLowerCase(), undefined] : [jid.slice(0, slash).toLowerCase(), jid.slice(slash + 1)];
}

function bareOf(jid: string | undefined): string | undefined {
  return jid === undefined ? undefined : splitJid(jid)[0];
}

function isEncrypted(xmpp: Client): boolean {
  const socket = (xmpp as unknown as { socket?: { secure?: boolean; encrypted?: boolean } }).socket;
  return socket?.secure === true || socket?.encrypted === true;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The client's WebSocket transport uses the global `WebSocket`, which Node 20 offers only behind
 * a flag: where it is missing, the `ws` package's compatible class stands in.
 */
async function provideWebSocket(): Promise<void> {
  if (typeof globalThis.WebSocket === 'function') return;
  const { WebSocket } = await import('ws');
  Object.assign(globalThis, { WebSocket });
}

/** Ends the connection's socket at once, without a closing handshake the other side may never answer. */
function dropSocket(xmpp: Client): void {
  type Closable = { destroy?(): void; close?(): void; socket?: Closable | null };
  const socket = (xmpp as unknown as { socket?: Closable | null }).socket;
  const inner = socket?.socket;
  if (typeof socket?.destroy === 'function') socket.destroy();
  else if (typeof inner?.destroy === 'function') inner.destroy();
  else if (typeof inner?.close === 'function') inner.close();
}
