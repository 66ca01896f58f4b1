import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot, testSources } from './support/sources';

/**
 * Test files that drive a shard's system account (its RESERVE, its FEE_INCOME) to a BIGINT
 * bound (BALANCE_LIMIT) share the test shards with every other file, so each such file owns the
 * currencies it does that in: another file that moved one of them could find the account at its
 * bound and be refused, or move it between the pinning file's steps. That happened:
 * money-limits' FX test filled an account with the BIGINT maximum in SEK, the currency
 * balance-limit pins, and balance-limit failed on CI whenever the two landed on the same
 * database in that order. USD is every file's default and is never taken to a bound by these
 * files.
 */
const systemAccountPinners = [
  'subgraphs/shared/test/int/balance-limit.test.ts',
  'subgraphs/transaction/test/int/money-limits.test.ts',
  'subgraphs/settlement/test/int/settlement-limit.test.ts',
];
const sharedCurrencies = new Set(['USD']);

/** Every test and test-support file, a new subgraph's included, relative to the root. */
function testFiles(): string[] {
  return testSources().map((path) => relative(repoRoot, path));
}

/** The ISO 4217-looking string literals of a file: three capitals in quotes. */
function currencyLiterals(path: string): Set<string> {
  return new Set([...readFileSync(join(repoRoot, path), 'utf8').matchAll(/['"`]([A-Z]{3})['"`]/g)].map((m) => m[1]!));
}

describe('currencies of the files that pin a system account', () => {
  it('are named by no other test file', () => {
    const files = testFiles();
    for (const pinner of systemAccountPinners) expect(files, `${pinner} is a test file`).toContain(pinner);
    const owners = new Map<string, string>();
    for (const pinner of systemAccountPinners) {
      for (const currency of currencyLiterals(pinner)) {
        if (sharedCurrencies.has(currency)) continue;
        expect(owners.get(currency), `${currency} is pinned by two files`).toBeUndefined();
        owners.set(currency, pinner);
      }
    }
    const trespasses = files.filter((file) => !systemAccountPinners.includes(file) && file !== 'test/test-currencies.test.ts')
      .flatMap((file) => [...currencyLiterals(file)].filter((c) => owners.has(c)).map((c) => `${file} names ${c}, owned by ${owners.get(c)}`));
    expect(trespasses).toEqual([]);
  });
});
