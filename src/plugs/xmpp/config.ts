/** The xmpp plug's config schema: the account, the server, the MUC service, rooms to join, reconnect and TLS. */
import { z } from 'zod';

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '::1', '[::1]', 'localhost']);
const BARE_JID = /^[^@/\s]+@[^@/\s]+$/;
const DOMAIN = /^[^@/\s]+$/;

const roomSchema = z.union([z.string().min(1), z.strictObject({ room: z.string().min(1), password: z.string().optional() })]);

export const xmppConfigSchema = z
  .strictObject({
    /** The bot's account, a bare JID. */
    jid: z.string().regex(BARE_JID, 'expected a bare JID such as porter@example.org'),
    password: z.string().min(1),
    /** Where to connect: xmpp://host:port, xmpps://host:port, ws://… or wss://…; default: the JID's domain on port 5222. */
    service: z
      .string()
      .regex(/^(xmpps?|wss?):\/\/[^/\s]+/, 'expected xmpp://host:port, xmpps://host:port or a ws:// or wss:// URL')
      .optional(),
    resource: z.string().min(1).default('porter'),
    /** The name porter uses in rooms; default: the JID's local part. */
    nick: z.string().min(1).optional(),
    /** The MUC service's domain (conference.example.org), needed to create rooms and to join rooms by short name. */
    muc: z.string().regex(DOMAIN, 'expected a domain such as conference.example.org').optional(),
    /** Rooms joined at start and after every reconnect: a room JID, a short name on `muc`, or {room, password}. */
    rooms: z.array(roomSchema).default([]),
    /** Presence status text shown while connected. */
    status: z.string().default(''),
    /** The status text that marks a clean leave; any other leave is a lost connection. */
    'clean-exit': z.string().min(1).default('Clean Exit'),
    reconnect: z
      .strictObject({
        /** Seconds before the first reconnect attempt; each further attempt waits twice as long. */
        min: z.number().positive().default(1),
        /** The longest wait between attempts, in seconds. */
        max: z.number().positive().default(60),
      })
      .default({ min: 1, max: 60 }),
    /** starttls: plain connection upgraded, and refused when the server offers no STARTTLS; direct: TLS from the start; none: no TLS (loopback only). */
    tls: z.enum(['starttls', 'direct', 'none']).default('starttls'),
    /** Seconds between pings to the server, which notice a connection that died silently; 0: none. */
    keepalive: z.number().min(0).default(60),
    /** Seconds to wait for the server's answer to a join or a request. */
    timeout: z.number().positive().default(10),
  })
  .superRefine((cfg, ctx) => {
    if (cfg.reconnect.min > cfg.reconnect.max) {
      ctx.addIssue({ code: 'custom', path: ['reconnect', 'min'], message: 'reconnect.min must not be greater than reconnect.max' });
    }
    const url = serviceUrl(cfg);
    const scheme = url.protocol.replace(':', '');
    const secureScheme = scheme === 'xmpps' || scheme === 'wss';
    if (cfg.tls === 'none') {
      if (!LOOPBACK_HOSTS.has(url.hostname)) {
        ctx.addIssue({ code: 'custom', path: ['tls'], message: `tls: none is allowed only on loopback, not on ${url.hostname}` });
      }
      if (secureScheme) ctx.addIssue({ code: 'custom', path: ['service'], message: `${scheme}:// is TLS; it contradicts tls: none` });
    } else if (cfg.tls === 'direct' && !secureScheme) {
      ctx.addIssue({ code: 'custom', path: ['service'], message: 'tls: direct needs an xmpps:// or wss:// service' });
    } else if (cfg.tls === 'starttls' && scheme !== 'xmpp') {
      ctx.addIssue({
        code: 'custom',
        path: ['service'],
        message: 'tls: starttls needs an xmpp:// service (use tls: direct for xmpps:// and wss://)',
      });
    }
  });

export type XmppConfig = z.output<typeof xmppConfigSchema>;

/** The service URL: the configured one, else the JID's domain on the standard port for the TLS mode. */
export function serviceUrl(cfg: Pick<XmppConfig, 'jid' | 'service' | 'tls'>): URL {
  if (cfg.service) return new URL(cfg.service);
  const domain = cfg.jid.split('@')[1] as string;
  return new URL(cfg.tls === 'direct' ? `xmpps://${domain}:5223` : `xmpp://${domain}:5222`);
}
