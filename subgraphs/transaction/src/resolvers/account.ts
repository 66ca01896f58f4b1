import { allowed } from '@paygraph/shared/graphql/errors';
import { decodeCursor, encodeCursor, pageSize } from '@paygraph/shared/graphql/paging';
import type { TransactionContext } from '../context';
import { accountHolds, accountPayments, listableAccount, type HoldFilter } from '../services/reads';
import type { AccountResolvers } from '../generated/resolvers-types';

/** The transaction subgraph's part of Account: its payments and holds. */
export const accountResolvers = {
  __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
  payments: async (
    account: { id: string },
    args: { first?: number | null; after?: string | null },
    ctx: TransactionContext,
  ) => {
    if (!allowed(await listableAccount(ctx, account.id, 'payments'))) return null;
    const first = pageSize(args.first);
    const beforeId = args.after ? decodeCursor('payment', args.after) : null;
    const page = await accountPayments(ctx, account.id, beforeId, first);
    const edges = page.payments.map((p) => ({ cursor: encodeCursor('payment', p.id), node: p }));
    return { edges, pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor ?? null } };
  },
  holds: async (
    account: { id: string },
    args: { status?: HoldFilter | null; first?: number | null; after?: string | null },
    ctx: TransactionContext,
  ) => {
    if (!allowed(await listableAccount(ctx, account.id, 'holds'))) return null;
    const first = pageSize(args.first);
    const beforeId = args.after ? decodeCursor('hold', args.after) : null;
    const page = await accountHolds(ctx, account.id, args.status ?? null, beforeId, first);
    const edges = page.holds.map((h) => ({ cursor: encodeCursor('hold', h.id), node: h }));
    return { edges, pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor ?? null } };
  },
} satisfies AccountResolvers;
