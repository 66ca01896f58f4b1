import type { Forbidden } from '@paygraph/shared/authorization';
import { newId, shardOf } from '@paygraph/shared/ids';
import { postOne, shareAccountStatuses, type Account, type PostingOutcome } from '@paygraph/shared/ledger/index';
import type { PostingTx } from '@paygraph/shared/shards/posting-transaction';
import { LockTimeout, retrying, type Tx } from '@paygraph/shared/shards/transaction';
import { err, ok, unreachable, type Result } from '@paygraph/shared/result';
import type { Shard } from '@paygraph/shared/shards/pool';
import {
  addRefundedAmount,
  deleteRefund,
  finishRefund,
  insertRefund,
  lockPayment,
  paymentsByIds,
  refundInFlightOf,
  refundsByIds,
  setRefundedAmount,
} from '../db/payments';
import { insertOutbox } from '../db/outbox';
import type { PaymentRow, RefundRow } from '../db/schema/transactions';
import { localRefundSpec } from '../domain/legs';
import { decideRefund, decideRefundCredit, refundShares, type CreditedAccount } from '../domain/refund-rules';
import { fromRejection, refundPaymentErrorKinds, refusalOf, type RefundPaymentError } from '../domain/errors';
import { parseRefundPayment, type ParsedRefund, type RefundPaymentInput } from '../domain/inputs';
import { businessDateOf } from '@paygraph/shared/business-date';
import { readAccounts } from './accounts';
import { withIdempotencyKey } from '@paygraph/shared/idempotency/index';
import { refuseFenced } from '@paygraph/shared/control/index';
import { CompletionWaits, runOutboxStep } from './relay';
import { outboxInlineGraceMs } from '../limits';
import { hitFailpoint } from './failpoints';
import { buyReturnedOf, deleteRefundFx, insertRefundFx, paymentFxByIds, refundFxById } from '../db/fx';
import type { PaymentFxRow } from '../db/schema/fx';
import { fxLocalRefundSpec } from '../domain/fx-legs';
import { payerFxPositionsOn } from './fx-positions';
import { addLegRefunded, insertRefundLegs, legsOfPayments, lockLegsOfPayment } from '../db/payment-legs';
import { isPaying, type LegRole } from '../domain/payment-legs';
import type { ServiceContext } from './context';
import { mayRefund } from './access';
import { topUpStripesForRefund } from './refund-top-up';
import { readAccountsWithStripes } from '@paygraph/shared/ledger/index';
import { CreditedHold, creditedPlaces } from './credited-hold';

/**
 * A refund reverses (part of) a payment's legs. It serialises on the payment row: the cap
 * check and the increase of refunded_amount happen under that lock, so concurrent refunds
 * never add up to more than the payment. Payments that never left the payer's shard
 * (same-shard, merchant stripe) refund in one local transaction; a cross-shard payment's
 * refund reserves its amount here, debits the payee on the other shard, then credits the
 * payer — or, when the payee cannot pay it back, fails and releases the reservation.
 */
export async function refundPayment(
  ctx: ServiceContext,
  input: RefundPaymentInput,
): Promise<Result<RefundRow, RefundPaymentError | Forbidden>> {
  const parsed = parseRefundPayment(input, ctx.amountMax);
  if (!parsed.ok) return parsed;
  const request = parsed.value;
  const shard = ctx.shards.of('payment', request.paymentId);
  // A payment this process answered SUCCEEDED and is still ending is refunded once ended (endings-in-flight.ts).
  await ctx.endings?.settled([request.paymentId]);
  const [payment] = await paymentsByIds(shard.db, [request.paymentId]);
  if (!payment) return err({ kind: 'PaymentNotFound', paymentId: request.paymentId });
  const parties = await refundParties(ctx, shard, payment);
  const notYours = mayRefund(ctx.identity, parties.payee, parties.splits);
  if (notYours) return err(notYours);
  // Anchored on the payment refunded: the refund's record and the key live on its shard.
  const spec = {
    anchor: { kind: 'payment' as const, id: payment.id },
    key: request.idempotencyKey,
    operation: 'REFUND',
    content: { payment: request.paymentId, amount: request.amount, reason: request.reason },
    newResourceId: () => newId('refund', shardOf('payment', payment.id)),
  };
  return withIdempotencyKey(ctx, spec, ({ resourceId }) =>
    refundOnce(ctx, shard, payment, request, resourceId, parties.credited),
  );
}

/**
 * The accounts a refund concerns, as read now (not locked), in one read of the legs (a payment of legs) and one of the
 * accounts: the payee and every split, whose owners may refund it (access.ts mayRefund: the refund takes money back
 * from them), and the accounts it credits, whose status decides whether it may (decideRefundCredit): the payer, and
 * for a payment of legs every paying leg's account (a campaign's funder too). A credited account missing here (a shard
 * move in between) is left to the postings to decide.
 */
async function refundParties(
  ctx: ServiceContext,
  shard: Shard,
  payment: PaymentRow,
): Promise<{ payee: Account | undefined; splits: Array<Account | undefined>; credited: CreditedAccount[] }> {
  const legs = payment.route === 'LEGS' ? await legsOfPayments(shard.db, [payment.id]) : [];
  const splitIds = legs.filter((l) => l.role === 'SPLIT').map((l) => l.accountId);
  const creditedIds =
    payment.route === 'LEGS'
      ? legs.filter((l) => isPaying(l.role as LegRole)).map((l) => l.accountId)
      : [payment.payerAccountId];
  const read = await readAccounts(ctx.shards, [payment.payeeAccountId, ...splitIds, ...creditedIds]);
  return {
    payee: read.get(payment.payeeAccountId),
    splits: splitIds.map((id) => read.get(id)),
    credited: creditedIds.flatMap((id) => {
      const account = read.get(id);
      return account ? [{ id, status: account.status }] : [];
    }),
  };
}

/** The refund the key names: one local posting, or reserved here and driven from the outbox. */
async function refundOnce(
  ctx: ServiceContext,
  shard: Shard,
  payment: PaymentRow,
  request: ParsedRefund,
  id: string,
  credited: readonly CreditedAccount[],
): Promise<Result<RefundRow, RefundPaymentError>> {
  const [fx] = await paymentFxByIds(shard.db, [payment.id]);
  // As read, unlocked: answered under the payment's lock after the refund's own checks (a replay of a refund made
  // answers it, whatever the payer's status since). Across databases the reservation decides again on every credited
  // row under its lock, a funder's on its own database (creditedUnderLock); within one, the posting does (the payer's
  // credit there is no completion).
  const credit = decideRefundCredit(credited);
  // A stripe on another shard than the merchant's home row first gets what it lacks from that row (its line included);
  // not for a refund its payer cannot take, refused before anything is reserved.
  if (credit.ok) await topUpStripesForRefund(ctx, shard, payment, request.amount, id, fx ?? null);
  // A payment made within one database whose payee a shard move has since taken to another (docs/SCALING.md) is
  // refunded as a cross-database one: its local posting would name an account that database no longer holds.
  const splitByMove = payment.route === 'SAME_SHARD' && ctx.shards.of('account', payment.creditAccountId) !== shard;
  if (payment.route !== 'CROSS_SHARD' && payment.route !== 'LEGS' && !splitByMove) {
    const local = await refundLocally(ctx, shard, payment, request, id, fx ?? null, credit);
    return local.ok ? local : err(await asMerchants(ctx, payment, local.error));
  }
  // Its shares reserved with the amount, the refund runs from the outbox (refund-completion.ts).
  const reserved = await reserveRemoteRefund(ctx, shard, payment, request, id, fx ?? null, credited);
  if (!reserved.ok || reserved.value.status !== 'PROCESSING') return reserved;
  hitFailpoint('refund-after-reserve');
  try {
    await runOutboxStep(ctx.shards, shard, id, ctx.now);
  } catch (error) {
    // The reservation has committed, so the refund exists: answer it PROCESSING (the relay
    // finishes it) rather than an error that tells the client nothing was written.
    if (error instanceof CompletionWaits) ctx.log.warn(error.message);
    else ctx.log.error({ err: error }, `refund ${id}: inline step failed, the relay will finish it`);
  }
  const [final] = await refundsByIds(shard.db, [id]);
  return ok(final!);
}

/**
 * A refusal of a refund from a merchant's stripe, as the merchant's: the ledger refused one row (a stripe of the
 * payee, an internal id), and its available was the stripe's pending. The payee's own id, and for want of money its
 * pending, available and credit line over all its rows: what the refund could not be given back from.
 */
async function asMerchants(
  ctx: ServiceContext,
  payment: PaymentRow,
  refusal: RefundPaymentError,
): Promise<RefundPaymentError> {
  // The payer's own refusal (decideRefundCredit, or its credit refused by the ledger) names the payer, not a stripe.
  if (payment.route !== 'MERCHANT_STRIPE' || ('accountId' in refusal && refusal.accountId === payment.payerAccountId))
    return refusal;
  if (refusal.kind === 'AccountNotActive' || refusal.kind === 'BalanceLimit')
    return { ...refusal, accountId: payment.payeeAccountId };
  if (refusal.kind !== 'InsufficientFunds') return refusal;
  const payee = payment.payeeAccountId;
  const rows = (await readAccountsWithStripes(ctx.shards, [payee])).filter(
    (a) => a.id === payee || a.parentId === payee,
  );
  return {
    kind: 'InsufficientFunds',
    accountId: payee,
    available: rows.reduce((sum, a) => sum + a.available, 0n),
    merchant: {
      pending: rows.reduce((sum, a) => sum + a.pending, 0n),
      creditLimit: rows.find((a) => a.id === payee)?.creditLimit ?? 0n,
    },
  };
}

function refundRow(
  ctx: ServiceContext,
  id: string,
  payment: PaymentRow,
  request: ParsedRefund,
  status: RefundRow['status'],
  now: Date,
): RefundRow {
  return {
    id,
    paymentId: payment.id,
    amount: request.amount,
    currency: payment.currency,
    status,
    failureCode: null,
    reason: request.reason,
    createdBy: ctx.identity.sub,
    payeeAccountId: payment.payeeAccountId,
    businessDate: businessDateOf(now),
    settlementId: null,
    createdAt: now,
    completedAt: status === 'SUCCEEDED' ? now : null,
  };
}

/**
 * A refund on the payment's own shard, one posting. Its row is written in prepare, as
 * PROCESSING, together with the reservation of its amount: in a merged batch every prepare
 * runs before any finish, and a later refund of the same payment (or a copy of this very
 * request) must see both. A copy finding the PROCESSING row defers to it through the
 * posting's dedupe key; finish completes the row, or removes it if the posting was refused.
 * The payer's status is decided under its row's lock by the posting itself (its credit is no completion: a payer
 * CLOSED or FROZEN since the unlocked read refuses it, ACCOUNT_NOT_ACTIVE, and the row is removed), and a close
 * that locked the row first has committed by then; one after it finds the payer's balance raised.
 */
async function refundLocally(
  ctx: ServiceContext,
  shard: Shard,
  payment: PaymentRow,
  request: ParsedRefund,
  id: string,
  fx: PaymentFxRow | null,
  credit: Result<void, RefundPaymentError>,
) {
  const movement = { id, currency: payment.currency, amount: request.amount };
  const postingId = newId('posting', shardOf('refund', id));
  const now = ctx.now();
  const positions = fx ? await payerFxPositionsOn(ctx.shards, shard, fx, payment.payerAccountId) : null;
  // An FX payment's refund: r back to the payer in its currency, the payee's share of buyAmount in its own.
  const specOf = (fromPending: boolean, share: bigint) =>
    fx && positions
      ? fxLocalRefundSpec(
          id,
          postingId,
          payment.creditAccountId,
          fromPending,
          payment.payerAccountId,
          { sellAmount: request.amount, sellCurrency: payment.currency, buyAmount: share, buyCurrency: fx.buyCurrency },
          positions,
        )
      : localRefundSpec(movement, postingId, payment.creditAccountId, fromPending, payment.payerAccountId);
  let reserved = false;
  return postOne<Result<RefundRow, RefundPaymentError>>(
    shard,
    {
      kind: 'prepare',
      prepare: async (tx) => {
        reserved = false;
        // Under the payment's lock, so that a concurrent copy of this request that got there
        // first has committed its refund and this one answers it instead of deciding again.
        const locked = await lockPayment(tx, payment.id);
        const [existing] = await refundsByIds(tx, [id]);
        if (existing && existing.status !== 'PROCESSING') return { proceed: false, result: ok(existing) };
        // An unsettled merchant payment still sits in the stripe's pending; once settled it
        // moved to available, so the refund takes it from there.
        const fromPending = locked!.route === 'MERCHANT_STRIPE' && locked!.settlementId === null;
        if (existing)
          return { proceed: true, spec: specOf(fromPending, (await refundFxById(tx, id))?.buyAmount ?? 0n) };
        const decision = decideRefund(locked!, request.amount);
        if (!decision.ok) return { proceed: false, result: decision };
        if (!credit.ok) return { proceed: false, result: credit };
        await setRefundedAmount(tx, payment.id, decision.value);
        await insertRefund(tx, refundRow(ctx, id, payment, request, 'PROCESSING', now));
        const share = await reserveShares(tx, locked!, id, fx, decision.value);
        reserved = true;
        return { proceed: true, spec: specOf(fromPending, share) };
      },
      finish: (tx, outcome) => finishLocalRefund(ctx, tx, outcome, { id, payment, request, fx, now, reserved }),
    },
    { now: () => now },
  );
}

/**
 * A local refund's prepare as finish reads it: the refund, and whether that prepare reserved its amount (and shares).
 */
interface LocalRefund {
  id: string;
  payment: PaymentRow;
  request: ParsedRefund;
  fx: PaymentFxRow | null;
  now: Date;
  reserved: boolean;
}

/**
 * refundLocally's finish: completes the PROCESSING row, answers the copy that posted, or releases what prepare
 * reserved.
 */
async function finishLocalRefund(
  ctx: ServiceContext,
  tx: PostingTx,
  outcome: PostingOutcome,
  refund: LocalRefund,
): Promise<Result<RefundRow, RefundPaymentError>> {
  const { id, payment, request, fx, now } = refund;
  switch (outcome.status) {
    case 'APPLIED': {
      await finishRefund(tx, id, 'SUCCEEDED', null, now);
      return ok(refundRow(ctx, id, payment, request, 'SUCCEEDED', now));
    }
    case 'DUPLICATE': {
      const [existing] = await refundsByIds(tx, [id]);
      return ok(existing!);
    }
    case 'REJECTED':
      if (refund.reserved) {
        await deleteRefund(tx, id);
        if (fx) await deleteRefundFx(tx, id);
        await addRefundedAmount(tx, payment.id, -request.amount);
      }
      return err(refusalOf(fromRejection(outcome.rejection), refundPaymentErrorKinds));
    default:
      return unreachable(outcome);
  }
}

/**
 * This refund's share of every leg of the payment (domain/refund-rules.ts refundShares, the one
 * rule), decided under the payment's lock and kept with the refund, so that every later step
 * posts the same shares: a payment of legs' in refund_legs (each leg's refunded amount moved
 * with it), an FX payment's PAYEE share in refund_fx; a plain payment's are the refund's own
 * amount. What each leg has returned so far counts the shares of refunds that did not fail,
 * not the rule at the total before: a refund that failed in between (its shares released)
 * leaves no rounding behind, and a full refund returns every leg exactly. Answers the PAYEE's
 * share, in the payee's currency.
 */
async function reserveShares(
  tx: Tx,
  payment: PaymentRow,
  refundId: string,
  fx: PaymentFxRow | null,
  refundedAfter: bigint,
): Promise<bigint> {
  if (payment.route === 'LEGS') {
    const legs = await lockLegsOfPayment(tx, payment.id);
    const changes = refundShares(
      legs.map((l) => ({ role: l.role, amount: l.amount, currency: l.currency, refunded: l.refundedAmount })),
      payment.amount,
      refundedAfter,
    );
    await insertRefundLegs(
      tx,
      legs.flatMap((l, i) =>
        changes[i] === 0n ? [] : [{ refundId, legIndex: l.legIndex, amount: changes[i]!, settlementId: null }],
      ),
    );
    for (const [i, l] of legs.entries()) await addLegRefunded(tx, payment.id, l.legIndex, changes[i]!);
    return changes[legs.findIndex((l) => l.role === 'PAYEE')]!;
  }
  // The two legs of the plan: PAYER in the payment's currency, PAYEE in it or in the quote's buy currency.
  const [, payee] = refundShares(
    [
      { role: 'PAYER', amount: payment.amount, currency: payment.currency, refunded: payment.refundedAmount },
      fx
        ? {
            role: 'PAYEE',
            amount: fx.buyAmount,
            currency: fx.buyCurrency,
            refunded: await buyReturnedOf(tx, payment.id),
          }
        : { role: 'PAYEE', amount: payment.amount, currency: payment.currency, refunded: payment.refundedAmount },
    ],
    payment.amount,
    refundedAfter,
  );
  if (fx) await insertRefundFx(tx, { refundId, paymentId: payment.id, buyAmount: payee!, buyCurrency: fx.buyCurrency });
  return payee!;
}

/**
 * A refund refused because another refund of the same payment is still in flight (PROCESSING): a cross-shard refund
 * reserves its shares (domain/refund-rules.ts refundShares) against what each leg has returned so far, which counts
 * the reservations of refunds in flight; if one of those then fails, releasing only its own shares, the later
 * refund's shares stay computed on top of them and the legs are left off the cumulative rule. So a payment's
 * cross-shard refunds go one at a time. The answer is LOCK_TIMEOUT (retryable; the reservation rolls back, and the
 * key's claim names a refund not made, which a retry with it makes), not PaymentNotRefundable: the payment is
 * refundable, only not now; the union's refusals are final answers a client shows, while LOCK_TIMEOUT tells it to
 * send the same request again with the same key, which proceeds once the refund in flight has ended (inline, or by
 * the relay within seconds). A top-up made for it (refund-top-up.ts) stays: the merchant's own money on its own rows.
 */
export class RefundInFlight extends LockTimeout {
  override name = 'RefundInFlight';
  constructor(shard: string, paymentId: string, inFlightId: string) {
    super(shard);
    this.message = `payment ${paymentId} has refund ${inFlightId} in flight; this refund was not made: retry it (with the same idempotency key) once that one has ended`;
  }
}

/**
 * A cross-database refund's reservation on the payment's database: its row PROCESSING, the legs' shares, the payment's
 * refunded_amount raised and its outbox row, in one transaction under the payment's lock and its logical shard's fence
 * row (share mode, read first): not open (a shard move the process's map has not followed, or fenced since the key's
 * claim), FencedWrite (SHARD_UNAVAILABLE, retryable) and nothing written, else a mover's fence write waits for it.
 * Before, a reservation that committed on a source after the mover's last catch-up was left behind at the switch: the
 * payee debited into clearing for a refund, an outbox row and a raised cap that only the dead copy held. A copy of the
 * same request (the same refund id) answers the refund it finds, in flight or not; any other refund of the payment in
 * flight refuses it (RefundInFlight). A local refund (refundLocally) is not checked and never refused so: it reserves
 * and ends in one transaction under the same lock, so its PROCESSING row is seen only inside that transaction (by a
 * copy of it, or a refund of the same payment merged into its batch), never by another. Every credited account's
 * status is decided under its row's share lock, after the payment's (creditedUnderLock), those on other databases (a
 * campaign's funder) held by a transaction there until this one has ended (CreditedHold): decided on the read made
 * before the key's claim, a close committed in between (a stripe's top-up among it) saw no refund in flight and
 * closed, and the refund's credit, a completion, landed in the CLOSED account for good.
 */
async function reserveRemoteRefund(
  ctx: ServiceContext,
  shard: Shard,
  payment: PaymentRow,
  request: ParsedRefund,
  id: string,
  fx: PaymentFxRow | null,
  credited: readonly CreditedAccount[],
): Promise<Result<RefundRow, RefundPaymentError>> {
  const now = ctx.now();
  const places = creditedPlaces(ctx.shards, shard, payment.payerAccountId, credited);
  const hold = new CreditedHold(shard, places.away);
  try {
    // Each attempt (one more after a deadlock) readies its holds before it takes the payment's connection.
    return await retrying(shard, async () => {
      await hold.readyBefore();
      return shard.db.transaction(async (tx) => {
        // Its rows move with the payment's logical shard, and no posting here reads that fence row: read first, before
        // the payment's lock (the claim before it committed on its own, so a move may have fenced the range since);
        // with it those of the credited accounts here, whose rows are locked below (a copy's row would hold back no
        // close).
        const logicals = [shardOf('payment', payment.id), ...places.here.map((a) => shardOf('account', a))];
        await refuseFenced(tx, shard.name, [...new Set(logicals)]);
        // Lock first, then look: a concurrent copy of this request has committed its row by then.
        const locked = await lockPayment(tx, request.paymentId);
        const [existing] = await refundsByIds(tx, [id]);
        if (existing) return ok(existing);
        const inFlight = await refundInFlightOf(tx, locked!.id);
        if (inFlight) throw new RefundInFlight(shard.name, locked!.id, inFlight);
        const decision = decideRefund(locked!, request.amount);
        if (!decision.ok) return decision;
        // Before the reservation: every credit will be a completion, posted whatever the status (decideRefundCredit),
        // so decided on the statuses under the rows' share locks, after the payment's (creditedUnderLock).
        const credit = decideRefundCredit(await creditedUnderLock(tx, places.here, hold, credited));
        if (!credit.ok) return credit;
        const row = refundRow(ctx, id, locked!, request, 'PROCESSING', now);
        await insertRefund(tx, row);
        await reserveShares(tx, locked!, id, fx, decision.value);
        await setRefundedAmount(tx, locked!.id, decision.value);
        const kind = locked!.route === 'LEGS' ? 'REFUND_LEGS' : 'REFUND_DEBIT';
        await insertOutbox(tx, id, kind, now, new Date(now.getTime() + outboxInlineGraceMs));
        // Last: the holds elsewhere still hold (CreditedHold.confirm), or nothing commits.
        await hold.confirm();
        return ok(row);
      });
    });
  } finally {
    // Committed or rolled back: a close waiting for an account held elsewhere now finds the refund, or none.
    hold.release();
  }
}

/**
 * The credited accounts as a cross-database refund's reservation decides on them: those on the payment's database
 * (`here`) read again in its transaction under their rows' share lock (ledger shareAccountStatuses), then those on
 * other databases under theirs, each in a transaction of its own there that the reservation ends once it has ended
 * (CreditedHold), then each as refundParties read it before the key's claim, unlocked, so a refusal by any read
 * stands. The payer is always among the locked here: a payer's payments live on its logical shard (payment.ts), and a
 * shard move takes a logical shard whole. Taken after the payment's lock, the order of every transaction that holds
 * both (a local refund's prepare, then its posting's accounts): a close (account-close.ts, FOR UPDATE on the home row)
 * either committed before and is read here, or waits for the reservation and then counts its refund in flight
 * (read-model/account.ts: moneyInFlightToward for the payer, fundedMoneyInFlight for a campaign's funder, read on
 * every database). A close waits for nothing the reservation holds (plain reads, stripes NOWAIT), so no cycle of waits
 * passes through both; a wait of the reservation's elsewhere is bounded by the lock wait and rolls it back whole.
 */
async function creditedUnderLock(
  tx: Tx,
  here: readonly string[],
  hold: CreditedHold,
  credited: readonly CreditedAccount[],
): Promise<CreditedAccount[]> {
  const locked = await shareAccountStatuses(tx, here);
  const away = await hold.lock();
  return [...[...locked].map(([id, status]) => ({ id, status })), ...away, ...credited];
}
