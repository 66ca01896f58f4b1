import { allowed } from '@paygraph/shared/graphql/errors';
import { formatAmount } from '@paygraph/shared/money';
import type { TransactionContext } from '../context';
import type { HoldRow } from '../db/schema/transactions';
import { holdStatusAt } from '../domain/hold-rules';
import { readableHold as holdFor } from '../services/reads';
import { readablePayment } from './payment';
import type { HoldResolvers } from '../generated/resolvers-types';

/** A hold the caller may read (services/reads.ts), null when there is none; FORBIDDEN otherwise. */
export async function readableHold(ctx: TransactionContext, id: string): Promise<HoldRow | null> {
  return allowed(await holdFor(ctx, id));
}

export const holdResolvers = {
  __resolveReference: (ref: { id: string }, ctx: TransactionContext) => readableHold(ctx, ref.id),
  status: (h: HoldRow, _: unknown, ctx: TransactionContext) => holdStatusAt(h, ctx.now()),
  amount: (h: HoldRow) => formatAmount(h.amount),
  capturedAmount: (h: HoldRow) => formatAmount(h.capturedAmount),
  payer: (h: HoldRow) => ({ __typename: 'Account', id: h.payerAccountId }),
  payee: (h: HoldRow) => ({ __typename: 'Account', id: h.payeeAccountId }),
  payment: (h: HoldRow, _: unknown, ctx: TransactionContext) =>
    h.status === 'CAPTURED' && h.endedBy ? readablePayment(ctx, h.endedBy) : null,
} satisfies HoldResolvers;
