/**
 * The `name-format` template of bridges: how a bridged author's name is shown on the other side,
 * e.g. `{name} ({network})`. Placeholders: {name} {username} {realName} {id} {plug} {network} {channel}.
 */
import { z } from 'zod';
import type { SentMessage } from '../message.js';
import { displayName } from '../message.js';

export const PLACEHOLDERS = ['name', 'username', 'realName', 'id', 'plug', 'network', 'channel'] as const;

export const nameFormatSchema = z
  .string()
  .min(1)
  .superRefine((template, ctx) => {
    for (const m of template.matchAll(/\{([^{}]*)\}/g)) {
      if (!(PLACEHOLDERS as readonly string[]).includes(m[1] as string)) {
        ctx.addIssue({ code: 'custom', message: `unknown placeholder {${m[1]}} (use ${PLACEHOLDERS.map((p) => `{${p}}`).join(' ')})` });
      }
    }
  });

type Placeholder = (typeof PLACEHOLDERS)[number];
type Part = (sent: SentMessage, channelName: string | undefined) => string;

const PARTS: Record<Placeholder, Part> = {
  name: (sent) => (sent.user ? displayName(sent.user) : ''),
  username: (sent) => sent.user?.username ?? '',
  realName: (sent) => sent.user?.realName ?? '',
  id: (sent) => sent.user?.id ?? '',
  plug: (sent) => sent.channel.plug.name,
  network: (sent) => sent.channel.plug.network,
  channel: (sent, channelName) => channelName ?? sent.channel.source,
};

/** A checked template as a function, so a bridge parses it once rather than per message. */
export function compileNameFormat(template: string): Part {
  const parts: (string | Part)[] = [];
  let last = 0;
  for (const m of template.matchAll(/\{(\w+)\}/g)) {
    if (m.index > last) parts.push(template.slice(last, m.index));
    parts.push(PARTS[m[1] as Placeholder] ?? '');
    last = m.index + m[0].length;
  }
  if (last < template.length) parts.push(template.slice(last));
  const only = parts[0];
  if (parts.length === 1 && typeof only === 'function') return only;
  return (sent, channelName) => {
    let out = '';
    for (const p of parts) out += typeof p === 'string' ? p : p(sent, channelName);
    return out;
  };
}

export function formatName(template: string, sent: SentMessage, channelName: string | undefined): string {
  return compileNameFormat(template)(sent, channelName);
}
