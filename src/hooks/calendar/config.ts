/**
 * The calendar hook's config: the people, resources and pools it hosts, each on a mail channel,
 * with their preferences (imip-agent's names) and, for resources and pools, their policies.
 */
import { z } from 'zod';
import { isTimeZone, policiesSchema } from '../../calendar/policy/index.js';
import type { ConfigRefs } from '../../core/component.js';

const ID = /^[a-z0-9][a-z0-9_-]*$/;

const tzid = z.string().refine(isTimeZone, { message: 'expected an IANA time zone such as Europe/Amsterdam' });
const seconds = z.number().int().positive();

/** What every agent can prefer; the defaults differ between people and resources. */
function preferencesSchema(defaults: { sharing: boolean; publishing: boolean }) {
  return z
    .strictObject({
      /** Takes part in scheduling at all; when false, scheduling mail is passed on untouched. */
      participating: z.boolean().default(true),
      /** Answers VFREEBUSY requests and shows up in /api/calendar/freebusy. */
      freebusy_sharing: z.boolean().default(defaults.sharing),
      /** Publishes `/calendar/freebusy/ADDRESS.ifb`. */
      freebusy_publishing: z.boolean().default(defaults.publishing),
      /** Seconds a counter-proposed slot stays held (counted busy) for the organizer. */
      freebusy_offers: seconds.default(600),
      /** What an ADD for an unknown event gets: applied anyway, ignored, or answered with REFRESH. */
      add_method_response: z.enum(['add', 'ignore', 'refresh']).default('refresh'),
      /** Whether a REFRESH is answered by resending the event. */
      event_refreshing: z.enum(['never', 'always']).default('always'),
      /** The agent's time zone (IANA): weeks and permitted times are counted in it. */
      TZID: tzid.optional(),
    })
    .default({
      participating: true,
      freebusy_sharing: defaults.sharing,
      freebusy_publishing: defaults.publishing,
      freebusy_offers: 600,
      add_method_response: 'refresh',
      event_refreshing: 'always',
    });
}

const personPreferences = preferencesSchema({ sharing: false, publishing: false });
const resourcePreferences = preferencesSchema({ sharing: true, publishing: true });
export type Preferences = z.output<typeof personPreferences>;

const id = z.string().regex(ID, 'expected an id of lower-case letters, digits, "-" and "_"');

export const calendarConfigSchema = (refs: ConfigRefs) =>
  z
    .strictObject({
      /** The mail plug the agents send through; default: each agent's channel's plug. */
      plug: refs.plug().optional(),
      /** Days before today that recurring series, free/busy and feeds cover. */
      'window-back': z.number().int().min(0).default(56),
      /** Days after today that recurring series are expanded and free/busy published. */
      'window-ahead': z.number().int().positive().default(365),
      /** Largest iMIP mail looked at, in bytes. */
      'max-size': z
        .number()
        .int()
        .positive()
        .default(1024 * 1024),
      people: z
        .record(
          id,
          z.strictObject({
            channel: refs.channel(),
            name: z.string().min(1).optional(),
            /** Each scheduling mail, once recorded, is passed on (whole) to this address, where the person reads mail. */
            forward: z.email('expected a mail address such as alice@example.org').toLowerCase().optional(),
            preferences: personPreferences,
          }),
        )
        .default({}),
      resources: z
        .record(
          id,
          z.strictObject({
            channel: refs.channel(),
            name: z.string().min(1).optional(),
            kind: z.enum(['room', 'equipment']).default('room'),
            tzid: tzid.default('UTC'),
            /** Bookings at once; used by the default policy (`free`) when `policies` is not given. */
            capacity: z.number().int().positive().optional(),
            /** Decided in order; default: `[{type: free, capacity: CAPACITY or 1}]`. */
            policies: policiesSchema.optional(),
            preferences: resourcePreferences,
          }),
        )
        .default({}),
      pools: z
        .record(
          id,
          z.strictObject({
            channel: refs.channel(),
            name: z.string().min(1).optional(),
            members: z.array(z.string()).min(1, 'a pool needs at least one member'),
            /** Decide when no member takes the booking; default: decline. */
            policies: policiesSchema.default([]),
            preferences: resourcePreferences,
          }),
        )
        .default({}),
      /** Group name → member addresses, for the policies' quotas and who may book. */
      groups: z.record(z.string(), z.array(z.string().toLowerCase())).default({}),
    })
    .superRefine((cfg, ctx) => {
      const seen = new Map<string, string>();
      for (const kind of ['people', 'resources', 'pools'] as const) {
        for (const [key, agent] of Object.entries(cfg[kind])) {
          const other = seen.get(agent.channel);
          if (other)
            ctx.addIssue({ code: 'custom', path: [kind, key, 'channel'], message: `channel "${agent.channel}" is already ${other}'s` });
          seen.set(agent.channel, key);
          if (kind !== 'people' && key in cfg.people)
            ctx.addIssue({ code: 'custom', path: [kind, key], message: `id "${key}" is also a person's` });
        }
      }
      for (const [key, pool] of Object.entries(cfg.pools)) {
        if (key in cfg.resources) ctx.addIssue({ code: 'custom', path: ['pools', key], message: `id "${key}" is also a resource's` });
        pool.members.forEach((member, i) => {
          if (!(member in cfg.resources))
            ctx.addIssue({ code: 'custom', path: ['pools', key, 'members', i], message: `unknown resource "${member}"` });
        });
      }
    });

export type CalendarConfig = z.output<ReturnType<typeof calendarConfigSchema>>;
export type PersonConfig = CalendarConfig['people'][string];
export type ResourceConfig = CalendarConfig['resources'][string];
export type PoolConfig = CalendarConfig['pools'][string];
