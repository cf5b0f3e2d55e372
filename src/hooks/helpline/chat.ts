/**
 * How a page reaches the helpline's rooms (porter's web chat, or an XMPP server), and how an
 * occupant's address is compared with a staff member's account on either network.
 */
import type { Plug } from '../../core/plug.js';

/**
 * Where the rooms are: porter's web chat WebSocket path, or an XMPP service, its MUC domain, the
 * WebSocket URL browsers connect to and the virtual host where clients log in anonymously.
 */
export type ChatReach =
  | { kind: 'webchat'; path: string }
  | { kind: 'xmpp'; service?: string; muc?: string; websocket?: string; anonymous?: string }
  | { kind: 'other'; network: string };

/** How browsers reach an XMPP server (the helpline's `web` config section). */
export interface WebReach {
  readonly websocket?: string;
  readonly anonymous?: string;
}

/**
 * The network of the helpline's plug, read from its config (the plug's own keys), with what the
 * helpline's `web` section adds for pages on XMPP. Without `web.websocket`, a plug that itself
 * connects over WebSocket offers its service URL to browsers too.
 */
export function chatReach(plug: Plug, web: WebReach = {}): ChatReach {
  const config = (plug as Plug & { config?: Record<string, unknown> }).config ?? {};
  const text = (key: string): string | undefined => (typeof config[key] === 'string' ? (config[key] as string) : undefined);
  if (plug.network === 'XMPP') {
    const service = text('service');
    const muc = text('muc');
    const websocket = web.websocket ?? (service && /^wss?:\/\//i.test(service) ? service : undefined);
    return {
      kind: 'xmpp',
      ...(service ? { service } : {}),
      ...(muc ? { muc } : {}),
      ...(websocket ? { websocket } : {}),
      ...(web.anonymous ? { anonymous: web.anonymous } : {}),
    };
  }
  if (plug.network === 'Web chat') return { kind: 'webchat', path: text('path') ?? '/chat/ws' };
  return { kind: 'other', network: plug.network };
}

/** Why `address` cannot be a staff account on the plug's network, or undefined when it can. */
export function staffAddressProblem(plug: Plug, chat: ChatReach, address: string): string | undefined {
  const isJid = address.includes('@');
  if (chat.kind === 'webchat' && isJid) return `web chat staff are staff/<username>, not ${address}`;
  if (chat.kind === 'webchat') {
    // Only a login with a staff account of the plug gets a staff/ address.
    const staff = (plug as Plug & { config?: { staff?: { username?: unknown }[] } }).config?.staff ?? [];
    if (!staff.some((s) => `staff/${String(s.username)}` === address))
      return `plug "${plug.name}" has no staff account ${address.slice('staff/'.length)} (its staff[].username)`;
  }
  if (chat.kind === 'xmpp' && !isJid) return `XMPP staff are a bare JID such as ada@example.org, not ${address}`;
  return undefined;
}

/**
 * The account behind an occupant's address, comparable with a staff address: a JID loses its
 * resource (`ada@example.org/phone` → `ada@example.org`); a web chat address (`staff/ada`,
 * `anon/…`) is the account itself.
 */
export function accountOf(address: string | undefined): string | undefined {
  if (address === undefined) return undefined;
  const lower = address.toLowerCase();
  return lower.includes('@') ? lower.split('/')[0] : lower;
}
