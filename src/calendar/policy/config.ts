/**
 * The `policies:` config of a resource (an ordered list of typed entries) and of a pool, checked
 * with zod so that a mistake is reported at its key (`policies[2].max: expected a positive integer`).
 */
import { z } from 'zod';
import { formatPlace, zodProblems } from '../../core/config/schema.js';
import { parseTimes, type WeekTimes } from './hours.js';
import { isTimeZone } from './zone.js';

const POSITIVE_INT = 'expected a positive integer';
const POSITIVE = 'expected a positive number';

const positiveInt = () => z.number({ error: POSITIVE_INT }).int({ error: POSITIVE_INT }).min(1, { error: POSITIVE_INT });
const positive = () => z.number({ error: POSITIVE }).positive({ error: POSITIVE });
const nonNegative = () => z.number({ error: 'expected a number ≥ 0' }).min(0, { error: 'expected a number ≥ 0' });

/** An address (`room@example.org`, stored lower-case) or, without `@`, the name of a group. */
const who = z
  .string({ error: 'expected an address or a group name' })
  .trim()
  .min(1, { error: 'expected an address or a group name' })
  .transform((s) => s.toLowerCase().replace(/^mailto:/, ''));
const address = z
  .string({ error: 'expected a mail address' })
  .trim()
  .transform((s) => s.toLowerCase().replace(/^mailto:/, ''))
  .refine((s) => /^[^@\s]+@[^@\s]+$/.test(s), { error: 'expected a mail address' });
const domain = z
  .string({ error: 'expected a domain name' })
  .trim()
  .transform((s) => s.toLowerCase().replace(/^@/, ''))
  .refine((s) => /^[a-z0-9.-]+\.[a-z0-9-]+$|^[a-z0-9-]+$/.test(s), { error: 'expected a domain name' });
const tzid = z.string({ error: 'expected an IANA time zone name' }).refine(isTimeZone, { error: 'unknown time zone' });
const list = <T extends z.ZodType>(item: T) => z.array(item, { error: 'expected a list' });

const freeSchema = z.strictObject({ type: z.literal('free'), capacity: positiveInt().default(1) });
const capacitySchema = z.strictObject({ type: z.literal('capacity'), max: positiveInt() });
const recurringSchema = z.strictObject({
  type: z.literal('recurring'),
  'max-conflicts': nonNegative().int({ error: 'expected a whole number ≥ 0' }).default(5),
  'max-conflict-share': z
    .number({ error: 'expected a fraction between 0 and 1' })
    .min(0, { error: 'expected a fraction between 0 and 1' })
    .max(1, { error: 'expected a fraction between 0 and 1' })
    .default(1 / 3),
});
const noRecurringSchema = z.strictObject({ type: z.literal('no-recurring') });
const windowSchema = z.strictObject({
  type: z.literal('window'),
  days: positive(),
  action: z.enum(['decline', 'clip'], { error: 'expected "decline" or "clip"' }).default('decline'),
});
const durationSchema = z
  .strictObject({ type: z.literal('duration'), min: positive().optional(), max: positive().optional() })
  .refine((c) => c.min !== undefined || c.max !== undefined, { error: 'expected min or max (minutes)', path: ['max'] })
  .refine((c) => c.min === undefined || c.max === undefined || c.min <= c.max, { error: 'expected max ≥ min', path: ['max'] });
const timesSchema = z
  .union([z.string(), z.array(z.string())], { error: "expected weekday ranges like 'mon-fri 08:00-18:00'" })
  .transform((value, ctx): WeekTimes => {
    const parsed = parseTimes(typeof value === 'string' ? [value] : value);
    if (typeof parsed === 'string') {
      ctx.addIssue({ code: 'custom', message: parsed });
      return z.NEVER;
    }
    return parsed;
  });
const hoursSchema = z.strictObject({
  type: z.literal('hours'),
  times: timesSchema,
  tzid: tzid.optional(),
  action: z.enum(['decline', 'counter'], { error: 'expected "decline" or "counter"' }).default('decline'),
  horizon: positive().default(7),
});
const counterSchema = z.strictObject({
  type: z.literal('counter'),
  horizon: positive().default(7),
  step: positiveInt().default(15),
});
const whoSchema = z
  .strictObject({ type: z.literal('who'), domains: list(domain).optional(), allow: list(who).optional(), deny: list(who).optional() })
  .refine((c) => c.domains !== undefined || c.allow !== undefined || c.deny !== undefined, {
    error: 'expected domains, allow or deny',
    path: ['allow'],
  });
const approvalSchema = z.strictObject({
  type: z.literal('approval'),
  delegates: list(who).min(1, { error: 'expected at least one delegate' }),
  except: list(who).default([]),
});
const quotaSchema = z
  .strictObject({
    type: z.literal('quota'),
    per: z.enum(['organizer', 'group'], { error: 'expected "organizer" or "group"' }).default('organizer'),
    groups: list(z.string().trim().min(1)).optional(),
    hours: positive().optional(),
    bookings: positiveInt().optional(),
    period: z.enum(['day', 'week', 'month'], { error: 'expected "day", "week" or "month"' }).default('week'),
  })
  .refine((c) => c.hours !== undefined || c.bookings !== undefined, { error: 'expected hours or bookings', path: ['hours'] })
  .refine((c) => c.per !== 'group' || (c.groups?.length ?? 0) > 0, { error: 'a quota per group needs groups', path: ['groups'] });

export const POLICY_TYPES = [
  'free',
  'capacity',
  'recurring',
  'no-recurring',
  'window',
  'duration',
  'hours',
  'counter',
  'who',
  'approval',
  'quota',
] as const;

/** One entry of `policies:`. */
export const policySchema = z.discriminatedUnion(
  'type',
  [
    freeSchema,
    capacitySchema,
    recurringSchema,
    noRecurringSchema,
    windowSchema,
    durationSchema,
    hoursSchema,
    counterSchema,
    whoSchema,
    approvalSchema,
    quotaSchema,
  ],
  { error: `expected a policy type: ${POLICY_TYPES.join(', ')}` },
);

/** A resource's `policies:`: decided in order, the first that does not pass decides. */
export const policiesSchema = list(policySchema);

/** A pool: a set of resources, each deciding by its own policies; the pool's own `policies` decide when none accepts. */
export const poolSchema = z.strictObject({
  members: list(address).min(1, { error: 'expected at least one member' }),
  policies: policiesSchema.default([{ type: 'free', capacity: 1 }]),
});

export type PolicyConfig = z.output<typeof policySchema>;
export type PolicyType = PolicyConfig['type'];
export type PoolConfig = z.output<typeof poolSchema>;
export type PolicyOf<T extends PolicyType> = Extract<PolicyConfig, { type: T }>;

/** Checks a `policies:` list; throws an Error listing every problem at its key (under `place`, by default `policies`). */
export function parsePolicies(input: unknown, place = 'policies'): PolicyConfig[] {
  const parsed = policiesSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  throw new Error(describeProblems(parsed.error, place));
}

/** `policies[2].max: expected a positive integer`, one line per problem. */
export function describeProblems(error: z.ZodError, place: string): string {
  return zodProblems(error, place ? [place] : [])
    .map((p) => `${p.place || formatPlace([place])}: ${p.message}`)
    .join('\n');
}
