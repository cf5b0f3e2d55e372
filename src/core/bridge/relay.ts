/**
 * The engine behind the sync and forward hooks: copies a message to target channels, keeping
 * per-target order, rewriting replies to the target's copy, mentions and attachments to what the
 * target can show, and the author's name by `name-format`; edits and deletes follow the copies.
 */
import type { Channel } from '../channel.js';
import type { Host } from '../host.js';
import type { Logger } from '../log.js';
import type { Message, Receipt, Segment, SentMessage, User } from '../message.js';
import { RichText } from '../message.js';
import { MessageMap } from './message-map.js';
import { compileNameFormat } from './name-format.js';

export interface RelayOptions {
  /** The hook's name; maps of different bridges never mix. */
  readonly bridge: string;
  readonly host: Host;
  readonly log: Logger;
  readonly nameFormat: string;
  /** Relay join and leave events. */
  readonly joins: boolean;
  /** Relay title (topic, subject) changes. */
  readonly titles: boolean;
}

/** Messages waiting for one target, delivered one at a time so the target sees them in order. */
interface TargetQueue {
  readonly target: Channel;
  readonly waiting: SentMessage[];
  next: number;
  running: Promise<void> | undefined;
}

export class Relay {
  readonly #options: RelayOptions;
  readonly #name: (sent: SentMessage, channelName: string | undefined) => string;
  #map: MessageMap | undefined;
  readonly #queues = new Map<string, TargetQueue>();
  /**
   * Sends whose copies are not in the map yet. A network can show a copy (and a person answer
   * it) before its send returns an id; lookups wait for these so a quick reply still maps.
   */
  readonly #sending = new Set<Promise<void>>();

  constructor(options: RelayOptions) {
    this.#options = options;
    this.#name = compileNameFormat(options.nameFormat);
  }

  open(): void {
    const { host, bridge, log } = this.#options;
    this.#map = new MessageMap(host.store, bridge, log);
  }

  /** Waits for every copy in flight, then for the map to be written. */
  async close(): Promise<void> {
    for (;;) {
      const running = [...this.#queues.values()].map((q) => q.running).filter((r) => r !== undefined);
      if (running.length === 0) break;
      await Promise.allSettled(running);
    }
    await this.#map?.flush();
  }

  get map(): MessageMap {
    if (!this.#map) throw new Error('the relay is not open');
    return this.#map;
  }

  /** Whether a message is something this bridge carries at all. */
  carries(sent: SentMessage): boolean {
    if (sent.fromPorter) return false; // our own copies coming back: relaying them would loop
    if (sent.deleted || sent.edited) return true;
    if (sent.joined?.length || sent.left?.length) return this.#options.joins;
    if (sent.title !== undefined && !sent.text) return this.#options.titles;
    return Boolean((sent.text && !sent.text.isEmpty) || sent.attachments?.length);
  }

  /**
   * Queues `sent` for each target (never back to its own channel) and returns at once; each
   * target gets its messages in order. Failures are logged per target.
   */
  relay(sent: SentMessage, targets: readonly Channel[]): void {
    if (!this.carries(sent)) return;
    for (const target of targets) {
      if (target !== sent.channel) this.#enqueue(target, sent);
    }
  }

  #enqueue(target: Channel, sent: SentMessage): void {
    let queue = this.#queues.get(target.key);
    if (!queue) {
      queue = { target, waiting: [], next: 0, running: undefined };
      this.#queues.set(target.key, queue);
    }
    queue.waiting.push(sent);
    queue.running ??= this.#drain(queue);
  }

  async #drain(queue: TargetQueue): Promise<void> {
    try {
      while (queue.next < queue.waiting.length) {
        const sent = queue.waiting[queue.next] as SentMessage;
        queue.next++;
        try {
          await this.#deliver(sent, queue.target);
        } catch (error) {
          this.#options.log.warn({ err: error, target: queue.target.key, id: sent.id }, 'cannot relay to target');
        }
      }
    } finally {
      queue.waiting.length = 0;
      queue.next = 0;
      queue.running = undefined;
    }
  }

  async #deliver(sent: SentMessage, target: Channel): Promise<void> {
    if (sent.edited || sent.deleted) return this.#deliverChange(sent, target);
    const out = sent.replyTo ? await this.#withReply(this.#translate(sent, target), sent, target) : this.#translate(sent, target);
    const sending = this.#options.host.send(target, out).then((receipts) => {
      if (receipts.length > 0) this.map.add({ channel: sent.channel.key, id: sent.id }, target.key, idsOf(receipts));
    });
    this.#sending.add(sending);
    try {
      await sending;
    } finally {
      this.#sending.delete(sending);
    }
  }

  /** Resolves once every send started so far has its copies in the map (or failed). */
  async #copiesRecorded(): Promise<void> {
    if (this.#sending.size > 0) await Promise.allSettled([...this.#sending]);
  }

  /** An edit or delete: find the target's copy of the message and change it there. */
  async #deliverChange(sent: SentMessage, target: Channel): Promise<void> {
    const { host } = this.#options;
    const map = this.map;
    await this.#copiesRecorded();
    const original = await map.originalOf(sent.channel.key, sent.id);
    const existing = (await map.copiesOf(original)).get(target.key);
    const plug = target.plug;
    if (sent.deleted) {
      if (!existing?.length) return; // a message we never copied has no copies to delete
      if (plug.capabilities.delete) {
        for (const id of existing) await host.delete(target, id);
      } else {
        await host.send(target, { user: this.#author(sent), deleted: true });
      }
      return;
    }
    let out = this.#translate(sent, target);
    if (sent.replyTo) out = await this.#withReply(out, sent, target);
    if (existing?.length && plug.capabilities.edit) {
      const receipts = await host.edit(target, existing[0] as string, out);
      const added = idsOf(receipts).filter((id) => !existing.includes(id));
      if (added.length > 0) map.add(original, target.key, added);
    } else {
      const receipts = await host.send(target, Object.assign({}, out, { edited: true }));
      if (receipts.length > 0) map.add(original, target.key, idsOf(receipts));
    }
  }

  #author(sent: SentMessage): User {
    const name = this.#name(sent, this.#options.host.nameOf(sent.channel));
    // Object.assign, not spread: V8 makes `{ ...a, b }` objects slowly, and this runs per copy.
    return Object.assign({}, sent.user ?? { id: '' }, { realName: name, raw: undefined });
  }

  /** The message as the target should get it (replies are pointed by #withReply). */
  #translate(sent: SentMessage, target: Channel): Message {
    const { joins, titles } = this.#options;
    let text = sent.text;
    if (text?.segments.some((s) => s.mention && s.mention.plug !== target.plug.name)) {
      // A mention of someone on another network becomes plain text: the target cannot ping them.
      text = text.map(
        (s): Segment => (s.mention && s.mention.plug !== target.plug.name ? { text: s.text, bold: s.bold, italic: s.italic } : s),
      );
    }
    let attachments = sent.attachments;
    if (attachments?.length && !target.plug.capabilities.files) {
      const links = attachments.map((a): Segment => ({ text: `[file: ${a.name}]`, link: a.url }));
      text = (text ?? new RichText()).concat(...(text && !text.isEmpty ? [' '] : []), ...links);
      attachments = undefined;
    }
    return {
      text,
      user: this.#author(sent),
      action: sent.action,
      joined: joins ? sent.joined : undefined,
      left: joins ? sent.left : undefined,
      title: titles ? sent.title : undefined,
      attachments,
    };
  }

  /** Points a reply at the target's copy of the message it answers, when there is one. */
  async #withReply(out: Message, sent: SentMessage, target: Channel): Promise<Message> {
    const replyTo = sent.replyTo;
    if (!replyTo) return out;
    await this.#copiesRecorded();
    const original = await this.map.originalOf(sent.channel.key, replyTo.id);
    const copy = (await this.map.copiesOf(original)).get(target.key)?.[0];
    return copy ? { ...out, replyTo: { ...replyTo, id: copy, channel: target } } : out;
  }
}

function idsOf(receipts: readonly Receipt[]): string[] {
  return receipts.map((r) => r.id);
}
