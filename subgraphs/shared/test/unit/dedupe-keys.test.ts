import { describe, expect, it } from 'vitest';
import { dedupeKeys } from '../../src/ledger/index';

/**
 * The keys are stored in postings.dedupe_key: changing one would let a movement already posted
 * under the old key post again. These are the keys the ledger holds today.
 */
describe('dedupeKeys', () => {
  it('names each half of a movement as the postings already stored name it', () => {
    expect(dedupeKeys.firstHalf('pay_1')).toBe('pay_1');
    expect(dedupeKeys.paymentCredit('pay_1')).toBe('pay_1:credit');
    expect(dedupeKeys.paymentReversal('pay_1')).toBe('pay_1:reverse');
    expect(dedupeKeys.refundDebit('ref_1')).toBe('ref_1:debit');
    expect(dedupeKeys.refundCredit('ref_1')).toBe('ref_1:credit');
    expect(dedupeKeys.hold('hld_1')).toBe('hld_1');
    expect(dedupeKeys.holdCapture('pay_2')).toBe('pay_2');
    expect(dedupeKeys.holdRelease('hld_1')).toBe('hld_1:release');
    expect(dedupeKeys.sweepDebit('wdr_1', 'acc_2')).toBe('wdr_1:sweep:acc_2');
    expect(dedupeKeys.sweepCredit('swp_1')).toBe('swp_1:credit');
    expect(dedupeKeys.settlementPart('stl_1', 'acc_2')).toBe('stl_1:acc_2');
  });
});
