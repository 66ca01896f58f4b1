import type { Account } from '@paygraph/shared/ledger/index';

/**
 * Which stripes a withdrawal sweeps, and how much from each: the stripes in id order, each
 * giving what it holds until the amount needed is reached. Pure; the postings re-check each
 * stripe's balance under its lock.
 */
export type StripeBalance = Pick<Account, 'id' | 'available'>;

export function planSweeps(
  stripes: readonly StripeBalance[],
  needed: bigint,
): Array<{ stripeId: string; amount: bigint }> {
  const plan: Array<{ stripeId: string; amount: bigint }> = [];
  let rest = needed;
  for (const stripe of [...stripes].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) {
    if (rest <= 0n) break;
    if (stripe.available <= 0n) continue;
    const amount = stripe.available < rest ? stripe.available : rest;
    plan.push({ stripeId: stripe.id, amount });
    rest -= amount;
  }
  return plan;
}
