import { assert } from '@paygraph/shared/result';
import type { Shard } from '@paygraph/shared/shards/pool';
import type { PaymentLegRow, PaymentRow } from '../db/schema/transactions';
import type { PaymentFxRow } from '../db/schema/fx';
import { legsOfPayments } from '../db/payment-legs';
import { refundsByIds } from '../db/payments';
import { buyReturnedOfPayments } from '../db/fx';
import { isPaying, type LegRole } from '../domain/payment-legs';
import { decideRefund, refundShares, type StripeGiveBack } from '../domain/refund-rules';
import {
  needsOf,
  planRefundCover,
  type CoverMove,
  type CoverPlan,
  type CoverTarget,
  type MerchantRow,
} from '../domain/refund-cover';
import { outstandingByStripe, whileNoAdvanceMoves } from '@paygraph/settlement/write-model/advances';
import { readAccountsWithStripes } from '@paygraph/shared/ledger/index';
import type { Account } from '@paygraph/shared/ledger/index';
import { readAccounts } from './accounts';
import { completeSweep, debitForSweep } from './sweep';
import { hitFailpoint } from './failpoints';
import type { ServiceContext } from './context';

/**
 * A refund gives back from the row a merchant was paid on (the stripe of the payer's shard), in
 * that shard's transaction: pending first for an unsettled payment, then available, then, on the
 * home row, its credit line. When that row lacks its shares (an advance moved its pending out,
 * its available was withdrawn), what it lacks is first moved to it from the merchant's other rows
 * (domain/refund-cover.ts: pending on any stripe first, then available on any row, then the home
 * row's line; issue 45), each a sweep (services/sweep.ts) keyed by (refund, debited row, bucket):
 *
 * - a move of pending takes the advance that stood against the row's money with it (settlement's
 *   write-model: the debited stripe's outstanding up, the credited one's down, each in its
 *   posting's transaction), under the merchant's advance lock, planned again on what it finds
 *   there, so no advance, settlement or other move of the merchant runs between its plan and its
 *   last move;
 * - only a refund that is allowed (`decideRefund`) and not made yet moves anything (a replay of a
 *   refund that exists moves nothing: its shares are counted already). A request that died between
 *   a move and its refund has no refund yet: its retry meets its own moves (DUPLICATE) and moves
 *   nothing more;
 * - a merchant whose rows cannot cover its shares (pending, available and line together) moves
 *   nothing: the refund is then refused as it would have been, nothing written, and the refusal
 *   speaks of the merchant's pending, available and line, never of a stripe (refund.ts);
 * - the payee's rows come first, then each split recipient's (from its own rows); the first that
 *   cannot cover stops the rest: the refund will be refused;
 * - the moves and the refund are separate transactions. If the row's money went elsewhere in
 *   between (a concurrent refund or withdrawal), the refund is refused and what moved stays on the
 *   row: the merchant's own money on its own row (its balance, its credit in use, netted over its
 *   rows, its pending and outstanding advance summed over its stripes, and every shard's books are
 *   unchanged by it). A retry with the same key finds its moves made; a new key moves anew.
 */
export async function topUpStripesForRefund(
  ctx: ServiceContext,
  shard: Shard,
  payment: PaymentRow,
  amount: bigint,
  refundId: string,
  fx: PaymentFxRow | null,
): Promise<void> {
  if (!decideRefund(payment, amount).ok) return;
  const byMerchant = await stripeGiveBacks(shard, payment, fx, payment.refundedAmount + amount);
  if (byMerchant.size === 0) return;
  const rows = await readAccounts(
    ctx.shards,
    [...byMerchant.values()].flatMap((ts) => ts.map((t) => t.rowId)),
  );
  let checkedNew = false;
  for (const [homeId, targets] of payeeFirst(byMerchant, payment.payeeAccountId)) {
    // The common refund, from a row that holds its shares, reads nothing more.
    if (targets.every((t) => holdsItsShares(t, rows.get(t.rowId)))) continue;
    if (!checkedNew && (await refundsByIds(shard.db, [refundId])).length > 0) return;
    checkedNew = true;
    if (!(await coverMerchant(ctx, homeId, targets, refundId))) return;
  }
}

/** Whether the row's own pending holds its unsettled shares and its own available its settled ones. */
function holdsItsShares(target: CoverTarget, row: Account | undefined): boolean {
  assert(row, `refund: ${target.rowId} does not exist`);
  const { fromPending, fromAvailable } = needsOf(target.giveBacks);
  return fromPending <= row.pending && fromAvailable <= row.available;
}

/** Plans and makes the merchant's moves: false when its rows cannot cover its shares, or a move was refused. */
async function coverMerchant(
  ctx: ServiceContext,
  homeId: string,
  targets: readonly CoverTarget[],
  refundId: string,
): Promise<boolean> {
  const first = await planFor(ctx, homeId, targets);
  if (!first.plan.covered) return false;
  if (!first.plan.moves.some((m) => m.bucket === 'PENDING'))
    return makeMoves(ctx, homeId, first.currency, first.plan.moves, refundId);
  return whileNoAdvanceMoves(ctx.shards, homeId, async () => {
    const locked = await planFor(ctx, homeId, targets);
    return locked.plan.covered && makeMoves(ctx, homeId, locked.currency, locked.plan.moves, refundId);
  });
}

/** The merchant's rows as they are now (its home row and every stripe its directory names), and the plan on them. */
async function planFor(
  ctx: ServiceContext,
  homeId: string,
  targets: readonly CoverTarget[],
): Promise<{ plan: CoverPlan; currency: string }> {
  const found = await readAccountsWithStripes(ctx.shards, [homeId]);
  const home = found.find((a) => a.id === homeId);
  assert(home, `refund: the merchant ${homeId} has no home row`);
  const advanced = await outstandingByStripe(ctx.shards, home);
  const rows: MerchantRow[] = found
    .filter((a) => a.id === homeId || a.parentId === homeId)
    .map((a) => ({
      id: a.id,
      order: ctx.shards.of('account', a.id).index,
      home: a.id === homeId,
      pending: a.pending,
      available: a.available,
      creditLimit: a.creditLimit ?? 0n,
      advanced: advanced.get(a.id) ?? 0n,
    }));
  return { plan: planRefundCover(targets, rows), currency: home.currency };
}

/** Each move, debit then credit, in order; false (the rest not tried) when a debit was refused. */
async function makeMoves(
  ctx: ServiceContext,
  homeId: string,
  currency: string,
  moves: readonly CoverMove[],
  refundId: string,
): Promise<boolean> {
  for (const m of moves) {
    const from = ctx.shards.of('account', m.fromId);
    const move = { fromId: m.fromId, toId: m.toId, currency, amount: m.amount, merchantId: homeId };
    const sweep = await debitForSweep(ctx.shards, from, move, refundId, ctx.now, m.bucket);
    if (!sweep) return false;
    hitFailpoint('top-up-after-debit');
    await completeSweep(ctx.shards, from, sweep, ctx.now);
  }
  return true;
}

/**
 * The refund's shares (domain/refund-rules.ts refundShares, read before the payment's lock: the
 * reservation decides them again under it) of the receiving legs posted to a merchant's row (its
 * home row or a stripe), by merchant and row. A personal account has no other rows to take from.
 */
async function stripeGiveBacks(
  shard: Shard,
  payment: PaymentRow,
  fx: PaymentFxRow | null,
  refundedAfter: bigint,
): Promise<Map<string, CoverTarget[]>> {
  const found = new Map<string, Array<{ rowId: string; giveBacks: StripeGiveBack[] }>>();
  const add = (rowId: string, homeId: string, part: StripeGiveBack) => {
    if (part.amount <= 0n) return;
    const targets = found.get(homeId) ?? [];
    const target = targets.find((t) => t.rowId === rowId);
    if (target) target.giveBacks.push(part);
    else targets.push({ rowId, giveBacks: [part] });
    found.set(homeId, targets);
  };
  if (payment.route === 'LEGS') {
    const legs = await legsOfPayments(shard.db, [payment.id]);
    const shares = refundShares(legs.map(weighed), payment.amount, refundedAfter);
    legs.forEach((leg, i) => {
      if (isPaying(leg.role as LegRole) || leg.bucket !== 'PENDING') return;
      add(leg.postedAccountId, leg.accountId, { amount: shares[i]!, fromPending: leg.settlementId === null });
    });
  } else if (payment.route === 'MERCHANT_STRIPE') {
    const payee = fx
      ? {
          role: 'PAYEE' as const,
          amount: fx.buyAmount,
          currency: fx.buyCurrency,
          refunded: (await buyReturnedOfPayments(shard.db, [payment.id])).get(payment.id) ?? 0n,
        }
      : {
          role: 'PAYEE' as const,
          amount: payment.amount,
          currency: payment.currency,
          refunded: payment.refundedAmount,
        };
    const payer = {
      role: 'PAYER' as const,
      amount: payment.amount,
      currency: payment.currency,
      refunded: payment.refundedAmount,
    };
    const [, share] = refundShares([payer, payee], payment.amount, refundedAfter);
    add(payment.creditAccountId, payment.payeeAccountId, {
      amount: share!,
      fromPending: payment.settlementId === null,
    });
  }
  return found;
}

/** The payee's rows first (its own request), then the splits', each in the order found. */
function payeeFirst<T>(byMerchant: ReadonlyMap<string, T>, payeeId: string): Array<[string, T]> {
  const all = [...byMerchant];
  return [...all.filter(([homeId]) => homeId === payeeId), ...all.filter(([homeId]) => homeId !== payeeId)];
}

function weighed(leg: PaymentLegRow) {
  return { role: leg.role as LegRole, amount: leg.amount, currency: leg.currency, refunded: leg.refundedAmount };
}
