// A resource's booking policies in words: what each policy in the ordered list does, with its settings
// as a person reads them. A policy type this page does not know is still shown, by its settings.
import type { Policy } from './api.js';

export interface PolicyView {
  readonly type: string;
  /** One sentence saying what the policy does with these settings. */
  readonly summary: string;
  /** Every setting as `name: value`, in the config's order. */
  readonly settings: readonly { readonly name: string; readonly value: string }[];
}

/** A setting's value in words: lists joined, true/false as yes/no, objects as `key value` pairs. */
export function formatValue(value: unknown): string {
  if (Array.isArray(value)) return value.map(formatValue).join(', ');
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (value === null || value === undefined) return '—';
  if (typeof value === 'object')
    return Object.entries(value)
      .map(([k, v]) => `${k} ${formatValue(v)}`)
      .join('; ');
  return String(value);
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

function minutes(n: number): string {
  if (n % 60 === 0) return plural(n / 60, 'hour');
  return plural(n, 'minute');
}

// Each describer reads the settings it knows and leaves the rest to the settings list.
type Describe = (p: Readonly<Record<string, unknown>>) => string;

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const list = (v: unknown): string | undefined =>
  Array.isArray(v) && v.length > 0 ? formatValue(v) : typeof v === 'string' && v ? v : undefined;

const DESCRIBE: Record<string, Describe> = {
  free: (p) => {
    const max = num(p.capacity) ?? num(p.max);
    return max && max > 1
      ? `Accepts a booking when fewer than ${max} others overlap it; declines it otherwise.`
      : 'Accepts a booking when the time is free; declines it on a conflict.';
  },
  capacity: (p) => {
    const max = num(p.max);
    return max === undefined ? 'Limits how many bookings may overlap.' : `Allows at most ${plural(max, 'booking')} at the same time.`;
  },
  recurring: (p) => {
    const count = num(p['max-conflicts']);
    const share = num(p['max-conflict-share']);
    const limits = [
      count === undefined ? undefined : `more than ${plural(count, 'instance')} clash`,
      share === undefined ? undefined : `more than ${Math.round(share * 100)}% of instances clash`,
    ].filter((s) => s !== undefined);
    const whole = limits.length ? `; declines the whole series when ${limits.join(' or ')}` : '';
    return `Books a recurring series and declines only its clashing instances${whole}.`;
  },
  'no-recurring': () => 'Declines recurring bookings.',
  window: (p) => {
    const days = num(p.days);
    const ahead = days === undefined ? 'too far ahead' : `more than ${plural(days, 'day')} ahead`;
    return p.action === 'clip'
      ? `Declines bookings ${ahead}; a series is booked up to then and its later dates declined.`
      : `Declines bookings ${ahead}.`;
  },
  duration: (p) => {
    const min = num(p.min);
    const max = num(p.max);
    if (min !== undefined && max !== undefined) return `Accepts bookings from ${minutes(min)} to ${minutes(max)} long.`;
    if (min !== undefined) return `Declines bookings shorter than ${minutes(min)}.`;
    if (max !== undefined) return `Declines bookings longer than ${minutes(max)}.`;
    return 'Limits how long a booking may be.';
  },
  hours: (p) => {
    const when = list(p.times) ?? list(p.hours) ?? 'its permitted times';
    const zone = typeof p.tzid === 'string' ? p.tzid : "the resource's time zone";
    return p.action === 'counter'
      ? `Books only during ${when} (in ${zone}); proposes the next permitted free time otherwise.`
      : `Books only during ${when} (in ${zone}); declines other times.`;
  },
  counter: (p) => {
    const horizon = num(p.horizon);
    return `When the time is taken, proposes the next free time of the same length${horizon === undefined ? '' : ` within ${plural(horizon, 'day')}`}.`;
  },
  who: (p) => {
    const parts = [list(p.domains) && `people at ${list(p.domains)}`, list(p.allow) && `${list(p.allow)}`].filter(Boolean);
    const deny = list(p.deny);
    const allowed = parts.length ? `Accepts bookings only from ${parts.join(' and ')}` : 'Accepts bookings from anyone';
    return `${allowed}${deny ? `, never from ${deny}` : ''}.`;
  },
  approval: (p) => {
    const delegates = list(p.delegates);
    const except = list(p.except);
    return `Holds bookings as tentative until ${delegates ? `one of ${delegates}` : 'a delegate'} confirms${except ? `, except from ${except}` : ''}.`;
  },
  quota: (p) => {
    const period = typeof p.period === 'string' ? p.period : 'period';
    const limits = [
      num(p.hours) === undefined ? undefined : plural(num(p.hours) as number, 'hour'),
      num(p.bookings) === undefined ? undefined : plural(num(p.bookings) as number, 'booking'),
    ].filter((s) => s !== undefined);
    const groups = list(p.groups);
    const whom = p.per === 'group' ? `each group (${groups ?? 'any'})` : groups ? `each organiser in ${groups}` : 'each organiser';
    return `Allows ${whom} at most ${limits.length ? limits.join(' and ') : 'a quota'} per ${period}.`;
  },
};

export function describePolicy(policy: Policy): PolicyView {
  const settings = Object.entries(policy)
    .filter(([name]) => name !== 'type')
    .map(([name, value]) => ({ name, value: formatValue(value) }));
  const describe = DESCRIBE[policy.type];
  const summary = describe ? describe(policy) : `A “${policy.type}” policy.`;
  return { type: policy.type, summary, settings };
}

/** How a resource decides, in order: the first policy that decides wins; when all pass, the booking is accepted. */
export function describePolicies(policies: readonly Policy[]): PolicyView[] {
  return policies.map(describePolicy);
}
