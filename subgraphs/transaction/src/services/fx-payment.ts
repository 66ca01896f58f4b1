import { forbiddenBecause, type Forbidden } from '@paygraph/shared/authorization';
import { mayWrite } from '@paygraph/shared/identity';
import { newId, parseId, shardOf } from '@paygraph/shared/ids';
import { postOne } from '@paygraph/shared/ledger/post';
import type { Account } from '@paygraph/shared/ledger/account';
import { err, ok, type Result } from '@paygraph/shared/result';
import { paymentsByIds } from '../db/payments';
import { deferPaymentFx } from '../db/fx';
import type { PaymentRow } from '../db/schema/transactions';
import type { FxQuoteRow, PaymentFxRow } from '../db/schema/fx';
import { fxPaymentDebitSpec } from '../domain/fx-legs';
import { invalidInput, type CreatePaymentError } from '../domain/errors';
import type { ParsedPayment } from '../domain/inputs';
import { readAccounts } from './accounts';
import { withIdempotencyKey, type KeySpec } from './idempotency';
import { recordOutcome } from './record-outcome';
import { claimQuote, quoteTerms } from './fx-quotes';
import { clientAccount, creditAcrossShards, deferNewPayment, newPaymentRow, routeBetween } from './payment-steps';
import { fxPositionsOn, sidesOf } from './fx-positions';
import type { ServiceContext } from './context';

/** The quote's own refusals against this payment: its maker, its currencies and its sell amount. */
function checkQuote(ctx: ServiceContext, request: ParsedPayment, quote: FxQuoteRow | undefined, quoteId: string, payer: Account, payee: Account): CreatePaymentError | null {
  if (!quote || quote.createdBy !== ctx.identity.sub) return invalidInput('fxQuoteId', `no quote ${quoteId} of yours`);
  const mismatch = (field: string, message: string): CreatePaymentError => ({ kind: 'FxQuoteMismatch', quoteId, field, message });
  if (request.currency !== quote.sellCurrency) return mismatch('currency', `the payment is in ${request.currency}; quote ${quoteId} sells ${quote.sellCurrency}`);
  if (request.amount !== quote.sellAmount) return mismatch('amount', `the payment is ${request.amount}; quote ${quoteId} sells ${quote.sellAmount}`);
  if (payer.currency !== quote.sellCurrency) return mismatch('payerAccountId', `the payer holds ${payer.currency}; quote ${quoteId} sells ${quote.sellCurrency}`);
  if (payee.currency !== quote.buyCurrency) return mismatch('payeeAccountId', `the payee holds ${payee.currency}; quote ${quoteId} buys ${quote.buyCurrency}`);
  return null;
}

/**
 * An FX payment is the two-leg case (docs/ARCHITECTURE.md, Currencies and FX): splits and
 * campaigns are in the payment's currency, and a quote prices one payee's buy side, so which
 * currency a split or a discount would be in, and who would bear its exchange, is not defined.
 * The refusal names the field sent.
 */
function extraLegsRefusal(request: ParsedPayment): CreatePaymentError | null {
  if (request.splits.length > 0) return invalidInput('splits', 'a payment with an fxQuoteId takes no splits: an FX payment has one payer and one payee leg');
  if (request.campaignId !== null) return invalidInput('campaignId', 'a payment with an fxQuoteId takes no campaign: an FX payment has one payer and one payee leg');
  return null;
}

/**
 * A payment with an FX quote: the payer is debited the quote's sellAmount in its currency and
 * the payee credited buyAmount in its own, the FX positions of the payer's shard taking the
 * other side (domain/fx-legs.ts). Same order as a plain payment — parse, read, decide, claim
 * the key, post — with the quote taken between the key and the posting, for good: a key replay
 * finds the quote taken by its own payment, any other payment FX_QUOTE_USED, even when the ledger
 * refused the first (a replay answers that refusal again). Cross-shard it goes on as
 * any payment: clearing(B) and the outbox on the payer's shard, the credit in B on the payee's.
 */
export async function createFxPayment(ctx: ServiceContext, request: ParsedPayment, quoteId: string): Promise<Result<PaymentRow, CreatePaymentError | Forbidden>> {
  const quoteLogical = parseId('fxQuote', quoteId);
  if (!quoteLogical) return err(invalidInput('fxQuoteId', `"${quoteId}" is not a quote id`));
  const extra = extraLegsRefusal(request);
  if (extra) return err(extra);
  const [found, quote] = await Promise.all([readAccounts(ctx.shards, [request.payerAccountId, request.payeeAccountId]), quoteTerms(ctx.shards, quoteId, ctx.identity.sub)]);
  const payer = clientAccount(found, request.payerAccountId);
  if (!payer) return err({ kind: 'AccountNotFound', accountId: request.payerAccountId });
  if (!mayWrite(ctx.identity, payer.ownerId)) return err(forbiddenBecause(`account ${payer.id} is not yours to pay from`));
  const payee = clientAccount(found, request.payeeAccountId);
  if (!payee) return err({ kind: 'AccountNotFound', accountId: request.payeeAccountId });
  if (payee.status !== 'ACTIVE') return err({ kind: 'AccountNotActive', accountId: payee.id, status: payee.status });
  const refused = checkQuote(ctx, request, quote, quoteId, payer, payee);
  if (refused) return err(refused);
  const spec: KeySpec = {
    anchor: { kind: 'account', id: payer.id }, key: request.idempotencyKey, operation: 'PAYMENT',
    content: {
      payer: request.payerAccountId, payee: request.payeeAccountId, amount: request.amount, currency: request.currency,
      description: request.description, fxQuoteId: quoteId,
    },
    newResourceId: () => newId('payment', shardOf('account', payer.id)),
  };
  return withIdempotencyKey(ctx, spec, async ({ resourceId }) => {
    const taken = await claimQuote(ctx, quote!, resourceId);
    if (!taken.ok) return taken;
    // A payment the ledger refuses keeps its quote: its refusal is kept under its key, and a replay
    // must find the quote its own to meet that refusal again rather than FX_QUOTE_USED.
    const debited = await debitPayer(ctx, request, payer, payee, taken.value, resourceId);
    if (!debited.ok) return debited;
    if (debited.value.payment.status !== 'PROCESSING') return ok(debited.value.payment);
    return ok(await creditAcrossShards(ctx, debited.value.payment, 'payment-after-debit', debited.value.fx));
  });
}

async function debitPayer(
  ctx: ServiceContext, request: ParsedPayment, payer: Account, payee: Account, quote: FxQuoteRow, id: string,
): Promise<Result<{ payment: PaymentRow; fx: PaymentFxRow }, CreatePaymentError>> {
  const shard = ctx.shards.of('account', payer.id);
  const fx: PaymentFxRow = {
    paymentId: id, quoteId: quote.id, rate: quote.rate, rateBaseCurrency: quote.rateBaseCurrency, spreadBps: quote.spreadBps,
    sellAmount: quote.sellAmount, sellCurrency: quote.sellCurrency, buyAmount: quote.buyAmount, buyCurrency: quote.buyCurrency,
  };
  const [route, positions] = await Promise.all([routeBetween(ctx, payer, payee, quote.buyCurrency), fxPositionsOn(ctx.shards, shard, fx)]);
  const bucket = route.route === 'MERCHANT_STRIPE' ? 'PENDING' as const : 'AVAILABLE' as const;
  const spec = fxPaymentDebitSpec(id, newId('posting', shardOf('payment', id)), payer.id, { accountId: route.creditAccountId, bucket }, sidesOf(fx), positions);
  const now = ctx.now();
  return postOne<Result<{ payment: PaymentRow; fx: PaymentFxRow }, CreatePaymentError>>(shard, {
    spec,
    finish: async (tx, outcome, _accounts, deferred) => {
      const result = await recordOutcome(outcome, {
        id,
        applied: () => {
          deferPaymentFx(deferred, fx);
          return deferNewPayment(deferred, newPaymentRow(ctx, { id, payer: payer.id, payee: payee.id, route: route.route,
            creditAccountId: route.creditAccountId, amount: request.amount, currency: request.currency, description: request.description }, now));
        },
        existing: async () => (await paymentsByIds(tx, [id]))[0],
      });
      return result.ok ? ok({ payment: result.value, fx }) : result;
    },
    at: now,
  }, { now: () => now });
}
