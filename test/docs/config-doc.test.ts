// The manuals name every config key by its path: a key added to a schema but not to its manual fails here.
// Top-level keys belong in docs/config.md; a built-in plug's or hook's keys in its README.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { type ConfigSchemaFactory, z } from 'porter';
import { describe, expect, it } from 'vitest';
import { channelSchema, configSchema, groupSchema, hookSchema, plugSchema } from '../../src/core/config/schema.js';
import { builtinNames, type Kind } from '../../src/core/resolve.js';

const ROOT = new URL('../../', import.meta.url);

/** The four sections that are checked entry by entry, each with the schema of one entry. */
const SECTIONS: Record<string, z.ZodType> = { plugs: plugSchema, channels: channelSchema, groups: groupSchema, hooks: hookSchema };

/** Every object key in `schema`, as a dotted path: `logging.handlers.*.class`, `users[].id`. */
function keysOf(schema: z.ZodType, prefix = ''): string[] {
  if (schema instanceof z.ZodObject) {
    return Object.entries(schema.shape as Record<string, z.ZodType>).flatMap(([key, value]) => [
      prefix + key,
      ...keysOf(value, `${prefix}${key}.`),
    ]);
  }
  if (
    schema instanceof z.ZodOptional ||
    schema instanceof z.ZodNullable ||
    schema instanceof z.ZodDefault ||
    schema instanceof z.ZodPrefault ||
    schema instanceof z.ZodCatch ||
    schema instanceof z.ZodReadonly
  ) {
    return keysOf(schema.unwrap() as z.ZodType, prefix);
  }
  if (schema instanceof z.ZodPipe) return [...keysOf(schema.in as z.ZodType, prefix), ...keysOf(schema.out as z.ZodType, prefix)];
  if (schema instanceof z.ZodUnion) return (schema.options as z.ZodType[]).flatMap((option) => keysOf(option, prefix));
  if (schema instanceof z.ZodIntersection) {
    return [...keysOf(schema.def.left as z.ZodType, prefix), ...keysOf(schema.def.right as z.ZodType, prefix)];
  }
  if (schema instanceof z.ZodRecord) return keysOf(schema.valueType as z.ZodType, `${prefix}*.`);
  if (schema instanceof z.ZodArray) return keysOf(schema.element as z.ZodType, `${prefix.replace(/\.$/, '')}[].`);
  return [];
}

/** The inline code spans of a Markdown file, outside fenced blocks: what a manual names. */
async function codeSpans(path: string): Promise<string[]> {
  const text = (await readFile(new URL(path, ROOT), 'utf8')).replace(/```[\s\S]*?```/g, '');
  return [...text.matchAll(/`([^`\n]+)`/g)].map((m) => m[1] as string);
}

/**
 * The keys that no code span names by their whole path. A `*` in a path (a key of a mapping) stands
 * for any one name, so `plugs.NAME.path` documents `plugs.*.path`.
 */
function undocumented(keys: readonly string[], spans: readonly string[]): string[] {
  const named = (key: string) => {
    const escaped = key.split('*').map((part) => part.replace(/[.+?^$()|{}[\]\\]/g, '\\$&'));
    const pattern = new RegExp(`^${escaped.join('[^.]+')}$`);
    return spans.some((span) => pattern.test(span));
  };
  return [...new Set(keys)].filter((key) => !named(key));
}

/** Names accepted for every reference, so a component's schema can be built without a config. */
const refs = { channel: () => z.string(), group: () => z.string(), plug: () => z.string(), channelOrGroup: () => z.string() };

interface Builtin {
  readonly folder: string;
  readonly className: string;
  readonly configSchema: ConfigSchemaFactory;
}

/** Every built-in plug and hook class with a config schema, found by folder as porter finds them. */
async function builtins(): Promise<Builtin[]> {
  const out: Builtin[] = [];
  for (const kind of ['plug', 'hook'] as const satisfies readonly Kind[]) {
    for (const name of builtinNames(kind)) {
      const folder = `src/${kind}s/${name}`;
      const mod = (await import(fileURLToPath(new URL(`${folder}/index.ts`, ROOT)))) as Record<string, unknown>;
      for (const [className, value] of Object.entries(mod)) {
        const cls = value as { porterKind?: unknown; configSchema?: ConfigSchemaFactory };
        if (typeof value === 'function' && cls.porterKind === kind && cls.configSchema) {
          out.push({ folder, className, configSchema: cls.configSchema });
        }
      }
    }
  }
  return out;
}

describe('docs/config.md', () => {
  it('finds the keys of the config schema (the walk itself works)', () => {
    const keys = keysOf(configSchema);
    expect(keys).toEqual(expect.arrayContaining(['path', 'store', 'bus', 'http.listen', 'http.public-url', 'logging.root.level']));
    expect(keys).toContain('logging.handlers.*.class');
  });

  it('names every top-level key, every key of a plug, channel, group and hook entry', async () => {
    const keys = [...keysOf(configSchema)];
    for (const [section, schema] of Object.entries(SECTIONS)) keys.push(section, ...keysOf(schema, `${section}.*.`));
    expect(undocumented(keys, await codeSpans('docs/config.md'))).toEqual([]);
  });
});

describe('the manuals of the built-in plugs and hooks', async () => {
  const found = await builtins();

  it('finds the built-ins (the search itself works)', () => {
    expect(found.map((b) => b.className)).toEqual(expect.arrayContaining(['LoopbackPlug', 'SyncHook', 'ForwardHook']));
  });

  it.each(found.map((b) => [`${b.folder}/README.md`, b] as const))('%s names every config key', async (readme, builtin) => {
    expect(existsSync(new URL(readme, ROOT)), `${readme} is missing`).toBe(true);
    const keys = keysOf(builtin.configSchema(refs));
    expect(keys.length).toBeGreaterThan(0);
    expect(undocumented(keys, await codeSpans(readme))).toEqual([]);
  });
});
