/**
 * Who may book and who must approve: the `who` and `approval` policies, matching organisers by
 * address, domain or group.
 */
import type { PolicyOf } from './config.js';
import { decided, PASS, type PolicyContext, type Run, type Verdict } from './context.js';

/** Whether `address` is `entry` (an address) or a member of the group named `entry`. */
export function matches(address: string, entry: string, groups: PolicyContext['groups']): boolean {
  if (entry.includes('@')) return entry === address;
  return groups?.get(entry)?.some((member) => member.toLowerCase() === address) ?? false;
}

function matchesAny(address: string, entries: readonly string[] | undefined, groups: PolicyContext['groups']): boolean {
  return entries?.some((e) => matches(address, e, groups)) ?? false;
}

function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1);
}

/** `who`: refuses `deny`; when `domains` or `allow` are set, refuses everyone outside them. */
export function who(cfg: PolicyOf<'who'>, run: Run): Verdict {
  const organizer = run.request.organizer.toLowerCase();
  const groups = run.ctx.groups;
  if (matchesAny(organizer, cfg.deny, groups)) return decided('DECLINED', 'who', `${organizer} may not book ${run.name}.`);
  if (cfg.domains === undefined && cfg.allow === undefined) return PASS;
  const domain = domainOf(organizer);
  if (cfg.domains?.some((d) => domain === d || domain.endsWith(`.${d}`))) return PASS;
  if (matchesAny(organizer, cfg.allow, groups)) return PASS;
  const from = cfg.domains?.length ? ` (it takes bookings from ${cfg.domains.join(', ')})` : '';
  return decided('DECLINED', 'who', `${organizer} may not book ${run.name}${from}.`);
}

/** `approval`: TENTATIVE until a delegate confirms, except for the delegates themselves and the organisers in `except`. */
export function approval(cfg: PolicyOf<'approval'>, run: Run): Verdict {
  const organizer = run.request.organizer.toLowerCase();
  if (matchesAny(organizer, cfg.except, run.ctx.groups) || matchesAny(organizer, cfg.delegates, run.ctx.groups)) return PASS;
  return decided(
    'TENTATIVE',
    'approval',
    `${run.name} is free, but its bookings need approval: the booking is tentative until one of its managers confirms it.`,
  );
}
