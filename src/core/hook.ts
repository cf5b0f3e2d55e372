/**
 * A hook reacts to messages and events. Hooks with a priority see each message first, one at a
 * time in priority order, and may change or drop it; the others then receive it in parallel.
 * Agents (sync bridges, calendar agents, the helpline, the occupancy board) are hooks.
 */
import type { Channel } from './channel.js';
import { Component, type ComponentClass, type ComponentInit } from './component.js';
import type { Message, SentMessage } from './message.js';

export interface HookInit<C> extends ComponentInit<C> {
  readonly priority?: number;
}

export abstract class Hook<C = unknown> extends Component<C> {
  static readonly porterKind = 'hook';

  /** From the config; hooks with a priority run in series, lowest first. */
  readonly priority: number | undefined;

  constructor(init: HookInit<C>) {
    super(init);
    this.priority = init.priority;
  }

  /**
   * Serial phase, for hooks with a priority: return the message (changed or not) to pass it on,
   * or null to drop it. Only called on hooks with a priority.
   */
  beforeReceive?(sent: SentMessage): Promise<SentMessage | null> | SentMessage | null;

  /** Parallel phase: every hook sees every message that was not dropped. */
  onReceive?(sent: SentMessage): Promise<void> | void;

  /** Serial phase on the way out, for hooks with a priority: change or drop (null) a message about to be sent. */
  beforeSend?(channel: Channel, message: Message): Promise<Message | null> | Message | null;
}

export type HookClass = ComponentClass<Hook, 'hook'>;
