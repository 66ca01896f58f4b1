import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { folderOf, parts } from '../scripts/lib/parts';
import { productionSources, repoRoot } from './support/sources';

/**
 * Limits you can find: each part's in its own src/limits.ts (the shared library's in
 * subgraphs/shared/src/limits.ts), their relations asserted when the module loads; no ceiling
 * declared anywhere else in production code; the test run's budgets in test/support/limits.ts.
 */
const limitsFiles = [
  ...parts.map((part) => join(folderOf(part), 'src', 'limits.ts')),
  'subgraphs/shared/src/limits.ts',
];

/**
 * A ceiling or floor (a name ending Max or Min) set to a number where it is used rather than in a
 * limits.ts. Answers each as `file: name`.
 */
function strayLimits(file: string, text: string): string[] {
  if (file.endsWith('/limits.ts')) return [];
  return [...text.matchAll(/^(?:export )?const ([a-z]\w*(?:Max|Min)) = [-0-9(]/gm)].map((m) => `${file}: ${m[1]}`);
}

/**
 * Limits still beside their code in the ledger (shared/src/ledger, shards/posting-transaction.ts), which
 * issue 46's ledger module moves; none may be added.
 */

describe('limits', () => {
  it.each(limitsFiles)('%s exists and loads: the relations it asserts hold', async (file) => {
    expect(existsSync(join(repoRoot, file)), file).toBe(true);
    await expect(import(pathToFileURL(join(repoRoot, file)).href)).resolves.toBeDefined();
  });

  it('are declared in a limits.ts, not beside the code that uses them', () => {
    const stray = productionSources()
      .map((path) => relative(repoRoot, path))
      .filter((file) => !file.startsWith('scripts/'))
      .flatMap((file) => strayLimits(file, readFileSync(join(repoRoot, file), 'utf8')));
    expect(stray).toEqual([]);
  });

  it('would notice one: a ceiling set in a service is found, one in a limits.ts or a derived value is not', () => {
    const service = 'const pageRowsMax = 500;\nexport const splitsMax = 10;\nconst other = pageRowsMax;\n';
    expect(strayLimits('subgraphs/x/src/services/a.ts', service)).toEqual([
      'subgraphs/x/src/services/a.ts: pageRowsMax',
      'subgraphs/x/src/services/a.ts: splitsMax',
    ]);
    expect(strayLimits('subgraphs/x/src/limits.ts', service)).toEqual([]);
    expect(strayLimits('subgraphs/x/src/a.ts', 'const rowsMax = Math.min(a, b);\n')).toEqual([]);
  });

  it("keep the test run's budgets out of production code", async () => {
    for (const file of limitsFiles) {
      const names = Object.keys(await import(pathToFileURL(join(repoRoot, file)).href));
      expect(
        names.filter((name) => /^test[A-Z]/.test(name)),
        file,
      ).toEqual([]);
    }
    const budgets = await import('./support/limits');
    expect(budgets.testRunConnectionsMax).toBeGreaterThan(0);
  });
});
