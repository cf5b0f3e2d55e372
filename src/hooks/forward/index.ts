/**
 * The forward hook: a one-way bridge. Messages in the `from` channels or groups are copied to
 * the `to` channels, optionally only from some users. See README.md beside this file.
 */
import { z } from 'zod';
import { bridgeMigrations, nameFormatSchema, Relay } from '../../core/bridge/index.js';
import type { Channel } from '../../core/channel.js';
import type { ConfigRefs } from '../../core/component.js';
import { Hook } from '../../core/hook.js';
import type { SentMessage } from '../../core/message.js';

export const forwardConfigSchema = (refs: ConfigRefs) =>
  z.strictObject({
    /** Channels or groups whose messages are forwarded. */
    from: z.array(refs.channelOrGroup()).min(1),
    /** Channels that receive them. */
    to: z.array(refs.channel()).min(1),
    /** Only messages by these user ids (as the source network names them); all when absent. */
    users: z.array(z.string()).optional(),
    'name-format': nameFormatSchema.default('{name}'),
    joins: z.boolean().default(false),
    titles: z.boolean().default(false),
  });

export type ForwardConfig = z.output<ReturnType<typeof forwardConfigSchema>>;

export class ForwardHook extends Hook<ForwardConfig> {
  static readonly configSchema = forwardConfigSchema;
  static readonly migrations = bridgeMigrations;
  static readonly migrationOwner = 'bridge';

  #relay: Relay | undefined;
  #targets: Channel[] = [];
  #users: ReadonlySet<string> | undefined;

  protected override async start(): Promise<void> {
    this.#relay = new Relay({
      bridge: this.name,
      host: this.host,
      log: this.log,
      nameFormat: this.config['name-format'],
      joins: this.config.joins,
      titles: this.config.titles,
    });
    this.#relay.open();
    this.#targets = this.config.to.map((n) => this.host.channelByName(n)).filter((c): c is Channel => c !== undefined);
    this.#users = this.config.users ? new Set(this.config.users) : undefined;
  }

  protected override async stop(): Promise<void> {
    await this.#relay?.close();
  }

  /** Whether messages in `channel` are forwarded. */
  async covers(channel: Channel): Promise<boolean> {
    for (const name of this.config.from) {
      if (this.host.channelByName(name) === channel) return true;
      const group = this.host.groups.get(name);
      if (group && (await group.has(channel))) return true;
    }
    return false;
  }

  override async onReceive(sent: SentMessage): Promise<void> {
    if (!this.#relay?.carries(sent)) return;
    if (this.#users && !(sent.user && this.#users.has(sent.user.id))) return;
    if (!(await this.covers(sent.channel))) return;
    this.#relay.relay(sent, this.#targets);
  }
}
