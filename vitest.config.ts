import { relative } from 'node:path';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { slowFilesFirst } from './test/support/slow-files';
import { testWorkersMax } from './test/support/database-sets';
import { sharedProcessFiles, sharedStackFiles } from './test/support/shared-process-files';

/**
 * npm test (scripts/test.ts) starts or finds MySQL, migrates the test databases and runs this
 * (docs/TESTING.md). Files run testWorkersMax at a time, each worker on databases of its own
 * (test/support/database-sets.ts, chosen per file by setup.ts): first `parallel` (each file in a
 * process of its own), then in the same group `shared` (test/support/shared-process-files.ts:
 * files that can share a process, and the default stack, with the files before them on the same
 * worker), then `isolated` (*.isolated.test.ts: many processes, a Galera cluster or platform-wide
 * figures, one at a time on a set of their own).
 */
const common = {
  testTimeout: 60_000,
  hookTimeout: 60_000,
  pool: 'forks' as const,
  // A fixed number, not one per CPU (vitest's default): npm test prepares each worker's databases,
  // and each fork's stacks and pools hold MySQL connections, which must stay within npm test's
  // share of max_connections (testRunConnectionsMax in test/support/limits.ts) on a big CI runner too.
  maxWorkers: testWorkersMax,
  // Each file's databases, then what main.ts does before a process serves: the ledger's keys and
  // calendar (test/support/setup.ts).
  setupFiles: ['test/support/setup.ts'],
  // Once, before the workers start: dist/ (the Explorer's bundle, the compiled processes) when stale.
  globalSetup: ['test/support/build.ts'],
};

/**
 * vitest's order (groups, then projects by name, then its own: the longest by its cached
 * durations, or on a plain clone the largest files), except that within a project the files of
 * test/support/slow-files.ts start first, longest first (a long file started last runs alone),
 * and the files of the default stack come last: a worker's default stack then starts after the
 * worker's files with stacks and children of their own, whose MySQL connections it would
 * otherwise hold beside theirs (a run held 80 at once, 46 of them one worker's, against
 * testRunConnectionsMax).
 */
class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const listed: readonly string[] = slowFilesFirst;
    const stackFiles: readonly string[] = sharedStackFiles;
    const rank = (spec: TestSpecification): number => {
      const file = relative(spec.project.config.root, spec.moduleId);
      const at = listed.indexOf(file);
      if (at !== -1) return at;
      return stackFiles.includes(file) ? listed.length + 1 : listed.length;
    };
    // Array.prototype.sort is stable: files of equal rank keep vitest's order.
    return sorted.sort(
      (a, b) =>
        a.project.config.sequence.groupOrder - b.project.config.sequence.groupOrder ||
        (a.project.name === b.project.name ? rank(a) - rank(b) : a.project.name < b.project.name ? -1 : 1),
    );
  }
}

/**
 * One graphql module for everything, as under Node: Vite would otherwise give our sources the
 * package's ESM build while @apollo/gateway and graphql-ws load its CommonJS one, and a schema
 * made by one cannot be validated or executed by the other ("from another module or realm").
 */
const resolve = { alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }] };

export default defineConfig({
  test: {
    sequence: { sequencer: LongestFirst },
    projects: [
      {
        resolve,
        test: {
          ...common,
          name: 'parallel',
          include: ['**/test/**/*.test.ts'],
          exclude: [
            '**/node_modules/**',
            '.data/**',
            'dist/**',
            '**/*.isolated.test.ts',
            ...sharedStackFiles,
            ...sharedProcessFiles,
          ],
          sequence: { groupOrder: 0 },
        },
      },
      {
        resolve,
        test: {
          ...common,
          name: 'shared',
          include: [...sharedStackFiles, ...sharedProcessFiles],
          // One process and module cache per worker for all its files: vitest reuses a worker
          // between non-isolated files of one project that follow one another in its queue, and
          // it queues a group's projects one after another by name, so these come after
          // `parallel`'s files, in the same group. Not a group of their own: at a change of group
          // vitest 4.1 frees the last runners' VITEST_POOL_IDs after handing them out again, so
          // two files of the next group got one id, hence one worker's databases, at once (pass-
          // through, fx and merchant-payout-unavailable each saw the bank soak's postings).
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
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
