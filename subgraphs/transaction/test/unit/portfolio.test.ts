import { describe, expect, it } from 'vitest';
import {
  currenciesToConvert,
  portfolioTotals,
  reportingTotal,
  type PortfolioAccount,
} from '../../src/domain/portfolio';
import { ownerHomeShard } from '@paygraph/shared/ledger/index';
import { ownerLinkShard } from '../../src/domain/external-accounts';

const exponents = new Map([
  ['USD', 2],
  ['JPY', 0],
  ['EUR', 2],
]);
const exponentOf = (c: string) => exponents.get(c) ?? null;

function account(id: string, currency: string, available: bigint, frozen = 0n, pending = 0n): PortfolioAccount {
  return { id, type: 'PERSONAL', currency, available, frozen, pending };
}

describe('the portfolio, pure', () => {
  it('sums each currency over every bucket, and reports apart from the ledger, only of links still the owner’s with a report', () => {
    const totals = portfolioTotals(
      [account('a', 'USD', 100n, 20n, 3n), account('b', 'USD', -50n), account('c', 'EUR', 7n)],
      [
        { currency: 'USD', status: 'VERIFIED', reportedBalance: 1000n },
        { currency: 'USD', status: 'PENDING', reportedBalance: -1n },
        { currency: 'USD', status: 'UNLINKED', reportedBalance: 5n },
        { currency: 'GBP', status: 'REJECTED', reportedBalance: 9n },
        { currency: 'JPY', status: 'VERIFIED', reportedBalance: null },
      ],
    );
    expect(totals).toEqual([
      { currency: 'EUR', ledger: 7n, external: null },
      { currency: 'USD', ledger: 73n, external: 999n },
    ]);
    expect(currenciesToConvert(totals, 'USD')).toEqual(['EUR']);
  });

  it('converts each total rounded down (toward −∞ for a debt too), inverse pairs exactly, and lists what has no rate', () => {
    const totals = [
      { currency: 'JPY', ledger: 15_001n, external: null },
      { currency: 'EUR', ledger: -101n, external: null },
      { currency: 'USD', ledger: 5n, external: null },
      { currency: 'XAU', ledger: 3n, external: null },
    ];
    const rates = new Map([
      // 150.25 JPY per USD, set as USD/JPY: JPY → USD is its inverse.
      ['JPY', { base: 'USD', quote: 'JPY', rate: '150.25', spreadBps: 0 }],
      ['EUR', { base: 'EUR', quote: 'USD', rate: '1.1', spreadBps: 0 }],
      ['XAU', undefined],
    ]);
    const total = reportingTotal(totals, 'USD', rates, exponentOf);
    // 15001 JPY / 150.25 = 99.84… USD = 9984.02… cents → 9984; −1.01 EUR × 1.1 = −1.111 USD → −112 cents (down).
    expect(total).toEqual({
      currency: 'USD',
      amount: 9984n - 112n + 5n,
      rates: [
        { from: 'JPY', rate: '1/150.25' },
        { from: 'EUR', rate: '1.1' },
      ],
      unconverted: [{ currency: 'XAU', amount: 3n }],
    });
  });

  it("finds an owner's directory on the shard its links live on (one hash, two names)", () => {
    for (const owner of ['alice', 'bob', 'merchant-42', 'x'.repeat(64)])
      expect(ownerHomeShard(owner)).toBe(ownerLinkShard(owner));
  });
});
