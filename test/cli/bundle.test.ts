// The built daemon in dist/ as `npm run build` bundles it: every built-in plug and hook is there
// under its `path`, class names survive, and the bundle needs nothing from node_modules but the
// packages kept outside it on purpose.
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DIST = join(ROOT, 'dist');
// What rolldown.config.mjs leaves outside the bundle: native modules, and packages loaded on request.
const EXTERNAL = ['better-sqlite3', '@node-rs/argon2', 'pg', 'pg-native', 'tsx', 'bufferutil', 'utf-8-validate'];

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

async function builtins(kind: 'plugs' | 'hooks'): Promise<string[]> {
  const dirs = await readdir(join(ROOT, 'src', kind), { withFileTypes: true });
  const names: string[] = [];
  for (const dir of dirs) {
    if (dir.isDirectory() && (await readdir(join(ROOT, 'src', kind, dir.name))).includes('index.ts')) names.push(dir.name);
  }
  return names;
}

describe('the bundled dist/', () => {
  it('has every built-in plug and hook of src/ as its own file, exporting its classes by their names', async () => {
    const modules = [...(await builtins('plugs')).map((n) => `plugs/${n}`), ...(await builtins('hooks')).map((n) => `hooks/${n}`)];
    expect(modules).toContain('plugs/loopback');
    expect(modules).toContain('hooks/mail');
    // Loaded as the daemon loads them: by Node, from dist/, outside the test runner's transform.
    const script = `
      const out = {};
      for (const m of ${JSON.stringify(modules)}) {
        const mod = await import(${JSON.stringify(`${DIST}/`)} + m + '/index.js');
        out[m] = Object.entries(mod)
          .filter(([, v]) => typeof v === 'function' && v.porterKind !== undefined)
          .map(([name, v]) => ({ name, className: v.name, kind: v.porterKind }));
      }
      process.stdout.write(JSON.stringify(out));`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT });
    const found = JSON.parse(stdout) as Record<string, { name: string; className: string; kind: string }[]>;
    for (const m of modules) {
      const kind = m.startsWith('plugs/') ? 'plug' : 'hook';
      expect(found[m]?.length, `${m} exports a ${kind} class`).toBeGreaterThan(0);
      // The name is what the start lines print and, without a migrationOwner, whose migrations are recorded.
      for (const cls of found[m] ?? []) expect(cls).toEqual({ name: cls.name, className: cls.name, kind });
    }
  });

  it('is a few files, which import from node_modules only what is kept outside on purpose', async () => {
    const js = (await filesUnder(DIST)).filter((f) => f.endsWith('.js') && !relative(DIST, f).startsWith('web/'));
    expect(js.length).toBeLessThan(80);
    const bare = new Set<string>();
    for (const file of js) {
      const code = await readFile(file, 'utf8');
      for (const m of code.matchAll(/(?:^import\b[^'"]*?from\s*|^import\s*|\bimport\()\s*["']([^"'./][^"']*)["']/gm)) bare.add(m[1]!);
      for (const m of code.matchAll(/\b__require\(\s*["']([^"'./][^"']*)["']\s*\)/g)) bare.add(m[1]!);
    }
    const outside = [...bare].filter((s) => !s.startsWith('node:') && !EXTERNAL.some((e) => s === e || s.startsWith(`${e}/`)));
    // A CommonJS dependency may still require a Node built-in by its bare name (`events`).
    const { builtinModules } = await import('node:module');
    expect(outside.filter((s) => !builtinModules.includes(s))).toEqual([]);
  });

  it('keeps the public API and the module hooks where third-party code and Node look for them', async () => {
    const files = (await filesUnder(DIST)).map((f) => relative(DIST, f));
    expect(files).toEqual(expect.arrayContaining(['index.js', 'index.d.ts', 'cli.js', 'core/loader-hooks.js', 'core/plug.d.ts']));
  });
});
