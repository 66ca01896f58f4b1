import { describe, it, expect } from 'vitest';
import type { Account } from '@paygraph/shared/ledger/index';
import { payerFactsCached, payerPaidFromBefore, rememberPayer } from '../../src/services/payer-facts';

/** An account row as a read answers it, status and balances included. */
function row(id: string, ownerId: string): Account {
  return {
    id,
    ownerId,
    type: 'PERSONAL',
    systemKind: null,
    parentId: null,
    stripeShards: 0n,
    currency: 'USD',
    entity: 'PLATFORM',
    counterpartyEntity: '',
    status: 'ACTIVE',
    available: 500n,
    frozen: 0n,
    pending: 0n,
    creditLimit: null,
    lastSequence: 3n,
    lastEntryHash: 'h',
    version: 4n,
    createdAt: new Date(0),
  };
}

describe("a payer's kept facts (services/payer-facts.ts)", () => {
  it('keeps what never changes of the row, a copy, under the caller who paid alone', () => {
    const account = row('acc_unit_kept_1', 'owner-kept-1');
    rememberPayer('owner-kept-1', account);
    account.status = 'FROZEN';
    account.available = 0n;
    account.ownerId = 'someone-else';
    expect(payerPaidFromBefore('owner-kept-1', 'acc_unit_kept_1')).toEqual({
      id: 'acc_unit_kept_1',
      ownerId: 'owner-kept-1',
      type: 'PERSONAL',
      parentId: null,
      currency: 'USD',
      entity: 'PLATFORM',
    });
    expect(payerPaidFromBefore('operator', 'acc_unit_kept_1')).toBeUndefined();
    expect(payerPaidFromBefore('owner-kept-1', 'acc_unit_kept_2')).toBeUndefined();
  });

  it('keeps one entry per caller and account, however often it is remembered', () => {
    const account = row('acc_unit_kept_3', 'owner-kept-3');
    for (let i = 0; i < 5; i++) rememberPayer('owner-kept-3', account);
    rememberPayer('operator-kept-3', account);
    expect(payerFactsCached('owner-kept-3').entries).toBe(1);
    expect(payerFactsCached('operator-kept-3').entries).toBe(1);
  });
});
