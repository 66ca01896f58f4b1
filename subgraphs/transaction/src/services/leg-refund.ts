import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import { inTransaction, type Tx } from '@paygraph/shared/shards/transaction';
import { addRefundedAmount, finishRefund, paymentsByIds, refundsByIds } from '../db/payments';
import { takeOutbox } from '../db/outbox';
import { addLegRefunded, insertRefundLegs, legsOfPayments, legsOfRefund, lockLegsOfPayment } from '../db/payment-legs';
import type { PaymentRow, RefundRow } from '../db/schema/transactions';
import { isPaying, refundLegChanges, type LegRole } from '../domain/payment-legs';
import { legPostings, legReversal, postLeg, reversedOrWait, type LegPostings } from './legs';

/**
 * A refund of a LEGS payment, pro rata by the contract's cumulative rule (domain/payment-legs.ts
 * refundLegChanges). services/refund.ts reserves it under the payment row's lock with each
 * leg's share (refund_legs, written here) and an outbox row, then this drives it like the
 * payment, receiving side first: the legs elsewhere give back into their shard's clearing, then
 * the home posting (the legs on the payment's shard, the payer credited), then the paying legs
 * elsewhere get theirs back. A receiver that cannot give its share back fails the refund, leg by
 * leg: what others gave is returned to them and the reservation released, nothing half-applied.
 */
export async function reserveRefundLegs(tx: Tx, payment: PaymentRow, refundId: string, refundedAfter: bigint): Promise<void> {
  const legs = await lockLegsOfPayment(tx, payment.id);
  const changes = refundLegChanges(legs.map((l) => ({ role: l.role, amount: l.amount, refunded: l.refundedAmount })), payment.amount, refundedAfter);
  await insertRefundLegs(tx, legs.flatMap((l, i) => (changes[i] === 0n ? [] : [{ refundId, legIndex: l.legIndex, amount: changes[i]!, settlementId: null }])));
  for (const [i, l] of legs.entries()) await addLegRefunded(tx, payment.id, l.legIndex, changes[i]!);
}

/** The leg state machine of a refund; safe to run any number of times at once, as driveLegPayment. */
export async function driveLegRefund(shards: ShardSet, home: Shard, id: string, now: () => Date): Promise<void> {
  const [refund] = await refundsByIds(home.db, [id]);
  if (!refund || refund.status !== 'PROCESSING') return;
  const [payment] = await paymentsByIds(home.db, [refund.paymentId]);
  const legs = await legsOfPayments(home.db, [refund.paymentId]);
  const shares = new Map((await legsOfRefund(home.db, id)).map((l) => [l.legIndex, l.amount]));
  const postings = await legPostings(shards, home, 'REFUND', refund, legs, (l) => -(shares.get(l.legIndex) ?? 0n));
  const given: LegPostings['remote'] = [];
  for (const r of postings.remote.filter((x) => !isPaying(x.leg.role as LegRole))) {
    const outcome = await postLeg(r.shard, r.spec, now);
    if (outcome.status === 'REJECTED') return failLegRefund(shards, home, refund, payment!, shares, outcome.rejection.code, given, now);
    given.push(r);
  }
  if (postings.homeSpec) {
    const outcome = await postLeg(home, postings.homeSpec, now);
    if (outcome.status === 'REJECTED') return failLegRefund(shards, home, refund, payment!, shares, outcome.rejection.code, given, now);
  }
  // Paying legs elsewhere get their share back: the receivers have given it, so it cannot be refused (a completion).
  for (const r of postings.remote.filter((x) => isPaying(x.leg.role as LegRole))) {
    await postLeg(r.shard, { ...r.spec, completion: true }, now, reversedOrWait(id));
  }
  await inTransaction(home, async (tx) => {
    if (await takeOutbox(tx, id)) await finishRefund(tx, id, 'SUCCEEDED', null, now());
  });
}

/** Gives back what the legs elsewhere gave, then FAILED and the reservation released, under the outbox row's lock. */
async function failLegRefund(
  shards: ShardSet, home: Shard, refund: RefundRow, payment: PaymentRow, shares: ReadonlyMap<number, bigint>, code: string,
  given: LegPostings['remote'], now: () => Date,
): Promise<void> {
  for (const r of [...given].reverse()) {
    await postLeg(r.shard, legReversal(shards, r.shard, refund.id, r.leg, r.spec, 'REFUND_LEG_REVERSAL'), now, reversedOrWait(refund.id));
  }
  await inTransaction(home, async (tx) => {
    if (!(await takeOutbox(tx, refund.id))) return;
    await finishRefund(tx, refund.id, 'FAILED', code, now());
    await addRefundedAmount(tx, payment.id, -refund.amount);
    for (const [legIndex, share] of shares) await addLegRefunded(tx, payment.id, legIndex, -share);
  });
}
