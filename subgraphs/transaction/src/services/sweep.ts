import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import { newId, shardOf } from '@paygraph/shared/ids';
import {
  postOne,
  type PostingOutcome,
  systemAccountId,
  readStripes,
  type Account,
} from '@paygraph/shared/ledger/index';
import { assert, unreachable } from '@paygraph/shared/result';
import type { SweepRow } from '../db/schema/transactions';
import { deferOutbox, takeOutboxHere } from '../db/outbox';
import { deferSweep, finishSweep, sweepOf, sweepsByIds } from '../db/sweeps';
import { pendingMoveCreditSpec, sweepCreditSpec, sweepDebitSpec } from '../domain/legs';
import { pendingMovedIn, pendingMovedOut } from '@paygraph/settlement/write-model/advances';
import { readAccounts } from './accounts';
import { planSweeps, type StripeBalance } from '../domain/sweep-plan';
import { hitFailpoint } from './failpoints';
import { outboxInlineGraceMs } from '../limits';

/**
 * Payouts across stripes. A merchant is paid on the stripe of each payer's shard and settles
 * there, so its available money is spread over its stripes; a withdrawal pays out from the
 * home row only. When the home row is short, the withdrawal first sweeps what it lacks from
 * the other stripes to the home row, each sweep a cross-shard movement like a payment's:
 *
 *   stripe's shard: BEGIN; stripe.available −x, clearing +x; sweep PROCESSING; outbox row; COMMIT
 *   home shard:     BEGIN; clearing −x, home.available +x (dedupe "<sweep>:credit"); COMMIT
 *   stripe's shard: BEGIN; outbox row DONE (under its lock), sweep SUCCEEDED; COMMIT
 *
 * The credit is tried inline; a process that dies after the debit leaves the outbox row to
 * the relay, which completes it exactly once (the credit's dedupe key, the row's lock). A
 * sweep is keyed by (withdrawal, stripe): its debit's dedupe key is "<withdrawal>:sweep:<stripe>",
 * so a replayed withdrawal finds its sweeps instead of making new ones. Only a withdrawal
 * sweeps to the home row: money left on a stripe stays there for the refunds of its payments. A
 * refund sweeps the other way, from the home row to a stripe that lacks its share
 * (refund-top-up.ts, debitForSweep).
 */
export interface MerchantStripe extends StripeBalance {
  shard: Shard;
}

/**
 * The merchant's stripes other than its home row, with their available balances (unlocked),
 * read only from the shards its stripe directory names (ledger/stripes.ts). A shard that
 * cannot be reached throws ShardUnavailable: the withdrawal then answers SHARD_UNAVAILABLE
 * before any money has moved, rather than paying out part of what was asked.
 */
export async function otherStripes(shards: ShardSet, merchant: Account): Promise<MerchantStripe[]> {
  const found = await readStripes(shards, [merchant]);
  return found
    .filter(({ account }) => account.parentId === merchant.id)
    .map(({ shard, account }) => ({ id: account.id, shard, available: account.available }));
}

/**
 * Brings `needed` more to the merchant's home row from its other stripes, for withdrawal
 * `withdrawalId`, and answers how much arrived. The stripes are all read first, so a stripe on
 * an unreachable shard throws ShardUnavailable before anything is moved.
 */
export async function sweepForWithdrawal(
  shards: ShardSet,
  merchant: Account,
  withdrawalId: string,
  needed: bigint,
  now: () => Date,
): Promise<bigint> {
  const stripes = await otherStripes(shards, merchant);
  let arrived = 0n;
  for (const part of planSweeps(
    stripes.map((s) => ({ id: s.id, available: s.available })),
    needed,
  )) {
    const stripe = stripes.find((s) => s.id === part.stripeId)!;
    const move = { fromId: part.stripeId, toId: merchant.id, currency: merchant.currency, amount: part.amount };
    const sweep = await debitForSweep(shards, stripe.shard, move, withdrawalId, now);
    if (!sweep) continue;
    hitFailpoint('sweep-after-debit');
    await completeSweep(shards, stripe.shard, sweep, now);
    arrived += sweep.amount;
  }
  return arrived;
}

/** A sweep's movement between two rows of one merchant: debited from `fromId`, credited to `toId`. */
export interface SweepMove {
  fromId: string;
  toId: string;
  currency: string;
  amount: bigint;
  /** The merchant both rows are of (the credited row when absent: a withdrawal's sweep goes to the home row). */
  merchantId?: string;
}

/**
 * The first half, on the debited row's shard: null when that row no longer holds the amount (or
 * may not pay). The sweep row keeps the debited row as stripe_account_id and the credited one as
 * merchant_account_id: a withdrawal's sweep goes from a stripe to the home row, a refund's top-up
 * (refund-top-up.ts) from another row of the merchant to the stripe it gives back from. Keyed by
 * (`keyId`, debited row, bucket). A move of pending (bucket PENDING) also moves the advance that
 * stands against that money, in the same transaction (settlement's write-model pendingMovedOut).
 */
export async function debitForSweep(
  shards: ShardSet,
  shard: Shard,
  move: SweepMove,
  keyId: string,
  now: () => Date,
  bucket: SweepRow['bucket'] = 'AVAILABLE',
): Promise<SweepRow | null> {
  const logical = shardOf('account', move.fromId);
  const id = newId('sweep', logical);
  const clearing = await systemAccountId(shards, shard, 'CLEARING', move.currency);
  const at = now();
  const spec = sweepDebitSpec(
    { id, currency: move.currency, amount: move.amount },
    newId('posting', logical),
    keyId,
    move.fromId,
    clearing,
    bucket,
  );
  return postOne<SweepRow | null>(
    shard,
    {
      kind: 'spec',
      spec,
      finish: async (tx, outcome: PostingOutcome, _accounts, deferred) => {
        switch (outcome.status) {
          case 'APPLIED': {
            const row: SweepRow = {
              id,
              withdrawalId: keyId,
              merchantAccountId: move.toId,
              stripeAccountId: move.fromId,
              amount: move.amount,
              currency: move.currency,
              status: 'PROCESSING',
              bucket,
              createdAt: at,
              completedAt: null,
            };
            if (bucket === 'PENDING')
              await pendingMovedOut(tx, {
                moveId: id,
                merchantId: move.merchantId ?? move.toId,
                stripeId: move.fromId,
                amount: move.amount,
              });
            deferSweep(deferred, row);
            deferOutbox(deferred, id, 'SWEEP_CREDIT', at, new Date(at.getTime() + outboxInlineGraceMs));
            return row;
          }
          case 'DUPLICATE': {
            const existing = await sweepOf(tx, keyId, move.fromId, bucket);
            assert(existing, `sweep posting of ${keyId} on ${move.fromId} has no sweep`);
            return existing;
          }
          case 'REJECTED':
            // A refund took the money between the read and the lock (or the row may not pay): nothing moves.
            return null;
          default:
            return unreachable(outcome);
        }
      },
      at,
    },
    { now: () => at },
  );
}

/**
 * The credited row's half, then the completion on the debited row's shard under the outbox row's
 * lock. Safe to run any number of times, from the withdrawal or refund and from any relay replica.
 */
export async function completeSweep(shards: ShardSet, shard: Shard, sweep: SweepRow, now: () => Date): Promise<void> {
  const home = shards.of('account', sweep.merchantAccountId);
  const homeClearing = await systemAccountId(shards, home, 'CLEARING', sweep.currency);
  const homeLogical = shardOf('account', sweep.merchantAccountId);
  const movement = { id: sweep.id, currency: sweep.currency, amount: sweep.amount };
  const postingId = newId('posting', homeLogical);
  if (sweep.bucket === 'PENDING') await creditPendingMove(shards, home, sweep, postingId, homeClearing, now);
  else {
    const credit = sweepCreditSpec(movement, postingId, homeClearing, sweep.merchantAccountId);
    const outcome = await postOne<PostingOutcome>(
      home,
      { kind: 'spec', spec: credit, finish: async (_tx, o) => o },
      { now },
    );
    // A completion posting is never refused (closed or frozen home rows take it): the money must not stay in clearing.
    assert(outcome.status !== 'REJECTED', `credit of sweep ${sweep.id} was refused`);
  }
  await postOne<void>(
    shard,
    {
      kind: 'prepare',
      prepare: async (tx) => {
        if (await takeOutboxHere(tx, shard.name, sweep.id)) await finishSweep(tx, sweep.id, now());
        return { proceed: false, result: undefined };
      },
      finish: async () => undefined,
    },
    { now },
  );
}

/**
 * A move of pending's credit, with the stripe's outstanding advance locked in its prepare (settlement's write-model
 * pendingMovedIn): what the advance still covers there lands in pending, any rest (a refund took from available in
 * between) in available. A move that landed already answers DUPLICATE without a second look at the counter.
 */
async function creditPendingMove(
  shards: ShardSet,
  shard: Shard,
  sweep: SweepRow,
  postingId: string,
  clearingId: string,
  now: () => Date,
): Promise<void> {
  const stripe = (await readAccounts(shards, [sweep.merchantAccountId])).get(sweep.merchantAccountId);
  assert(stripe, `sweep ${sweep.id} moves pending to ${sweep.merchantAccountId}, which does not exist`);
  const movement = { id: sweep.id, currency: sweep.currency, amount: sweep.amount };
  await postOne<void>(
    shard,
    {
      kind: 'prepare',
      prepare: async (tx) => {
        const toPending = await pendingMovedIn(tx, shard.name, {
          moveId: sweep.id,
          merchantId: stripe.parentId ?? stripe.id,
          stripeId: stripe.id,
          amount: sweep.amount,
        });
        if (toPending === null) return { proceed: false, result: undefined };
        return { proceed: true, spec: pendingMoveCreditSpec(movement, postingId, clearingId, stripe.id, toPending) };
      },
      finish: async (_tx, outcome) => {
        // A completion is never refused (the money must not stay in clearing); thrown, the counter's change rolls
        // back with it and the relay tries again.
        assert(outcome.status !== 'REJECTED', `credit of sweep ${sweep.id} was refused`);
      },
    },
    { now },
  );
}

/** The relay's entry: the sweep behind an outbox row of this shard. */
export async function completeSweepById(shards: ShardSet, shard: Shard, id: string, now: () => Date): Promise<void> {
  const [sweep] = await sweepsByIds(shard.db, [id]);
  assert(sweep, `outbox row ${id} has no sweep`);
  await completeSweep(shards, shard, sweep, now);
}
