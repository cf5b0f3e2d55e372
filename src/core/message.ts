/**
 * The message model every network maps to and from: who wrote it, rich text, attachments,
 * replies, edits, deletes, joins and leaves, and the raw network object.
 */
import type { Readable } from 'node:stream';
import type { Channel } from './channel.js';

/** Someone on a network. `plug` is the name of the plug they were seen on. */
export interface User {
  readonly id: string;
  readonly plug?: string;
  readonly username?: string;
  readonly realName?: string;
  readonly avatar?: string;
  readonly link?: string;
  /** The network's own object, for hooks that know the network. */
  readonly raw?: unknown;
}

/** The name to show for a user: real name, else username, else id. */
export function displayName(user: User): string {
  return user.realName || user.username || user.id;
}

/** A run of text with one set of formatting. */
export interface Segment {
  readonly text: string;
  readonly bold?: boolean;
  readonly italic?: boolean;
  readonly underline?: boolean;
  readonly strike?: boolean;
  /** Inline code. */
  readonly code?: boolean;
  /** A preformatted block. */
  readonly pre?: boolean;
  /** The segment links to this URL. */
  readonly link?: string;
  /** The segment mentions this user; `text` is how the mention was written. */
  readonly mention?: User;
}

const MARKDOWN_SPECIAL = /[\\`*_~[\]]/g;

/** Formatted text as a list of segments; immutable. */
export class RichText {
  readonly segments: readonly Segment[];

  constructor(segments: readonly Segment[] = []) {
    this.segments = segments;
  }

  static plain(text: string): RichText {
    return new RichText(text ? [{ text }] : []);
  }

  static of(value: string | RichText | readonly Segment[]): RichText {
    if (value instanceof RichText) return value;
    if (typeof value === 'string') return RichText.plain(value);
    return new RichText(value);
  }

  get length(): number {
    let n = 0;
    for (const s of this.segments) n += s.text.length;
    return n;
  }

  get isEmpty(): boolean {
    for (const s of this.segments) if (s.text.length > 0) return false;
    return true;
  }

  concat(...others: (RichText | string | Segment)[]): RichText {
    const out = [...this.segments];
    for (const o of others) {
      if (typeof o === 'string') out.push({ text: o });
      else if (o instanceof RichText) out.push(...o.segments);
      else out.push(o);
    }
    return new RichText(out);
  }

  /** Returns a copy with each segment passed through `fn` (e.g. to rewrite mentions). */
  map(fn: (segment: Segment) => Segment): RichText {
    return new RichText(this.segments.map(fn));
  }

  /** Text without formatting; links are kept as `text (url)` when the text differs. */
  toPlain(): string {
    let out = '';
    for (const s of this.segments) {
      out += s.text;
      if (s.link && s.link !== s.text) out += ` (${s.link})`;
    }
    return out;
  }

  /** CommonMark-ish rendering, for networks that take Markdown. */
  toMarkdown(): string {
    let out = '';
    for (const s of this.segments) {
      if (s.pre) {
        out += `\n\`\`\`\n${s.text}\n\`\`\`\n`;
        continue;
      }
      let t = s.code ? `\`${s.text.replaceAll('`', '\u02cb')}\`` : s.text.replace(MARKDOWN_SPECIAL, '\\$&');
      if (s.bold) t = `**${t}**`;
      if (s.italic) t = `_${t}_`;
      if (s.strike) t = `~~${t}~~`;
      if (s.link) t = `[${t}](${s.link})`;
      out += t;
    }
    return out;
  }

  /** HTML rendering with everything escaped, for the web and XHTML-IM. */
  toHtml(): string {
    let out = '';
    for (const s of this.segments) {
      let t = escapeHtml(s.text).replaceAll('\n', s.pre ? '\n' : '<br>');
      if (s.pre) t = `<pre>${t}</pre>`;
      if (s.code) t = `<code>${t}</code>`;
      if (s.bold) t = `<strong>${t}</strong>`;
      if (s.italic) t = `<em>${t}</em>`;
      if (s.underline) t = `<u>${t}</u>`;
      if (s.strike) t = `<s>${t}</s>`;
      if (s.link) t = `<a href="${escapeHtml(s.link)}">${t}</a>`;
      out += t;
    }
    return out;
  }

  toString(): string {
    return this.toPlain();
  }
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A file carried by a message. The body is streamed: `open()` yields it, once per call. */
export interface Attachment {
  readonly name: string;
  /** MIME type. */
  readonly type: string;
  /** Size in bytes, when the network says. */
  readonly size?: number;
  /** Where it can be fetched, for networks that link rather than upload. */
  readonly url?: string;
  readonly open?: () => Promise<Readable>;
}

/** What a hook or agent builds to send; also the content part of a received message. */
export interface Message {
  readonly text?: RichText;
  readonly user?: User;
  /** A `/me`-style action. */
  readonly action?: boolean;
  /** This is a new revision of the message with the same id. */
  readonly edited?: boolean;
  /** The message with this id was deleted. */
  readonly deleted?: boolean;
  readonly replyTo?: SentMessage;
  readonly joined?: readonly User[];
  readonly left?: readonly User[];
  /** A new channel title or mail subject. */
  readonly title?: string;
  readonly attachments?: readonly Attachment[];
  /** The network's own object. */
  readonly raw?: unknown;
}

/** A message as it exists on a network: it has an id, a channel and a time. */
export interface SentMessage extends Message {
  readonly id: string;
  readonly channel: Channel;
  readonly at: Date;
  /** Set by the host (or a plug that knows) when porter itself sent this: bridges skip it. */
  readonly fromPorter?: boolean;
}

/** What a plug returns for each network message it created when sending. */
export interface Receipt {
  readonly id: string;
  readonly channel: Channel;
  readonly at: Date;
}

/**
 * A one-line plain rendering of a whole message for networks without formatting
 * (`* alice waves`, `<alice> hi [edited]`, `alice joined`).
 */
export function renderPlain(message: Message, options: { name?: string } = {}): string {
  const name = options.name ?? (message.user ? displayName(message.user) : undefined);
  const parts: string[] = [];
  if (message.joined?.length) parts.push(`${message.joined.map(displayName).join(', ')} joined`);
  if (message.left?.length) parts.push(`${message.left.map(displayName).join(', ')} left`);
  if (message.title !== undefined && !message.text) parts.push(`${name ?? 'someone'} changed the title to "${message.title}"`);
  if (message.deleted) parts.push(`${name ? `${name} ` : ''}deleted a message`);
  else if (message.text && !message.text.isEmpty) {
    let body = message.text.toPlain();
    if (message.replyTo) {
      const quoted = message.replyTo.text?.toPlain() ?? '';
      const who = message.replyTo.user ? displayName(message.replyTo.user) : '';
      body = `[re ${who}${quoted ? `: ${truncate(quoted, 40)}` : ''}] ${body}`;
    }
    if (message.action) parts.push(`* ${name ?? 'someone'} ${body}`);
    else parts.push(name ? `<${name}> ${body}` : body);
  }
  for (const a of message.attachments ?? []) {
    parts.push(`${name ? `<${name}> ` : ''}[file: ${a.name}${a.url ? ` ${a.url}` : ''}]`);
  }
  let line = parts.join('\n');
  if (message.edited && !message.deleted) line += ' [edited]';
  return line;
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
