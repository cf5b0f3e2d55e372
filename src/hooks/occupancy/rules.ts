/**
 * Which room a PC belongs to, and which rooms a tag names: the board's layout, read from the
 * config and compiled into a matcher.
 *
 * Config shape (the hook embeds these keys in its own `config:`):
 *
 * ```yaml
 * rooms:                      # room id → room; at least one; order is the board's order
 *   hg137:
 *     name: HG00.137          # display name; default: the room id
 *     pcs: ['hg137pc*']       # globs (`*` any run, `?` one character) or regexes `/^hg137pc\d+$/`
 *   bib:
 *     name: Bibliotheek
 *     pcs: ['/^bibpc\d+$/']
 *   other: {name: Elsewhere}  # a room with no patterns, used as the catch-all below
 * aliases:                    # PC name → room id, checked before any pattern
 *   hg137docent: hg137
 * ignore: ['cz*', '*docent']  # PCs to drop silently (tkbd hard-codes these two); default []
 * catchAll: other             # room for PCs that match nothing; without it such a PC is an error
 * tags:                       # tag → room ids; default {}
 *   hg: [hg137, bib]
 * ```
 *
 * PC names are lower-cased before matching, and every pattern matches without regard to case.
 * A PC is placed by, in order: an alias; an `ignore` pattern (dropped); the first room, in config
 * order, with a matching pattern; the catch-all room. Errors name their place in the config
 * (`rooms.hg137.pcs[1]: …`, `tags.hg[0]: unknown room "hg999"`).
 *
 * API: `layoutShape` / `checkLayout` (to embed), `layoutSchema`, `type LayoutConfig`,
 * `RoomLayout.compile(config)`, `layout.place(pc)`, `layout.rooms`, `layout.tags`,
 * `layout.displayName(room)`, `normalizePcName(name)`.
 */
import { z } from 'zod';

/** A PC's place: a room id, or `IGNORED` for PCs the board drops, or undefined for no match. */
export const IGNORED = Symbol('ignored');
export type Placement = string | typeof IGNORED | undefined;

const REGEX_FORM = /^\/(.*)\/([a-z]*)$/s;

/** A glob (`hg137pc*`) or a regex between slashes (`/^hg137pc\d+$/`, flags allowed after it). */
export const pcPatternSchema = z
  .string()
  .min(1, 'a pattern cannot be empty')
  .superRefine((pattern, ctx) => {
    try {
      compilePattern(pattern);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: `bad pattern "${pattern}": ${error instanceof Error ? error.message : String(error)}` });
    }
  });

export const roomSchema = z.strictObject({
  name: z.string().min(1).optional(),
  pcs: z.array(pcPatternSchema).default([]),
});

export const roomsSchema = z
  .record(z.string().min(1, 'a room id cannot be empty'), roomSchema)
  .refine((rooms) => Object.keys(rooms).length > 0, 'at least one room is needed');

/** PC name → room id. */
export const aliasesSchema = z.record(z.string().min(1, 'a PC name cannot be empty'), z.string().min(1));

/** Tag → room ids. */
export const tagsSchema = z.record(z.string().min(1, 'a tag cannot be empty'), z.array(z.string().min(1)));

/** The layout's keys, for a hook schema that embeds them beside its own (then add `checkLayout`). */
export const layoutShape = {
  rooms: roomsSchema,
  aliases: aliasesSchema.default({}),
  ignore: z.array(pcPatternSchema).default([]),
  catchAll: z.string().min(1).optional(),
  tags: tagsSchema.default({}),
};

export interface LayoutConfig {
  readonly rooms: Readonly<Record<string, { readonly name?: string | undefined; readonly pcs: readonly string[] }>>;
  readonly aliases: Readonly<Record<string, string>>;
  readonly ignore: readonly string[];
  readonly catchAll?: string | undefined;
  readonly tags: Readonly<Record<string, readonly string[]>>;
}

/**
 * The checks across keys: aliases, the catch-all and tags must name rooms that exist; two
 * aliases may not differ only in case; a tag may not list a room twice. Use it as the
 * `superRefine` of any object schema that spreads `layoutShape`.
 */
export function checkLayout(layout: LayoutConfig, ctx: z.RefinementCtx): void {
  const rooms = layout.rooms;
  const isRoom = (id: string) => Object.hasOwn(rooms, id);
  const seenAliases = new Map<string, string>();
  for (const [pc, room] of Object.entries(layout.aliases)) {
    if (!isRoom(room)) ctx.addIssue({ code: 'custom', path: ['aliases', pc], message: `unknown room "${room}"` });
    const name = normalizePcName(pc);
    const earlier = seenAliases.get(name);
    if (earlier !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['aliases', pc], message: `same PC as alias "${earlier}" (PC names are lower-cased)` });
    }
    seenAliases.set(name, pc);
  }
  if (layout.catchAll !== undefined && !isRoom(layout.catchAll)) {
    ctx.addIssue({ code: 'custom', path: ['catchAll'], message: `unknown room "${layout.catchAll}"` });
  }
  for (const [tag, tagRooms] of Object.entries(layout.tags)) {
    const seen = new Set<string>();
    tagRooms.forEach((room, i) => {
      if (!isRoom(room)) ctx.addIssue({ code: 'custom', path: ['tags', tag, i], message: `unknown room "${room}"` });
      else if (seen.has(room)) ctx.addIssue({ code: 'custom', path: ['tags', tag, i], message: `room "${room}" is listed twice` });
      seen.add(room);
    });
  }
}

export const layoutSchema = z.strictObject(layoutShape).superRefine(checkLayout);

/** PC names are compared lower-cased, as tkbd does (`HG075PC47` is `hg075pc47`). */
export function normalizePcName(name: string): string {
  return name.toLowerCase();
}

/** Compiles one pattern; throws with the reason when a regex does not compile. */
export function compilePattern(pattern: string): RegExp {
  const regex = REGEX_FORM.exec(pattern);
  if (regex) {
    const flags = regex[2] ?? '';
    // Names are lower-cased, so a pattern written in upper case must still match.
    return new RegExp(regex[1] ?? '', flags.includes('i') ? flags : `${flags}i`);
  }
  let source = '';
  for (const ch of pattern) {
    if (ch === '*') source += '.*';
    else if (ch === '?') source += '.';
    else source += ch.replace(/[.+^${}()|[\]\\/-]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 'is');
}

interface CompiledRoom {
  readonly id: string;
  readonly patterns: readonly RegExp[];
}

/** Placements are cached; a feed that invents names without end must not grow memory without end. */
const MAX_CACHED_PLACEMENTS = 100_000;

/** The compiled layout: rooms with display names, tags, and the PC → room matcher. */
export class RoomLayout {
  /** Room id → display name, in config order. */
  readonly rooms: ReadonlyMap<string, string>;
  /** Tag → room ids, in config order. */
  readonly tags: ReadonlyMap<string, readonly string[]>;
  readonly catchAll: string | undefined;

  readonly #aliases: ReadonlyMap<string, string>;
  readonly #ignore: readonly RegExp[];
  readonly #matchers: readonly CompiledRoom[];
  readonly #placements = new Map<string, Placement>();

  private constructor(config: LayoutConfig) {
    this.rooms = new Map(Object.entries(config.rooms).map(([id, room]) => [id, room.name ?? id]));
    this.tags = new Map(Object.entries(config.tags).map(([tag, rooms]) => [tag, [...rooms]]));
    this.catchAll = config.catchAll;
    this.#aliases = new Map(Object.entries(config.aliases).map(([pc, room]) => [normalizePcName(pc), room]));
    this.#ignore = config.ignore.map(compilePattern);
    this.#matchers = Object.entries(config.rooms).map(([id, room]) => ({ id, patterns: room.pcs.map(compilePattern) }));
  }

  /** Checks a layout config (as `layoutSchema` does) and compiles it; throws a ZodError if it is invalid. */
  static compile(config: z.input<typeof layoutSchema> | LayoutConfig): RoomLayout {
    return new RoomLayout(layoutSchema.parse(config));
  }

  /** The room of a PC (any case), `IGNORED`, or undefined when no rule matches it. */
  place(pc: string): Placement {
    const name = normalizePcName(pc);
    const cached = this.#placements.get(name);
    if (cached !== undefined || this.#placements.has(name)) return cached;
    const placement = this.#placeNow(name);
    if (this.#placements.size >= MAX_CACHED_PLACEMENTS) this.#placements.clear();
    this.#placements.set(name, placement);
    return placement;
  }

  #placeNow(name: string): Placement {
    const alias = this.#aliases.get(name);
    if (alias !== undefined) return alias;
    if (this.#ignore.some((p) => p.test(name))) return IGNORED;
    for (const room of this.#matchers) {
      if (room.patterns.some((p) => p.test(name))) return room.id;
    }
    return this.catchAll;
  }

  displayName(room: string): string | undefined {
    return this.rooms.get(room);
  }
}
