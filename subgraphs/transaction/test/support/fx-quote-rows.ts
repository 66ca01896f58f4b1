import { newId, toLogicalShard } from '@paygraph/shared/ids';
import type { fxQuotes } from '../../src/db/schema/fx';

/**
 * A quote no payment took, USD 1.00 for EUR 0.90, made and expired at `at`: the row the purge tests write long ago
 * (purge-fence, purge-database-away), so that a purge's cutoff finds it due.
 */
export function unclaimedQuoteRow(id: string, createdBy: string, at: Date): typeof fxQuotes.$inferInsert {
  return {
    id,
    createdBy,
    sellCurrency: 'USD',
    buyCurrency: 'EUR',
    sellAmount: 100n,
    buyAmount: 90n,
    rateId: newId('fxRate', toLogicalShard(0)),
    rate: '0.9',
    rateBaseCurrency: 'USD',
    spreadBps: 0,
    expiresAt: at,
    paymentId: null,
    createdAt: at,
  };
}
