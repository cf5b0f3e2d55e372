#!/usr/bin/env node
// The installed `porter` command: runs the built CLI (`npm ci` builds it into dist/).
import { existsSync } from 'node:fs';

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write('porter: dist/ is missing; run `npm run build` (npm ci does it) first\n');
  process.exit(1);
}
await import(cli.href);
