import { assert } from '@paygraph/shared/result';
import { feeBpsMax } from '../limits';

/** A fee rate in basis points: 100 bps = 1%; at most feeBpsMax (all of the amount). */
export { feeBpsMax };
const bpsPerUnit = 10_000n;

/**
 * The fee on an amount, rounded half up to the minor unit: 2.5 cents become 3, 2.4999 become
 * 2. Integer arithmetic only. The fee never exceeds the amount (rate ≤ 100%).
 */
export function feeOf(amount: bigint, feeBps: number): bigint {
  assert(Number.isInteger(feeBps) && feeBps >= 0 && feeBps <= feeBpsMax, `fee rate ${feeBps} bps is out of range`);
  assert(amount >= 0n, `fee of a negative amount ${amount}`);
  return (amount * BigInt(feeBps) * 2n + bpsPerUnit) / (bpsPerUnit * 2n);
}

/**
 * The advance fee on an amount: rounded up to the minor unit, in the platform's favour, as the
 * contract says ("ten advances never cost less than one of their sum"). ceil is subadditive the
 * right way round: Σ ceil(aᵢ·r) ≥ ceil(Σ aᵢ·r), so no split of an advance costs less than the
 * whole, where half up gave every advance of 49 units at 1% for nothing. The fee never exceeds
 * the amount (rate ≤ 100%). The settlement fee stays half up (feeOf): schema/settlement.graphql.
 */
export function advanceFeeOf(amount: bigint, feeBps: number): bigint {
  assert(Number.isInteger(feeBps) && feeBps >= 0 && feeBps <= feeBpsMax, `fee rate ${feeBps} bps is out of range`);
  assert(amount >= 0n, `fee of a negative amount ${amount}`);
  return (amount * BigInt(feeBps) + bpsPerUnit - 1n) / bpsPerUnit;
}

export interface PartFigures {
  gross: bigint;
  refunded: bigint;
  /** Of the money the date moves, what advances had moved already: no posting, no fee. */
  advanced: bigint;
  fee: bigint;
  /** What this part's posting moves out of pending: the rest, on which the fee is charged. */
  moved: bigint;
}

/**
 * One stripe's share of a settlement. `payments` are the stripe's unsettled payments of the
 * date with what was already refunded from each (those refunds came out of pending);
 * `lateRefunds` are refunds of payments settled earlier (they came out of available);
 * `outstandingAdvance` is what advances moved out of the stripe's pending and no settlement has
 * covered yet. Of the date's money, up to that much is covered (paid by the advance, which
 * charged its own fee); the stripe moves the rest out of pending now: the fee, on the rest
 * only, to fee income, and the rest less the fee to available. Every refund is counted in
 * exactly one settlement, so net = gross − refunded − advanced − fee is what this settlement
 * adds to the merchant's available balance.
 */
export function settlePart(
  payments: ReadonlyArray<{ amount: bigint; refundedAmount: bigint }>,
  lateRefunds: readonly bigint[],
  feeBps: number,
  outstandingAdvance = 0n,
): PartFigures {
  let gross = 0n;
  let due = 0n;
  for (const p of payments) {
    assert(p.refundedAmount <= p.amount, 'a payment refunded beyond its amount');
    gross += p.amount;
    due += p.amount - p.refundedAmount;
  }
  const late = lateRefunds.reduce((a, b) => a + b, 0n);
  const advanced = coveredByAdvances(due, outstandingAdvance);
  const moved = due - advanced;
  const fee = feeOf(moved, feeBps);
  return { gross, refunded: gross - due + late, advanced, fee, moved };
}

/**
 * What a settlement adds to the merchant's available: its gross less refunds, less what advances paid already, less its
 * fee.
 */
export function netOf(figures: Pick<PartFigures, 'gross' | 'refunded' | 'advanced' | 'fee'>): bigint {
  return figures.gross - figures.refunded - figures.advanced - figures.fee;
}

/** Of the money a date settles, what stands advanced already (up to all of it). */
export function coveredByAdvances(due: bigint, outstanding: bigint): bigint {
  assert(due >= 0n && outstanding >= 0n, 'negative settlement or outstanding advance');
  return due < outstanding ? due : outstanding;
}

/**
 * What a settlement repaid of the merchant's credit in use (issue 33): the money it made
 * available (each part's moved less its fee) covers the negative part of the merchant's
 * available first, because a credit simply raises the balance; only the rest is the merchant's
 * to spend. `creditUsedBefore` is max(0, −available) over every stripe before the postings.
 */
export function creditRepaidOf(
  creditUsedBefore: bigint,
  parts: ReadonlyArray<{ movedAmount: bigint; feeAmount: bigint }>,
): bigint {
  assert(creditUsedBefore >= 0n, `credit in use ${creditUsedBefore} is negative`);
  const madeAvailable = parts.reduce((sum, p) => sum + p.movedAmount - p.feeAmount, 0n);
  return madeAvailable < creditUsedBefore ? (madeAvailable > 0n ? madeAvailable : 0n) : creditUsedBefore;
}
