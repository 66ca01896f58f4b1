import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Kind, parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import * as errors from '../../src/domain/errors';

/**
 * One name per refusal, from schema to domain: each mutation's error kinds (domain/errors.ts) are
 * exactly the error members of its result union in schema/transaction.graphql, by name. The
 * refusal the schema calls AccountsMustBeDifferent (code SAME_ACCOUNT, the contract's) was the
 * domain's SameAccount; AmountExceededBySplits was SplitsExceedAmount.
 */
const schema = parse(
  readFileSync(fileURLToPath(new URL('../../../../schema/transaction.graphql', import.meta.url)), 'utf8'),
);

/** Each union's members after its first (the success type), as the schema lists them. */
const errorMembers = new Map(
  schema.definitions.flatMap((d) =>
    d.kind === Kind.UNION_TYPE_DEFINITION ? [[d.name.value, (d.types ?? []).slice(1).map((t) => t.name.value)]] : [],
  ),
);

const kindsOfUnion: Record<string, readonly string[]> = {
  DepositResult: errors.depositErrorKinds,
  WithdrawResult: errors.withdrawErrorKinds,
  CreatePaymentResult: errors.createPaymentErrorKinds,
  RefundPaymentResult: errors.refundPaymentErrorKinds,
  CreateHoldResult: errors.createHoldErrorKinds,
  CaptureHoldResult: errors.captureHoldErrorKinds,
  VoidHoldResult: errors.voidHoldErrorKinds,
  SetFxRateResult: errors.setFxRateErrorKinds,
  CreateFxQuoteResult: errors.createFxQuoteErrorKinds,
  CreateCampaignResult: errors.createCampaignErrorKinds,
};

describe('refusal names', () => {
  it.each(Object.entries(kindsOfUnion))('%s: its error members are the kinds, name for name', (union, kinds) => {
    expect(errorMembers.get(union), union).toBeDefined();
    expect([...kinds].sort()).toEqual([...errorMembers.get(union)!].sort());
  });

  it('would be caught: a kind named otherwise than its member differs', () => {
    const renamed = errors.createHoldErrorKinds.map((k) => (k === 'AccountsMustBeDifferent' ? 'SameAccount' : k));
    expect(renamed.sort()).not.toEqual([...errorMembers.get('CreateHoldResult')!].sort());
  });
});
