import { assert } from '@paygraph/shared/result';
import { advanceFeeOf, feeBpsMax } from './fees';

const bpsPerUnit = 10_000n;

export interface AdvanceTermsInput {
  maxAdvanceBps: number;
  feeBps: number;
  outstandingMax: bigint;
}

export type TermsRefusal = { kind: 'InvalidInput'; field: string; message: string };

/** Terms in range: both rates 0–10,000 bps (feeBpsMax), the cap ≥ 0. */
export function checkTerms(terms: AdvanceTermsInput): TermsRefusal | null {
  for (const field of ['maxAdvanceBps', 'feeBps'] as const) {
    const bps = terms[field];
    if (!Number.isInteger(bps) || bps < 0 || bps > feeBpsMax)
      return { kind: 'InvalidInput', field, message: `${field} must be between 0 and ${feeBpsMax}` };
  }
  if (terms.outstandingMax < 0n)
    return { kind: 'InvalidInput', field: 'outstandingMax', message: 'outstandingMax must not be negative' };
  return null;
}

/**
 * One stripe as an advance sees it: what it holds pending now, and what advances moved out of it that no settlement has
 * covered.
 */
export interface StripePending {
  stripeAccountId: string;
  pending: bigint;
  outstanding: bigint;
}

export interface Offer {
  allowed: bigint;
  outstanding: bigint;
}

/**
 * What an advance may be now. The merchant's not-yet-settled money is its pending plus what was
 * advanced of it (an advance moved that out of pending, and settlement has not covered it yet);
 * maxAdvanceBps of that, less what stands advanced, is the share still open, rounded down (in
 * the platform's favour: it advances less, never more). outstandingMax less what stands
 * advanced is the cap's room. Never negative.
 */
export function offerOf(terms: AdvanceTermsInput, stripes: readonly StripePending[]): Offer {
  const pending = stripes.reduce((a, s) => a + s.pending, 0n);
  const outstanding = stripes.reduce((a, s) => a + s.outstanding, 0n);
  const share = ((pending + outstanding) * BigInt(terms.maxAdvanceBps)) / bpsPerUnit - outstanding;
  const room = terms.outstandingMax - outstanding;
  const allowed = share < room ? share : room;
  return { allowed: allowed > 0n ? allowed : 0n, outstanding };
}

export interface Piece {
  stripeAccountId: string;
  amount: bigint;
  feeAmount: bigint;
}

/**
 * Splits an advance over the stripes, largest pending first (fewest pieces), no piece beyond its
 * stripe's pending. The fee is advanceFeeOf(amount) (rounded up, as the contract says) shared in proportion
 * to the pieces, rounded down, the units left over given to pieces with room: the pieces' fees
 * sum to the advance's fee exactly and no piece's fee exceeds its amount.
 */
export function planPieces(amount: bigint, feeBps: number, stripes: readonly StripePending[]): Piece[] {
  assert(amount > 0n, `an advance of ${amount}`);
  // One piece per stripe: a second would find the first's piece row and count itself posted (advance-pieces.ts).
  const ids = new Set(stripes.map((s) => s.stripeAccountId));
  assert(ids.size === stripes.length, 'a stripe counted twice in an advance (a shard move copy read as live?)');
  const byPending = [...stripes]
    .filter((s) => s.pending > 0n)
    .sort((a, b) => (a.pending === b.pending ? 0 : a.pending > b.pending ? -1 : 1));
  const pieces: Piece[] = [];
  let left = amount;
  for (const s of byPending) {
    if (left === 0n) break;
    const take = s.pending < left ? s.pending : left;
    pieces.push({ stripeAccountId: s.stripeAccountId, amount: take, feeAmount: 0n });
    left -= take;
  }
  assert(left === 0n, `an advance of ${amount} beyond the stripes' pending`);
  const fee = advanceFeeOf(amount, feeBps);
  for (const p of pieces) p.feeAmount = (p.amount * fee) / amount;
  let rest = fee - pieces.reduce((a, p) => a + p.feeAmount, 0n);
  for (const p of pieces) {
    const add = p.amount - p.feeAmount < rest ? p.amount - p.feeAmount : rest;
    p.feeAmount += add;
    rest -= add;
  }
  assert(rest === 0n, 'an advance fee beyond its amount');
  return pieces;
}

/**
 * What each refund took from the stripe's available, from its postings' entries (`key` names the
 * posting, `keys` which refund posted under it). Only refunds of money not yet settled are asked
 * about; they give back from pending first, so an AVAILABLE debit of theirs on the stripe is money
 * an advance had already moved out of pending: the merchant repaid that much of the advance.
 */
export function repaidByRefunds(
  keys: ReadonlyArray<{ refundId: string; key: string }>,
  entries: ReadonlyArray<{ key: string | null; accountId: string; bucket: string; amount: bigint }>,
  stripeId: string,
): Map<string, bigint> {
  const refundOf = new Map(keys.map((k) => [k.key, k.refundId]));
  const repaid = new Map<string, bigint>();
  for (const e of entries) {
    if (e.accountId !== stripeId || e.bucket !== 'AVAILABLE' || e.amount >= 0n || e.key === null) continue;
    const refundId = refundOf.get(e.key);
    assert(refundId !== undefined, `an entry of posting ${e.key}, which no refund asked about`);
    repaid.set(refundId, (repaid.get(refundId) ?? 0n) - e.amount);
  }
  return repaid;
}

export interface PieceReversal {
  /** Back to the stripe's pending, and off its outstanding. */
  takenBack: bigint;
  /** Of the rest, what settlements since the piece covered as advanced: final, the merchant keeps it and its fee. */
  settled: bigint;
  /** Of the piece's fee, what goes back from fee income to the merchant's available. */
  feeBack: bigint;
}

/** What happened on a piece's stripe since it posted, by the stripe's counters against the piece's record of them. */
export interface SinceThePiece {
  /** What the stripe's settlement parts covered as advanced. */
  coveredSince: bigint;
  /** What moves of pending changed its outstanding by (+ out of the stripe, − what a move in repaid). */
  movedSince: bigint;
}

/**
 * How a piece is taken back when its advance cannot post every piece, given the stripe's `outstanding` (refunds'
 * repayments counted) and what its settlements covered and moves of pending changed since the piece posted.
 *
 * Only `min(piece, outstanding − moved out since)` can go back. A move of pending out of the stripe since (a refund of
 * another stripe's advanced money taking this stripe's pending) raised outstanding by what now stands against that
 * money, not this piece: taking it back put money into pending that the moved advance still covers, and with a
 * settlement's cover of the piece gave back its fee share too. What outstanding lacks of the piece beyond that,
 * something since took off it. A refund that took from available gave that part back (the merchant repaid it), and so
 * did a move of pending in; a settlement that covered it counted it as advanced, paid, and moved that much less: taking
 * it back would leave money in pending that no settlement will move. The part not taken back is counted as settled up
 * to `coveredSince` (in the platform's favour where the stripe's records cannot tell whose money a settlement covered,
 * this piece's or an older one's: a settlement since the piece covered it first) and its fee share stays with the
 * platform; the fee of the rest (taken back, or repaid by refunds) goes back, rounded down, so that the platform never
 * returns a fee for money the merchant keeps as advanced. Before, a shortfall a settlement explained crashed the
 * reversal for good, or, with enough older offsets on the stripe, passed and gave the whole fee back for money the
 * settlement had covered.
 */
export function pieceReversalOf(
  piece: Pick<Piece, 'amount' | 'feeAmount'>,
  outstanding: bigint,
  { coveredSince, movedSince }: SinceThePiece,
): PieceReversal {
  assert(piece.amount > 0n && piece.feeAmount >= 0n && piece.feeAmount <= piece.amount, 'a piece out of range');
  assert(outstanding >= 0n && coveredSince >= 0n, `outstanding ${outstanding}, covered since ${coveredSince}`);
  // Moves in since (negative) repaid: already off outstanding, as a refund's repayment is.
  const movedOut = movedSince > 0n ? movedSince : 0n;
  const ofPiece = outstanding > movedOut ? outstanding - movedOut : 0n;
  const takenBack = piece.amount < ofPiece ? piece.amount : ofPiece;
  const notBack = piece.amount - takenBack;
  const settled = notBack < coveredSince ? notBack : coveredSince;
  const feeBack = (piece.feeAmount * (piece.amount - settled)) / piece.amount;
  return { takenBack, settled, feeBack };
}
