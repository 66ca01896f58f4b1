/**
 * What a posting's ref_id names, by the posting's kind (see domain/legs.ts): the payment for a
 * payment's debit, credit or reversal; the refund for any half of a refund. Deposits,
 * withdrawals and postings of other subgraphs name nothing here.
 */
export type PostingRef = { kind: 'payment'; paymentId: string } | { kind: 'refund'; refundId: string } | null;

const paymentKinds = new Set(['PAYMENT', 'PAYMENT_CREDIT', 'PAYMENT_REVERSAL']);
const refundKinds = new Set(['REFUND', 'REFUND_DEBIT', 'REFUND_CREDIT']);

export function postingRef(posting: { kind: string; refId: string | null }): PostingRef {
  if (posting.refId === null) return null;
  if (paymentKinds.has(posting.kind)) return { kind: 'payment', paymentId: posting.refId };
  if (refundKinds.has(posting.kind)) return { kind: 'refund', refundId: posting.refId };
  return null;
}
