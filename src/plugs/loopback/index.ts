/**
 * The loopback plug: an in-memory network with channels and users and no server, for tests,
 * demos and benchmarks (IMMP's dummy plug). Messages sent to it come back as echoes, as on a real
 * network; `post` plays a user writing. See README.md beside this file.
 */
import { EventEmitter } from 'node:events';
import { z } from 'zod';
import type { Channel } from '../../core/channel.js';
import { type Message, type Receipt, RichText, renderPlain, type SentMessage, type User } from '../../core/message.js';
import { Plug, type PlugCapabilities } from '../../core/plug.js';

const userSchema = z.strictObject({ id: z.string().min(1), name: z.string().optional() });

export const loopbackConfigSchema = z.strictObject({
  /** Users who may appear; `chatter` picks from them. */
  users: z.array(userSchema).default([]),
  /** Channel sources that are private (one-to-one) conversations. */
  private: z.array(z.string()).default([]),
  /** Messages kept per channel for `history()`. */
  history: z.number().int().min(0).default(1000),
  /** Simulated users writing now and then, so a demo has something to show. */
  chatter: z
    .strictObject({
      channels: z.array(z.string()).min(1),
      every: z.number().positive().default(5),
      lines: z
        .array(z.string())
        .min(1)
        .default(['hello', 'is the seminar room free at 3?', 'the printer is out of paper again', 'thanks!']),
    })
    .optional(),
});

export type LoopbackConfig = z.output<typeof loopbackConfigSchema>;

export interface LoopbackEvents {
  /** Every message that appears in a channel: posted by a user or sent by porter. */
  message: [sent: SentMessage];
}

export class LoopbackPlug extends Plug<LoopbackConfig> {
  static readonly configSchema = () => loopbackConfigSchema;

  readonly network = 'Loopback';
  override readonly capabilities: PlugCapabilities = {
    edit: true,
    delete: true,
    files: true,
    richText: true,
    rooms: false,
    members: false,
    privateChannels: true,
  };
  override readonly marksEchoes = true;
  /** Emits `message` for everything that appears in any channel. */
  readonly events = new EventEmitter<LoopbackEvents>();
  readonly #history = new Map<string, SentMessage[]>();
  readonly #users = new Map<string, User>();
  // Ids stay unique across restarts, as a real network's do: the map in the store relies on it.
  readonly #idPrefix = `${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}-`;
  #nextId = 1;
  #chatter: NodeJS.Timeout | undefined;

  protected override async start(): Promise<void> {
    for (const u of this.config.users) this.#users.set(u.id, { id: u.id, plug: this.name, username: u.id, realName: u.name });
    const chatter = this.config.chatter;
    if (chatter) {
      let n = 0;
      this.#chatter = setInterval(() => {
        const users = [...this.#users.values()];
        const user = users[n % Math.max(users.length, 1)] ?? { id: 'visitor', plug: this.name };
        const source = chatter.channels[n % chatter.channels.length] as string;
        const line = chatter.lines[n % chatter.lines.length] as string;
        n++;
        this.post(source, line, user);
      }, chatter.every * 1000);
    }
  }

  protected override async stop(): Promise<void> {
    clearInterval(this.#chatter);
    this.#chatter = undefined;
  }

  /** Plays `user` writing `content` in channel `source`; the host receives it as from the network. */
  post(source: string, content: string | Message, user?: User | string): SentMessage {
    const message: Message = typeof content === 'string' ? { text: RichText.plain(content) } : content;
    const author = typeof user === 'string' ? this.#userFor(user) : (user ?? message.user);
    const sent: SentMessage = Object.assign({}, message, {
      user: author,
      id: this.#idPrefix + String(this.#nextId++),
      channel: this.channel(source),
      at: new Date(),
    });
    this.#append(sent);
    this.receive(sent);
    return sent;
  }

  /** Plays the author of message `id` editing it. */
  postEdit(source: string, id: string, content: string | Message): SentMessage {
    const old = this.#find(source, id);
    const message: Message = typeof content === 'string' ? { text: RichText.plain(content) } : content;
    const sent: SentMessage = {
      ...message,
      user: message.user ?? old?.user,
      id,
      channel: this.channel(source),
      at: new Date(),
      edited: true,
    };
    this.#replace(sent);
    this.receive(sent);
    return sent;
  }

  /** Plays the author of message `id` deleting it. */
  postDelete(source: string, id: string): SentMessage {
    const old = this.#find(source, id);
    const sent: SentMessage = { user: old?.user, id, channel: this.channel(source), at: new Date(), deleted: true };
    this.#replace(sent);
    this.receive(sent);
    return sent;
  }

  async send(channel: Channel, message: Message): Promise<Receipt[]> {
    // Object.assign, not spread: V8 makes `{ ...a, b }` objects slowly, and this is the hot path.
    const sent: SentMessage = Object.assign({}, message, {
      id: this.#idPrefix + String(this.#nextId++),
      channel,
      at: new Date(),
      fromPorter: true,
    });
    this.#append(sent);
    this.receive(sent);
    return [{ id: sent.id, channel, at: sent.at }];
  }

  override async edit(channel: Channel, id: string, message: Message): Promise<Receipt[]> {
    const sent: SentMessage = Object.assign({}, message, { id, channel, at: new Date(), edited: true, fromPorter: true });
    this.#replace(sent);
    this.receive(sent);
    return [{ id, channel, at: sent.at }];
  }

  override async delete(channel: Channel, id: string): Promise<void> {
    const sent: SentMessage = { id, channel, at: new Date(), deleted: true, fromPorter: true };
    this.#replace(sent);
    this.receive(sent);
  }

  override async channelIsPrivate(channel: Channel): Promise<boolean> {
    return this.config.private.includes(channel.source);
  }

  override async channels(): Promise<Channel[]> {
    return [...this.#history.keys()].map((source) => this.channel(source));
  }

  override async user(id: string): Promise<User | undefined> {
    return this.#users.get(id);
  }

  /** What the channel shows now, oldest first: edits replace, deletes are marked. */
  history(source: string): readonly SentMessage[] {
    return this.#history.get(source) ?? [];
  }

  /** Resolves with the first message in `source` (from now on) that satisfies `test`. */
  waitFor(source: string, test: (sent: SentMessage) => boolean = () => true, timeoutMs = 5000): Promise<SentMessage> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.events.off('message', listener);
        reject(new Error(`no matching message in ${this.name}:${source} within ${timeoutMs} ms`));
      }, timeoutMs);
      const listener = (sent: SentMessage) => {
        if (sent.channel.source !== source || !test(sent)) return;
        clearTimeout(timer);
        this.events.off('message', listener);
        resolve(sent);
      };
      this.events.on('message', listener);
    });
  }

  #userFor(id: string): User {
    return this.#users.get(id) ?? { id, plug: this.name, username: id };
  }

  #find(source: string, id: string): SentMessage | undefined {
    return this.#history.get(source)?.find((m) => m.id === id);
  }

  #append(sent: SentMessage): void {
    const source = sent.channel.source;
    let list = this.#history.get(source);
    if (!list) {
      list = [];
      this.#history.set(source, list);
    }
    list.push(sent);
    if (list.length > this.config.history) list.splice(0, list.length - this.config.history);
    this.#show(sent);
  }

  #replace(sent: SentMessage): void {
    const list = this.#history.get(sent.channel.source);
    const i = list ? list.findIndex((m) => m.id === sent.id) : -1;
    if (list && i >= 0) list[i] = sent;
    else this.#append(sent);
    if (i >= 0) this.#show(sent);
  }

  #show(sent: SentMessage): void {
    if (this.log.isLevelEnabled('info')) this.log.info({ channel: sent.channel.source, id: sent.id }, renderPlain(sent));
    this.events.emit('message', sent);
  }
}
