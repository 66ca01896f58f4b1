import type { GraphQLResolveInfo } from 'graphql';
import { badUserInput, forbidden, shardUnavailable } from '@paygraph/shared/graphql/errors';
import { reportBesideData } from '@paygraph/shared/graphql/partial';
import { mayRead } from '@paygraph/shared/identity';
import { parseId } from '@paygraph/shared/ids';
import { decodeCursor, encodeCursor, pageSize } from '@paygraph/shared/graphql/paging';
import type { AccountContext } from '../context';
import { loadOwnerPage } from '../db/account-views';
import { asAccount } from './account';

export const queryResolvers = {
  account: async (_: unknown, args: { id: string }, ctx: AccountContext) => {
    if (!parseId('account', args.id)) throw badUserInput(`"${args.id}" is not an account id`);
    const view = await ctx.accounts.load(args.id);
    if (!view) return null;
    if (!mayRead(ctx.identity, view.ownerId)) throw forbidden(`account ${args.id} is not yours`);
    return asAccount(view);
  },

  /** Every shard is asked; one that cannot be reached leaves its accounts out, with SHARD_UNAVAILABLE beside the rest. */
  accounts: async (_: unknown, args: { ownerId: string; first?: number | null; after?: string | null }, ctx: AccountContext, info: GraphQLResolveInfo) => {
    if (!mayRead(ctx.identity, args.ownerId)) throw forbidden('you may list only your own accounts');
    const first = pageSize(args.first);
    const afterId = args.after ? decodeCursor('account', args.after) : null;
    const page = await loadOwnerPage(ctx.shards, args.ownerId, afterId, first);
    for (const down of page.unavailable) {
      ctx.log.error({ detail: down.detail }, `accounts of an owner: shard ${down.shard} unavailable`);
      reportBesideData(ctx, info, shardUnavailable(down.shard));
    }
    for (const view of page.views) ctx.accounts.prime(view.id, view);
    const edges = page.views.map((v) => ({ cursor: encodeCursor('account', v.id), node: asAccount(v) }));
    return { edges, pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor ?? null } };
  },
};
