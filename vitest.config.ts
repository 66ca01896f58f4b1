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
  // One fork, not one per CPU (vitest's default, which is also one on a 2-core machine): each
  // fork's stacks and pools hold MySQL connections, and npm test must stay within its share of
  // max_connections (testRunConnectionsMax in limits.ts) on a big CI runner too.
  maxWorkers: 1,
  // What main.ts does before a process serves: the ledger's keys and calendar (test/support/setup.ts).
  setupFiles: ['test/support/setup.ts'],
  // Once, before the workers start: dist/ (the Explorer's bundle, the compiled processes) when stale.
  globalSetup: ['test/support/build.ts'],
};

/**
 * One graphql module for everything, as under Node: Vite would otherwise give our sources the
 * package's ESM build while @apollo/gateway and graphql-ws load its CommonJS one, and a schema
 * made by one cannot be validated or executed by the other ("from another module or realm").
 */
const resolve = { alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }] };

export default defineConfig({
  test: {
    projects: [
      {
        resolve,
        test: {
          ...shared,
          name: 'parallel',
          include: ['**/test/**/*.test.ts'],
          exclude: ['**/node_modules/**', '.data/**', 'dist/**', '**/*.isolated.test.ts'],
          sequence: { groupOrder: 0 },
        },
      },
      {
        resolve,
        test: {
          ...shared,
          name: 'isolated',
          include: ['**/test/**/*.isolated.test.ts'],
          exclude: ['**/node_modules/**', '.data/**', 'dist/**'],
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
