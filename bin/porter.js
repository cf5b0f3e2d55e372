#!/usr/bin/env -S node --max-semi-space-size=2
// The installed `porter` command: runs the built CLI (`npm ci` builds it into dist/).
// A 2 MB young generation keeps an idle porter near 75 MB resident instead of 85, at no cost
// to routing speed that bench/routing.mjs can measure (docs/benchmarks.md).
import { existsSync } from 'node:fs';

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write('porter: dist/ is missing; run `npm run build` (npm ci does it) first\n');
  process.exit(1);
}
await import(cli.href);
