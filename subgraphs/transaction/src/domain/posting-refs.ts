/**
 * What a posting's ref_id names, by the posting's kind (see domain/legs.ts): the payment for a
 * payment's debit, credit or reversal (a hold's capture is its payment's debit); the refund for
 * any half of a refund; the hold for a hold or its release. Deposits,
 * withdrawals and postings of other subgraphs name nothing here.
 */
export type PostingRef =
  | { kind: 'payment'; paymentId: string }
  | { kind: 'refund'; refundId: string }
  | { kind: 'hold'; holdId: string }
  | null;

const paymentKinds = new Set([
  'PAYMENT',
  'PAYMENT_CREDIT',
  'PAYMENT_REVERSAL',
  'HOLD_CAPTURE',
  'PAYMENT_LEG',
  'PAYMENT_LEG_REVERSAL',
]);
const refundKinds = new Set(['REFUND', 'REFUND_DEBIT', 'REFUND_CREDIT', 'REFUND_LEG', 'REFUND_LEG_REVERSAL']);
const holdKinds = new Set(['HOLD', 'HOLD_RELEASE']);

export function postingRef(posting: { kind: string; refId: string | null }): PostingRef {
  if (posting.refId === null) return null;
  if (paymentKinds.has(posting.kind)) return { kind: 'payment', paymentId: posting.refId };
  if (refundKinds.has(posting.kind)) return { kind: 'refund', refundId: posting.refId };
  if (holdKinds.has(posting.kind)) return { kind: 'hold', holdId: posting.refId };
  return null;
}
