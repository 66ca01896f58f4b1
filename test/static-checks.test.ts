import { ESLint } from 'eslint';
import { format, resolveConfig } from 'prettier';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './support/sources';

/**
 * npm test runs prettier and eslint over the tree (scripts/lib/static-checks.ts); these show that
 * the rules the house style asks for would fire on a sample, so a config that stopped checking
 * would not pass unnoticed.
 */
const eslint = new ESLint({ cwd: repoRoot });

async function ruleIds(text: string): Promise<string[]> {
  const [result] = await eslint.lintText(text, { filePath: join(repoRoot, 'subgraphs/shared/src/sample.ts') });
  return (result?.messages ?? []).map((m) => m.ruleId ?? m.message);
}

describe('the lint (eslint.config.js)', () => {
  it('wants units and qualifiers last in our names', async () => {
    for (const name of [
      'maxRetryDelayMs',
      'retryDelayMaxMs',
      'balanceMaxMinorUnits',
      'feeMinBps',
      'retryDelayMaxMsDefault',
      'amountMaxMinorUnitsDefault',
      'noteMaxChars',
    ]) {
      expect(await ruleIds(`export const ${name} = 1;\n`)).toEqual(['@typescript-eslint/naming-convention']);
    }
    for (const name of [
      'retryDelayMsMax',
      'balanceMinorUnitsMax',
      'feeBpsMin',
      'splitsMax',
      'retryDelayMsMaxDefault',
      'amountMinorUnitsMaxDefault',
      'jwksCacheMaxAgeMsDefault',
    ]) {
      expect(await ruleIds(`export const ${name} = 1;\n`)).toEqual([]);
    }
  });

  it('leaves alone the names of the contract and of libraries', async () => {
    expect(await ruleIds(`export const terms = { maxAdvanceBps: 1, maxRetriesPerRequest: 2 };\n`)).toEqual([]);
  });

  it('refuses unused imports and variables (dead code)', async () => {
    expect(await ruleIds(`import { join } from 'node:path';\nexport const a = 1;\n`)).toEqual([
      '@typescript-eslint/no-unused-vars',
    ]);
  });
});

describe('the format (.prettierrc.json)', () => {
  it('wraps at 120 columns with single quotes', async () => {
    const options = { ...(await resolveConfig(join(repoRoot, 'sample.ts'))), filepath: 'sample.ts' };
    const long = `export const x = f(${Array.from({ length: 20 }, (_, i) => `"argument${i}"`).join(', ')});\n`;
    const formatted = await format(long, options);
    expect(formatted.split('\n').every((line) => line.length <= 120)).toBe(true);
    expect(formatted).toContain("'argument0'");
  });
});
