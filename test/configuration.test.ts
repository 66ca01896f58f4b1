import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configurationVariables } from '../scripts/lib/configuration-table';
import { parts } from '../scripts/lib/parts';
import { variablePrefixOf } from '@paygraph/shared/part';
import { productionSources, repoRoot } from './support/sources';

/**
 * Configuration is read once, by the processes' entry points, and documented once: only main
 * files touch the environment, and README's configuration table is the schema of config.ts
 * written out, row for row: every variable of every process's schema (each process's config.ts)
 * and of the scripts'.
 */

/** The entry points that may read the environment: each hands it to readConfig with its schema at start-up. */
const mainFiles = [
  'gateway/src/main.ts',
  'subgraphs/shared/src/server/main.ts',
  ...['account', 'transaction', 'settlement'].map((s) => `subgraphs/${s}/src/main.ts`),
];

/** README's configuration table as rows of cells, in order. */
function readmeRows(): string[][] {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const section = readme.slice(
    readme.indexOf('## Configuration\n'),
    readme.indexOf('\n## ', readme.indexOf('## Configuration\n') + 1),
  );
  return section
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .map((line) => line.slice(2, -2).split(' | '));
}

/**
 * Variables of one kind are named one way: a process's own (its port, its failpoint) carry its
 * part's prefix (TRANSACTION_FAILPOINT beside SETTLEMENT_FAILPOINT, as TRANSACTION_PORT beside
 * SETTLEMENT_PORT). Answers each name that breaks it.
 */
function variableKindProblems(names: readonly string[]): string[] {
  const prefixes = parts.map((part) => variablePrefixOf(part.name));
  return names
    .filter((name) => name.endsWith('_FAILPOINT'))
    .filter((name) => !prefixes.some((prefix) => name === `${prefix}_FAILPOINT`))
    .map((name) => `${name}: a failpoint is named <PART>_FAILPOINT (${prefixes.join(', ')})`);
}

describe('configuration', () => {
  it('is read from the environment by main files only', () => {
    // Scripts are entry points of their own: they may read it (and read it with readConfig).
    const files = productionSources()
      .map((path) => relative(repoRoot, path))
      .filter((file) => !file.startsWith('scripts/'));
    expect(files.length).toBeGreaterThan(50);
    const readers = files.filter((file) => readFileSync(join(repoRoot, file), 'utf8').includes('process.env'));
    expect(readers.filter((file) => !mainFiles.includes(file))).toEqual([]);
    // The gateway and the subgraphs' common entry do read it (a subgraph's main.ts goes through runSubgraphMain).
    expect(readers.sort()).toEqual(['gateway/src/main.ts', 'subgraphs/shared/src/server/main.ts']);
  });

  it("is documented by README's table exactly as the schema declares it: names, types, defaults, meanings", () => {
    const expected = configurationVariables().map((v) => [`\`${v.name}\``, v.type, v.default, v.meaning]);
    const rows = readmeRows();
    // On a difference, the message shows the row the schemas would have README say.
    expect(rows.map((row) => row[0])).toEqual(expected.map((row) => row[0]));
    for (const [i, row] of expected.entries()) {
      expect(`| ${rows[i]!.join(' | ')} |`, `README.md row for ${row[0]}`).toBe(`| ${row.join(' | ')} |`);
    }
  });

  it('names variables of one kind one way: a failpoint after its part', () => {
    const names = configurationVariables().map((v) => v.name);
    expect(names.filter((name) => name.endsWith('_FAILPOINT')).sort()).toEqual([
      'SETTLEMENT_FAILPOINT',
      'TRANSACTION_FAILPOINT',
    ]);
    expect(variableKindProblems(names)).toEqual([]);
    // Would be caught: the transaction subgraph's failpoint under the name it had.
    expect(variableKindProblems(['PAYGRAPH_FAILPOINT', 'SETTLEMENT_FAILPOINT'])).toEqual([
      expect.stringMatching(/^PAYGRAPH_FAILPOINT: a failpoint is named <PART>_FAILPOINT/),
    ]);
  });
});
