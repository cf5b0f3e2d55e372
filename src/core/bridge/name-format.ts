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

export function formatName(template: string, sent: SentMessage, channelName: string | undefined): string {
  const user = sent.user;
  const values: Record<(typeof PLACEHOLDERS)[number], string> = {
    name: user ? displayName(user) : '',
    username: user?.username ?? '',
    realName: user?.realName ?? '',
    id: user?.id ?? '',
    plug: sent.channel.plug.name,
    network: sent.channel.plug.network,
    channel: channelName ?? sent.channel.source,
  };
  return template.replace(/\{(\w+)\}/g, (_, key: string) => values[key as (typeof PLACEHOLDERS)[number]] ?? '');
}
