// The SMTP receiver's config: listeners (address, mode, STARTTLS files), local domains and limits.
import { isIP } from 'node:net';
import { z } from 'zod';

export const LISTENER_MODES = ['smtp', 'submission', 'lmtp'] as const;
export type ListenerMode = (typeof LISTENER_MODES)[number];

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** `host:port`, `[v6]:port` or `:port` (all addresses); port 0 asks the system for a free one. */
export function parseListenAddress(text: string): ListenAddress {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text.trim());
  const port = match ? Number(match[3]) : Number.NaN;
  if (!match || port > 65_535) throw new TypeError(`invalid listen address "${text}": expected host:port or [ipv6]:port`);
  const host = match[1] ?? match[2] ?? '';
  if (match[1] !== undefined && isIP(host) !== 6) throw new TypeError(`invalid listen address "${text}": [${host}] is not an IPv6 address`);
  return { host: host === '' ? '::' : host, port };
}

/** Loopback only: a cleartext password on any other interface could be read on the network. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

const address = z.string().superRefine((text, ctx) => {
  try {
    parseListenAddress(text);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
  }
});

const domain = z
  .string()
  .min(1)
  .transform((d) => d.trim().toLowerCase().replace(/\.$/, ''))
  .refine((d) => /^[^\s@]+$/.test(d), 'expected a domain name');

export const listenerSchema = z
  .strictObject({
    /** `host:port`; `[::1]:25` for IPv6. */
    address,
    /**
     * `smtp`: mail for the local domains, no AUTH. `submission`: AUTH (PLAIN, LOGIN) required,
     * after STARTTLS; authenticated users may send anywhere. `lmtp`: LMTP for a front MTA, one
     * reply per recipient, no AUTH.
     */
    mode: z.enum(LISTENER_MODES).default('smtp'),
    /** Certificate and key files (PEM) for STARTTLS; without them STARTTLS is not offered. */
    tls: z.strictObject({ cert: z.string().min(1), key: z.string().min(1) }).optional(),
    /** Submission only: accept AUTH without TLS. Allowed on loopback addresses only, for tests and local tools. */
    'allow-insecure-auth': z.boolean().default(false),
  })
  .superRefine((listener, ctx) => {
    if (listener.mode !== 'submission') {
      if (listener['allow-insecure-auth'])
        ctx.addIssue({ code: 'custom', path: ['allow-insecure-auth'], message: 'only a submission listener offers AUTH' });
      return;
    }
    let host: string;
    try {
      host = parseListenAddress(listener.address).host;
    } catch {
      return;
    }
    if (listener['allow-insecure-auth'] && !isLoopbackHost(host))
      ctx.addIssue({ code: 'custom', path: ['allow-insecure-auth'], message: `only on a loopback address, not ${host}` });
    if (!listener.tls && !listener['allow-insecure-auth'])
      ctx.addIssue({
        code: 'custom',
        path: ['tls'],
        message: 'a submission listener needs tls (cert and key), since AUTH is only offered after STARTTLS',
      });
  });

export const smtpInConfigSchema = z.strictObject({
  /** The name in the greeting, the EHLO reply and Received headers; default: the machine's host name. */
  hostname: z.string().min(1).optional(),
  /** Mail for these domains is delivered here (queue `incoming`); anything else is relayed for authenticated users only. */
  domains: z.array(domain).min(1),
  listeners: z.array(listenerSchema).min(1),
  /** Largest message in octets (advertised as SIZE and counted on the received stream). */
  'max-message-size': z
    .number()
    .int()
    .positive()
    .default(25 * 1024 * 1024),
  /**
   * Like Postfix's sender_bcc_maps, for authenticated senders only: mail a user submits with this
   * envelope sender is also delivered, blind, to the address given (say, their calendar agent,
   * which then sees their own invitations and answers).
   */
  'sender-bcc': z
    .record(
      z.string().regex(/^[^@\s]+@[^@\s]+$/, 'expected a mail address'),
      z.string().regex(/^[^@\s]+@[^@\s]+$/, 'expected a mail address'),
    )
    .default({}),
  /** More recipients in one transaction get 452 (the client sends the rest in another). */
  'max-recipients': z.number().int().positive().default(100),
  /** Longest line of a message in octets, without its CRLF (RFC 5322 allows 998). */
  'max-line-length': z.number().int().positive().default(998),
  /** Sessions at once, per listener; one more is told 421 and disconnected. */
  'max-clients': z.number().int().positive().default(1000),
  /** Seconds a client may stay silent before it is disconnected (Postfix's smtpd_timeout). */
  'idle-timeout': z.number().positive().default(300),
  /** Seconds `close()` lets sessions finish the message they are sending. */
  'close-timeout': z.number().positive().default(10),
});

export type SmtpInConfig = z.output<typeof smtpInConfigSchema>;
export type SmtpInConfigInput = z.input<typeof smtpInConfigSchema>;
export type ListenerConfig = z.output<typeof listenerSchema>;
