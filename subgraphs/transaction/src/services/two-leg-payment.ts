import { newId, shardOf } from '@paygraph/shared/ids';
import { ok, type Result } from '@paygraph/shared/result';
import { deferPaymentFx } from '../db/fx';
import type { PaymentRow } from '../db/schema/transactions';
import type { FxQuoteRow, PaymentFxRow } from '../db/schema/fx';
import type { CreatePaymentError } from '../domain/errors';
import type { FxPositions } from '../domain/fx-legs';
import { twoLegDebitSpec, type PaymentPlan } from '../domain/payment-plan';
import { postHomeLegs, type HomeLegs } from './home-legs';
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
export async function payTwoLegs(
  ctx: ServiceContext,
  plan: PaymentPlan,
  quote: FxQuoteRow | undefined,
  id: string,
): Promise<Result<PaymentRow, CreatePaymentError>> {
  const creditCurrency = plan.legs[1]!.currency;
  if (plan.shape.kind !== 'FX')
    return postAndCredit(ctx, plan, await routeBetween(ctx, plan.payer, plan.payee, creditCurrency), id, null);
  const taken = await claimQuote(ctx, quote!, id);
  if (!taken.ok) return taken;
  const fx = fxRecordOf(taken.value, id);
  const home = ctx.shards.of('account', plan.payer.id);
  const [route, positions] = await Promise.all([
    routeBetween(ctx, plan.payer, plan.payee, creditCurrency),
    fxPositionsOn(ctx.shards, home, fx),
  ]);
  // A payment the ledger refuses keeps its quote: its refusal is kept under its key, and a replay
  // must find the quote its own to meet that refusal again rather than FX_QUOTE_USED.
  return postAndCredit(ctx, plan, route, id, { row: fx, positions });
}

/**
 * The plan's posting, then, across shards, the credit on the payee's shard tried at once.
 * Submits the posting before anything is awaited, as postTwoLegs does.
 */
export async function postAndCredit(
  ctx: ServiceContext,
  plan: PaymentPlan,
  route: PaymentRoute,
  id: string,
  fx: { row: PaymentFxRow; positions: FxPositions } | null,
): Promise<Result<PaymentRow, CreatePaymentError>> {
  const debited = await postTwoLegs(ctx, plan, route, id, fx);
  if (!debited.ok || debited.value.status !== 'PROCESSING') return debited;
  return ok(await creditAcrossShards(ctx, debited.value, 'payment-after-debit', fx?.row ?? null));
}

/** What an FX payment records of its quote: the rate and both sides, copied. */
function fxRecordOf(quote: FxQuoteRow, paymentId: string): PaymentFxRow {
  return {
    paymentId,
    quoteId: quote.id,
    rate: quote.rate,
    rateBaseCurrency: quote.rateBaseCurrency,
    spreadBps: quote.spreadBps,
    sellAmount: quote.sellAmount,
    sellCurrency: quote.sellCurrency,
    buyAmount: quote.buyAmount,
    buyCurrency: quote.buyCurrency,
  };
}

/** A two-leg or FX plan's home legs as createPayment and createPayments post them: keyed by the payment, no lock. */
function postTwoLegs(
  ctx: ServiceContext,
  plan: PaymentPlan,
  route: PaymentRoute,
  id: string,
  fx: { row: PaymentFxRow; positions: FxPositions } | null,
): Promise<Result<PaymentRow, CreatePaymentError>> {
  const postingId = newId('posting', shardOf('payment', id));
  return postHomeLegs<Result<PaymentRow, CreatePaymentError>>(ctx, plan.payer.id, {
    posting: { id },
    at: ctx.now(),
    ...twoLegHome(ctx, plan, route, postingId, fx),
    finish: (_tx, _outcome, record) => record(),
  });
}

/**
 * What a two-leg plan (plain, FX or a hold's capture) posts on the payer's shard and writes with
 * it (services/home-legs.ts postHomeLegs): the PAYER leg debited, the PAYEE leg credited there
 * (the payee, the merchant's stripe pending, or clearing), and the payment's record, its FX
 * record and, across shards, its outbox row.
 */
export function twoLegHome(
  ctx: ServiceContext,
  plan: PaymentPlan,
  { route, creditAccountId }: PaymentRoute,
  postingId: string,
  fx: { row: PaymentFxRow; positions: FxPositions } | null,
): Pick<HomeLegs<unknown>, 'spec' | 'write'> {
  const { request, payer, payee } = plan;
  const credit = {
    accountId: creditAccountId,
    bucket: route === 'MERCHANT_STRIPE' ? ('PENDING' as const) : ('AVAILABLE' as const),
  };
  return {
    spec: (id) => twoLegDebitSpec(plan, id, postingId, credit, fx?.positions ?? null),
    write: (deferred, id, at) => {
      if (fx) deferPaymentFx(deferred, fx.row);
      return deferNewPayment(
        deferred,
        newPaymentRow(
          ctx,
          {
            id,
            payer: payer.id,
            payee: payee.id,
            route,
            creditAccountId,
            amount: request.amount,
            currency: request.currency,
            description: request.description,
          },
          at,
        ),
      );
    },
  };
}
