/**
 * The helpline hook: porter's HelpIM. It keeps a pool of private rooms on a plug that can make
 * rooms (XMPP MUC, porter's web chat), queues clients in the store, pairs them with staff by
 * priority and waiting time, follows each room through its states, recovers rooms after a
 * restart, and keeps conversations for history and statistics. See README.md beside this file.
 */
import type { EventEmitter } from 'node:events';
import { z } from 'zod';
import type { Channel } from '../../core/channel.js';
import type { ConfigRefs } from '../../core/component.js';
import { HookError } from '../../core/errors.js';
import { Hook } from '../../core/hook.js';
import type { SentMessage } from '../../core/message.js';
import { isRoomsCapable, type RejoinOutcome } from '../../core/rooms.js';
import { chatReach, staffAddressProblem } from './chat.js';
import { HelplineDesk } from './desk.js';
import { registerHelplineRoutes } from './routes.js';
import { HELPLINE_MIGRATION_OWNER, HelplineStore, helplineMigrations } from './store.js';

const BARE_JID = /^[^@/\s]+@[^@/\s]+$/;
/** A DNS name (or `localhost`): labels of letters, digits and inner hyphens. */
const DOMAIN = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;

function isWebSocketUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === 'ws:' || url.protocol === 'wss:') && url.hostname !== '';
  } catch {
    return false;
  }
}
/** A web chat staff address: `staff/<username>`, as the webchat plug names its staff sessions. */
const WEBCHAT_STAFF = /^staff\/[a-z0-9][a-z0-9._-]{0,63}$/;

/** A staff member: their account on the chat network (`address`, or `jid` on XMPP), API token and priority. */
const staffMemberSchema = z
  .strictObject({
    /** Their address on the plug: `staff/<username>` on web chat, a bare JID on XMPP. */
    address: z
      .string()
      .refine(
        (a) => BARE_JID.test(a) || WEBCHAT_STAFF.test(a),
        'expected staff/<username> (web chat) or a bare JID such as ada@example.org',
      )
      .optional(),
    /** The XMPP spelling of `address`: a bare JID. */
    jid: z.string().regex(BARE_JID, 'expected a bare address such as ada@example.org').optional(),
    token: z.string().min(16, 'a staff token must be at least 16 characters'),
    priority: z.number().int().default(0),
  })
  .superRefine((member, ctx) => {
    if (member.address === undefined && member.jid === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['address'],
        message: 'expected the staff member’s address (staff/<username> on web chat, or jid on XMPP)',
      });
    if (member.address !== undefined && member.jid !== undefined)
      ctx.addIssue({ code: 'custom', path: ['jid'], message: 'give address or jid, not both' });
  })
  .transform(({ address, jid, token, priority }) => ({ address: (address ?? jid ?? '').toLowerCase(), token, priority }));

export const helplineConfigSchema = (refs: ConfigRefs) =>
  z.strictObject({
    /** The plug whose rooms the helpline uses; it must offer rooms (xmpp, web chat). */
    plug: refs.plug(),
    pool: z
      .strictObject({
        /** Rooms kept ready for staff. */
        size: z.number().int().min(1).max(1000).default(3),
      })
      .default({ size: 3 }),
    'max-chats-per-staff': z.number().int().min(1).default(3),
    /** Seconds a closed room is kept before it is destroyed. */
    'cleanup-timeout': z.number().positive().default(1800),
    /** Seconds between upkeep rounds (refill, cleanup, erasing). */
    upkeep: z.number().positive().default(10),
    /** Seconds an invitation waits for its client before the room goes to the next one. */
    'invite-timeout': z.number().positive().default(120),
    /** Seconds a room given to a staff member waits for them to come in before it goes back to the pool. */
    'staff-join-timeout': z.number().positive().default(120),
    'closed-message': z.string().min(1).default('The helpline is closed now. Please try again later.'),
    /** The key of the client fingerprint (an HMAC of the client's address). */
    'fingerprint-secret': z.string().min(16, 'the fingerprint secret must be at least 16 characters'),
    /** Staff members by id: their account, their API token and their priority (higher is served first). */
    staff: z
      .record(z.string().regex(/^[\w.-]+$/, 'a staff id is letters, digits, ".", "_" or "-"'), staffMemberSchema)
      .refine((staff) => Object.keys(staff).length > 0, 'at least one staff member is needed'),
    history: z
      .strictObject({
        /** Days after which message bodies are erased. */
        days: z.number().positive().default(30),
        /** Messages a room replays to someone who joins. */
        replay: z.number().int().min(0).default(20),
      })
      .default({ days: 30, replay: 20 }),
    /** Where the HTTP API lives. */
    api: z
      .string()
      .regex(/^\/[\w\-./]*[^/]$/, 'expected a path starting with "/" and not ending with one')
      .default('/api/helpline'),
    /** The longest a client's long poll is held, in seconds. */
    'poll-timeout': z.number().positive().max(120).default(25),
    /**
     * This porter's name among several on one database: its rooms are its own (pool, claims,
     * recovery, upkeep). Without it every instance takes every room for its own.
     */
    instance: z
      .string()
      .regex(/^[\w.-]{1,64}$/, 'expected a name of letters, digits, ".", "_" or "-" (up to 64)')
      .optional(),
    /** How the pages reach an XMPP plug's server from the browser. */
    web: z
      .strictObject({
        /** The server's XMPP-over-WebSocket URL (RFC 7395) as a browser reaches it. */
        websocket: z
          .string()
          .refine(isWebSocketUrl, 'expected a ws:// or wss:// URL such as wss://chat.example.org/xmpp-websocket')
          .optional(),
        /** The server's virtual host for anonymous logins (SASL ANONYMOUS), where clients log in. */
        anonymous: z.string().regex(DOMAIN, 'expected a domain such as anon.example.org').optional(),
      })
      .default({}),
  });

export type HelplineConfig = z.output<ReturnType<typeof helplineConfigSchema>>;

export class HelplineHook extends Hook<HelplineConfig> {
  static readonly configSchema = helplineConfigSchema;
  static readonly migrations = helplineMigrations;
  static readonly migrationOwner = HELPLINE_MIGRATION_OWNER;

  #desk: HelplineDesk | undefined;
  #upkeep: NodeJS.Timeout | undefined;
  #detach: (() => void) | undefined;

  /** The desk behind every route (for tests and the bench). */
  get desk(): HelplineDesk {
    if (!this.#desk) throw new Error(`helpline hook "${this.name}" is not open`);
    return this.#desk;
  }

  protected override async start(): Promise<void> {
    const cfg = this.config;
    const plug = this.host.plugs.get(cfg.plug);
    if (!plug || !isRoomsCapable(plug)) throw new HookError(`${this.name}.plug: plug "${cfg.plug}" cannot create rooms`);
    const chat = chatReach(plug, cfg.web);
    if (chat.kind !== 'xmpp' && (cfg.web.websocket !== undefined || cfg.web.anonymous !== undefined))
      throw new HookError(`${this.name}.config.web: web.websocket and web.anonymous are for a plug on XMPP, not ${plug.network}`);
    if (chat.kind === 'xmpp' && (!chat.websocket || !chat.anonymous))
      this.log.warn(
        { websocket: chat.websocket, anonymous: chat.anonymous },
        'the helpline pages cannot reach the XMPP server without web.websocket and web.anonymous',
      );
    for (const [id, member] of Object.entries(cfg.staff)) {
      const wrong = staffAddressProblem(plug, chat, member.address);
      if (wrong) throw new HookError(`${this.name}.config.staff.${id}.address: ${wrong}`);
    }
    const desk = new HelplineDesk({
      plug,
      store: new HelplineStore(this.host.store, this.name, cfg.instance),
      log: this.log,
      poolSize: cfg.pool.size,
      maxChatsPerStaff: cfg['max-chats-per-staff'],
      cleanupMs: cfg['cleanup-timeout'] * 1000,
      historyDays: cfg.history.days,
      historyLength: cfg.history.replay,
      inviteMs: cfg['invite-timeout'] * 1000,
      staffJoinMs: cfg['staff-join-timeout'] * 1000,
      staff: cfg.staff,
      chat,
      fingerprintSecret: cfg['fingerprint-secret'],
    });
    this.#desk = desk;
    // A plug that reconnects by itself (xmpp) says which rooms it rejoined and which the server had lost.
    const events = (plug as { events?: EventEmitter }).events;
    if (events && typeof events.on === 'function') {
      const onRejoined = (channel: Channel, outcome: RejoinOutcome): void => {
        void desk.afterRejoin(channel, outcome).then(() => desk.pair());
      };
      events.on('rejoined', onRejoined);
      this.#detach = () => events.off('rejoined', onRejoined);
    }
    const http = this.host.http;
    if (http) {
      registerHelplineRoutes(http.app, cfg.api, desk, {
        closedMessage: cfg['closed-message'],
        maxWaitMs: cfg['poll-timeout'] * 1000,
      });
      this.host.serve(`helpline API {web}${cfg.api}`);
    } else {
      this.log.warn('no http section in the config: the helpline has no API');
    }
    await desk.recover();
    await desk.refill();
    desk.pair();
    this.#upkeep = setInterval(() => void this.#runUpkeep(), cfg.upkeep * 1000);
  }

  async #runUpkeep(): Promise<void> {
    try {
      const online = (this.host.plugs.get(this.config.plug) as { online?: boolean } | undefined)?.online !== false;
      await this.desk.rejoinMissing(online);
      await this.desk.cleanup();
      await this.desk.refill();
      this.desk.pair();
    } catch (error) {
      this.log.error({ err: error }, 'helpline upkeep failed');
    }
  }

  protected override async stop(): Promise<void> {
    clearInterval(this.#upkeep);
    this.#detach?.();
    const desk = this.#desk;
    desk?.close();
    await desk?.settled();
  }

  override async onReceive(sent: SentMessage): Promise<void> {
    await this.#desk?.receive(sent);
  }
}
