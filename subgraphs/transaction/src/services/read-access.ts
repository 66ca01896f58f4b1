import { forbiddenBecause, type Readable } from '@paygraph/shared/authorization';
import { mayRead } from '@paygraph/shared/identity';
import type { Account } from '@paygraph/shared/ledger/account';
import { err, ok } from '@paygraph/shared/result';
import type { TransactionContext } from '../context';
import { loadAccountHolds, loadAccountPayments } from '../db/account-payments';
import type { HoldFilter } from '../db/holds';
import type { HoldRow, PaymentRow, RefundRow } from '../db/schema/transactions';

/**
 * Who may read what of this subgraph, decided here and returned as a value (Forbidden); the
 * resolvers answer a refusal as the top-level FORBIDDEN error. A payment, its refunds and a hold
 * are readable by an operator and by the owners of their payer and payee accounts.
 */

async function ownsEither(ctx: TransactionContext, payerAccountId: string, payeeAccountId: string): Promise<boolean> {
  if (ctx.identity.role === 'operator') return true;
  const [payer, payee] = await ctx.accountRows.loadMany([payerAccountId, payeeAccountId]);
  return [payer, payee].some((a) => a && !(a instanceof Error) && mayRead(ctx.identity, a.ownerId));
}

/** A payment the caller may read; null when there is none. */
export async function readablePayment(ctx: TransactionContext, id: string): Promise<Readable<PaymentRow>> {
  const payment = await ctx.payments.load(id);
  if (!payment) return ok(null);
  if (!(await ownsEither(ctx, payment.payerAccountId, payment.payeeAccountId))) return err(forbiddenBecause(`payment ${id} is not yours`));
  return ok(payment);
}

/** A hold the caller may read; null when there is none. */
export async function readableHold(ctx: TransactionContext, id: string): Promise<Readable<HoldRow>> {
  const hold = await ctx.holds.load(id);
  if (!hold) return ok(null);
  if (!(await ownsEither(ctx, hold.payerAccountId, hold.payeeAccountId))) return err(forbiddenBecause(`hold ${id} is not yours`));
  return ok(hold);
}

/** A refund is readable like its payment; null when there is none, or when its payment is not there. */
export async function readableRefund(ctx: TransactionContext, id: string): Promise<Readable<RefundRow>> {
  const refund = await ctx.refunds.load(id);
  if (!refund) return ok(null);
  const payment = await readablePayment(ctx, refund.paymentId);
  if (!payment.ok) return payment;
  return ok(payment.value ? refund : null);
}

/** An account whose payments or holds the caller may list (its owner and operators); null when there is none. */
export async function listableAccount(ctx: TransactionContext, id: string, what: 'payments' | 'holds'): Promise<Readable<Account>> {
  const row = await ctx.accountRows.load(id);
  if (!row) return ok(null);
  if (!mayRead(ctx.identity, row.ownerId)) return err(forbiddenBecause(`you may not read the ${what} of account ${id}`));
  return ok(row);
}

/** A page of an account's payments, newest first; each is kept in the request's loader. */
export async function accountPayments(ctx: TransactionContext, accountId: string, beforeId: string | null, first: number) {
  const page = await loadAccountPayments(ctx.shards, accountId, beforeId, first);
  for (const p of page.payments) ctx.payments.prime(p.id, p);
  return page;
}

export type { HoldFilter };

/** A page of an account's holds, newest first, those reading `status` now when it is given; each is kept in the request's loader. */
export async function accountHolds(ctx: TransactionContext, accountId: string, status: HoldFilter, beforeId: string | null, first: number) {
  const page = await loadAccountHolds(ctx.shards, accountId, status, ctx.now(), beforeId, first);
  for (const h of page.holds) ctx.holds.prime(h.id, h);
  return page;
}
