import { forbidden } from '@paygraph/shared/graphql/errors';
import { mayRead } from '@paygraph/shared/identity';
import { formatAmount } from '@paygraph/shared/money';
import type { TransactionContext } from '../context';
import type { PaymentRow, RefundRow } from '../db/schema/transactions';

/** A payment is readable by an operator and by the owners of its payer and payee accounts. */
export async function mayReadPayment(ctx: TransactionContext, payment: PaymentRow): Promise<boolean> {
  if (ctx.identity.role === 'operator') return true;
  const [payer, payee] = await ctx.accountRows.loadMany([payment.payerAccountId, payment.payeeAccountId]);
  return [payer, payee].some((a) => a && !(a instanceof Error) && mayRead(ctx.identity, a.ownerId));
}

export async function readablePayment(ctx: TransactionContext, id: string): Promise<PaymentRow | null> {
  const payment = await ctx.payments.load(id);
  if (!payment) return null;
  if (!(await mayReadPayment(ctx, payment))) throw forbidden(`payment ${id} is not yours`);
  return payment;
}

export const paymentResolvers = {
  __resolveReference: (ref: { id: string }, ctx: TransactionContext) => readablePayment(ctx, ref.id),
  amount: (p: PaymentRow) => formatAmount(p.amount),
  refundedAmount: (p: PaymentRow) => formatAmount(p.refundedAmount),
  payer: (p: PaymentRow) => ({ __typename: 'Account', id: p.payerAccountId }),
  payee: (p: PaymentRow) => ({ __typename: 'Account', id: p.payeeAccountId }),
  refunds: (p: PaymentRow, _: unknown, ctx: TransactionContext) => ctx.refundsOfPayment.load(p.id),
  /** Whoever may read the payment may read the hold it captured: they share payer and payee. */
  hold: (p: PaymentRow, _: unknown, ctx: TransactionContext) => ctx.holdOfPayment.load(p.id),
};

export const refundResolvers = {
  __resolveReference: async (ref: { id: string }, ctx: TransactionContext) => {
    const refund = await ctx.refunds.load(ref.id);
    return refund && (await readablePayment(ctx, refund.paymentId)) ? refund : null;
  },
  amount: (r: RefundRow) => formatAmount(r.amount),
  payment: async (r: RefundRow, _: unknown, ctx: TransactionContext) => readablePayment(ctx, r.paymentId),
};

export const externalTransferResolvers = {
  amount: (t: { amount: bigint }) => formatAmount(t.amount),
  account: (t: { accountId: string }) => ({ __typename: 'Account', id: t.accountId }),
};
