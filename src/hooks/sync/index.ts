/**
 * The sync hook: a two-way bridge. Channels under one label are kept in step: a message in one
 * appears in all the others, edits and deletes follow, replies point at the right copy. See
 * README.md beside this file for its config.
 */
import { z } from 'zod';
import { bridgeMigrations, nameFormatSchema, Relay } from '../../core/bridge/index.js';
import type { Channel } from '../../core/channel.js';
import type { ConfigRefs } from '../../core/component.js';
import { Hook } from '../../core/hook.js';
import type { SentMessage } from '../../core/message.js';

export const syncConfigSchema = (refs: ConfigRefs) =>
  z
    .strictObject({
      /** label → the channels kept in step under it. */
      channels: z.record(z.string(), z.array(refs.channel()).min(2, 'a label needs at least two channels to bridge')),
      'name-format': nameFormatSchema.default('{name}'),
      joins: z.boolean().default(false),
      titles: z.boolean().default(false),
    })
    .superRefine((cfg, ctx) => {
      const seen = new Map<string, string>();
      for (const [label, names] of Object.entries(cfg.channels)) {
        names.forEach((name, i) => {
          const first = seen.get(name);
          if (first !== undefined) {
            ctx.addIssue({
              code: 'custom',
              path: ['channels', label, i],
              // Listed twice, every message would be copied to it twice.
              message:
                first === label ? `channel "${name}" is listed twice` : `channel "${name}" is already bridged under label "${first}"`,
            });
          }
          seen.set(name, label);
        });
      }
    });

export type SyncConfig = z.output<ReturnType<typeof syncConfigSchema>>;

export class SyncHook extends Hook<SyncConfig> {
  static readonly configSchema = syncConfigSchema;
  static readonly migrations = bridgeMigrations;
  static readonly migrationOwner = 'bridge';

  #relay: Relay | undefined;
  /** channel key → the channels of its label. */
  readonly #labels = new Map<string, Channel[]>();

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
    for (const names of Object.values(this.config.channels)) {
      const channels = names.map((n) => this.host.channelByName(n)).filter((c): c is Channel => c !== undefined);
      for (const c of channels) this.#labels.set(c.key, channels);
    }
  }

  protected override async stop(): Promise<void> {
    await this.#relay?.close();
    this.#labels.clear();
  }

  /** The label a channel is bridged under, if any. */
  labelOf(channel: Channel): string | undefined {
    for (const [label, names] of Object.entries(this.config.channels)) {
      if (names.some((n) => this.host.channelByName(n) === channel)) return label;
    }
    return undefined;
  }

  override onReceive(sent: SentMessage): undefined {
    const targets = this.#labels.get(sent.channel.key);
    if (targets) this.#relay?.relay(sent, targets);
  }
}
