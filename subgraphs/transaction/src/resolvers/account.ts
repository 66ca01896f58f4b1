import { forbidden } from '@paygraph/shared/graphql/errors';
import { mayRead } from '@paygraph/shared/identity';
import { decodeCursor, encodeCursor, pageSize } from '@paygraph/shared/graphql/paging';
import type { TransactionContext } from '../context';
import { loadAccountHolds, loadAccountPayments } from '../db/account-payments';
import type { HoldFilter } from '../db/holds';

/** The transaction subgraph's part of Account: its payments and holds. */
export const accountResolvers = {
  __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
  payments: async (account: { id: string }, args: { first?: number | null; after?: string | null }, ctx: TransactionContext) => {
    const row = await ctx.accountRows.load(account.id);
    if (!row) return null;
    if (!mayRead(ctx.identity, row.ownerId)) throw forbidden(`you may not read the payments of account ${account.id}`);
    const first = pageSize(args.first);
    const beforeId = args.after ? decodeCursor('payment', args.after) : null;
    const page = await loadAccountPayments(ctx.shards, account.id, beforeId, first);
    for (const p of page.payments) ctx.payments.prime(p.id, p);
    const edges = page.payments.map((p) => ({ cursor: encodeCursor('payment', p.id), node: p }));
    return { edges, pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor ?? null } };
  },
  holds: async (account: { id: string }, args: { status?: HoldFilter | null; first?: number | null; after?: string | null }, ctx: TransactionContext) => {
    const row = await ctx.accountRows.load(account.id);
    if (!row) return null;
    if (!mayRead(ctx.identity, row.ownerId)) throw forbidden(`you may not read the holds of account ${account.id}`);
    const first = pageSize(args.first);
    const beforeId = args.after ? decodeCursor('hold', args.after) : null;
    const page = await loadAccountHolds(ctx.shards, account.id, args.status ?? null, ctx.now(), beforeId, first);
    for (const h of page.holds) ctx.holds.prime(h.id, h);
    const edges = page.holds.map((h) => ({ cursor: encodeCursor('hold', h.id), node: h }));
    return { edges, pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor ?? null } };
  },
};
