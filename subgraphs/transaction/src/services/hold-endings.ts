import { newId, shardOf } from '@paygraph/shared/ids';
import {
  inGroup,
  type GroupedPrepare,
  type PrepareDecision,
  type PrepareGroup,
  type PostingSpec,
} from '@paygraph/shared/ledger/index';
import type { PostingTx } from '@paygraph/shared/shards/posting-transaction';
import { fenceRead, refuseUnlessOpen } from '@paygraph/shared/control/index';
import { assert, err, ok, type Result } from '@paygraph/shared/result';
import {
  claimOf,
  claimInTransaction,
  keyReused,
  type Claim,
  type ClaimInTransaction,
  type KeySpec,
  claimStatement,
  claimedIn,
} from '@paygraph/shared/idempotency/index';
import { endHold, lockHolds, type HoldEnding } from '../db/holds';
import { paymentsByIds } from '../db/payments';
import type { HoldRow, PaymentRow } from '../db/schema/transactions';
import type { CaptureHoldError } from '../domain/errors';
import { decideCapture } from '../domain/hold-rules';
import { twoLegDebitSpec, type DebitCredit, type PaymentPlan } from '../domain/payment-plan';
import type { ServiceContext } from './context';

/**
 * The endings of holds (a capture, a void, an expiry) as one check of a merged batch: each
 * decided under its hold's lock, with its key claimed there (services/hold.ts voids and
 * expires; a capture is a payment, posted by the one payment route, services/post-payment.ts).
 */

/** A capture's or a void's key: anchored on the hold, its content the hold and the request's fields. */
export function endingKey(
  hold: HoldRow,
  key: string,
  operation: string,
  content: KeySpec['content'],
  newResourceId: () => string,
): KeySpec {
  return {
    anchor: { kind: 'hold', id: hold.id },
    key,
    operation,
    content: { hold: hold.id, ...content },
    newResourceId,
  };
}

/**
 * The claim of a capture's or a void's key, made in the posting transaction as the hold is
 * locked (EndingInput.claim). Capture and void keys live with the hold, on the payer's shard.
 */
export function claimOfEnding(ctx: ServiceContext, spec: KeySpec, now: Date): EndingClaim {
  return claimInTransaction(ctx, spec, now);
}

/** A capture as the payment route hands it to the hold's ending: the hold, the key's claim, the amount asked. */
export interface CaptureEnding {
  hold: HoldRow;
  claim: EndingClaim;
  /** The amount the request names; null: the whole hold. */
  amount: bigint | null;
  /** The request's start: its payment's and posting's time. */
  at: Date;
  /**
   * Read under the hold's lock, for the decision and the ending's time: a capture begun before the deadline that gets
   * the lock after it would otherwise capture a hold readers already saw EXPIRED.
   */
  clock: () => Date;
}

/** The capture's claim and key, made before its posting: its payment lives with its hold, on its logical shard. */
export function captureEndingOf(
  ctx: ServiceContext,
  hold: HoldRow,
  idempotencyKey: string,
  amount: bigint | null,
  at: Date,
): CaptureEnding {
  const logical = shardOf('hold', hold.id);
  const spec = endingKey(hold, idempotencyKey, 'CAPTURE_HOLD', { amount }, () => newId('payment', logical));
  return { hold, claim: claimOfEnding(ctx, spec, at), amount, at, clock: ctx.now };
}

/** What a capture's ending leaves its posting's finish: the payment its key names, the hold as it left it. */
export interface CaptureTicket {
  paymentId: string;
  hold: HoldRow | null;
}

/** A capture's answer without a posting: its payment (a replay's), or its refusal. */
export type CaptureAnswer = Result<{ payment: PaymentRow; hold: HoldRow | null }, CaptureHoldError>;

/**
 * A capture as its part in the batch's hold endings: under the hold's lock its key's claim names
 * the payment, decideCapture says whether the hold may end, and the posting is the plan's home
 * legs (domain/payment-plan.ts twoLegDebitSpec, the PAYER leg from frozen) keyed by that
 * payment; or the answer without a posting. `ticket` keeps what the posting's finish answers.
 */
export function captureEnding<R>(
  capture: CaptureEnding,
  home: { plan: PaymentPlan; credit: DebitCredit; postingId: string },
  ticket: CaptureTicket,
): GroupedPrepare<R | CaptureAnswer> {
  const { hold, claim, amount, clock } = capture;
  const spec = (paymentId: string): PostingSpec =>
    twoLegDebitSpec(home.plan, paymentId, home.postingId, home.credit, null);
  return endingOf<R | CaptureAnswer>({
    holdId: hold.id,
    claim,
    decide: async (tx, locked, claimed, endedHere) => {
      ticket.hold = null;
      const resource = claimedResource(claimed);
      if (resource === null) return { result: err(keyReused(claim.spec)) };
      ticket.paymentId = resource;
      const at = clock();
      const decided = decideCapture(locked, resource, amount, at);
      if (!decided.ok) return { result: decided };
      const { decision } = decided.value;
      if (decision.kind === 'refused') return { result: err(decision.error) };
      if (decision.kind === 'replayed') {
        // A copy of a capture made earlier in this batch: its payment is not written yet, so
        // the copy posts the same payment again and the ledger answers DUPLICATE after it is.
        if (endedHere) {
          ticket.hold = locked;
          return { ending: null, spec: spec(resource) };
        }
        return { result: ok({ payment: (await paymentsByIds(tx, [resource]))[0]!, hold: locked }) };
      }
      const ending = {
        status: 'CAPTURED' as const,
        endedBy: resource,
        capturedAmount: decided.value.amount,
        endedAt: at,
      };
      // The hold as this capture left it (or found it, on a replay): what the answer's `hold` shows.
      ticket.hold = { ...locked, ...ending };
      return { ending, spec: spec(resource) };
    },
  });
}

/** The resource a claim names (the one this request creates, or its replay's), or null for a reused key. */
export function claimedResource(claimed: Claim | null): string | null {
  return claimed && claimed.kind !== 'reused' ? claimed.resourceId : null;
}

/** A capture's or a void's key claim: its spec, the request, and the row it inserts. */
export type EndingClaim = ClaimInTransaction;

/**
 * One ending of a hold (a capture, a void or an expiry) as its part in the batch's check of
 * hold endings: `decide` sees the hold under its lock, as the batch's earlier endings left it
 * (`endedHere`: ended by one of them), with what its key's claim found, and answers the ending
 * to write (none for a copy of an ending made earlier in the batch) with the posting that moves
 * its money, or the request's answer.
 */
interface EndingInput<R> {
  holdId: string;
  claim: EndingClaim | null;
  decide: (tx: PostingTx, locked: HoldRow, claimed: Claim | null, endedHere: boolean) => Promise<EndingStep<R>>;
}

type EndingStep<R> = { ending: HoldEnding | null; spec: PostingSpec } | { result: R };

/**
 * The endings of a merged batch, taken together, in the round trip that begins the posting
 * transaction (lockAndClaim). Then each is decided in turn against the row as the endings before
 * it left it (two captures of one hold in a batch: the second finds it CAPTURED), and each
 * ending's UPDATE is held for the batch's next round trip. Before, every ending claimed its key in
 * a statement (and a commit) of its own, then locked and updated its hold in two round trips, one
 * after the other, with the batch's transaction open: 9 round trips on the payer's shard for a
 * capture, now 5 (test/int/hold-endings.test.ts). The claim commits with the ending, so a key is
 * never held for an ending that was rolled back.
 */
const holdEndings: PrepareGroup<EndingInput<unknown>, unknown> = {
  name: 'hold endings',
  run: async (tx, inputs) => {
    const { locked, claimed } = await lockAndClaim(tx, inputs);
    const endedHere = new Set<string>();
    const decisions: Array<PrepareDecision<unknown>> = [];
    for (const input of inputs) {
      const hold = locked.get(input.holdId);
      assert(hold, `hold ${input.holdId} vanished while an ending of it was posted`);
      const step = await input.decide(tx, hold, input.claim ? claimed.get(input.claim)! : null, endedHere.has(hold.id));
      if ('result' in step) {
        decisions.push({ proceed: false, result: step.result });
        continue;
      }
      if (step.ending) {
        await endHold(tx, hold.id, step.ending);
        locked.set(hold.id, { ...hold, ...step.ending });
        endedHere.add(hold.id);
      }
      decisions.push({ proceed: true, spec: step.spec });
    }
    return decisions;
  },
};

/**
 * The batch's holds locked by one statement, their keys claimed by one more (a key lives with its
 * hold, so only endings of the same hold contend for it, and they wait on its lock first), and the
 * fence rows of the holds' logical shards read in share mode by a third, all in one round trip.
 * The fence read is the ending's own, not left to its posting's: a capture or a void refused
 * under the lock with a fresh key (the hold ended already) posts nothing, and its key row, which
 * moves with the hold's logical shard, committed with no fence read where no other ending of its
 * batch posted on that logical shard; a process whose map missed a shard move's fence wrote it
 * after the mover's last catch-up. A logical shard not open refuses the batch with FencedWrite
 * (SHARD_UNAVAILABLE, retryable; the batch's endings then go one by one, and only the fenced
 * hold's are refused), nothing written. Holds, then keys, then fence rows: the order a key's claim
 * of its own takes the last two in (shared's idempotency/store/keys.ts).
 */
async function lockAndClaim(
  tx: PostingTx,
  inputs: ReadonlyArray<EndingInput<unknown>>,
): Promise<{ locked: Map<string, HoldRow>; claimed: Map<EndingClaim, Claim> }> {
  const claims = inputs.flatMap((i) => (i.claim ? [i.claim] : []));
  const ids = [...new Set(inputs.map((i) => i.holdId))];
  const rows = claims.map((c) => c.row);
  const { holds, answers } = await lockHolds(tx, ids, [
    ...(claims.length > 0 ? [claimStatement(rows)] : []),
    fenceRead([...new Set(ids.map((id) => shardOf('hold', id)))]),
  ]);
  refuseUnlessOpen(tx.shardName, answers.at(-1)!);
  const held = claims.length > 0 ? await claimedIn(tx, rows, answers[0]) : [];
  return {
    locked: new Map(holds.map((h) => [h.id, h])),
    claimed: new Map(claims.map((c, k) => [c, claimOf(held[k]!, c.request, c.row.resourceId)])),
  };
}

export function endingOf<R>(input: EndingInput<R>): GroupedPrepare<R> {
  return inGroup(holdEndings as PrepareGroup<EndingInput<R>, R>, input);
}
