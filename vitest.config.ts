import { defineConfig } from 'vitest/config';
import { testWorkersMax } from './test/support/database-sets';
import { sharedProcessFiles, sharedStackFiles } from './test/support/shared-process-files';

/**
 * npm test (scripts/test.ts) starts or finds MySQL, migrates the test databases and runs this
 * (docs/TESTING.md). Files run testWorkersMax at a time, each worker on databases of its own
 * (test/support/database-sets.ts, chosen per file by setup.ts), in three groups one after another:
 * `shared` (test/support/shared-process-files.ts: files that can share a process, and the default
 * stack, with the files before them on the same worker), `parallel` (every other file, each in a
 * process of its own) and `isolated` (*.isolated.test.ts: many processes, a Galera cluster or
 * platform-wide figures, one at a time on a set of their own).
 */
const common = {
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
          ...common,
          name: 'parallel',
          include: ['**/test/**/*.test.ts'],
          exclude: ['**/node_modules/**', '.data/**', 'dist/**', '**/*.isolated.test.ts', ...sharedStackFiles, ...sharedProcessFiles],
          sequence: { groupOrder: 1 },
        },
      },
      {
        resolve,
        test: {
          ...common,
          name: 'shared',
          include: [...sharedStackFiles, ...sharedProcessFiles],
          // One process and module cache per worker for all its files (vitest reuses a worker
          // between non-isolated files of one project only when they follow one another, hence a
          // group of their own, before the others).
          isolate: false,
          env: { TEST_SHARED_STACK: '1' },
          sequence: { groupOrder: 0 },
        },
      },
      {
        resolve,
        test: {
          ...common,
          name: 'isolated',
          include: ['**/test/**/*.isolated.test.ts'],
          exclude: ['**/node_modules/**', '.data/**', 'dist/**'],
          fileParallelism: false,
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
