import * as z from 'zod';
import { integer, parsed, type Environment } from '../../subgraphs/shared/src/config/env';
import { scriptConfig, readScriptConfig, type ScriptConfig } from '../../scripts/lib/config';

/** 2^32: seeds and mulberry32's state are unsigned 32-bit integers. */
export const seedRange = 0x1_0000_0000;

/** TEST_SEED as set: a decimal integer below 2^32. */
export function parseTestSeed(raw: string): number {
  const seed = /^[0-9]+$/.test(raw.trim()) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(seed) || seed >= seedRange)
    throw new Error(`TEST_SEED must be an integer in [0, 2^32), got "${raw}"`);
  return seed;
}

/** The variables only `npm test` and the tests read. */
export const testVariables = z.object({
  databasePrefix: parsed(
    'TEST_DATABASE_PREFIX',
    '`paygraph_test` then `A-Za-z0-9_`',
    testDatabasePrefix,
    'paygraph_test',
    {
      default: '`paygraph_test`',
      meaning: "`npm test` only: the test databases' prefix, so two runs can share a server",
    },
  ),
  seed: parsed('TEST_SEED', `integer 0–${seedRange - 1}`, parseTestSeed, undefined, {
    default: 'fresh each run',
    meaning:
      '`npm test` only: the seed of the randomised tests (bank, concurrent postings); a failing one prints its seed, and `TEST_SEED=<seed> npm test -- <file>` replays its choices',
  }),
  nodeMajor: integer('TEST_NODE_MAJOR', 'integer', 20, 99, undefined, {
    default: 'unset',
    meaning:
      "`npm test` only: the Node major version the run must be on, it and every process it spawns (`.ci/run` sets 24, the Docker image's, for its pass on the registry's `node` binary): `npm test` stops at once on another, and `test/typescript-client.test.ts` checks the version the compiled gateway reports",
  }),
});

function testDatabasePrefix(raw: string): string {
  if (!/^paygraph_test[A-Za-z0-9_]*$/.test(raw))
    throw new Error(`must start with paygraph_test (then letters, digits, _), got ${JSON.stringify(raw)}`);
  return raw;
}

/** What `npm test` (scripts/test.ts) reads: a script's configuration and the test variables. */
export const testRunConfig = z.object({ ...scriptConfig.shape, test: testVariables });

export function readTestRunConfig(env: Environment): ScriptConfig<typeof testRunConfig> {
  return readScriptConfig(testRunConfig, env);
}
