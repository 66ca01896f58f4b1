import { allowed, badUserInput } from '@paygraph/shared/graphql/errors';
import { parseId } from '@paygraph/shared/ids';
import type { TransactionContext } from '../context';
import { readableRefund } from '../services/reads';
import { readablePayment } from './payment';
import { readableHold } from './hold';
import { readableCampaign } from '../services/campaign';
import type { QueryResolvers } from '../generated/resolvers-types';

export const queryResolvers = {
  payment: (_: unknown, args: { id: string }, ctx: TransactionContext) => {
    if (!parseId('payment', args.id)) throw badUserInput(`"${args.id}" is not a payment id`);
    return readablePayment(ctx, args.id);
  },
  refund: async (_: unknown, args: { id: string }, ctx: TransactionContext) => {
    if (!parseId('refund', args.id)) throw badUserInput(`"${args.id}" is not a refund id`);
    return allowed(await readableRefund(ctx, args.id));
  },
  campaign: async (_: unknown, args: { id: string }, ctx: TransactionContext) => {
    if (!parseId('campaign', args.id)) throw badUserInput(`"${args.id}" is not a campaign id`);
    return allowed(await readableCampaign(ctx, args.id));
  },
  hold: (_: unknown, args: { id: string }, ctx: TransactionContext) => {
    if (!parseId('hold', args.id)) throw badUserInput(`"${args.id}" is not a hold id`);
    return readableHold(ctx, args.id);
  },
} satisfies QueryResolvers;
