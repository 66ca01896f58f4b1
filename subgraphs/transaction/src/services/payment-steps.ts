import { systemAccountId, type Account } from '@paygraph/shared/ledger/index';
import { businessDateOf } from '@paygraph/shared/business-date';
import type { DeferredInserts } from '@paygraph/shared/db/deferred';
import { deferPayment } from '../db/payments';
import { deferOutbox } from '../db/outbox';
import type { PaymentRow } from '../db/schema/transactions';
import type { FxQuoteRow, PaymentFxRow } from '../db/schema/fx';
import type { MoneyErrorOf } from '../domain/errors';
import type { ParsedPayment } from '../domain/inputs';
import { stripeFor } from './accounts';
import { shardOf } from '@paygraph/shared/ids';
import { completeNow } from './payment-completion';
import { assert } from '@paygraph/shared/result';
import { hitFailpoint, type Failpoint } from './failpoints';
import type { ServiceContext } from './context';
import { outboxInlineGraceMs } from '../limits';

/**
 * The steps a two-leg plan (plain, FX or a hold's capture) takes on the one payment route
 * (post-payment.ts): where the payer's shard credits it, its records and outbox row, and the
 * credit across shards. A module of their own, so that payment-completion.ts and hold.ts need
 * not import the route for them.
 */

/**
 * The second half of a cross-shard payment whose debit has committed (a payment's, or a hold's
 * capture): the two-leg plan's completion (payment-completion.ts) tried at once; if it cannot
 * be made now, the relay finishes it and the payment answers PROCESSING. A payment (not a
 * capture, whose hold the request answers too) is answered once its credit has posted, its
 * ending going on after the answer (endings-in-flight.ts).
 */
export async function creditAcrossShards(
  ctx: ServiceContext,
  debited: PaymentRow,
  failpoint: Failpoint,
  fx: PaymentFxRow | null,
  answerBeforeEnding: boolean,
): Promise<PaymentRow> {
  hitFailpoint(failpoint);
  const endings = answerBeforeEnding ? ctx.endings : undefined;
  const answered = await completeNow(ctx, { payment: debited, fx, ...(endings ? { endings } : {}) });
  assert(answered, `payment ${debited.id} has no record`);
  return answered;
}

export function clientAccount(found: Map<string, Account>, id: string): Account | undefined {
  const row = found.get(id);
  return row && row.type !== 'SYSTEM' && row.parentId === null ? row : undefined;
}

/** Refusals that need no lock: the posting re-checks them, but a payment that cannot land should not start. */
export function checkPayee(
  payee: Account,
  request: ParsedPayment,
): MoneyErrorOf<'AccountNotActive' | 'CurrencyMismatch'> | null {
  if (payee.status !== 'ACTIVE') return { kind: 'AccountNotActive', accountId: payee.id, status: payee.status };
  if (payee.currency !== request.currency) {
    return {
      kind: 'CurrencyMismatch',
      accountId: payee.id,
      accountCurrency: payee.currency,
      requestCurrency: request.currency,
    };
  }
  return null;
}

export interface PaymentRoute {
  route: PaymentRow['route'];
  /** Where the payer's shard credits the money: the payee, the merchant's stripe here, or clearing. */
  creditAccountId: string;
}

/** Where the payer's shard credits a payment (or a hold's capture) to this payee. */
export async function routeBetween(
  ctx: ServiceContext,
  payer: Pick<Account, 'id'>,
  payee: Account,
  currency: string,
): Promise<PaymentRoute> {
  const shard = ctx.shards.of('account', payer.id);
  // The stripe on the payer's logical shard, where the payment's id is minted too: a shard move never parts them.
  if (payee.type === 'MERCHANT')
    return {
      route: 'MERCHANT_STRIPE',
      creditAccountId: await stripeFor(ctx.shards, payee, shardOf('account', payer.id)),
    };
  if (ctx.shards.of('account', payee.id) === shard) return { route: 'SAME_SHARD', creditAccountId: payee.id };
  return { route: 'CROSS_SHARD', creditAccountId: await systemAccountId(ctx.shards, shard, 'CLEARING', currency) };
}

export interface NewPayment {
  id: string;
  payer: string;
  payee: string;
  route: PaymentRow['route'];
  /** Where the payer's shard credited it (payment.ts#PaymentRoute). */
  creditAccountId: string;
  amount: bigint;
  currency: string;
  description: string | null;
}

/** A payment's record as its debit writes it: a cross-shard one PROCESSING until its credit lands. */
export function newPaymentRow(ctx: ServiceContext, p: NewPayment, now: Date): PaymentRow {
  const crossShard = p.route === 'CROSS_SHARD';
  return {
    id: p.id,
    payerAccountId: p.payer,
    payeeAccountId: p.payee,
    creditAccountId: crossShard ? p.payee : p.creditAccountId,
    route: p.route,
    amount: p.amount,
    currency: p.currency,
    refundedAmount: 0n,
    discountAmount: 0n,
    campaignId: null,
    status: crossShard ? 'PROCESSING' : 'SUCCEEDED',
    failureCode: null,
    description: p.description,
    createdBy: ctx.identity.sub,
    deviceId: ctx.client.deviceId,
    clientIp: ctx.client.ip,
    userAgent: ctx.client.userAgent,
    businessDate: businessDateOf(now),
    settlementId: null,
    createdAt: now,
    completedAt: crossShard ? null : now,
  };
}

/** Defers the payment's row and, for a cross-shard payment, the outbox row its credit runs from. */
export function deferNewPayment(deferred: DeferredInserts, row: PaymentRow): PaymentRow {
  deferPayment(deferred, row);
  if (row.route === 'CROSS_SHARD')
    deferOutbox(
      deferred,
      row.id,
      'PAYMENT_CREDIT',
      row.createdAt,
      new Date(row.createdAt.getTime() + outboxInlineGraceMs),
    );
  return row;
}

/** What an FX payment records of its quote: the rate and both sides, copied. */
export function fxRecordOf(quote: FxQuoteRow, paymentId: string): PaymentFxRow {
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
