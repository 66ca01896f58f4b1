import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import { newId, shardOf } from '@paygraph/shared/ids';
import {
  postOne,
  type PostingOutcome,
  type PostingSpec,
  systemAccountId,
  dedupeKeys,
} from '@paygraph/shared/ledger/index';
import type { PostingTx } from '@paygraph/shared/shards/posting-transaction';
import type { PaymentLegRow } from '../db/schema/transactions';
import { countCampaignUse } from '../db/campaigns';
import { homeLegsSpec, remoteLegSpec, reversalOf, type LegEffect } from '../domain/legs';
import { isPaying, type LegRole } from '../domain/payment-legs';
import { CompletionWaits } from './completion-waits';

/**
 * The postings of a movement of many legs (a LEGS payment or its refund), split by shard: the
 * home posting holds every leg on the payment's shard, and each leg elsewhere is a posting of
 * its own on its shard, against that shard's clearing. Σ clearing over the shards of one
 * movement is what its legs have moved so far and not yet delivered: zero once every leg posted.
 */
export interface LegPostings {
  home: Shard;
  homeSpec: PostingSpec | null;
  /** Legs on other shards, paying side first, each with its posting. */
  remote: Array<{ leg: PaymentLegRow; shard: Shard; spec: PostingSpec }>;
  /** The campaign leg and its shard, when a campaign pays part of the payment. */
  campaign: { leg: PaymentLegRow; local: boolean } | null;
}

/**
 * A posting's id on the logical shard of the record it belongs with: the account a remote posting moves, the movement
 * (payment, refund) a home posting belongs to. A posting is found again by its dedupe key where it was written, and
 * a shard move (docs/SCALING.md) carries a logical shard's postings by their ids: placed so, a posting goes with the
 * account it credited, and a completion that runs again after the move finds it there instead of posting twice.
 */
export function postingIdBeside(kind: 'account' | 'payment' | 'refund', id: string): string {
  return newId('posting', shardOf(kind, id));
}

/** A receiving leg posts to a merchant's stripe (pending) or a personal account (available). */
export function legEffect(leg: PaymentLegRow, signed: bigint): LegEffect {
  if (leg.bucket === 'AVAILABLE')
    return { index: leg.legIndex, accountId: leg.postedAccountId, bucket: 'AVAILABLE', amount: signed };
  // A settled leg's money moved from the stripe's pending to its available (settlement).
  return leg.settlementId === null
    ? { index: leg.legIndex, accountId: leg.postedAccountId, bucket: 'PENDING', fallback: 'AVAILABLE', amount: signed }
    : { index: leg.legIndex, accountId: leg.postedAccountId, bucket: 'AVAILABLE', amount: signed };
}

/**
 * Plans the postings of a movement over `legs`, each moving `change(leg)` (positive: the leg's
 * own direction — a paying leg pays, a receiving leg receives; a refund passes the negation).
 */
export async function legPostings(
  shards: ShardSet,
  home: Shard,
  kind: 'PAYMENT' | 'REFUND',
  movement: { id: string; currency: string },
  legs: readonly PaymentLegRow[],
  change: (leg: PaymentLegRow) => bigint,
): Promise<LegPostings> {
  const effects = legs.map((leg) => ({
    leg,
    shard: shards.of('account', leg.postedAccountId),
    effect: legEffect(leg, isPaying(leg.role as LegRole) ? -change(leg) : change(leg)),
  }));
  const local = effects.filter((e) => e.shard === home);
  const homeClearing = await systemAccountId(shards, home, 'CLEARING', movement.currency);
  const homeSpec = homeLegsSpec(
    kind,
    movement,
    postingIdBeside(kind === 'PAYMENT' ? 'payment' : 'refund', movement.id),
    local.map((e) => e.effect),
    homeClearing,
  );
  const remoteKind = kind === 'PAYMENT' ? 'PAYMENT_LEG' : 'REFUND_LEG';
  const remote = await Promise.all(
    effects
      .filter((e) => e.shard !== home && e.effect.amount !== 0n)
      .map(async (e) => ({
        leg: e.leg,
        shard: e.shard,
        spec: remoteLegSpec(
          remoteKind,
          movement,
          postingIdBeside('account', e.leg.postedAccountId),
          e.effect,
          await systemAccountId(shards, e.shard, 'CLEARING', movement.currency),
        ),
      })),
  );
  // Paying legs first: nothing is delivered before everything is paid.
  remote.sort(
    (a, b) =>
      Number(isPaying(b.leg.role as LegRole)) - Number(isPaying(a.leg.role as LegRole)) ||
      a.leg.legIndex - b.leg.legIndex,
  );
  const campaignLeg = legs.find((l) => l.role === 'CAMPAIGN');
  return {
    home,
    homeSpec,
    remote,
    campaign: campaignLeg
      ? { leg: campaignLeg, local: shards.of('account', campaignLeg.postedAccountId) === home }
      : null,
  };
}

/** Posts one of a movement's postings; `finish` runs in its transaction (and may throw to roll it back). */
export async function postLeg(
  shard: Shard,
  spec: PostingSpec,
  now: () => Date,
  finish?: (tx: PostingTx, outcome: PostingOutcome) => Promise<void>,
): Promise<PostingOutcome> {
  return postOne<PostingOutcome>(
    shard,
    {
      kind: 'spec',
      spec,
      finish: async (tx, outcome) => {
        if (finish) await finish(tx, outcome);
        return outcome;
      },
    },
    { now },
  );
}

/**
 * The campaign's counters move with the funding account's debit (+1) and its reversal (-1), in the same transaction.
 */
export function campaignCounter(campaignId: string | null, discount: bigint, uses: 1 | -1) {
  return async (tx: PostingTx, outcome: PostingOutcome) => {
    if (campaignId !== null && outcome.status === 'APPLIED') await countCampaignUse(tx, campaignId, discount, uses);
  };
}

export function legReversal(movementId: string, leg: PaymentLegRow, spec: PostingSpec, kind: string): PostingSpec {
  const id = postingIdBeside('account', leg.postedAccountId);
  return reversalOf(spec, kind, dedupeKeys.legReversal(movementId, leg.legIndex), id);
}

export function homeReversal(paymentId: string, spec: PostingSpec): PostingSpec {
  return reversalOf(
    spec,
    'PAYMENT_REVERSAL',
    dedupeKeys.paymentReversal(paymentId),
    postingIdBeside('payment', paymentId),
  );
}

/**
 * A reversal may be refused only because the leg's account no longer holds what it received
 * (it spent it in the moment between the credit and the reversal) or by BALANCE_LIMIT: the
 * money is owed back, so the movement waits and the relay tries again. Thrown from finish, so
 * the refusal is not kept under the reversal's dedupe key.
 */
export function reversedOrWait(movementId: string, then?: (tx: PostingTx, outcome: PostingOutcome) => Promise<void>) {
  return async (tx: PostingTx, outcome: PostingOutcome) => {
    if (outcome.status === 'REJECTED') throw new CompletionWaits(movementId, outcome.rejection.accountId);
    if (then) await then(tx, outcome);
  };
}
