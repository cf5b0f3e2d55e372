/**
 * Mail the mail plug writes: a `Message` (or a hook's `OutgoingMail`) as RFC 5322 bytes, built
 * with nodemailer's MailComposer, loaded at the first mail so a porter that only reads mail does
 * not carry it.
 */
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type MailComposerClass from 'nodemailer/lib/mail-composer';
import type { MailComposerAttachment, MailComposerOptions } from 'nodemailer/lib/mail-composer';
import { displayName, type Message } from '../../core/message.js';
import type { OutgoingMail } from '../../mail/local.js';

let MailComposer: typeof MailComposerClass | undefined;

/** The header that says which plug sent a mail, so that its copy coming back is known as porter's own. */
export const ORIGIN_HEADER = 'X-Porter-Origin';

/** How a plug signs its mail in `X-Porter-Origin:`: the plug's name and the channel's address. */
export function originOf(plug: string, address: string): string {
  return `${plug} <${address.toLowerCase()}>`;
}

/** A new Message-ID (without angle brackets) in the sender's domain. */
export function newMessageId(from: string): string {
  const domain = from.slice(from.lastIndexOf('@') + 1) || 'porter.invalid';
  return `porter.${Date.now().toString(36)}.${randomBytes(9).toString('base64url')}@${domain}`;
}

const SUBJECT_MAX = 78;

/** The subject of a message: its title, else `fallback`, else its first line (shortened). */
export function subjectOf(message: Message, fallback: string | undefined): string {
  if (message.title?.trim()) return message.title.trim();
  if (fallback !== undefined) return fallback;
  const first =
    (message.text?.toPlain() ?? '')
      .split('\n')
      .find((line) => line.trim())
      ?.trim() ?? '';
  if (!first) return message.attachments?.length ? (message.attachments[0]?.name ?? '') : '';
  return first.length > SUBJECT_MAX ? `${first.slice(0, SUBJECT_MAX - 1)}…` : first;
}

export interface ComposeOptions {
  readonly from: string;
  readonly to: readonly string[];
  readonly subject: string;
  readonly origin: string;
  readonly messageId: string;
}

/** A chat message as mail: From the channel's address with the author's name, the text, attachments, threading. */
export async function composeMessage(message: Message, options: ComposeOptions): Promise<Buffer> {
  const text = message.text?.toPlain() ?? '';
  const formatted = message.text?.segments.some((s) => s.bold || s.italic || s.underline || s.strike || s.code || s.pre || s.link) ?? false;
  const attachments: MailComposerAttachment[] = [];
  for (const a of message.attachments ?? []) {
    if (a.open) attachments.push({ filename: a.name, contentType: a.type, content: (await a.open()) as Readable });
  }
  // Attachments a network only links to are linked in the text.
  const links = (message.attachments ?? []).filter((a) => !a.open && a.url).map((a) => `[file: ${a.name}] ${a.url}`);
  const body = [message.action && message.user ? `* ${displayName(message.user)} ${text}` : text, ...links].filter(Boolean).join('\n');
  const replyTo = message.replyTo?.id;
  const threaded = replyTo?.includes('@') ? `<${replyTo}>` : undefined;
  const auto = message.user === undefined;
  return build({
    from: message.user ? { name: displayName(message.user), address: options.from } : options.from,
    to: [...options.to],
    subject: options.subject,
    text: `${body}\n`,
    ...(formatted ? { html: message.text?.toHtml() } : {}),
    attachments,
    messageId: `<${options.messageId}>`,
    ...(threaded ? { inReplyTo: threaded, references: [threaded] } : {}),
    headers: {
      [ORIGIN_HEADER]: options.origin,
      // A message no one wrote (a hook's notice) is mail made by a program: no auto-replies to it.
      ...(auto ? { 'Auto-Submitted': 'auto-generated' } : {}),
    },
  });
}

/** A hook's own mail: sent as given when raw, else composed. Returns the bytes and their Message-ID. */
export async function composeOutgoing(mail: OutgoingMail, origin: string): Promise<{ bytes: Buffer; messageId: string | undefined }> {
  if ('raw' in mail) return { bytes: mail.raw, messageId: undefined };
  const messageId = mail.messageId?.replace(/^<|>$/g, '') || newMessageId(mail.from);
  const bracket = (id: string) => (id.startsWith('<') ? id : `<${id}>`);
  const bytes = await build({
    from: mail.fromName ? { name: mail.fromName, address: mail.from } : mail.from,
    to: [...mail.to],
    ...(mail.cc?.length ? { cc: [...mail.cc] } : {}),
    subject: mail.subject,
    ...(mail.text !== undefined ? { text: mail.text } : {}),
    ...(mail.html !== undefined ? { html: mail.html } : {}),
    attachments: (mail.attachments ?? []).map((a) => ({
      filename: a.filename,
      content: a.content,
      ...(a.contentType ? { contentType: a.contentType } : {}),
    })),
    ...(mail.calendar ? { icalEvent: { method: mail.calendar.method, content: mail.calendar.content } } : {}),
    messageId: bracket(messageId),
    ...(mail.inReplyTo ? { inReplyTo: bracket(mail.inReplyTo) } : {}),
    ...(mail.references?.length ? { references: mail.references.map(bracket) } : {}),
    headers: {
      ...mail.headers,
      [ORIGIN_HEADER]: origin,
      ...(mail.autoSubmitted ? { 'Auto-Submitted': mail.autoSubmitted } : {}),
    },
  });
  return { bytes, messageId };
}

async function build(options: MailComposerOptions): Promise<Buffer> {
  MailComposer ??= (await import('nodemailer/lib/mail-composer')).default;
  return new MailComposer(options).compile().build();
}
