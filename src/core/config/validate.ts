/**
 * Checks a parsed config as a whole and resolves it: the schema, the one namespace shared by
 * plugs, channels, groups and hooks, every cross-reference, the plug and hook classes, and each
 * one's own config schema. Every problem is collected, so a user fixes them all in one go.
 */
import { resolve as resolvePath } from 'node:path';
import { z } from 'zod';
import type { ConfigRefs } from '../component.js';
import { ConfigError, type ConfigProblem, ModuleError } from '../errors.js';
import type { HookClass } from '../hook.js';
import type { PlugClass } from '../plug.js';
import { resolveComponent } from '../resolve.js';
import type { ConfigFormat } from './parse.js';
import {
  type ChannelEntry,
  channelSchema,
  configSchema,
  type GroupEntry,
  groupSchema,
  type HttpConfig,
  hookSchema,
  type PorterConfig,
  plugSchema,
  zodProblems,
} from './schema.js';

export interface ResolvedPlug {
  readonly name: string;
  readonly path: string;
  readonly enabled: boolean;
  readonly cls: PlugClass | undefined;
  readonly config: unknown;
}

export interface ResolvedHook {
  readonly name: string;
  readonly path: string;
  readonly enabled: boolean;
  readonly priority: number | undefined;
  readonly cls: HookClass | undefined;
  readonly config: unknown;
}

/** A config that passed every check, with its classes loaded; what the Host is built from. */
export interface ResolvedConfig {
  /** The file it came from, if any, and its format (for -w). */
  readonly file: string | undefined;
  readonly format: ConfigFormat;
  /** Relative paths in the config resolve against this folder (the config file's). */
  readonly baseDir: string;
  /** The document as read (only defaults left out), kept for writing back. */
  readonly document: Record<string, unknown>;
  readonly searchDirs: readonly string[];
  readonly plugs: readonly ResolvedPlug[];
  readonly channels: ReadonlyMap<string, ChannelEntry>;
  readonly groups: ReadonlyMap<string, GroupEntry>;
  readonly hooks: readonly ResolvedHook[];
  readonly logging: PorterConfig['logging'];
  readonly store: string;
  readonly bus: string;
  readonly http: HttpConfig | undefined;
}

export interface ValidateOptions {
  readonly file?: string;
  readonly format?: ConfigFormat;
  readonly baseDir?: string;
}

const SECTIONS = ['plugs', 'channels', 'groups', 'hooks'] as const;

/** Validates and resolves `document`; throws a ConfigError listing every problem found. */
export async function resolveConfig(document: Record<string, unknown>, options: ValidateOptions = {}): Promise<ResolvedConfig> {
  const problems: ConfigProblem[] = [];
  // Each section entry is checked on its own, so one bad entry does not hide the problems of others.
  const sections: Record<string, Record<string, unknown>> = {};
  const rest: Record<string, unknown> = { ...document };
  for (const section of SECTIONS) {
    const value = document[section];
    delete rest[section];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'object' || Array.isArray(value)) {
      problems.push({ place: section, message: `expected a mapping of names to ${section}` });
      continue;
    }
    sections[section] = value as Record<string, unknown>;
  }
  const parsed = configSchema.safeParse(rest);
  if (!parsed.success) problems.push(...zodProblems(parsed.error));
  const cfg: PorterConfig = {
    ...(parsed.success ? parsed.data : configSchema.parse({})),
    plugs: entries(sections.plugs, plugSchema, 'plugs', problems),
    channels: entries(sections.channels, channelSchema, 'channels', problems),
    groups: entries(sections.groups, groupSchema, 'groups', problems),
    hooks: entries(sections.hooks, hookSchema, 'hooks', problems),
  };
  const baseDir = options.baseDir ?? process.cwd();

  // One namespace: a name may appear in only one section.
  const owner = new Map<string, string>();
  for (const section of SECTIONS) {
    for (const name of Object.keys(sections[section] ?? {})) {
      const first = owner.get(name);
      if (first) problems.push({ place: `${section}.${name}`, message: `the name "${name}" is already used by ${first}.${name}` });
      else owner.set(name, section);
    }
  }

  const plugNames = new Set(Object.keys(sections.plugs ?? {}));
  const channelNames = new Set(Object.keys(sections.channels ?? {}));
  for (const [name, ch] of Object.entries(cfg.channels)) {
    if (!plugNames.has(ch.plug)) problems.push({ place: `channels.${name}.plug`, message: `unknown plug "${ch.plug}"` });
  }
  for (const [name, g] of Object.entries(cfg.groups)) {
    for (const key of ['channels', 'exclude'] as const) {
      g[key].forEach((c, i) => {
        if (!channelNames.has(c)) problems.push({ place: `groups.${name}.${key}[${i}]`, message: `unknown channel "${c}"` });
      });
    }
    for (const key of ['anywhere', 'named', 'private', 'shared'] as const) {
      g[key].forEach((p, i) => {
        if (!plugNames.has(p)) problems.push({ place: `groups.${name}.${key}[${i}]`, message: `unknown plug "${p}"` });
      });
    }
  }
  const priorities = new Map<number, string>();
  for (const [name, h] of Object.entries(cfg.hooks)) {
    if (h.priority === undefined || !h.enabled) continue;
    const first = priorities.get(h.priority);
    if (first) problems.push({ place: `hooks.${name}.priority`, message: `priority ${h.priority} is already used by hooks.${first}` });
    else priorities.set(h.priority, name);
  }

  const searchDirs = cfg.path.map((p) => resolvePath(baseDir, p));
  const refs = makeRefs(cfg);
  const plugs: ResolvedPlug[] = [];
  const hooks: ResolvedHook[] = [];
  const loads: Promise<void>[] = [];
  for (const [name, p] of Object.entries(cfg.plugs)) {
    const entry = { name, path: p.path, enabled: p.enabled, cls: undefined as PlugClass | undefined, config: p.config as unknown };
    plugs.push(entry);
    if (!p.enabled) continue;
    loads.push(
      load('plug', p.path, searchDirs, `plugs.${name}`, p.config, refs, problems).then((r) => {
        entry.cls = r?.cls as PlugClass | undefined;
        entry.config = r?.config;
      }),
    );
  }
  for (const [name, h] of Object.entries(cfg.hooks)) {
    const entry = {
      name,
      path: h.path,
      enabled: h.enabled,
      priority: h.priority,
      cls: undefined as HookClass | undefined,
      config: h.config as unknown,
    };
    hooks.push(entry);
    if (!h.enabled) continue;
    loads.push(
      load('hook', h.path, searchDirs, `hooks.${name}`, h.config, refs, problems).then((r) => {
        entry.cls = r?.cls as HookClass | undefined;
        entry.config = r?.config;
      }),
    );
  }
  await Promise.all(loads);
  if (problems.length > 0) throw new ConfigError(sortProblems(problems, document), options.file);

  return {
    file: options.file,
    format: options.format ?? 'yaml',
    baseDir,
    document,
    searchDirs,
    plugs,
    channels: new Map(Object.entries(cfg.channels)),
    groups: new Map(Object.entries(cfg.groups)),
    hooks,
    logging: cfg.logging,
    store: cfg.store,
    bus: cfg.bus,
    http: cfg.http === false ? undefined : cfg.http,
  };
}

function entries<T extends z.ZodType>(
  section: Record<string, unknown> | undefined,
  schema: T,
  place: string,
  problems: ConfigProblem[],
): Record<string, z.output<T>> {
  const out: Record<string, z.output<T>> = {};
  for (const [name, value] of Object.entries(section ?? {})) {
    const result = schema.safeParse(value ?? {});
    if (result.success) out[name] = result.data;
    else problems.push(...zodProblems(result.error, [place, name]));
  }
  return out;
}

async function load(
  kind: 'plug' | 'hook',
  path: string,
  searchDirs: readonly string[],
  place: string,
  config: Record<string, unknown>,
  refs: ConfigRefs,
  problems: ConfigProblem[],
): Promise<{ cls: PlugClass | HookClass; config: unknown } | undefined> {
  let cls: PlugClass | HookClass;
  try {
    cls = (await resolveComponent(path, kind, searchDirs)).cls;
  } catch (error) {
    if (error instanceof ModuleError) {
      problems.push({ place: `${place}.path`, message: error.message });
      return undefined;
    }
    throw error;
  }
  if (!cls.configSchema) return { cls, config };
  const result = cls.configSchema(refs).safeParse(config);
  if (!result.success) {
    problems.push(...zodProblems(result.error, [...place.split('.'), 'config']));
    return undefined;
  }
  return { cls, config: result.data };
}

function makeRefs(cfg: PorterConfig): ConfigRefs {
  const nameIn =
    (what: string, ...sets: Record<string, unknown>[]) =>
    () =>
      z.string().superRefine((value, ctx) => {
        if (!sets.some((s) => Object.hasOwn(s, value))) ctx.addIssue({ code: 'custom', message: `unknown ${what} "${value}"` });
      });
  return {
    channel: nameIn('channel', cfg.channels),
    group: nameIn('group', cfg.groups),
    plug: nameIn('plug', cfg.plugs),
    channelOrGroup: nameIn('channel or group', cfg.channels, cfg.groups),
  };
}

/** Problems in the order their places appear in the file, so the list reads top to bottom. */
function sortProblems(problems: ConfigProblem[], document: Record<string, unknown>): ConfigProblem[] {
  const order = new Map<string, number>();
  let i = 0;
  for (const section of Object.keys(document)) {
    const value = document[section];
    order.set(section, i++);
    if (value && typeof value === 'object') for (const name of Object.keys(value)) order.set(`${section}.${name}`, i++);
  }
  const rank = (p: ConfigProblem) => {
    const [a, b] = p.place.split('.');
    return order.get(`${a}.${b}`) ?? order.get(a ?? '') ?? i;
  };
  return problems
    .map((p, n) => ({ p, n }))
    .sort((x, y) => rank(x.p) - rank(y.p) || x.n - y.n)
    .map(({ p }) => p);
}
