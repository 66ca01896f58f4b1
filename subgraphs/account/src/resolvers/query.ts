import type { GraphQLResolveInfo } from 'graphql';
import { allowed, badUserInput, shardUnavailable } from '@paygraph/shared/graphql/errors';
import { reportBesideData } from '@paygraph/shared/graphql/partial';
import { parseId } from '@paygraph/shared/ids';
import { decodeCursor, encodeCursor, pageSize } from '@paygraph/shared/graphql/paging';
import type { AccountContext } from '../context';
import { listableOwner, ownerAccounts, readableAccount } from '../services/accounts';
import { creditExposure } from '../services/credit-lines';
import { formatAmount } from '@paygraph/shared/money';
import { asAccount } from './account';
import { booksQueryResolvers } from './books';
import { firstEntriesPageRows } from './read-ahead';
import type { QueryResolvers } from '../generated/resolvers-types';

export const queryResolvers = {
  ...booksQueryResolvers,
  account: async (_: unknown, args: { id: string }, ctx: AccountContext, info: GraphQLResolveInfo) => {
    if (!parseId('account', args.id)) throw badUserInput(`"${args.id}" is not an account id`);
    const entriesRows = firstEntriesPageRows(info);
    if (entriesRows !== null) ctx.entriesAhead.set(args.id, entriesRows);
    const view = allowed(await readableAccount(ctx, args.id));
    return view ? asAccount(view) : null;
  },

  /**
   * Every shard is asked; one that cannot be reached leaves its accounts out, with SHARD_UNAVAILABLE beside the rest.
   */
  accounts: async (
    _: unknown,
    args: { ownerId: string; first?: number | null; after?: string | null },
    ctx: AccountContext,
    info: GraphQLResolveInfo,
  ) => {
    const ownerId = allowed(listableOwner(ctx, args.ownerId));
    const first = pageSize(args.first);
    const afterId = args.after ? decodeCursor('account', args.after) : null;
    const page = await ownerAccounts(ctx, ownerId, afterId, first);
    for (const down of page.unavailable) {
      ctx.log.error({ detail: down.detail }, `accounts of an owner: shard ${down.shard} unavailable`);
      reportBesideData(ctx, info, shardUnavailable(down.shard));
    }
    for (const view of page.views) ctx.accounts.prime(view.id, view);
    const edges = page.views.map((v) => ({ cursor: encodeCursor('account', v.id), node: asAccount(v) }));
    return { edges, pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor ?? null } };
  },

  creditExposure: async (_: unknown, _args: unknown, ctx: AccountContext) =>
    allowed(await creditExposure(ctx)).map((line) => ({
      currency: line.currency,
      used: formatAmount(line.used),
      limit: formatAmount(line.limit),
      accounts: line.accounts,
    })),
} satisfies QueryResolvers;
