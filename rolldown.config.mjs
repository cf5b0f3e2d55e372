// Bundles porter's daemon into dist/: a few large files load much faster than the hundreds of
// small ones that tsc emits (Node's ES module loader costs about a millisecond a file), and
// that is most of the time `porter run` takes to be ready. docs/architecture.md explains the
// layout. `npm run build` runs this first (it empties dist/), then tsc writes the declarations
// (.d.ts) and Vite the web UI.
import { readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, RolldownMagicString } from 'rolldown';

const ROOT = dirname(fileURLToPath(import.meta.url));
const SRC = join(ROOT, 'src');

/**
 * The entry points, each at the path tsc would give it: the CLI, the public API that
 * third-party plugs import as `porter`, the module hooks Node loads on their own thread, and
 * every built-in plug and hook, which `src/core/resolve.ts` finds as files by their `path`
 * (`sync.SyncHook` is dist/hooks/sync/index.js). A new folder under src/plugs or src/hooks is
 * picked up here without any list to edit.
 */
export function entries() {
  const input = {
    cli: 'src/cli.ts',
    index: 'src/index.ts',
    'core/loader-hooks': 'src/core/loader-hooks.ts',
  };
  for (const kind of ['plugs', 'hooks']) {
    for (const dir of readdirSync(join(SRC, kind), { withFileTypes: true })) {
      if (dir.isDirectory() && readdirSync(join(SRC, kind, dir.name)).includes('index.ts')) {
        input[`${kind}/${dir.name}/index`] = `src/${kind}/${dir.name}/index.ts`;
      }
    }
  }
  return input;
}

/**
 * Native modules stay in node_modules (they load a .node file next to their own code; for
 * better-sqlite3 see REQUIRED below), as do the packages porter loads only on request: tsx (it
 * carries esbuild, for user modules written in TypeScript) and pg (only for a PostgreSQL
 * store). Optional speed-ups of ws are looked up at run time and may be absent.
 */
const EXTERNAL = ['@node-rs/argon2', 'pg', 'pg-native', 'tsx', 'bufferutil', 'utf-8-validate'];

const DIST_ROOT = '__PORTER_DIST_ROOT_URL____________________';

/**
 * Keeps `import.meta.url` meaning what it did before bundling: the URL of the module's own file
 * under dist/ (src/core/resolve.ts → dist/core/resolve.js), wherever its code lands. Modules find
 * porter's files relative to themselves: the built-in plugs and hooks, package.json, the web UI
 * build. Each use becomes `new URL("core/resolve.js", ROOT)`, and ROOT, once the chunk's place is
 * known, the chunk's own URL up to dist/. ROOT is padded to one length so that columns, and the
 * source maps, stay right.
 */
function moduleUrls() {
  return {
    name: 'porter-module-urls',
    transform: {
      filter: { id: /\/src\/.*\.ts$/, code: 'import.meta.url' },
      handler(code, id) {
        if (!id.startsWith(`${SRC}/`)) return null;
        const asBuilt = relative(SRC, id).replace(/\.ts$/, '.js');
        const s = new RolldownMagicString(code);
        s.replaceAll('import.meta.url', `new URL(${JSON.stringify(asBuilt)}, ${DIST_ROOT}).href`);
        return { code: s };
      },
    },
    renderChunk(code, chunk) {
      if (!code.includes(DIST_ROOT)) return null;
      const depth = chunk.fileName.split('/').length - 1;
      const root = `new URL(${JSON.stringify(depth ? '../'.repeat(depth) : './')}, import.meta.url)`;
      if (root.length > DIST_ROOT.length) throw new Error(`porter-module-urls: ${chunk.fileName} is too deep`);
      return { code: code.replaceAll(DIST_ROOT, root.padEnd(DIST_ROOT.length)), map: null };
    },
  };
}

/**
 * Loads these external CommonJS packages with `require` rather than `import`. Node imports a
 * CommonJS module into an ES module by first scanning its source for the names it exports
 * (cjs-module-lexer): 26–80 ms for better-sqlite3 against 8–26 ms for a plain require, on a
 * busy machine. porter uses their default export only. better-sqlite3 is loaded at every start with a SQLite store.
 */
const REQUIRED = ['better-sqlite3'];

function requireExternals() {
  const prefix = '\0porter-require:';
  return {
    name: 'porter-require-externals',
    resolveId(id) {
      return REQUIRED.includes(id) ? prefix + id : null;
    },
    load(id) {
      if (!id.startsWith(prefix)) return null;
      const name = id.slice(prefix.length);
      return `import { createRequire } from 'node:module';\nexport default createRequire(import.meta.url)(${JSON.stringify(name)});\n`;
    },
  };
}

export default defineConfig({
  input: entries(),
  platform: 'node',
  // What tsconfig.json compiles to, which Node 20 runs as it is.
  transform: { target: 'es2023' },
  external: (id) => id.startsWith('node:') || EXTERNAL.some((name) => id === name || id.startsWith(`${name}/`)),
  plugins: [moduleUrls(), requireExternals()],
  // Third-party plugs import these entries' exports by name, and resolve.ts reads a built-in's.
  preserveEntrySignatures: 'strict',
  output: {
    dir: 'dist',
    // Left over files from an earlier build would still be found by resolve.ts as plugs or hooks.
    cleanDir: true,
    // A class's name is part of porter's behaviour: the start lines print it, and a plug or hook
    // without a `migrationOwner` records its migrations in the store under it. Bundling renames
    // a class whose name another module also uses (two `Store`s become `Store` and `Store$1`).
    keepNames: true,
    format: 'esm',
    entryFileNames: '[name].js',
    chunkFileNames: 'chunks/[name]-[hash].js',
    sourcemap: true,
    // The dependencies' JSDoc is 15% of the bytes V8 must parse at start; licences stay.
    comments: { legal: true, annotation: false, jsdoc: false },
  },
});
