/**
 * The calendar hook: agents for people, rooms and equipment that live on scheduling mail
 * (imip-agent's person and resource agents). Each agent has a mail channel; iTIP mail that
 * arrives there is recorded (people) or decided by policy and answered (resources and pools),
 * and replies go out through the mail plug. It serves the calendar's HTTP API and the free/busy
 * and bookings feeds. See README.md beside this file.
 */

import { Hook } from '../../core/hook.js';
import type { SentMessage } from '../../core/message.js';
import { isMailSending } from '../../mail/local.js';
import { agentsOf } from './agent-list.js';
import { type Agent, CalendarAgents, type OutgoingPart, type Received } from './agents.js';
import { type CalendarConfig, calendarConfigSchema } from './config.js';
import { registerCalendarRoutes } from './routes.js';
import { CALENDAR_MIGRATION_OWNER, CalendarStore, calendarMigrations } from './store.js';

export { type Agent, CalendarAgents, type OutgoingPart } from './agents.js';
export { type CalendarConfig, calendarConfigSchema } from './config.js';

/** What the mail plug puts in `raw`, as far as the agents need it. */
interface MailLike {
  readonly source: Buffer;
  readonly messageId?: string;
  readonly from?: { readonly address: string };
}

function isMailLike(raw: unknown): raw is MailLike {
  return Buffer.isBuffer((raw as { source?: unknown } | null)?.source);
}

export class CalendarHook extends Hook<CalendarConfig> {
  static readonly configSchema = calendarConfigSchema;
  static readonly migrations = calendarMigrations;
  static readonly migrationOwner = CALENDAR_MIGRATION_OWNER;

  #agents: CalendarAgents | undefined;
  #warming: Promise<void> = Promise.resolve();
  /** Channel key → agent. */
  readonly #byChannel = new Map<string, Agent>();

  /** The agents behind every route (for tests and other hooks). */
  get agents(): CalendarAgents {
    if (!this.#agents) throw new Error(`calendar hook "${this.name}" is not open`);
    return this.#agents;
  }

  protected override async start(): Promise<void> {
    const cfg = this.config;
    const agents = agentsOf(cfg, (name) => this.host.channelByName(name)?.source);
    this.#agents = new CalendarAgents({
      agents,
      store: new CalendarStore(this.host.store),
      log: this.log,
      windowBackDays: cfg['window-back'],
      windowAheadDays: cfg['window-ahead'],
      maxBytes: cfg['max-size'],
      groups: new Map(Object.entries(cfg.groups)),
    });
    const channelOf = new Map<string, string>();
    for (const kind of ['people', 'resources', 'pools'] as const)
      for (const [id, a] of Object.entries(cfg[kind])) channelOf.set(id, a.channel);
    for (const agent of agents) {
      const channel = this.host.channelByName(channelOf.get(agent.id) as string);
      if (channel) this.#byChannel.set(channel.key, agent);
    }
    this.#warming = this.#agents.warm();
    const http = this.host.http;
    if (http) {
      registerCalendarRoutes(http.app, { agents: this.#agents, send: (part) => this.send(part), baseUrl: () => safeUrl(() => http.url) });
      this.host.serve(`calendar {web}/calendar, API {web}/api/calendar/agents`);
    } else {
      this.log.warn('no http section in the config: the calendar has no routes');
    }
  }

  protected override async stop(): Promise<void> {
    await this.#warming; // it reads the store, which closes after the hooks
  }

  override async onReceive(sent: SentMessage): Promise<void> {
    const agent = this.#byChannel.get(sent.channel.key);
    if (!agent || !isMailLike(sent.raw)) return;
    const mail = sent.raw;
    const received = await this.agents.receive(agent, {
      source: mail.source,
      sender: mail.from?.address.toLowerCase(),
      messageId: mail.messageId,
    });
    for (const part of received.parts) {
      try {
        await this.send(part);
      } catch (error) {
        this.log.error({ err: error, agent: agent.id, to: part.to }, `cannot send the ${part.method}`);
      }
    }
    const forward = agent.kind === 'person' ? this.config.people[agent.id]?.forward : undefined;
    if (forward) await this.#passOn(agent, forward, mail, received);
  }

  /**
   * Passes a mail on to the address the person reads, as their `incoming` preference says: the
   * mail whole, a summary of what it was (in their language) with the mail attached or followed
   * by it, or the summary alone. Free/busy mail is only recorded unless `freebusy_messages` is
   * `notify`; mail that was not scheduling mail (or was refused) goes on whole.
   */
  async #passOn(agent: Agent, forward: string, mail: MailLike, received: Received): Promise<void> {
    const prefs = agent.prefs;
    if (received.method === 'FREEBUSY' && prefs.freebusy_messages !== 'notify') return;
    const summary = received.method ? received.summary : undefined;
    const how = summary ? prefs.incoming : 'message-only';
    const plug = () => this.#plugFor(agent.address);
    try {
      if (how === 'message-only' || how === 'summary-then-message') {
        if (how === 'summary-then-message' && summary)
          await plug().sendMail({ from: agent.address, fromName: agent.name, to: [forward], subject: summary.subject, text: summary.text });
        await plug().sendMail({ from: agent.address, to: [forward], raw: mail.source });
        return;
      }
      if (!summary) return;
      await plug().sendMail({
        from: agent.address,
        fromName: agent.name,
        to: [forward],
        subject: summary.subject,
        text: summary.text,
        ...(how === 'summary-wraps-message'
          ? { attachments: [{ filename: 'message.eml', contentType: 'message/rfc822', content: mail.source }] }
          : {}),
        ...(mail.messageId ? { inReplyTo: mail.messageId } : {}),
      });
    } catch (error) {
      this.log.error({ err: error, agent: agent.id, to: forward }, 'cannot pass the mail on');
    }
  }

  #plugFor(address: string) {
    const name = this.config.plug;
    const agent = this.agents.byAddress.get(address);
    const channel = [...this.#byChannel.entries()].find(([, a]) => a === agent)?.[0];
    const plug = name ? this.host.plugs.get(name) : channel ? this.host.plugs.get(channel.slice(0, channel.indexOf(':'))) : undefined;
    if (!isMailSending(plug)) throw new Error(`no mail plug to send from ${address}${name ? ` (plug "${name}" cannot send mail)` : ''}`);
    return plug;
  }

  /** Sends one agent's mail through the mail plug; resolves with its Message-ID. */
  async send(part: OutgoingPart): Promise<string> {
    const messageId = await this.#plugFor(part.from).sendMail({
      from: part.from,
      fromName: part.fromName,
      to: part.to,
      subject: part.subject,
      text: part.text,
      calendar: { method: part.method, content: part.content },
      ...(part.attachments?.length ? { attachments: part.attachments } : {}),
      inReplyTo: part.inReplyTo,
    });
    this.log.info({ from: part.from, to: part.to, method: part.method, messageId }, `sent ${part.method}`);
    return messageId;
  }
}

function safeUrl(get: () => string): string | undefined {
  try {
    return get();
  } catch {
    return undefined;
  }
}
