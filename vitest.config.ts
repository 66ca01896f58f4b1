import { defineConfig } from 'vitest/config';

// npm test (scripts/test.ts) starts or finds MySQL, migrates the test shards and runs this.
export default defineConfig({
  test: {
    include: ['**/test/**/*.test.ts'],
    exclude: ['**/node_modules/**', '.data/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
