import { newId, shardOf } from '@paygraph/shared/ids';
import { postOne, type GroupedPrepare, type PostingOutcome } from '@paygraph/shared/ledger/post';
import type { PostingSpec } from '@paygraph/shared/ledger/posting-rules';
import type { PostingTx } from '@paygraph/shared/shards/posting-transaction';
import { ok, type Result } from '@paygraph/shared/result';
import { paymentsByIds } from '../db/payments';
import { deferPaymentFx } from '../db/fx';
import type { PaymentRow } from '../db/schema/transactions';
import type { FxQuoteRow, PaymentFxRow } from '../db/schema/fx';
import type { CreatePaymentError, PostingRefusal } from '../domain/errors';
import type { FxPositions } from '../domain/fx-legs';
import { twoLegDebitSpec, type PaymentPlan } from '../domain/payment-plan';
import { recordOutcome } from './record-outcome';
import { claimQuote } from './fx-quotes';
import { fxPositionsOn } from './fx-positions';
import { creditAcrossShards, deferNewPayment, newPaymentRow, routeBetween, type PaymentRoute } from './payment-steps';
import type { ServiceContext } from './context';

/**
 * A plan of two legs (plain or FX) posted: one local transaction on the payer's shard debits
 * the PAYER leg and credits the PAYEE leg there — the payee itself (same shard), the merchant's
 * stripe there (pending), or the shard's clearing plus an outbox row (cross-shard), whose credit
 * on the payee's shard is tried at once (creditAcrossShards; the relay finishes it after a
 * crash, the payment reading PROCESSING until then). An FX plan's quote is taken between the
 * key and the posting, for good: a key replay finds the quote taken by its own payment, any
 * other payment FX_QUOTE_USED, even when the ledger refused the first (a replay answers that
 * refusal again).
 */
export async function payTwoLegs(ctx: ServiceContext, plan: PaymentPlan, quote: FxQuoteRow | undefined, id: string): Promise<Result<PaymentRow, CreatePaymentError>> {
  const creditCurrency = plan.legs[1]!.currency;
  if (plan.shape.kind !== 'FX') return postAndCredit(ctx, plan, await routeBetween(ctx, plan.payer, plan.payee, creditCurrency), id, null);
  const taken = await claimQuote(ctx, quote!, id);
  if (!taken.ok) return taken;
  const fx = fxRecordOf(taken.value, id);
  const home = ctx.shards.of('account', plan.payer.id);
  const [route, positions] = await Promise.all([routeBetween(ctx, plan.payer, plan.payee, creditCurrency), fxPositionsOn(ctx.shards, home, fx)]);
  // A payment the ledger refuses keeps its quote: its refusal is kept under its key, and a replay
  // must find the quote its own to meet that refusal again rather than FX_QUOTE_USED.
  return postAndCredit(ctx, plan, route, id, { row: fx, positions });
}

/**
 * The plan's posting, then, across shards, the credit on the payee's shard tried at once.
 * Submits the posting before anything is awaited, as postTwoLegs does.
 */
export async function postAndCredit(
  ctx: ServiceContext, plan: PaymentPlan, route: PaymentRoute, id: string, fx: { row: PaymentFxRow; positions: FxPositions } | null,
): Promise<Result<PaymentRow, CreatePaymentError>> {
  const debited = await postTwoLegs(ctx, plan, route, id, fx);
  if (!debited.ok || debited.value.status !== 'PROCESSING') return debited;
  return ok(await creditAcrossShards(ctx, debited.value, 'payment-after-debit', fx?.row ?? null));
}

/** What an FX payment records of its quote: the rate and both sides, copied. */
function fxRecordOf(quote: FxQuoteRow, paymentId: string): PaymentFxRow {
  return {
    paymentId, quoteId: quote.id, rate: quote.rate, rateBaseCurrency: quote.rateBaseCurrency, spreadBps: quote.spreadBps,
    sellAmount: quote.sellAmount, sellCurrency: quote.sellCurrency, buyAmount: quote.buyAmount, buyCurrency: quote.buyCurrency,
  };
}

/**
 * How a plan's home legs are posted (postHomeLegs): keyed by the payment its key has named, as
 * they are; or (a hold's capture, services/hold.ts) under a lock, by a grouped prepare that
 * claims the payment's key there and then posts `homeLegs(id)` or answers without a posting.
 */
export type HomePosting<R> =
  | { id: string }
  | { grouped: (homeLegs: (id: string) => PostingSpec) => GroupedPrepare<R>; claimedId: () => string };

/** What postHomeLegs is told beside the plan and its route. */
export interface HomeLegs<R> {
  posting: HomePosting<R>;
  postingId: string;
  fx: { row: PaymentFxRow; positions: FxPositions } | null;
  /** The instant of the posting and the record (a capture's is the one its hold's ending was decided at). */
  at: Date;
  /** The answer, in the posting's transaction: `record` writes the payment (or reads a replay's back). */
  finish: (tx: PostingTx, outcome: PostingOutcome, record: () => Promise<Result<PaymentRow, PostingRefusal>>) => Promise<R>;
}

/** A two-leg or FX plan's home legs as createPayment and createPayments post them: keyed by the payment, no lock. */
function postTwoLegs(
  ctx: ServiceContext, plan: PaymentPlan, route: PaymentRoute, id: string, fx: { row: PaymentFxRow; positions: FxPositions } | null,
): Promise<Result<PaymentRow, CreatePaymentError>> {
  const postingId = newId('posting', shardOf('payment', id));
  return postHomeLegs<Result<PaymentRow, CreatePaymentError>>(ctx, plan, route, { posting: { id }, postingId, fx, at: ctx.now(), finish: (_tx, _outcome, record) => record() });
}

/**
 * The home legs of a two-leg plan (plain, FX or a hold's capture) on the payer's shard, with the
 * payment's record (and its FX record) in the same transaction. Submits at once (no await
 * before postOne), so callers control the order of submission (createPayments). No read before
 * the posting: a replay of a payment that was made meets its posting's dedupe key under the
 * payer's lock and answers DUPLICATE, which reads the payment back.
 */
export function postHomeLegs<R>(ctx: ServiceContext, plan: PaymentPlan, { route, creditAccountId }: PaymentRoute, home: HomeLegs<R>): Promise<R> {
  const { request, payer, payee } = plan;
  const { posting, fx, at: now } = home;
  const credit = { accountId: creditAccountId, bucket: route === 'MERCHANT_STRIPE' ? 'PENDING' as const : 'AVAILABLE' as const };
  const homeLegs = (id: string): PostingSpec => twoLegDebitSpec(plan, id, home.postingId, credit, fx?.positions ?? null);
  const idOf = (): string => ('id' in posting ? posting.id : posting.claimedId());
  return postOne<R>(ctx.shards.of('account', payer.id), {
    ...('id' in posting ? { spec: homeLegs(posting.id) } : { grouped: posting.grouped(homeLegs) }),
    finish: (tx, outcome, _accounts, deferred) => home.finish(tx, outcome, () => {
      const id = idOf();
      return recordOutcome(outcome, {
        id,
        applied: () => {
          if (fx) deferPaymentFx(deferred, fx.row);
          return deferNewPayment(deferred, newPaymentRow(ctx, { id, payer: payer.id, payee: payee.id, route, creditAccountId,
            amount: request.amount, currency: request.currency, description: request.description }, now));
        },
        existing: async () => (await paymentsByIds(tx, [id]))[0],
      });
    }),
    at: now,
  }, { now: () => now });
}
