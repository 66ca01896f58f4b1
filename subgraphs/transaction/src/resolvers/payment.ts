import { allowed } from '@paygraph/shared/graphql/errors';
import { formatAmount } from '@paygraph/shared/money';
import { assert } from '@paygraph/shared/result';
import type { TransactionContext } from '../context';
import type { PaymentRow, RefundRow } from '../db/schema/transactions';
import { readablePayment as paymentFor, readableRefund } from '../services/reads';
import type {
  DepositResolvers,
  LegResolvers,
  PaymentResolvers,
  RefundResolvers,
  WithdrawalResolvers,
} from '../generated/resolvers-types';
import type { LegMapper } from './mappers';

/** A payment the caller may read (services/reads.ts), null when there is none; FORBIDDEN otherwise. */
export async function readablePayment(ctx: TransactionContext, id: string): Promise<PaymentRow | null> {
  return allowed(await paymentFor(ctx, id));
}

export const paymentResolvers = {
  __resolveReference: (ref: { id: string }, ctx: TransactionContext) => readablePayment(ctx, ref.id),
  amount: (p: PaymentRow) => formatAmount(p.amount),
  refundedAmount: (p: PaymentRow) => formatAmount(p.refundedAmount),
  payer: (p: PaymentRow) => ({ __typename: 'Account', id: p.payerAccountId }),
  payee: (p: PaymentRow) => ({ __typename: 'Account', id: p.payeeAccountId }),
  discountAmount: (p: PaymentRow) => formatAmount(p.discountAmount),
  legs: (p: PaymentRow, _: unknown, ctx: TransactionContext) =>
    p.route === 'LEGS' ? ctx.loaders.legsOfPayment.load(p.id) : twoLegs(ctx, p),
  refunds: (p: PaymentRow, _: unknown, ctx: TransactionContext) => ctx.loaders.refundsOfPayment.load(p.id),
  /** Whoever may read the payment may read the hold it captured: they share payer and payee. */
  hold: (p: PaymentRow, _: unknown, ctx: TransactionContext) => ctx.loaders.holdOfPayment.load(p.id),
} satisfies PaymentResolvers;

/**
 * A two-leg payment's legs are its payer and payee (not written as rows). A plain payment's are
 * each of the whole amount. An FX payment's payer leg is the quote's sell side in the payer's
 * currency, its payee leg the buy side in the payee's currency, refunded by what the payee
 * gave back: the shares its refunds took (refund_fx), not a share recomputed from the
 * payment's refunded amount, which differs once a refund fails after a later one was decided.
 */
async function twoLegs(ctx: TransactionContext, p: PaymentRow): Promise<LegMapper[]> {
  const payer: LegMapper = {
    role: 'PAYER',
    accountId: p.payerAccountId,
    amount: p.amount,
    currency: p.currency,
    refundedAmount: p.refundedAmount,
  };
  const fx = await ctx.loaders.paymentFx.load(p.id);
  const payee: LegMapper = fx
    ? {
        role: 'PAYEE',
        accountId: p.payeeAccountId,
        amount: fx.buyAmount,
        currency: fx.buyCurrency,
        refundedAmount: await ctx.loaders.buyReturned.load(p.id),
      }
    : { ...payer, role: 'PAYEE', accountId: p.payeeAccountId };
  return [payer, payee];
}

/**
 * A leg's account is a reference: the account subgraph shows its owner, status and balance only to whoever may read it.
 */
export const legResolvers = {
  account: (l: LegMapper) => ({ __typename: 'Account', id: l.accountId }),
  amount: (l: LegMapper) => formatAmount(l.amount),
  refundedAmount: (l: LegMapper) => formatAmount(l.refundedAmount),
} satisfies LegResolvers;

export const refundResolvers = {
  __resolveReference: async (ref: { id: string }, ctx: TransactionContext) =>
    allowed(await readableRefund(ctx, ref.id)),
  amount: (r: RefundRow) => formatAmount(r.amount),
  payment: async (r: RefundRow, _: unknown, ctx: TransactionContext) => {
    const payment = await readablePayment(ctx, r.paymentId);
    // A refund's row is written beside its payment's, which no one deletes.
    assert(payment, `refund ${r.id} has no payment ${r.paymentId}`);
    return payment;
  },
} satisfies RefundResolvers;

export const externalTransferResolvers = {
  amount: (t: { amount: bigint }) => formatAmount(t.amount),
  account: (t: { accountId: string }) => ({ __typename: 'Account', id: t.accountId }),
} satisfies DepositResolvers & WithdrawalResolvers;
