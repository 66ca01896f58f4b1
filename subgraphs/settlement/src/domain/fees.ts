import { assert } from '@paygraph/shared/result';
import { feeBpsMax } from '@paygraph/shared/limits';

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

export interface PartFigures {
  gross: bigint;
  refunded: bigint;
  fee: bigint;
  moved: bigint;
}

/**
 * One stripe's share of a settlement. `payments` are the stripe's unsettled payments of the
 * date with what was already refunded from each (those refunds came out of pending);
 * `lateRefunds` are refunds of payments settled earlier (they came out of available).
 * The stripe moves `moved` out of pending: the fee to fee income, the rest to available.
 * Every refund is counted in exactly one settlement, so net = gross − refunded − fee is the
 * change the settlement period made to the merchant's available balance.
 */
export function settlePart(payments: ReadonlyArray<{ amount: bigint; refundedAmount: bigint }>, lateRefunds: readonly bigint[], feeBps: number): PartFigures {
  let gross = 0n;
  let moved = 0n;
  for (const p of payments) {
    assert(p.refundedAmount <= p.amount, 'a payment refunded beyond its amount');
    gross += p.amount;
    moved += p.amount - p.refundedAmount;
  }
  const late = lateRefunds.reduce((a, b) => a + b, 0n);
  const fee = feeOf(moved, feeBps);
  return { gross, refunded: gross - moved + late, fee, moved };
}

export function netOf(figures: Pick<PartFigures, 'gross' | 'refunded' | 'fee'>): bigint {
  return figures.gross - figures.refunded - figures.fee;
}
