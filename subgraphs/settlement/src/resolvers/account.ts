import { forbidden } from '@paygraph/shared/graphql/errors';
import { mayRead } from '@paygraph/shared/identity';
import type { SettlementContext } from '../context';
import { merchantOwner, merchantSettlements } from '../services/settlements';

export const accountResolvers = {
  __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
  settlements: async (account: { id: string }, args: { first?: number | null }, ctx: SettlementContext) => {
    const owner = await merchantOwner(ctx, account.id);
    if (owner === null) return null;
    if (!mayRead(ctx.identity, owner)) throw forbidden(`you may not read the settlements of account ${account.id}`);
    return merchantSettlements(ctx.shards, account.id, args.first);
  },
};
