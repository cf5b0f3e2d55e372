/**
 * The shape of porter's config file: IMMP's sections (path, plugs, channels, groups, hooks,
 * logging) plus porter's services (store, bus, http). Cross-references are checked in validate.ts.
 */
import { z } from 'zod';
import { trustProxySchema } from '../../services/http/trust-proxy.js';
import { parseStoreUrl } from '../../services/store/url.js';
import { loggingSchema } from '../log.js';

/** YAML's empty `config:` is null; treat it as "not given". */
const orEmpty = <T extends z.ZodType>(schema: T) => z.preprocess((v) => (v === null ? undefined : v), schema);

const componentPath = z
  .string()
  .regex(/^[A-Za-z_$][\w$-]*(\.[A-Za-z_$][\w$-]*)+$/, 'expected a dotted path to a class, like "loopback.LoopbackPlug"');

const componentConfig = orEmpty(z.record(z.string(), z.unknown()).default({}));

export const plugSchema = z.strictObject({
  path: componentPath,
  enabled: z.boolean().default(true),
  config: componentConfig,
});

export const hookSchema = z.strictObject({
  path: componentPath,
  enabled: z.boolean().default(true),
  priority: z
    .number({ error: 'a priority must be a whole number of 1 or more' })
    .int('a priority must be a whole number of 1 or more')
    .min(1, 'a priority must be a whole number of 1 or more')
    .optional(),
  config: componentConfig,
});

export const channelSchema = z.strictObject({
  plug: z.string().min(1),
  source: z.union([z.string().min(1), z.number().transform(String)], { error: 'expected the source as a string' }),
});

const names = orEmpty(z.array(z.string()).default([]));

export const groupSchema = z.strictObject({
  channels: names,
  exclude: names,
  anywhere: names,
  named: names,
  private: names,
  shared: names,
});

/** `host:port`, `[v6]:port` or a bare port (loopback). */
export const listenAddress = z
  .union([
    z
      .number()
      .int()
      .min(0)
      .max(65535)
      .transform((p) => `127.0.0.1:${p}`),
    z.string(),
  ])
  .pipe(z.string().regex(/^(\d{1,5}|(\[[0-9a-fA-F:]+\]|[\w.-]+):\d{1,5})$/, 'expected "host:port", like "127.0.0.1:8080"'));

export const httpSchema = z.strictObject({
  listen: listenAddress.default('127.0.0.1:8080'),
  /** The URL people use to reach porter, when behind a proxy; printed at start. */
  'public-url': z.url().optional(),
  /** Which reverse proxies may give the client's address (X-Forwarded-For); Fastify's trustProxy. */
  'trust-proxy': trustProxySchema.default(false),
});

/** The top level without the four named sections, which validate.ts checks entry by entry. */
export const configSchema = z
  .object({
    path: orEmpty(z.union([z.string().transform((p) => [p]), z.array(z.string())]).default([])),
    logging: orEmpty(loggingSchema.optional()),
    store: orEmpty(
      z
        .string()
        .min(1)
        .default('sqlite:data/porter.db')
        .superRefine((value, ctx) => {
          // The same check the store makes at start, so `porter check` catches what `run` would.
          try {
            parseStoreUrl(value, '/');
          } catch (error) {
            ctx.addIssue({ code: 'custom', message: (error as Error).message });
          }
        }),
    ),
    // Only the in-process bus exists so far; a NATS bus for several porter processes may follow.
    bus: orEmpty(z.literal('memory', { error: 'only "memory" is available in this version of porter' }).default('memory')),
    http: orEmpty(z.union([z.literal(false), httpSchema], { error: 'expected a table (listen, public-url) or false' }).optional()),
  })
  // Unknown top-level keys are kept and written back by -w.
  .loose();

export type PorterConfig = z.output<typeof configSchema> & {
  plugs: Record<string, PlugEntry>;
  channels: Record<string, ChannelEntry>;
  groups: Record<string, GroupEntry>;
  hooks: Record<string, HookEntry>;
};
export type PlugEntry = z.output<typeof plugSchema>;
export type HookEntry = z.output<typeof hookSchema>;
export type ChannelEntry = z.output<typeof channelSchema>;
export type GroupEntry = z.output<typeof groupSchema>;
export type HttpConfig = z.output<typeof httpSchema>;

/** `hooks.bridge.config.channels.main[1]` from a path of keys and indexes. */
export function formatPlace(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out;
}

type Issue = z.core.$ZodIssue;

/**
 * What a failed union should say: a branch that got inside the value (`http.listen`) says what
 * is wrong better than the union's "invalid input" or another branch's "expected false".
 */
function explainUnion(issue: Issue): { path: PropertyKey[]; message: string } {
  const path = [...issue.path];
  if (issue.code !== 'invalid_union' || !('errors' in issue) || !Array.isArray(issue.errors)) return { path, message: issue.message };
  const all = (issue.errors as Issue[][]).flat();
  const deepest = all.reduce<Issue | undefined>((best, i) => (i.path.length > (best?.path.length ?? 0) ? i : best), undefined);
  if (deepest) {
    const inner = explainUnion(deepest);
    return { path: [...path, ...inner.path], message: inner.message };
  }
  if (issue.message !== 'Invalid input') return { path, message: issue.message };
  const nested = all.find((i) => i.code === 'invalid_union');
  if (nested) {
    const inner = explainUnion(nested);
    if (inner.message !== 'Invalid input') return { path: [...path, ...inner.path], message: inner.message };
  }
  const best = all.find((i) => i.code !== 'invalid_type' && i.code !== 'invalid_value') ?? all[0];
  return { path, message: best?.message ?? issue.message };
}

/** Turns a zod error into problems, each placed under `prefix`. */
export function zodProblems(error: z.ZodError, prefix: readonly PropertyKey[] = []): { place: string; message: string }[] {
  const out: { place: string; message: string }[] = [];
  for (const issue of error.issues) {
    const place = formatPlace([...prefix, ...issue.path]);
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push({ place: formatPlace([...prefix, ...issue.path, key]), message: 'unknown key' });
      continue;
    }
    if (issue.code === 'invalid_union') {
      const { path, message } = explainUnion(issue);
      out.push({ place: formatPlace([...prefix, ...path]), message });
      continue;
    }
    out.push({ place, message: issue.message });
  }
  return out;
}
