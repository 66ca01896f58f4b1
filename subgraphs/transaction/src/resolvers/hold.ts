import { forbidden } from '@paygraph/shared/graphql/errors';
import { mayRead } from '@paygraph/shared/identity';
import { formatAmount } from '@paygraph/shared/money';
import type { TransactionContext } from '../context';
import type { HoldRow } from '../db/schema/transactions';
import { holdStatusAt } from '../domain/hold-rules';
import { readablePayment } from './payment';

/** A hold is readable by an operator and by the owners of its payer and payee accounts. */
export async function readableHold(ctx: TransactionContext, id: string): Promise<HoldRow | null> {
  const hold = await ctx.holds.load(id);
  if (!hold) return null;
  if (ctx.identity.role === 'operator') return hold;
  const [payer, payee] = await ctx.accountRows.loadMany([hold.payerAccountId, hold.payeeAccountId]);
  if (![payer, payee].some((a) => a && !(a instanceof Error) && mayRead(ctx.identity, a.ownerId))) throw forbidden(`hold ${id} is not yours`);
  return hold;
}

export const holdResolvers = {
  __resolveReference: (ref: { id: string }, ctx: TransactionContext) => readableHold(ctx, ref.id),
  status: (h: HoldRow, _: unknown, ctx: TransactionContext) => holdStatusAt(h, ctx.now()),
  amount: (h: HoldRow) => formatAmount(h.amount),
  capturedAmount: (h: HoldRow) => formatAmount(h.capturedAmount),
  payer: (h: HoldRow) => ({ __typename: 'Account', id: h.payerAccountId }),
  payee: (h: HoldRow) => ({ __typename: 'Account', id: h.payeeAccountId }),
  payment: (h: HoldRow, _: unknown, ctx: TransactionContext) => (h.status === 'CAPTURED' && h.endedBy ? readablePayment(ctx, h.endedBy) : null),
};
