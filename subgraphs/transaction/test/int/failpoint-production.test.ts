import { describe, expect, it } from 'vitest';
import { spawnTransactionSubgraph } from '../../../../test/support/processes';
import { readConfig, type Environment } from '@paygraph/shared/config/env';
import { transactionConfig } from '../../src/config';
import { testSubgraphSecrets } from '../../../../test/support/env';

/**
 * TRANSACTION_FAILPOINT makes the transaction subgraph SIGKILL itself mid-payment. A production
 * process with it set must not start at all; the real main.ts is started to show it.
 */
describe('TRANSACTION_FAILPOINT', () => {
  it('stops a production process from starting, naming the variable', async () => {
    const started = spawnTransactionSubgraph({ NODE_ENV: 'production', TRANSACTION_FAILPOINT: 'payment-after-debit' });
    await expect(started).rejects.toThrow(
      /exited before it was ready[\s\S]*TRANSACTION_FAILPOINT is set \("payment-after-debit"\) with NODE_ENV=production/,
    );
  });

  it('is allowed outside production, unset anywhere, and must name a known failpoint', () => {
    const base = {
      SUBGRAPH_SECRET_TRANSACTION: testSubgraphSecrets.transaction,
      LEDGER_MAC_KEY: 'k1:a-key-for-the-failpoint-test',
      CARD_FINGERPRINT_KEY: 'a-card-fingerprint-key-for-the-failpoint-test',
    };
    const failpointOf = (env: Environment) => readConfig(transactionConfig, { ...base, ...env }).failpoint;
    expect(failpointOf({ NODE_ENV: 'test', TRANSACTION_FAILPOINT: 'refund-after-reserve' })).toBe(
      'refund-after-reserve',
    );
    expect(failpointOf({ NODE_ENV: 'production' })).toBeNull();
    expect(failpointOf({ NODE_ENV: 'production', TRANSACTION_FAILPOINT: '' })).toBeNull();
    expect(() => failpointOf({ NODE_ENV: 'production', TRANSACTION_FAILPOINT: 'payment-after-debit' })).toThrow(
      /TRANSACTION_FAILPOINT is set \("payment-after-debit"\) with NODE_ENV=production/,
    );
    expect(() => failpointOf({ NODE_ENV: 'test', TRANSACTION_FAILPOINT: 'payment-after-debt' })).toThrow(
      /TRANSACTION_FAILPOINT must be one of payment-after-debit, refund-after-reserve, capture-after-debit, sweep-after-debit, top-up-after-debit, got "payment-after-debt"/,
    );
  });
});
