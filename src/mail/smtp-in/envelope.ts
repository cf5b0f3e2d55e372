// The envelope record at the head of every spooled message: who sent it, to whom, and how it came.
import { readFile } from 'node:fs/promises';

/**
 * What SMTP said about a message besides its bytes. A queue file holds only the recipients of its
 * own queue (local ones in `incoming`, others in `outgoing`).
 */
export interface Envelope {
  /** The receiving session's message id; the log line and the Received header name it too. */
  readonly id: string;
  /** Milliseconds since the epoch when the message was accepted. */
  readonly received: number;
  /** The client's IP address. */
  readonly client: string;
  /** The authenticated user of a submission session. */
  readonly auth?: string;
  /** MAIL FROM; empty for the null sender (bounces). */
  readonly from: string;
  readonly to: readonly EnvelopeRecipient[];
  /** The client declared BODY=8BITMIME. */
  readonly eightBit: boolean;
  /** The client declared SMTPUTF8: addresses or headers may be UTF-8. */
  readonly smtpUtf8: boolean;
}

export interface EnvelopeRecipient {
  readonly address: string;
  /** For a local recipient, the mail user it belongs to. */
  readonly user?: string;
}

/**
 * The record is text lines ending in CRLF, then an empty line, then the message:
 *
 *     porter-envelope 1
 *     id: 1a2b3c
 *     received: 1795000000000
 *     client: 127.0.0.1
 *     auth: alice                (submission only)
 *     from: <bob@example.org>    (<> for the null sender)
 *     to: <alice@example.org> alice
 *     to: <carol@example.org> carol
 *     body: 8bitmime             (when declared)
 *     smtputf8: yes              (when declared)
 *
 * Addresses cannot hold CR, LF or `>` (the SMTP parser refuses them), so a line is one field.
 */
const MAGIC = 'porter-envelope 1';
const MAX_HEAD = 1024 * 1024;

export class EnvelopeError extends Error {}

export function formatEnvelope(envelope: Envelope): Buffer {
  const lines = [MAGIC, `id: ${envelope.id}`, `received: ${envelope.received}`, `client: ${envelope.client}`];
  if (envelope.auth !== undefined) lines.push(`auth: ${envelope.auth}`);
  lines.push(`from: <${envelope.from}>`);
  for (const rcpt of envelope.to) lines.push(rcpt.user === undefined ? `to: <${rcpt.address}>` : `to: <${rcpt.address}> ${rcpt.user}`);
  if (envelope.eightBit) lines.push('body: 8bitmime');
  if (envelope.smtpUtf8) lines.push('smtputf8: yes');
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'utf8');
}

/** Reads the record at the head of `data`; `bodyOffset` is where the message starts. */
export function parseEnvelope(data: Buffer): { envelope: Envelope; bodyOffset: number } {
  const end = data.indexOf('\r\n\r\n');
  if (end < 0 || end > MAX_HEAD) throw new EnvelopeError('no envelope record at the head of the file');
  const lines = data.subarray(0, end).toString('utf8').split('\r\n');
  if (lines[0] !== MAGIC) throw new EnvelopeError(`not a porter envelope (first line "${lines[0]}")`);
  const fields = new Map<string, string>();
  const to: EnvelopeRecipient[] = [];
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(': ');
    if (colon < 0) throw new EnvelopeError(`bad envelope line "${line}"`);
    const key = line.slice(0, colon);
    const value = line.slice(colon + 2);
    if (key === 'to') {
      const match = /^<([^>]*)>(?: (\S+))?$/.exec(value);
      if (!match) throw new EnvelopeError(`bad recipient "${value}"`);
      to.push(match[2] === undefined ? { address: match[1]! } : { address: match[1]!, user: match[2] });
    } else fields.set(key, value);
  }
  const from = /^<([^>]*)>$/.exec(fields.get('from') ?? '');
  const id = fields.get('id');
  const received = Number(fields.get('received'));
  const client = fields.get('client');
  if (!from || id === undefined || client === undefined || !Number.isFinite(received) || to.length === 0)
    throw new EnvelopeError('the envelope lacks id, received, client, from or to');
  const auth = fields.get('auth');
  const envelope: Envelope = {
    id,
    received,
    client,
    ...(auth === undefined ? {} : { auth }),
    from: from[1]!,
    to,
    eightBit: fields.get('body') === '8bitmime',
    smtpUtf8: fields.get('smtputf8') === 'yes',
  };
  return { envelope, bodyOffset: end + 4 };
}

/** A spooled message, read whole: its envelope and the message bytes (CRLF line ends, Received header first). */
export async function readSpooled(path: string): Promise<{ envelope: Envelope; message: Buffer }> {
  return parseSpooled(await readFile(path));
}

/** A spooled message's bytes → its envelope and the message. */
export function parseSpooled(data: Buffer): { envelope: Envelope; message: Buffer } {
  const { envelope, bodyOffset } = parseEnvelope(data);
  return { envelope, message: data.subarray(bodyOffset) };
}
