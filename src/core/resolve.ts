/**
 * Finds plug and hook classes by their dotted `path` (`module.file.ClassName`): first in the
 * config's `path:` folders, then among porter's own plugs and hooks (`loopback.LoopbackPlug` is
 * `src/plugs/loopback/` and its export `LoopbackPlug`). User modules may be .js, .mjs or .ts
 * and may import porter's public API as `porter`.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { register } from 'node:module';
import { join, resolve as resolvePath } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ComponentClass } from './component.js';
import { ModuleError } from './errors.js';
import type { Hook } from './hook.js';
import type { Plug } from './plug.js';

const EXTENSIONS = ['.ts', '.mts', '.js', '.mjs'];
const HERE = fileURLToPath(new URL('.', import.meta.url));
const BUILTIN_ROOTS = { plug: resolvePath(HERE, '../plugs'), hook: resolvePath(HERE, '../hooks') } as const;

export type Kind = 'plug' | 'hook';
export type ClassOf<K extends Kind> = K extends 'plug' ? ComponentClass<Plug, 'plug'> : ComponentClass<Hook, 'hook'>;

function findModuleFile(base: string): string | undefined {
  for (const ext of EXTENSIONS) {
    const file = base + ext;
    if (existsSync(file) && statSync(file).isFile()) return file;
  }
  if (existsSync(base) && statSync(base).isDirectory()) {
    for (const ext of EXTENSIONS) {
      const file = join(base, `index${ext}`);
      if (existsSync(file)) return file;
    }
  }
  return undefined;
}

let loaderRegistered = false;
let tsRegistered: Promise<void> | undefined;

/** Outside the test runner, lets user modules import `porter` and be written in TypeScript. */
async function prepareLoader(file: string): Promise<void> {
  // Under Vitest the sources run as .ts, and Vitest transforms TypeScript and aliases `porter` itself.
  if (process.env.VITEST && import.meta.url.endsWith('.ts')) return;
  if (!loaderRegistered) {
    loaderRegistered = true;
    const indexUrl = new URL(`../index${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url).href;
    const hooks = new URL(`./loader-hooks${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);
    register(hooks, import.meta.url, { data: { indexUrl } });
  }
  if (/\.m?ts$/.test(file)) {
    // Several modules load at once: all must wait for the one registration.
    tsRegistered ??= import('tsx/esm/api').then(({ register: registerTs }) => {
      registerTs();
    });
    await tsRegistered;
  }
}

export interface Resolved<K extends Kind> {
  readonly cls: ClassOf<K>;
  readonly file: string;
}

/** Loads the class named by `path`; throws a ModuleError saying where it looked. */
export async function resolveComponent<K extends Kind>(path: string, kind: K, searchDirs: readonly string[]): Promise<Resolved<K>> {
  const parts = path.split('.');
  const exportName = parts.pop() as string;
  const modulePath = parts.join('/');
  let file: string | undefined;
  let builtin = false;
  for (const dir of searchDirs) {
    file = findModuleFile(join(dir, modulePath));
    if (file) break;
  }
  if (!file) {
    file = findModuleFile(join(BUILTIN_ROOTS[kind], modulePath));
    builtin = file !== undefined;
  }
  if (!file) {
    const where = searchDirs.length ? `the path folders (${searchDirs.join(', ')}) or ` : '';
    throw new ModuleError(`no module "${parts.join('.')}" in ${where}porter's built-in ${kind}s (${builtinNames(kind).join(', ')})`);
  }
  if (!builtin) await prepareLoader(file);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (error) {
    throw new ModuleError(`cannot load ${file}: ${(error as Error).message.split('\n')[0]}`, { cause: error });
  }
  const cls = mod[exportName];
  if (cls === undefined) {
    const exports = Object.keys(mod).filter((k) => typeof mod[k] === 'function');
    throw new ModuleError(
      `module "${parts.join('.')}" has no export "${exportName}"${exports.length ? ` (it exports ${exports.join(', ')})` : ''}`,
    );
  }
  if (typeof cls !== 'function' || (cls as { porterKind?: unknown }).porterKind !== kind) {
    throw new ModuleError(`"${path}" is not a ${kind} class (a ${kind} extends porter's ${kind === 'plug' ? 'Plug' : 'Hook'})`);
  }
  return { cls: cls as ClassOf<K>, file };
}

export function builtinNames(kind: Kind): string[] {
  try {
    return readdirSync(BUILTIN_ROOTS[kind], { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort();
  } catch {
    return [];
  }
}
