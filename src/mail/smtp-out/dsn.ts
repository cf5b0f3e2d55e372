// Delivery status notifications (RFC 3464): the bounce a sender gets for recipients that failed, with the original headers.
import { randomBytes } from 'node:crypto';

export interface FailedRecipient {
  readonly address: string;
  /** RFC 3463 status: `5.1.1`, or `4.4.7` when the message expired while deferred. */
  readonly status: string;
  readonly diagnostic: string;
  readonly remoteMta?: string;
}

export interface BounceInput {
  /** The reporting MTA's host name. */
  readonly hostname: string;
  /** The envelope sender of the original message: the bounce's recipient. */
  readonly to: string;
  readonly queueId: string;
  readonly arrivalDate: Date;
  readonly recipients: readonly FailedRecipient[];
  /** The original message; only its header section goes into the bounce. */
  readonly original: Buffer;
  readonly now?: Date;
}

/** The header section of a message: everything before the first empty line (CRLF or bare LF). */
export function headerSection(message: Buffer): Buffer {
  const crlf = message.indexOf('\r\n\r\n');
  const lf = message.indexOf('\n\n');
  const candidates = [crlf >= 0 ? crlf + 2 : -1, lf >= 0 ? lf + 1 : -1].filter((n) => n >= 0);
  return candidates.length > 0 ? message.subarray(0, Math.min(...candidates)) : message;
}

/** The enhanced status code in a server's reply (`550 5.1.1 …`), if it gives one of the right class. */
export function enhancedStatus(reply: string | undefined, code: number | undefined): string | undefined {
  const match = reply ? /\b([245])\.(\d{1,3})\.(\d{1,3})\b/.exec(reply) : null;
  if (match && (code === undefined || String(code)[0] === match[1])) return `${match[1]}.${match[2]}.${match[3]}`;
  return undefined;
}

function toCrlf(text: string): string {
  return text.replace(/\r?\n/g, '\r\n');
}

/** Values put into header fields must not break the line they are on. */
function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ').trim();
}

function rfc822Date(date: Date): string {
  return date.toUTCString().replace(/GMT$/, '+0000');
}

/**
 * Builds the bounce: `multipart/report; report-type=delivery-status` with a human part, a
 * `message/delivery-status` part (one block per failed recipient) and a `text/rfc822-headers`
 * part with the original headers, as Postfix sends. The caller sends it from the null sender.
 */
export function buildBounce(input: BounceInput): Buffer {
  const now = input.now ?? new Date();
  const boundary = `porter-dsn-${randomBytes(12).toString('hex')}`;
  const expired = input.recipients.some((r) => r.status.startsWith('4.'));
  const lines = input.recipients.map((r) => `<${r.address}>: ${oneLine(r.diagnostic)}`);
  const human = [
    `This is the mail system at host ${input.hostname}.`,
    '',
    "I'm sorry to have to inform you that your message could not",
    expired
      ? 'be delivered to one or more recipients before it expired. It is attached below.'
      : 'be delivered to one or more recipients. It is attached below.',
    '',
    'The mail system',
    '',
    ...lines,
  ].join('\n');
  const perMessage = [
    `Reporting-MTA: dns; ${input.hostname}`,
    `X-Porter-Queue-ID: ${input.queueId}`,
    `Arrival-Date: ${rfc822Date(input.arrivalDate)}`,
  ];
  const perRecipient = input.recipients.map((r) =>
    [
      `Final-Recipient: rfc822; ${r.address}`,
      'Action: failed',
      `Status: ${r.status}`,
      ...(r.remoteMta ? [`Remote-MTA: dns; ${oneLine(r.remoteMta)}`] : []),
      `Diagnostic-Code: ${/^\d{3}[ -]/.test(r.diagnostic) ? 'smtp' : 'x-porter'}; ${oneLine(r.diagnostic)}`,
    ].join('\n'),
  );
  let headers = headerSection(input.original).toString('utf8');
  if (!headers.endsWith('\n')) headers += '\n';
  const head = [
    `From: Mail Delivery System <MAILER-DAEMON@${input.hostname}>`,
    `To: <${input.to}>`,
    'Subject: Undelivered Mail Returned to Sender',
    `Date: ${rfc822Date(now)}`,
    `Message-ID: <${input.queueId}.${now.getTime().toString(36)}@${input.hostname}>`,
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"`,
    'Content-Transfer-Encoding: 8bit',
  ].join('\n');
  const body = [
    head,
    '',
    'This is a MIME-encapsulated message.',
    '',
    `--${boundary}`,
    'Content-Description: Notification',
    'Content-Type: text/plain; charset=utf-8',
    '',
    human,
    '',
    `--${boundary}`,
    'Content-Description: Delivery report',
    'Content-Type: message/delivery-status',
    '',
    [perMessage.join('\n'), ...perRecipient].join('\n\n'),
    '',
    `--${boundary}`,
    'Content-Description: Undelivered Message Headers',
    'Content-Type: text/rfc822-headers',
    'Content-Transfer-Encoding: 8bit',
    '',
    headers,
    `--${boundary}--`,
    '',
  ].join('\n');
  return Buffer.from(toCrlf(body), 'utf8');
}
