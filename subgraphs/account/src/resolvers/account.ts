import { badUserInput, forbidden, shardUnavailable } from '@paygraph/shared/graphql/errors';
import { mayRead, mayReadBalance } from '@paygraph/shared/identity';
import { decodeCursor, encodeCursor, pageSize } from '@paygraph/shared/graphql/paging';
import { formatAmount } from '@paygraph/shared/money';
import type { AccountContext } from '../context';
import { loadEntriesPage } from '../db/entries';
import { totalOf, type AccountView } from '../domain/account-view';

/** Account: identity fields are visible to whoever holds a reference; money only to readers. */
export const accountResolvers = {
  __resolveReference: async (ref: { id: string }, ctx: AccountContext) => {
    const view = await ctx.accounts.load(ref.id);
    return view ? asAccount(view) : null;
  },
  version: (view: AccountView) => view.version.toString(),
  balance: (view: AccountView, _args: unknown, ctx: AccountContext) => {
    if (!mayReadBalance(ctx.identity, view.ownerId)) throw forbidden(`you may not read the balance of account ${view.id}`);
    if (view.unreadStripeShard !== undefined) throw shardUnavailable(view.unreadStripeShard);
    return {
      available: formatAmount(view.available),
      frozen: formatAmount(view.frozen),
      pending: formatAmount(view.pending),
      total: formatAmount(totalOf(view)),
    };
  },
  entries: async (view: AccountView, args: { first?: number | null; after?: string | null }, ctx: AccountContext) => {
    if (!mayRead(ctx.identity, view.ownerId)) throw forbidden(`you may not read the entries of account ${view.id}`);
    const first = pageSize(args.first);
    const before = args.after ? parseSequence(decodeCursor('entry', args.after)) : null;
    const page = await loadEntriesPage(ctx.shards, view.id, before, first);
    const edges = page.entries.map((e) => ({ cursor: encodeCursor('entry', e.sequence.toString()), node: e }));
    return { edges, pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor ?? null } };
  },
};

export function asAccount(view: AccountView) {
  return { __typename: 'Account' as const, ...view };
}

function parseSequence(text: string): bigint {
  if (!/^\d{1,19}$/.test(text)) throw badUserInput('entries cursor is malformed');
  return BigInt(text);
}
