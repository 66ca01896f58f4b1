import { defineConfig } from 'vitest/config';
import { testWorkersMax } from './test/support/database-sets';

/**
 * npm test (scripts/test.ts) starts or finds MySQL, migrates the test databases and runs this
 * (docs/TESTING.md). Most files run in parallel, testWorkersMax at a time, each worker on
 * databases of its own (test/support/database-sets.ts, chosen per file by setup.ts). Files named
 * *.isolated.test.ts start many processes, a Galera cluster or check platform-wide figures, so
 * they run afterwards, one at a time, on a set of their own.
 */
const shared = {
  testTimeout: 60_000,
  hookTimeout: 60_000,
  pool: 'forks' as const,
  // A fixed number, not one per CPU (vitest's default): npm test prepares each worker's databases,
  // and each fork's stacks and pools hold MySQL connections, which must stay within npm test's
  // share of max_connections (testRunConnectionsMax in limits.ts) on a big CI runner too.
  maxWorkers: testWorkersMax,
  // Each file's databases, then what main.ts does before a process serves: the ledger's keys and
  // calendar (test/support/setup.ts).
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
