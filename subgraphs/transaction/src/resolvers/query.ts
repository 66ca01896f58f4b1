import { badUserInput } from '@paygraph/shared/graphql/errors';
import { parseId } from '@paygraph/shared/ids';
import type { TransactionContext } from '../context';
import { readablePayment } from './payment';
import { readableHold } from './hold';

export const queryResolvers = {
  payment: (_: unknown, args: { id: string }, ctx: TransactionContext) => {
    if (!parseId('payment', args.id)) throw badUserInput(`"${args.id}" is not a payment id`);
    return readablePayment(ctx, args.id);
  },
  refund: async (_: unknown, args: { id: string }, ctx: TransactionContext) => {
    if (!parseId('refund', args.id)) throw badUserInput(`"${args.id}" is not a refund id`);
    const refund = await ctx.refunds.load(args.id);
    if (!refund) return null;
    await readablePayment(ctx, refund.paymentId);
    return refund;
  },
  hold: (_: unknown, args: { id: string }, ctx: TransactionContext) => {
    if (!parseId('hold', args.id)) throw badUserInput(`"${args.id}" is not a hold id`);
    return readableHold(ctx, args.id);
  },
};
