/**
 * A stored mail as the mail plug hands it to the host: the MIME parsed with mailparser into
 * sender, subject, text (the HTML turned into text when there is no plain part), attachments and
 * the threading headers, with the whole message kept for hooks that read more of it.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { AddressObject, ParsedMail } from 'mailparser';
import type { Attachment } from '../../core/message.js';

/** What `SentMessage.raw` holds for a message from mail. */
export interface MailRaw {
  /** The whole message as it was stored (CRLF line ends, `Delivered-To:` first). */
  readonly source: Buffer;
  /** The mail user whose mailbox it came from. */
  readonly mailbox: string;
  /** Without angle brackets; undefined when the mail has none. */
  readonly messageId: string | undefined;
  readonly inReplyTo: string | undefined;
  readonly references: readonly string[];
  readonly subject: string | undefined;
  readonly from: { readonly address: string; readonly name: string } | undefined;
  readonly to: readonly string[];
  readonly cc: readonly string[];
  readonly date: Date | undefined;
  /** Every header, lower-case name → value as mailparser reads it (structured for the known ones). */
  readonly headers: ReadonlyMap<string, unknown>;
  /** Mail made by a program: a bounce, an auto-reply, `Auto-Submitted:` other than `no`. */
  readonly automatic: boolean;
  /** The `X-Porter-Origin:` header: which porter plug sent this mail, if one did. */
  readonly origin: string | undefined;
}

export interface ParsedIncoming {
  readonly raw: MailRaw;
  /** The plain text of the body (from the HTML part when there is no plain one), trimmed. */
  readonly text: string;
  readonly attachments: readonly Attachment[];
}

let parser: typeof import('mailparser').simpleParser | undefined;

/** Parses a stored message. mailparser is lenient: most broken MIME still yields headers and text. */
export async function parseMail(source: Buffer, mailbox: string): Promise<ParsedIncoming> {
  parser ??= (await import('mailparser')).simpleParser;
  // No HTML rendering of text parts and no link detection: the plug needs the text as written.
  const mail: ParsedMail = await parser(source, { skipTextToHtml: true, skipTextLinks: true, skipImageLinks: true });
  const from = firstAddress(mail.from);
  const headers = mail.headers as ReadonlyMap<string, unknown>;
  const raw: MailRaw = {
    source,
    mailbox,
    messageId: bare(mail.messageId),
    inReplyTo: bare(mail.inReplyTo),
    references: (Array.isArray(mail.references) ? mail.references : mail.references ? [mail.references] : [])
      .flatMap((r) => r.split(/\s+/))
      .map((r) => bare(r))
      .filter((r): r is string => Boolean(r)),
    subject: mail.subject?.trim() || undefined,
    from,
    to: addresses(mail.to),
    cc: addresses(mail.cc),
    date: mail.date && !Number.isNaN(mail.date.getTime()) ? mail.date : undefined,
    headers,
    automatic: isAutomatic(headers, from),
    origin: headerText(headers.get('x-porter-origin')),
  };
  const attachments: Attachment[] = mail.attachments.map((a, i) => {
    const content = a.content;
    return {
      name: a.filename || defaultName(a.contentType, i),
      type: a.contentType || 'application/octet-stream',
      size: content.length,
      open: async () => Readable.from([content]),
    };
  });
  const text = (mail.text ?? '').replace(/\s+$/, '').replace(/^\s*\n/, '');
  return { raw, text, attachments };
}

/** A stable id for a stored message's bytes, to recognise it again in a later listing. */
export function digest(source: Buffer): string {
  return createHash('sha256').update(source).digest('hex');
}

/**
 * Bounces, auto-replies and other mail made by programs (RFC 3834): `Auto-Submitted:` other than
 * `no`, a delivery or disposition report, `Return-Path: <>`, or no sender address at all (mail
 * from the null sender). The plug never bridges them, so they cannot start a mail loop.
 */
function isAutomatic(headers: ReadonlyMap<string, unknown>, from: MailRaw['from']): boolean {
  const auto = headerText(headers.get('auto-submitted'))?.toLowerCase();
  if (auto && !auto.startsWith('no')) return true;
  const type = headers.get('content-type') as { value?: string; params?: Record<string, string> } | undefined;
  if (type?.value?.toLowerCase() === 'multipart/report') return true;
  const returnPath = headerText(headers.get('return-path'));
  if (returnPath !== undefined && /^<?\s*>?$/.test(returnPath.trim())) return true;
  return !from?.address;
}

function headerText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && 'text' in value && typeof value.text === 'string') return value.text;
  if (value && typeof value === 'object' && 'value' in value && typeof value.value === 'string') return value.value;
  return undefined;
}

function firstAddress(field: AddressObject | AddressObject[] | undefined): MailRaw['from'] {
  const list = Array.isArray(field) ? field : field ? [field] : [];
  for (const group of list) {
    for (const entry of group.value) {
      if (entry.address) return { address: entry.address, name: entry.name ?? '' };
      for (const member of entry.group ?? []) if (member.address) return { address: member.address, name: member.name ?? '' };
    }
  }
  return undefined;
}

function addresses(field: AddressObject | AddressObject[] | undefined): string[] {
  const list = Array.isArray(field) ? field : field ? [field] : [];
  const out: string[] = [];
  for (const group of list) {
    for (const entry of group.value) {
      if (entry.address) out.push(entry.address);
      for (const member of entry.group ?? []) if (member.address) out.push(member.address);
    }
  }
  return out;
}

/** `<abc@host>` → `abc@host`. */
export function bare(id: string | undefined): string | undefined {
  const trimmed = id?.trim().replace(/^<|>$/g, '').trim();
  return trimmed || undefined;
}

function defaultName(type: string, index: number): string {
  if (type === 'text/calendar') return 'invite.ics';
  if (type === 'message/rfc822') return `message-${index + 1}.eml`;
  return `attachment-${index + 1}`;
}
