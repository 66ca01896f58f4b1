/**
 * Payments of many legs as the random money tests model them, from the contract's words alone
 * (contract/operations.graphql, "Marketplace payments"), never from the service's code.
 */

/** A leg as a test computes it from its own input: the account, the role, the amount it moves. */
export interface LegMade {
  accountId: string;
  role: 'PAYER' | 'CAMPAIGN' | 'PAYEE' | 'SPLIT';
  amount: bigint;
}

/** -1 for a paying leg (its account gives the amount), 1 for a receiving one. */
export function legDirection(leg: LegMade): bigint {
  return leg.role === 'PAYER' || leg.role === 'CAMPAIGN' ? -1n : 1n;
}

/**
 * The cumulative rule: after refunds totalling `refunded`, each SPLIT has returned
 * floor(refunded * leg / amount) and the CAMPAIGN ceil(refunded * leg / amount) (the funder's
 * favour), the PAYER (paying side) and the PAYEE (receiving side) taking their side's remainder;
 * where the PAYEE's remainder would pass its own leg, splits in their order return their ceiling
 * instead (no receiver gives back more than it received).
 */
export function legsReturned(legs: readonly LegMade[], amount: bigint, refunded: bigint): bigint[] {
  const rule = legs.map((l) =>
    l.role === 'CAMPAIGN' ? (refunded * l.amount + amount - 1n) / amount : (refunded * l.amount) / amount,
  );
  for (const [remainder, side] of [
    ['PAYER', ['PAYER', 'CAMPAIGN']],
    ['PAYEE', ['PAYEE', 'SPLIT']],
  ] as const) {
    const at = legs.findIndex((l) => l.role === remainder);
    rule[at] =
      refunded -
      legs.reduce((sum, l, i) => ((side as readonly string[]).includes(l.role) && i !== at ? sum + rule[i]! : sum), 0n);
  }
  const payee = legs.findIndex((l) => l.role === 'PAYEE');
  for (const [i, l] of legs.entries()) {
    const ceiling = (refunded * l.amount + amount - 1n) / amount;
    if (l.role !== 'SPLIT' || payee < 0 || rule[payee]! <= legs[payee]!.amount || ceiling === rule[i]) continue;
    rule[i] = ceiling;
    rule[payee] = rule[payee]! - 1n;
  }
  return rule;
}
