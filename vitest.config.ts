import { defineConfig } from 'vitest/config';

/**
 * npm test (scripts/test.ts) starts or finds MySQL, migrates the test shards and runs this.
 * Most files run in parallel against the shared test shards. Files named *.isolated.test.ts
 * check platform-wide figures (reconciliation, ledger health) that other files' traffic
 * would disturb mid-flight, so they run afterwards, one at a time.
 */
const shared = {
  testTimeout: 60_000,
  hookTimeout: 60_000,
  pool: 'forks' as const,
};

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          ...shared,
          name: 'parallel',
          include: ['**/test/**/*.test.ts'],
          exclude: ['**/node_modules/**', '.data/**', '**/*.isolated.test.ts'],
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          ...shared,
          name: 'isolated',
          include: ['**/test/**/*.isolated.test.ts'],
          exclude: ['**/node_modules/**', '.data/**'],
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
