/**
 * The engine behind the sync and forward hooks: copies a message to target channels, keeping
 * per-target order, rewriting replies to the target's copy, mentions and attachments to what the
 * target can show, and the author's name by `name-format`; edits and deletes follow the copies.
 */
import type { Channel } from '../channel.js';
import type { Host } from '../host.js';
import type { Logger } from '../log.js';
import type { Message, Receipt, Segment, SentMessage } from '../message.js';
import { RichText } from '../message.js';
import { type BridgeTables, type Copies, MessageMap } from './message-map.js';
import { formatName } from './name-format.js';

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

const RESOLVED = Promise.resolve();

export class Relay {
  readonly #options: RelayOptions;
  #map: MessageMap | undefined;
  readonly #queues = new Map<string, Promise<void>>();

  constructor(options: RelayOptions) {
    this.#options = options;
  }

  open(): void {
    const { host, bridge, log } = this.#options;
    this.#map = new MessageMap(host.store.db<BridgeTables>(), bridge, log);
  }

  /** Waits for every copy in flight, then for the map to be written. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.#queues.values()]);
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

  /** Copies `sent` to each target (never back to its own channel). Failures are logged per target. */
  async relay(sent: SentMessage, targets: readonly Channel[]): Promise<void> {
    if (!this.carries(sent)) return;
    const source = sent.channel;
    const map = this.map;
    let ref: string | undefined;
    let copies: Copies | undefined;
    if (sent.edited || sent.deleted) {
      ref = await map.refOf(source.key, sent.id);
      if (ref) copies = await map.copiesOf(ref);
      else if (sent.deleted) return; // a message we never copied has no copies to delete
    }
    if (!ref) {
      ref = `${source.key}/${sent.id}`;
      map.add(ref, source.key, [sent.id]);
    }
    const jobs: Promise<void>[] = [];
    for (const target of targets) {
      if (target === source) continue;
      const r = ref;
      jobs.push(this.#enqueue(target, () => this.#deliver(sent, r, target, copies)));
    }
    if (jobs.length === 1) return jobs[0];
    await Promise.all(jobs);
  }

  #enqueue(target: Channel, job: () => Promise<void>): Promise<void> {
    const key = target.key;
    const previous = this.#queues.get(key) ?? RESOLVED;
    const next = previous.then(job).catch((error: unknown) => {
      this.#options.log.warn({ err: error, target: key }, 'cannot relay to target');
    });
    this.#queues.set(key, next);
    next.then(() => {
      if (this.#queues.get(key) === next) this.#queues.delete(key);
    });
    return next;
  }

  async #deliver(sent: SentMessage, ref: string, target: Channel, copies: Copies | undefined): Promise<void> {
    const { host } = this.#options;
    const plug = target.plug;
    const existing = copies?.get(target.key);
    if (sent.deleted) {
      if (!existing?.length) return;
      if (plug.capabilities.delete) {
        for (const id of existing) await host.delete(target, id);
      } else {
        await host.send(target, { user: this.#author(sent), deleted: true });
      }
      return;
    }
    const out = await this.#translate(sent, target);
    let receipts: Receipt[];
    if (sent.edited && existing?.length && plug.capabilities.edit) {
      receipts = await host.edit(target, existing[0] as string, out);
    } else {
      receipts = await host.send(target, sent.edited ? { ...out, edited: true } : out);
    }
    if (receipts.length > 0) {
      this.map.add(
        ref,
        target.key,
        receipts.map((r) => r.id),
      );
    }
  }

  #author(sent: SentMessage) {
    const { nameFormat, host } = this.#options;
    const name = formatName(nameFormat, sent, host.nameOf(sent.channel));
    return { ...(sent.user ?? { id: '' }), realName: name, raw: undefined };
  }

  /** The message as the target should get it. */
  async #translate(sent: SentMessage, target: Channel): Promise<Message> {
    const files = target.plug.capabilities.files;
    let text = sent.text;
    if (text?.segments.some((s) => s.mention && s.mention.plug !== target.plug.name)) {
      // A mention of someone on another network becomes plain text: the target cannot ping them.
      text = text.map(
        (s): Segment => (s.mention && s.mention.plug !== target.plug.name ? { text: s.text, bold: s.bold, italic: s.italic } : s),
      );
    }
    let attachments = sent.attachments;
    if (attachments?.length && !files) {
      const links = attachments.map((a): Segment => ({ text: `[file: ${a.name}]`, link: a.url }));
      text = (text ?? new RichText()).concat(...(text && !text.isEmpty ? [' '] : []), ...links);
      attachments = undefined;
    }
    let replyTo: SentMessage | undefined;
    if (sent.replyTo) {
      const ref = await this.map.refOf(sent.channel.key, sent.replyTo.id);
      const copy = ref ? (await this.map.copiesOf(ref)).get(target.key)?.[0] : undefined;
      if (copy) replyTo = { ...sent.replyTo, id: copy, channel: target };
    }
    return {
      text,
      user: this.#author(sent),
      action: sent.action,
      replyTo,
      joined: this.#options.joins ? sent.joined : undefined,
      left: this.#options.joins ? sent.left : undefined,
      title: this.#options.titles ? sent.title : undefined,
      attachments,
    };
  }
}
