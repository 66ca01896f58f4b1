import type { ShardSet } from '@paygraph/shared/shards/pool';
import { newId, parseId, shardOfAnyId } from '@paygraph/shared/ids';
import { underFence } from '@paygraph/shared/control/index';
import { idempotencyKeyLengthMax } from '@paygraph/shared/limits';
import { accountsAndStripes, onShard, placedHere, stripeShardsOf, type Account } from '@paygraph/shared/ledger/index';
import type { Forbidden } from '@paygraph/shared/authorization';
import { err, ok, type Result } from '@paygraph/shared/result';
import {
  earlierUse,
  keyClaim,
  keyReused,
  withIdempotencyKey,
  type KeyReused,
  type KeySpec,
} from '@paygraph/shared/idempotency/index';
import { pendingInFlight } from '@paygraph/transaction/read-model/settlement';
import type { SettlementContext } from '../context';
import { advanceById, outstandingOf, pendingAdvancesOf, termsOf, upsertTerms } from '../db/advance-store';
import type { AdvanceRow, AdvanceTermsRow } from '../db/schema/settlement';
import { checkTerms, offerOf, planPieces, type AdvanceTermsInput, type StripePending } from '../domain/advances';
import { completeAdvance, recordAdvance } from './advance-pieces';
import { underAdvanceLock } from './advance-lock';
import { mayAskAdvance, mayOperate, mayReadAdvances } from './access';

type InvalidInput = { kind: 'InvalidInput'; field: string; message: string };
type AccountNotFound = { kind: 'AccountNotFound'; accountId: string };
export type AdvanceRefusal =
  | InvalidInput
  | AccountNotFound
  | { kind: 'AdvancesDisabled'; merchantAccountId: string }
  | { kind: 'AdvanceExceedsAllowed'; requested: bigint; allowed: bigint }
  | KeyReused;

const keyPattern = /^[\x21-\x7e]+$/;

/**
 * The merchant's home row when the id names a top-level MERCHANT account, or why not. The caller
 * is asked (`may`) as soon as the owner is known, before anything else of the account is said:
 * another owner's account is FORBIDDEN, never its type, terms or balance.
 */
async function merchantFor(
  ctx: SettlementContext,
  merchantId: string,
  may: (ownerId: string) => Forbidden | null,
): Promise<Result<Account, InvalidInput | AccountNotFound | Forbidden>> {
  if (!parseId('account', merchantId))
    return err({ kind: 'InvalidInput', field: 'merchantAccountId', message: `"${merchantId}" is not an account id` });
  const row = await ctx.accounts.load(merchantId);
  if (!row || row.parentId !== null) return err({ kind: 'AccountNotFound', accountId: merchantId });
  const refused = may(row.ownerId);
  if (refused) return err(refused);
  if (row.type !== 'MERCHANT')
    return err({
      kind: 'InvalidInput',
      field: 'merchantAccountId',
      message: `account ${merchantId} is not a MERCHANT account`,
    });
  return ok(row);
}

/** Mutation.setAdvanceTerms: operators only; the terms are kept on the merchant's home shard, in its currency. */
export async function setAdvanceTermsFor(
  ctx: SettlementContext,
  input: { merchantAccountId: string; maxAdvanceBps: number; feeBps: number; outstandingMax: string },
): Promise<Result<AdvanceTermsRow, InvalidInput | AccountNotFound | Forbidden>> {
  const refused = mayOperate(ctx.identity, 'set advance terms');
  if (refused) return err(refused);
  const terms: AdvanceTermsInput = {
    maxAdvanceBps: input.maxAdvanceBps,
    feeBps: input.feeBps,
    outstandingMax: BigInt(input.outstandingMax),
  };
  const bad = checkTerms(terms);
  if (bad) return err(bad);
  const merchant = await merchantFor(ctx, input.merchantAccountId, () => null);
  if (!merchant.ok) return merchant;
  const row = {
    merchantAccountId: merchant.value.id,
    currency: merchant.value.currency,
    ...terms,
    updatedBy: ctx.identity.sub,
    updatedAt: ctx.now(),
  };
  // Under the merchant's logical shard's fence (terms move with it): written on a source after a move's copy read them,
  // an operator's terms would be lost at the target. Fenced: FencedWrite (retryable), nothing written.
  const home = ctx.shards.of('account', merchant.value.id);
  await underFence(home, [shardOfAnyId(merchant.value.id)], (tx) => upsertTerms(tx, row));
  return ok(row);
}

/** A merchant's terms for its owner and operators (Account.advanceTerms); null without terms. */
export async function readableAdvanceTerms(
  ctx: SettlementContext,
  merchantId: string,
): Promise<Result<AdvanceTermsRow | null, Forbidden>> {
  const merchant = await merchantFor(ctx, merchantId, (owner) => mayReadAdvances(ctx.identity, merchantId, owner));
  if (!merchant.ok) return merchant.error.kind === 'Forbidden' ? err(merchant.error) : ok(null);
  return ok((await termsOf(ctx.shards.of('account', merchantId).db, merchantId)) ?? null);
}

export interface OfferView {
  merchantAccountId: string;
  allowedAmount: bigint;
  feeBps: number;
  outstanding: bigint;
}

/** Query.advanceOffer: what an advance may be now; writes nothing. */
export async function advanceOfferFor(
  ctx: SettlementContext,
  merchantId: string,
): Promise<Result<OfferView | null, Forbidden>> {
  const merchant = await merchantFor(ctx, merchantId, (owner) => mayReadAdvances(ctx.identity, merchantId, owner));
  if (!merchant.ok) return merchant.error.kind === 'Forbidden' ? err(merchant.error) : ok(null);
  const terms = await termsOf(ctx.shards.of('account', merchantId).db, merchantId);
  const stripes = await stripePendings(ctx.shards, merchant.value);
  const offer = terms
    ? offerOf(terms, stripes)
    : { allowed: 0n, outstanding: stripes.reduce((a, s) => a + s.outstanding, 0n) };
  return ok({
    merchantAccountId: merchantId,
    allowedAmount: offer.allowed,
    feeBps: terms?.feeBps ?? 0,
    outstanding: offer.outstanding,
  });
}

/**
 * Every stripe's pending and outstanding advance, now. Outstanding is read before pending: a
 * settlement committing between the two reads lowers both, so the offer computed from an older
 * outstanding and a newer pending can only be smaller than the true one, never larger. Each
 * stripe once, from the database the map places it on (placedHere): a shard move's copy of a
 * stripe (left on its source until the move's clean, for good with --keep-source) counted beside
 * the live one doubled its pending in the offer, and planned a second piece on the one stripe,
 * which found the first's piece row and counted itself posted: an advance answered PAID for more
 * than moved.
 */
export async function stripePendings(
  shards: ShardSet,
  merchant: Pick<Account, 'id' | 'stripeShards'>,
): Promise<StripePending[]> {
  const home = shards.of('account', merchant.id);
  const targets = [home, ...stripeShardsOf(shards, merchant).filter((s) => s !== home)];
  const perShard = await Promise.all(
    targets.map((shard) =>
      onShard(shard, async () => {
        const outstanding = await outstandingOf(shard.db, merchant.id);
        const inFlight = await pendingInFlight(shard.db, merchant.id);
        const rows = await accountsAndStripes(shard.db, shard === home ? [merchant.id] : [], [merchant.id]);
        return rows
          .filter((a) => placedHere(shards, shard, a.id))
          .map((a) => ({
            stripeAccountId: a.id,
            pending: clampedPending(a.pending, inFlight.get(a.id) ?? 0n),
            outstanding: outstanding.get(a.id) ?? 0n,
          }));
      }),
    ),
  );
  return perShard.flat();
}

/** A stripe's pending less what payments still in flight put there (pendingInFlight), never below zero. */
function clampedPending(pending: bigint, inFlight: bigint): bigint {
  return pending > inFlight ? pending - inFlight : 0n;
}

export interface AdvanceView extends AdvanceRow {
  netAmount: bigint;
}

function viewOf(row: AdvanceRow): AdvanceView {
  return { ...row, netAmount: row.amount - row.feeAmount };
}

/**
 * Mutation.advanceSettlement: the merchant's owner or an operator; all or nothing across its stripes. The order of
 * checks: the input's own shape, then who may ask (another owner is FORBIDDEN before any key of the merchant is looked
 * up, so a key never tells another owner of an advance), then the key (its replay answers the advance it paid,
 * whatever changed since: terms, status; other content is IdempotencyKeyReused), then the merchant's status and terms
 * for a new advance.
 */
export async function advanceSettlementFor(
  ctx: SettlementContext,
  input: { idempotencyKey: string; merchantAccountId: string; amount: string },
): Promise<Result<AdvanceView, AdvanceRefusal | Forbidden>> {
  const key = input.idempotencyKey;
  if (key.length === 0 || key.length > idempotencyKeyLengthMax || !keyPattern.test(key)) {
    return err({
      kind: 'InvalidInput',
      field: 'idempotencyKey',
      message: `idempotencyKey must be 1-${idempotencyKeyLengthMax} printable ASCII characters without spaces`,
    });
  }
  const amount = BigInt(input.amount);
  if (amount <= 0n) return err({ kind: 'InvalidInput', field: 'amount', message: 'amount must be positive' });
  const merchant = await merchantFor(ctx, input.merchantAccountId, (owner) =>
    mayAskAdvance(ctx.identity, input.merchantAccountId, owner),
  );
  if (!merchant.ok) return merchant;
  const spec: KeySpec = {
    anchor: { kind: 'account', id: merchant.value.id },
    key,
    operation: 'advanceSettlement',
    content: { merchantAccountId: merchant.value.id, amount },
    newResourceId: () => newId('advance', parseId('account', merchant.value.id)!.shard),
  };
  const replayed = await replayOf(ctx, merchant.value, spec, amount);
  if (replayed) return replayed;
  if (merchant.value.status !== 'ACTIVE')
    return err({
      kind: 'InvalidInput',
      field: 'merchantAccountId',
      message: `account ${merchant.value.id} is ${merchant.value.status}`,
    });
  const home = ctx.shards.of('account', merchant.value.id);
  const terms = await termsOf(home.db, merchant.value.id);
  if (!terms || terms.maxAdvanceBps === 0)
    return err({ kind: 'AdvancesDisabled', merchantAccountId: merchant.value.id });
  // The merchant's advance lock (advance-lock.ts): held until this advance is PAID or REVERSED.
  return underAdvanceLock(ctx.shards, merchant.value.id, async (_tx, locked) => {
    if (!locked || locked.maxAdvanceBps === 0)
      return err({ kind: 'AdvancesDisabled', merchantAccountId: merchant.value.id });
    return advanceLocked(ctx, merchant.value, locked, spec, amount);
  });
}

/**
 * The answer to a key used before, or null for a key not used yet (or claimed by a request that wrote no advance:
 * nothing was paid, so the request is decided afresh). A replay answers its advance as it stands, whatever changed
 * since; one a crash left PENDING is finished first, under the merchant's lock like a request (its pieces then meet
 * the merchant as it is now: a frozen one takes them back).
 */
async function replayOf(
  ctx: SettlementContext,
  merchant: Account,
  spec: KeySpec,
  amount: bigint,
): Promise<Result<AdvanceView, AdvanceRefusal> | null> {
  const earlier = await earlierUse(ctx.shards, keyClaim(ctx, spec));
  if (earlier.kind === 'reused') return err(keyReused(spec));
  if (earlier.kind !== 'replay') return null;
  const home = ctx.shards.of('account', merchant.id);
  const existing = await advanceById(home.db, earlier.resourceId);
  if (!existing) return null;
  if (existing.status !== 'PENDING') return answerOf(ctx, existing, amount, merchant);
  return underAdvanceLock(ctx.shards, merchant.id, async () => {
    const now = (await advanceById(home.db, existing.id))!;
    return answerOf(ctx, await completeAdvance(ctx.shards, now, ctx.now), amount, merchant);
  });
}

/** Under the merchant's lock: finish what a crash left, replay a key, or check the offer and pay. */
async function advanceLocked(
  ctx: SettlementContext,
  merchant: Account,
  terms: AdvanceTermsRow,
  spec: KeySpec,
  amount: bigint,
): Promise<Result<AdvanceView, AdvanceRefusal>> {
  const home = ctx.shards.of('account', merchant.id);
  // An advance a crash left halfway (any key) is finished first: its pieces count in the offer below.
  for (const left of await pendingAdvancesOf(home.db, merchant.id)) await completeAdvance(ctx.shards, left, ctx.now);
  // A key used before is answered before the offer: its replay by its advance, and other content
  // as IdempotencyKeyReused, even when the offer it spent would refuse the amount now.
  const earlier = await earlierUse(ctx.shards, keyClaim(ctx, spec));
  if (earlier.kind === 'reused') return err(keyReused(spec));
  const existing = earlier.kind === 'replay' ? await advanceById(home.db, earlier.resourceId) : undefined;
  if (existing) return answerOf(ctx, await completeAdvance(ctx.shards, existing, ctx.now), amount, merchant);
  const stripes = await stripePendings(ctx.shards, merchant);
  const offer = offerOf(terms, stripes);
  if (amount > offer.allowed) return err({ kind: 'AdvanceExceedsAllowed', requested: amount, allowed: offer.allowed });
  return withIdempotencyKey(ctx, spec, async (claimed) => {
    const found = await advanceById(home.db, claimed.resourceId);
    if (found) return answerOf(ctx, await completeAdvance(ctx.shards, found, ctx.now), amount, merchant);
    const pieces = planPieces(amount, terms.feeBps, stripes);
    const row: AdvanceRow = {
      id: claimed.resourceId,
      merchantAccountId: merchant.id,
      currency: merchant.currency,
      amount,
      feeAmount: pieces.reduce((a, p) => a + p.feeAmount, 0n),
      status: 'PENDING',
      createdAt: ctx.now(),
      completedAt: null,
      plan: JSON.stringify(
        pieces.map((p) => ({
          stripeAccountId: p.stripeAccountId,
          amount: String(p.amount),
          feeAmount: String(p.feeAmount),
        })),
      ),
    };
    // Committed before any piece posts, so that a crash between pieces leaves a PENDING advance the next request
    // finishes; under the merchant's logical shard's fence (refused: FencedWrite, retryable, nothing paid).
    await recordAdvance(ctx.shards, row);
    return answerOf(ctx, await completeAdvance(ctx.shards, row, ctx.now), amount, merchant);
  });
}

/**
 * Finishes (or takes back whole) every advance of the merchant left PENDING, under the
 * merchant's lock like a request, so that it never runs beside a live advance of the merchant:
 * a request that holds the lock finishes its own advance, and this finds it PAID. Answers how
 * many it finished. The advance worker's unit of work; until this, only the merchant's next
 * advance request finished them.
 */
export async function finishAdvancesLeft(shards: ShardSet, merchantId: string, now: () => Date): Promise<number> {
  const home = shards.of('account', merchantId);
  return underAdvanceLock(shards, merchantId, async () => {
    const left = await pendingAdvancesOf(home.db, merchantId);
    for (const row of left) await completeAdvance(shards, row, now);
    return left.length;
  });
}

/**
 * A PAID advance is the answer; a REVERSED one (a piece could not post: the pending went meanwhile) exceeded what was
 * there.
 */
async function answerOf(
  ctx: SettlementContext,
  row: AdvanceRow,
  requested: bigint,
  merchant: Account,
): Promise<Result<AdvanceView, AdvanceRefusal>> {
  if (row.status === 'PAID') return ok(viewOf(row));
  const terms = await termsOf(ctx.shards.of('account', merchant.id).db, merchant.id);
  const allowed = terms ? offerOf(terms, await stripePendings(ctx.shards, merchant)).allowed : 0n;
  return err({ kind: 'AdvanceExceedsAllowed', requested, allowed });
}
