import type { Readable } from '@paygraph/shared/authorization';
import type { Account } from '@paygraph/shared/ledger/index';
import { err, ok } from '@paygraph/shared/result';
import type { TransactionContext } from '../context';
import { loadAccountHolds, loadAccountPayments } from '../db/account-payments';
import type { HoldFilter } from '../db/holds';
import type { HoldRow, PaymentRow, RefundRow } from '../db/schema/transactions';
import { mayListOf, mayReadBetween } from './access';

/**
 * The reads behind the queries, each for a caller who may (services/access.ts), a refusal
 * returned as a value (Forbidden) that the resolvers answer as the top-level FORBIDDEN error.
 */

/**
 * The owners of a payment's or hold's payer and payee accounts, read only when asked (mayReadBetween); an account not
 * there owns nothing.
 */
function ownersOf(
  ctx: TransactionContext,
  payerAccountId: string,
  payeeAccountId: string,
): () => Promise<Array<string | null>> {
  return async () =>
    (await ctx.loaders.accountRows.loadMany([payerAccountId, payeeAccountId])).map((a) =>
      a && !(a instanceof Error) ? a.ownerId : null,
    );
}

/** A payment the caller may read; null when there is none. */
export async function readablePayment(ctx: TransactionContext, id: string): Promise<Readable<PaymentRow>> {
  const payment = await ctx.loaders.payments.load(id);
  if (!payment) return ok(null);
  const refused = await mayReadBetween(
    ctx.identity,
    `payment ${id}`,
    ownersOf(ctx, payment.payerAccountId, payment.payeeAccountId),
  );
  return refused ? err(refused) : ok(payment);
}

/** A hold the caller may read; null when there is none. */
export async function readableHold(ctx: TransactionContext, id: string): Promise<Readable<HoldRow>> {
  const hold = await ctx.loaders.holds.load(id);
  if (!hold) return ok(null);
  const refused = await mayReadBetween(
    ctx.identity,
    `hold ${id}`,
    ownersOf(ctx, hold.payerAccountId, hold.payeeAccountId),
  );
  return refused ? err(refused) : ok(hold);
}

/** A refund is readable like its payment; null when there is none, or when its payment is not there. */
export async function readableRefund(ctx: TransactionContext, id: string): Promise<Readable<RefundRow>> {
  const refund = await ctx.loaders.refunds.load(id);
  if (!refund) return ok(null);
  const payment = await readablePayment(ctx, refund.paymentId);
  if (!payment.ok) return payment;
  return ok(payment.value ? refund : null);
}

/** An account whose payments or holds the caller may list (its owner and operators); null when there is none. */
export async function listableAccount(
  ctx: TransactionContext,
  id: string,
  what: 'payments' | 'holds',
): Promise<Readable<Account>> {
  const row = await ctx.loaders.accountRows.load(id);
  if (!row) return ok(null);
  const refused = mayListOf(ctx.identity, { id, ownerId: row.ownerId }, what);
  return refused ? err(refused) : ok(row);
}

/** A page of an account's payments, newest first; each is kept in the request's loader. */
export async function accountPayments(
  ctx: TransactionContext,
  accountId: string,
  beforeId: string | null,
  first: number,
) {
  let page = await loadAccountPayments(ctx.shards, accountId, beforeId, first);
  // Payments this process answered and is still ending are read again once ended, as they were answered.
  const ending = page.payments.filter((p) => p.status === 'PROCESSING').map((p) => p.id);
  if (ctx.endings.anyOf(ending)) {
    await ctx.endings.settled(ending);
    page = await loadAccountPayments(ctx.shards, accountId, beforeId, first);
  }
  for (const p of page.payments) ctx.loaders.payments.prime(p.id, p);
  return page;
}

export type { HoldFilter };

/**
 * A page of an account's holds, newest first, those reading `status` now when it is given; each is kept in the
 * request's loader.
 */
export async function accountHolds(
  ctx: TransactionContext,
  accountId: string,
  status: HoldFilter,
  beforeId: string | null,
  first: number,
) {
  const page = await loadAccountHolds(ctx.shards, accountId, status, ctx.now(), beforeId, first);
  for (const h of page.holds) ctx.loaders.holds.prime(h.id, h);
  return page;
}
