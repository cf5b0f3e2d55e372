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

/** Languages porter writes replies in (imip-agent's `LANG`). */
export const LANGUAGES = ['en', 'de', 'nl'] as const;
export type Lang = (typeof LANGUAGES)[number];

/** `de`, `de_DE`, `de-DE.UTF-8` and the like, read as the language. */
const lang = z.string().transform((value, ctx): Lang => {
  const code = value.trim().toLowerCase().slice(0, 2) as Lang;
  if (!LANGUAGES.includes(code) || !/^[a-z]{2}([_-][a-z]{2})?(\.[\w-]+)?$/i.test(value.trim())) {
    ctx.addIssue({ code: 'custom', message: `expected a language porter writes: ${LANGUAGES.join(', ')} (got "${value}")` });
    return z.NEVER;
  }
  return code;
});

/** Lines of text: imip-agent keeps multi-line preferences as text; a YAML list reads the same. */
const lines = z
  .union([z.string(), z.array(z.string())], { error: 'expected a string of lines or a list of strings' })
  .transform((v) => (typeof v === 'string' ? v.split(/\r?\n/) : v).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#')));

/** What every agent can prefer; the defaults differ between people and resources. */
function preferencesSchema(defaults: { sharing: boolean; publishing: boolean }) {
  return z
    .strictObject({
      /** The display name (imip-agent's `CN`); the agent's `name` when that is not given. */
      CN: z.string().min(1).optional(),
      /** The language of the replies' subjects and comments. */
      LANG: lang.default('en'),
      /** Takes part in scheduling at all; when false, scheduling mail is passed on untouched. */
      participating: z.boolean().default(true),
      /** Answers VFREEBUSY requests and shows up in /api/calendar/freebusy. */
      freebusy_sharing: z.boolean().default(defaults.sharing),
      /** Publishes `/calendar/freebusy/ADDRESS.ifb`. */
      freebusy_publishing: z.boolean().default(defaults.publishing),
      /** Attach the agent's free/busy (a VFREEBUSY PUBLISH) to every mail it sends; needs freebusy_sharing. */
      freebusy_bundling: z.enum(['never', 'always']).default('never'),
      /** Whether free/busy mail received is passed on to the person (`forward`) or only recorded. */
      freebusy_messages: z.enum(['none', 'notify']).default('none'),
      /** Seconds a counter-proposed slot stays held (counted busy) for the organizer. */
      freebusy_offers: seconds.default(600),
      /** What an ADD for an unknown event gets: applied anyway, ignored, or answered with REFRESH. */
      add_method_response: z.enum(['add', 'ignore', 'refresh']).default('refresh'),
      /** Whether a REFRESH is answered by resending the event. */
      event_refreshing: z.enum(['never', 'always']).default('always'),
      /** How scheduling mail is passed on to the person's `forward` address: a summary, the mail, or both. */
      incoming: z.enum(['message-only', 'summary-wraps-message', 'summary-then-message', 'summary-only']).default('summary-wraps-message'),
      /** Whether a REQUEST may give a stored event another organizer: from anyone, from one of its attendees, or never. */
      organiser_replacement: z.enum(['any', 'attendee', 'never']).default('attendee'),
      /** Resources: the times bookings may take, in the `hours` policy's syntax (`mon-fri 08:00-18:00`). */
      permitted_times: lines.optional(),
      /** Resources: imip-agent's scheduling functions, one a line, made into policies. */
      scheduling_function: lines.optional(),
      /** Resources: imip-agent's access control list for `access_control_list`, made into a `who` policy. */
      acl: lines.optional(),
      /** The agent's time zone (IANA): weeks and permitted times are counted in it. */
      TZID: tzid.optional(),
    })
    .default({
      LANG: 'en',
      participating: true,
      freebusy_sharing: defaults.sharing,
      freebusy_publishing: defaults.publishing,
      freebusy_bundling: 'never',
      freebusy_messages: 'none',
      freebusy_offers: 600,
      add_method_response: 'refresh',
      event_refreshing: 'always',
      incoming: 'summary-wraps-message',
      organiser_replacement: 'attendee',
    });
}

const personPreferences = preferencesSchema({ sharing: false, publishing: false });
const resourcePreferences = preferencesSchema({ sharing: true, publishing: true });
export type Preferences = z.output<typeof personPreferences>;

const SCHEDULING_FUNCTIONS = [
  'schedule_in_freebusy',
  'schedule_corrected_in_freebusy',
  'schedule_next_available_in_freebusy',
  'same_domain_only',
  'access_control_list',
] as const;

/**
 * The policies imip-agent's `scheduling_function`, `permitted_times` and `acl` stand for, in the
 * order porter decides them (who may book, the times, a counter-proposal, room): undefined when
 * none of them is given. `ownDomain` is the resource's mail domain, for `same_domain_only`.
 * Throws an Error naming the preference for what has no policy.
 */
export function policiesFromPreferences(prefs: Preferences, ownDomain: string): unknown[] | undefined {
  const functions = prefs.scheduling_function;
  if (!functions && !prefs.permitted_times && !prefs.acl) return undefined;
  const who: unknown[] = [];
  let capacity: number | undefined;
  let corrected = false;
  let next = false;
  for (const line of functions ?? ['schedule_in_freebusy']) {
    const [name, ...args] = line.split(/\s+/);
    switch (name) {
      case 'schedule_in_freebusy': {
        if (args.length > 1 || (args[0] !== undefined && !/^[1-9]\d*$/.test(args[0])))
          throw new Error(`scheduling_function: "${line}": schedule_in_freebusy takes one optional count of bookings at once`);
        capacity = args[0] === undefined ? 1 : Number(args[0]);
        break;
      }
      case 'schedule_corrected_in_freebusy':
        if (!prefs.permitted_times) throw new Error('scheduling_function: schedule_corrected_in_freebusy needs permitted_times');
        corrected = true;
        break;
      case 'schedule_next_available_in_freebusy':
        next = true;
        break;
      case 'same_domain_only':
        who.push({ type: 'who', domains: [ownDomain] });
        break;
      case 'access_control_list':
        if (!prefs.acl) throw new Error('scheduling_function: access_control_list needs acl');
        who.push(...[aclPolicy(prefs.acl)].filter((p) => p !== undefined));
        break;
      case 'check_quota':
      case 'add_to_quota':
        throw new Error(`scheduling_function: "${line}": write a quota policy in policies instead (type: quota)`);
      default:
        throw new Error(`scheduling_function: unknown function "${name}" (porter knows ${SCHEDULING_FUNCTIONS.join(', ')})`);
    }
  }
  if (prefs.acl && !functions?.some((l) => l.startsWith('access_control_list')))
    throw new Error('acl: used only with the scheduling function access_control_list');
  const policies: unknown[] = [...who];
  if (prefs.permitted_times) policies.push({ type: 'hours', times: prefs.permitted_times, action: corrected ? 'counter' : 'decline' });
  if (next) policies.push({ type: 'counter' });
  policies.push({ type: 'free', capacity: capacity ?? 1 });
  return policies;
}

/**
 * imip-agent's access control list as a `who` policy: a first line `accept` or `decline` (or
 * `reject`) for organizers no rule names, then rules `accept|decline|reject organiser IDENTITY`
 * with an address or a domain (`@example.org`).
 */
function aclPolicy(acl: readonly string[]): unknown | undefined {
  const [first, ...rules] = acl;
  if (first !== 'accept' && first !== 'decline' && first !== 'reject')
    throw new Error(`acl: the first line is "accept", "decline" or "reject" (for organizers no rule names), not "${first ?? ''}"`);
  const allow: string[] = [];
  const domains: string[] = [];
  const deny: string[] = [];
  for (const rule of rules) {
    const [action, role, identity, ...rest] = rule.split(/\s+/);
    if (
      !['accept', 'decline', 'reject'].includes(action ?? '') ||
      !['organiser', 'organizer'].includes(role ?? '') ||
      !identity ||
      rest.length > 0
    )
      throw new Error(`acl: "${rule}": expected "accept|decline|reject organiser ADDRESS-or-@DOMAIN"`);
    const id = identity.toLowerCase().replace(/^mailto:/, '');
    if (action === 'accept') (id.includes('@') && !id.startsWith('@') ? allow : domains).push(id.replace(/^@/, ''));
    else if (id.startsWith('@'))
      throw new Error(`acl: "${rule}": refuse a domain by a first line "decline" and accept rules for the others`);
    else deny.push(id);
  }
  // A default `accept` lets everyone the rules do not refuse book; a default refusal only those accepted.
  if (first === 'accept') return deny.length ? { type: 'who', deny } : undefined;
  return { type: 'who', allow, domains, deny };
}

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
      const POLICY_PREFS = ['permitted_times', 'scheduling_function', 'acl'] as const;
      for (const kind of ['people', 'resources', 'pools'] as const) {
        for (const [key, agent] of Object.entries(cfg[kind])) {
          const prefs = agent.preferences;
          const at = (name: string) => [kind, key, 'preferences', name];
          if (prefs.freebusy_bundling === 'always' && !prefs.freebusy_sharing)
            ctx.addIssue({ code: 'custom', path: at('freebusy_bundling'), message: 'bundling free/busy needs freebusy_sharing: true' });
          const given = POLICY_PREFS.filter((name) => prefs[name] !== undefined);
          if (given.length === 0) continue;
          if (kind !== 'resources') {
            for (const name of given)
              ctx.addIssue({
                code: 'custom',
                path: at(name),
                message: `only a resource decides by itself (${kind === 'people' ? 'a person answers on the web page' : "a pool's members decide"})`,
              });
            continue;
          }
          if ('policies' in agent && agent.policies !== undefined) {
            ctx.addIssue({
              code: 'custom',
              path: at(given[0] as string),
              message: "give either policies or imip-agent's scheduling preferences, not both",
            });
            continue;
          }
          try {
            const derived = policiesSchema.safeParse(policiesFromPreferences(prefs, 'example.org'));
            if (!derived.success) {
              const issue = derived.error.issues[0];
              const name = issue?.path.includes('times') ? 'permitted_times' : 'acl';
              ctx.addIssue({ code: 'custom', path: at(name), message: issue?.message ?? 'not a valid policy' });
            }
          } catch (error) {
            const message = (error as Error).message;
            const name = POLICY_PREFS.find((n) => message.startsWith(`${n}:`)) ?? 'scheduling_function';
            ctx.addIssue({ code: 'custom', path: at(name), message: message.slice(name.length + 2) });
          }
        }
      }
      for (const [key, person] of Object.entries(cfg.people)) {
        if (person.preferences.freebusy_messages === 'notify' && !person.forward)
          ctx.addIssue({
            code: 'custom',
            path: ['people', key, 'preferences', 'freebusy_messages'],
            message: 'notify passes free/busy mail on to people.ID.forward, which is not set',
          });
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
