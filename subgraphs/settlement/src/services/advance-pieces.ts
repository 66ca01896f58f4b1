import type { ShardSet } from '@paygraph/shared/shards/pool';
import type { DrizzleTx, Tx } from '@paygraph/shared/shards/transaction';
import { newId, shardOf, shardOfAnyId } from '@paygraph/shared/ids';
import { refuseFenced, underFence } from '@paygraph/shared/control/index';
import {
  lockAccount,
  postOne,
  dedupeKeys,
  systemAccountId,
  type Leg,
  type PostingSpec,
  type PrepareDecision,
} from '@paygraph/shared/ledger/index';
import { assert } from '@paygraph/shared/result';
import {
  addOutstanding,
  finishAdvance,
  insertAdvance,
  insertPiece,
  insertRefundOffsets,
  lockOutstandingRow,
  type OutstandingCounters,
  lockPiece,
  markPieceReversed,
  outstandingRecordsOf,
} from '../db/advance-store';
import type { AdvanceRow } from '../db/schema/settlement';
import { pieceReversalOf, type Piece } from '../domain/advances';
import { repayAdvanceByRefunds } from './advance-refunds';
import { hitFailpoint } from './failpoints';

/** Thrown from a piece's finish when the ledger refused it, so that the piece row and the counter roll back with it. */
class PieceRefused extends Error {
  constructor(readonly code: string) {
    super(`advance piece refused: ${code}`);
    this.name = 'PieceRefused';
  }
}

export function piecesOfPlan(row: Pick<AdvanceRow, 'plan'>): Piece[] {
  const raw = JSON.parse(row.plan) as Array<{ stripeAccountId: string; amount: string; feeAmount: string }>;
  return raw.map((p) => ({
    stripeAccountId: p.stripeAccountId,
    amount: BigInt(p.amount),
    feeAmount: BigInt(p.feeAmount),
  }));
}

/**
 * An advance's row (in advances, on the merchant's home shard) moves with its id's logical shard, the merchant's
 * (scripts/lib/move-tables.ts): each write of it reads that logical shard's fence row in share mode first in its own
 * transaction (underFence). Not open there (a shard move the process's map has not followed): FencedWrite
 * (SHARD_UNAVAILABLE, retryable) and nothing written, where a row written after the mover's copy read the table would
 * be lost at the target.
 */
function underAdvanceFence(shards: ShardSet, row: AdvanceRow, write: (tx: DrizzleTx) => Promise<void>): Promise<void> {
  return underFence(shards.of('account', row.merchantAccountId), [shardOfAnyId(row.id)], write);
}

/**
 * A new advance's row, PENDING with its plan, committed before any piece posts (so that a crash between pieces leaves
 * an advance the next request or the advance worker finishes), under its fence (underAdvanceFence). Refused, the
 * advance is nothing: no row, no piece; the key's claim stays and names no advance, so the retry with the key decides
 * it afresh under the same id.
 */
export async function recordAdvance(shards: ShardSet, row: AdvanceRow): Promise<void> {
  await underAdvanceFence(shards, row, (tx) => insertAdvance(tx, row));
}

/**
 * Posts every piece of a PENDING advance (each under its dedupe key, so a piece posted before a
 * crash is found, not posted again) and marks it PAID; when any piece is refused (the stripe's
 * pending went meanwhile, the merchant was frozen), takes back every piece that posted and marks
 * it REVERSED: all or nothing across the stripes. A PAID or REVERSED advance is answered as is.
 * The mark is written under the advance's fence (underAdvanceFence). Refused there, the pieces have moved money and
 * the advance stays PENDING: FencedWrite (SHARD_UNAVAILABLE, retryable), the same state a crash before the mark leaves.
 * Every piece and its reversal is posted once, under its piece row (on its stripe's shard, with its posting) and its
 * dedupe key, so the next completion (the client's retry with the key, the merchant's next advance or the advance
 * worker, where the map then places the merchant) finds them, posts nothing again and writes the mark.
 */
export async function completeAdvance(shards: ShardSet, row: AdvanceRow, now: () => Date): Promise<AdvanceRow> {
  if (row.status !== 'PENDING') return row;
  const pieces = piecesOfPlan(row);
  let refused = false;
  for (const [i, piece] of pieces.entries()) {
    if (!(await postPiece(shards, row, piece, now))) {
      refused = true;
      break;
    }
    if (i < pieces.length - 1) hitFailpoint('advance-after-piece');
  }
  if (refused) for (const piece of pieces) await reversePiece(shards, row, piece, now);
  const status = refused ? 'REVERSED' : 'PAID';
  const done = now();
  await underAdvanceFence(shards, row, (tx) => finishAdvance(tx, row.id, status, done));
  return { ...row, status, completedAt: done };
}

/**
 * One piece, in its stripe's local transaction with its record and the stripe's outstanding advance; false when refused
 * (exported for the crash test).
 */
export async function postPiece(
  shards: ShardSet,
  advance: AdvanceRow,
  piece: Piece,
  now: () => Date,
): Promise<boolean> {
  const shard = shards.of('account', piece.stripeAccountId);
  const feeIncomeId = await systemAccountId(shards, shard, 'FEE_INCOME', advance.currency);
  try {
    return await postOne<boolean>(
      shard,
      {
        kind: 'prepare',
        prepare: async (tx) => {
          const existing = await lockPiece(tx, advance.id, piece.stripeAccountId);
          if (existing) return { proceed: false, result: !existing.reversed };
          // Named by its stripe, as the piece is placed: a shard move carries both with the stripe.
          const postingId = newId('posting', shardOf('account', piece.stripeAccountId));
          // What the stripe's settlements covered and moves of pending changed so far, under its lock: a reversal tells
          // what each did since.
          const { covered, moved } = await lockOutstandingRow(tx, piece.stripeAccountId);
          await insertPiece(tx, {
            advanceId: advance.id,
            stripeAccountId: piece.stripeAccountId,
            amount: piece.amount,
            feeAmount: piece.feeAmount,
            postingId,
            coveredBefore: covered,
            movedBefore: moved,
            createdAt: now(),
          });
          await addOutstanding(tx, piece.stripeAccountId, advance.merchantAccountId, piece.amount);
          const legs = pieceLegs(piece.stripeAccountId, feeIncomeId, piece.amount, piece.feeAmount);
          return { proceed: true, spec: pieceSpec(advance, piece, postingId, legs, 1n) };
        },
        finish: async (_tx, outcome) => {
          if (outcome.status === 'REJECTED') throw new PieceRefused(outcome.rejection.code);
          assert(
            outcome.status === 'APPLIED',
            `advance piece ${advance.id} on ${piece.stripeAccountId} was ${outcome.status}`,
          );
          return true;
        },
      },
      { now },
    );
  } catch (error) {
    if (error instanceof PieceRefused) return false;
    throw error;
  }
}

/**
 * Takes a posted piece back, lowering the stripe's outstanding advance with it; a piece never posted, or taken back
 * already, is left alone. The reversal is a completion, like settlement's: it undoes money already moved.
 */
async function reversePiece(shards: ShardSet, advance: AdvanceRow, piece: Piece, now: () => Date): Promise<void> {
  const shard = shards.of('account', piece.stripeAccountId);
  const feeIncomeId = await systemAccountId(shards, shard, 'FEE_INCOME', advance.currency);
  await postOne<void>(
    shard,
    {
      kind: 'prepare',
      prepare: (tx) => prepareReversal(tx, shard.name, advance, piece, feeIncomeId),
      finish: async (_tx, outcome) => {
        assert(
          outcome.status === 'APPLIED',
          `advance reversal ${advance.id} on ${piece.stripeAccountId} was ${outcome.status}`,
        );
      },
    },
    { now },
  );
}

/**
 * A reversal's records and posting, with the piece, the stripe's outstanding and the stripe's row locked. Refunds of
 * the stripe's money since the piece may have given part of it back from available (a refund takes from available what
 * pending lacks, which the piece moved out): first they are counted (services/advance-refunds.ts, as a settlement part
 * and a move of pending in count them), so `outstanding` is what the advance still covers of the stripe's unsettled
 * money. Only `takenBack = min(piece, outstanding)` goes back to pending, and `takenBack − feeBack` out of available
 * (domain/advances.ts pieceReversalOf): the rest of the piece the merchant gave back already, through a refund, or a
 * settlement since the piece covered it as advanced (the stripe's covered counter against the piece's coveredBefore),
 * which is final, its fee share kept. Putting back the whole piece left pending above the money settlement will ever
 * move (the excess in pending for good), and took from available what the refund had taken already (refused when
 * available had nothing else). The part not taken back is recorded, negative, under the advance's id in
 * advance_refund_offsets, so outstanding = Σ pieces not taken back − Σ covered − Σ offsets still holds.
 */
async function prepareReversal(
  tx: Tx,
  shardName: string,
  advance: AdvanceRow,
  piece: Piece,
  feeIncomeId: string,
): Promise<PrepareDecision<void>> {
  const stripeId = piece.stripeAccountId;
  const existing = await lockPiece(tx, advance.id, stripeId);
  if (!existing || existing.reversed) return { proceed: false, result: undefined };
  const locked = await lockOutstandingRow(tx, stripeId);
  // The stripe's row before the refunds are read, in a posting's order (its fence row, then the row): a refund posts
  // on it, so one not committed by this read waits until the reversal has posted. With the refunds read before the
  // ledger's own lock, a refund committing between the two took from available what the piece had moved out, was not
  // counted here and the whole piece came back to pending; the next settlement found nothing outstanding to count it
  // against, and that much of the merchant's money stayed in pending for good.
  await refuseFenced(tx, shardName, [shardOf('account', stripeId)]);
  await lockAccount(tx, stripeId);
  const outstanding = await repayAdvanceByRefunds(tx, advance.merchantAccountId, stripeId, locked.outstanding);
  const { takenBack, feeBack } = pieceReversalOf(piece, outstanding, {
    coveredSince: locked.covered - existing.coveredBefore,
    movedSince: locked.moved - existing.movedBefore,
  });
  if (takenBack < piece.amount) await checkShortfall(tx, advance, piece, { ...locked, outstanding });
  await markPieceReversed(tx, advance.id, stripeId);
  if (takenBack > 0n) await addOutstanding(tx, stripeId, advance.merchantAccountId, -takenBack);
  if (takenBack < piece.amount)
    await insertRefundOffsets(tx, [
      { refundId: advance.id, stripeAccountId: stripeId, amount: takenBack - piece.amount },
    ]);
  const legs = pieceLegs(stripeId, feeIncomeId, -takenBack, -feeBack);
  // Nothing to move (refunds repaid, or settlements covered, the whole piece and no fee goes back): the records alone.
  if (legs.length === 0) return { proceed: false, result: undefined };
  const postingId = newId('posting', shardOf('account', stripeId));
  return { proceed: true, spec: pieceSpec(advance, piece, postingId, legs, -1n) };
}

/**
 * A piece not taken back whole, refunds counted: taken back as far as it goes (pieceReversalOf), but only while the
 * stripe's counters agree with their records (verify's sums): outstanding = Σ pieces not taken back − Σ covered −
 * Σ offsets, covered = Σ its settlement parts' advancedAmount and moved = −Σ its moves' offsets. A counter changed
 * outside them is corruption, not a shortfall to take back less of: a crash, the advance PENDING for an operator. Read
 * only here, on a shortfall (a crash, then a refund, a settlement or a move of pending before the reversal), so the
 * reversal's common path reads nothing more. Before, it also stopped when settlements had covered more than the
 * stripe's other pieces not taken back, judged on the stripe's whole history: a shortfall explained by the refunds
 * and settlements since the piece crashed for good (older moves of pending out of the stripe wrote negative offsets),
 * and older refunds' offsets let a settlement's cover of this piece pass with the whole fee given back.
 */
async function checkShortfall(tx: Tx, advance: AdvanceRow, piece: Piece, counters: OutstandingCounters): Promise<void> {
  const stripeId = piece.stripeAccountId;
  const { pieces, covered, offsets, moved } = await outstandingRecordsOf(tx, stripeId);
  assert(
    counters.outstanding === pieces - covered - offsets,
    `advance ${advance.id}: stripe ${stripeId}'s outstanding ${counters.outstanding} is not its records' ` +
      `${pieces} − ${covered} − ${offsets}`,
  );
  assert(
    counters.covered === covered,
    `advance ${advance.id}: stripe ${stripeId}'s covered ${counters.covered} is not its settlement parts' ${covered}`,
  );
  assert(
    counters.moved === moved,
    `advance ${advance.id}: stripe ${stripeId}'s moved ${counters.moved} is not its moves' offsets' ${moved}`,
  );
}

/**
 * What leaves the stripe's pending (`moved`; negative: comes back) to its available less `fee`, the fee to the shard's
 * fee income (negative: back from it). Zero legs are left out; every leg is zero when both are.
 */
function pieceLegs(stripeId: string, feeIncomeId: string, moved: bigint, fee: bigint): Leg[] {
  const legs: Leg[] = [];
  if (moved !== 0n) legs.push({ accountId: stripeId, bucket: 'PENDING', amount: -moved });
  if (moved !== fee) legs.push({ accountId: stripeId, bucket: 'AVAILABLE', amount: moved - fee });
  if (fee !== 0n) legs.push({ accountId: feeIncomeId, bucket: 'AVAILABLE', amount: fee });
  return legs;
}

/**
 * A piece (sign 1): the stripe's pending → its available less the fee share, the fee → the shard's fee income
 * (pieceLegs). Its reversal (sign −1) moves the legs it is given back, under its own key.
 */
function pieceSpec(advance: AdvanceRow, piece: Piece, postingId: string, legs: Leg[], sign: 1n | -1n): PostingSpec {
  const dedupeKey =
    sign === 1n
      ? dedupeKeys.advancePiece(advance.id, piece.stripeAccountId)
      : dedupeKeys.advancePieceReversal(advance.id, piece.stripeAccountId);
  return {
    id: postingId,
    kind: sign === 1n ? 'ADVANCE' : 'ADVANCE_REVERSAL',
    refId: advance.id,
    dedupeKey,
    currency: advance.currency,
    legs,
    completion: sign === -1n,
  };
}
