// Tests run the TypeScript sources; `porter` resolves to them as it does to dist/ at run time.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: { alias: { porter: fileURLToPath(new URL('./src/index.ts', import.meta.url)) } },
  test: {
    include: ['test/**/*.test.ts', 'web/**/*.test.ts'],
    // Debian's packages the suite needs, in one apt run before any file starts.
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // Two cores: files in parallel, real peers (PostgreSQL) shared between them.
    pool: 'forks',
    maxWorkers: 2,
  },
});
