/**
 * The dedupe key of every posting a money movement makes, built here and only here: the legs
 * that post (transaction/domain/legs.ts, settlement's settle.ts) and the reconciliation that
 * checks they were posted (settlement's reconcile.ts) read the same function, so the two cannot
 * drift. A key makes its half of a movement apply at most once however often it is tried (the
 * postings table's unique index on dedupe_key).
 */
export const dedupeKeys = {
  /** A movement's first half, on the shard where the resource lives (deposit, withdrawal, payment, local refund). */
  firstHalf: (resourceId: string): string => resourceId,
  /** A cross-shard payment's credit on the payee's shard. */
  paymentCredit: (paymentId: string): string => `${paymentId}:credit`,
  /** A failed cross-shard payment's money back to the payer. */
  paymentReversal: (paymentId: string): string => `${paymentId}:reverse`,
  /** A cross-shard refund's debit on the payee's shard. */
  refundDebit: (refundId: string): string => `${refundId}:debit`,
  /** A cross-shard refund's credit back to the payer. */
  refundCredit: (refundId: string): string => `${refundId}:credit`,
  /** A hold: the payer's available → frozen. */
  hold: (holdId: string): string => holdId,
  /** A hold's capture, posted as its payment's first half: frozen → the payment's credit row, the rest → available. */
  holdCapture: (paymentId: string): string => paymentId,
  /**
   * A hold's void or expiry: frozen → available (one key for both, so however a hold is released, its money comes back
   * once).
   */
  holdRelease: (holdId: string): string => `${holdId}:release`,
  /** A sweep's debit of a merchant stripe into clearing. */
  sweepDebit: (withdrawalId: string, stripeId: string): string => `${withdrawalId}:sweep:${stripeId}`,
  /**
   * A refund's move of pending from another stripe of the merchant into clearing (a refund of advanced money gives back
   * the merchant's pending first, on any stripe): apart from sweepDebit, which the same refund may make from the same
   * row for its available.
   */
  pendingMoveDebit: (refundId: string, stripeId: string): string => `${refundId}:pending:${stripeId}`,
  /** A sweep's credit of the row it moves to (the home row, or a refund's stripe) from clearing. */
  sweepCredit: (sweepId: string): string => `${sweepId}:credit`,
  /**
   * A payment or refund of many legs (route LEGS): the home posting is its firstHalf (every leg
   * on the payment's shard); each leg on another shard posts under legPosting, and its reversal
   * under legReversal; a failed payment's home posting is reversed under paymentReversal.
   */
  legPosting: (movementId: string, legIndex: number): string => `${movementId}:leg:${legIndex}`,
  legReversal: (movementId: string, legIndex: number): string => `${movementId}:leg:${legIndex}:reverse`,
  /** A settlement's part on one stripe. */
  settlementPart: (settlementId: string, stripeId: string): string => `${settlementId}:${stripeId}`,
  /** An advance's piece on one stripe: pending → available less its fee share, the fee to fee income. */
  advancePiece: (advanceId: string, stripeId: string): string => `${advanceId}:${stripeId}`,
  /** The piece taken back when another piece of the same advance could not post (all or nothing). */
  advancePieceReversal: (advanceId: string, stripeId: string): string => `${advanceId}:${stripeId}:reverse`,
  /** A shard move's source half: the moved accounts' nets to the source's clearing (ledger/shard-move.ts). */
  shardMoveOut: (moveId: number): string => `shard-move:${moveId}:out`,
  /** A shard move's target half, after its switch: the move's account into the target's clearing. */
  shardMoveIn: (moveId: number): string => `shard-move:${moveId}:in`,
  /** A shard move aborted before its switch: its source half taken back. */
  shardMoveOutReversal: (moveId: number): string => `shard-move:${moveId}:out:reverse`,
} as const;
