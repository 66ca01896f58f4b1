import { allowed, badUserInput, shardUnavailable } from '@paygraph/shared/graphql/errors';
import { pageSize } from '@paygraph/shared/graphql/paging';
import { formatAmount } from '@paygraph/shared/money';
import { creditUsedOf } from '@paygraph/shared/ledger/index';
import { unreachable } from '@paygraph/shared/result';
import type { AccountContext } from '../context';
import type { AccountView } from '../domain/account-view';
import { decodeEntriesCursor, entriesCursors, type StreamPosition } from '../domain/balance-cursor';
import type { Buckets } from '../domain/balance-snapshot';
import { statementRangeMessage, type StatementLine } from '../domain/statement';
import { balanceAt, entriesOf, statementOf } from '../services/account-history';
import { ownerIdFor, readableBalance, readableHistory } from '../services/accounts';
import type { AccountResolvers } from '../generated/resolvers-types';

/**
 * Account: id, type, currency and status are visible to whoever holds a reference (a payment's
 * counterparty, a leg's account; paying an account tells its status anyway, ACCOUNT_NOT_ACTIVE);
 * the owner and the money only to readers. The reference is resolved for anyone, so the
 * services decide per field (services/accounts.ts), here, where the row is.
 */
export const accountResolvers = {
  __resolveReference: async (ref: { id: string }, ctx: AccountContext) => {
    const view = await ctx.accounts.load(ref.id);
    return view ? asAccount(view) : null;
  },
  ownerId: (view: AccountView, _args: unknown, ctx: AccountContext) => ownerIdFor(ctx, view),
  version: (view: AccountView) => view.version.toString(),
  balance: (view: AccountView, _args: unknown, ctx: AccountContext) => {
    const readable = allowed(readableBalance(ctx, view));
    if (readable.unreadStripeShard !== undefined) throw shardUnavailable(readable.unreadStripeShard);
    return balanceOf(readable, readable.creditLimit);
  },
  entries: async (view: AccountView, args: { first?: number | null; after?: string | null }, ctx: AccountContext) => {
    mustRead(view, ctx, 'entries');
    const first = pageSize(args.first);
    const start = args.after
      ? entriesPosition(args.after, view.id)
      : { accountId: view.id, sequences: new Map<string, bigint>() };
    const page = await entriesOf(ctx.shards, view, start, first, ctx.entriesRead);
    // Each edge's cursor is the position right after its entry, so any edge can resume the list.
    const cursors = entriesCursors(start, page.entries);
    const edges = page.entries.map((node, i) => ({ cursor: cursors[i]!, node }));
    return { edges, pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor ?? null } };
  },
  balanceAt: async (view: AccountView, args: { at: string }, ctx: AccountContext) => {
    mustRead(view, ctx, 'balance');
    const result = await balanceAt(ctx.shards, view, new Date(args.at), ctx.now());
    if (!result.ok)
      throw badUserInput(
        `balanceAt: ${result.error.at.toISOString()} is in the future (now ${result.error.now.toISOString()})`,
      );
    // The limit is the current one: the ledger keeps no history of limits, only of balances.
    return balanceOf(result.value, view.creditLimit);
  },
  statement: async (view: AccountView, args: { from: string; to: string }, ctx: AccountContext) => {
    mustRead(view, ctx, 'statement');
    const result = await statementOf(ctx.shards, view, args.from, args.to);
    if (!result.ok) {
      switch (result.error.kind) {
        case 'FromAfterTo':
        case 'RangeTooLong':
          throw badUserInput(statementRangeMessage(result.error));
        default:
          return unreachable(result.error);
      }
    }
    return result.value.map(statementLine);
  },
} satisfies AccountResolvers;

/** The history reads need every stripe: one whose shard could not be read fails them (SHARD_UNAVAILABLE). */
function mustRead(view: AccountView, ctx: AccountContext, what: string): void {
  allowed(readableHistory(ctx, view, what));
  if (view.unreadStripeShard !== undefined) throw shardUnavailable(view.unreadStripeShard);
}

function balanceOf(buckets: Buckets, creditLimit: bigint | null) {
  return {
    available: formatAmount(buckets.available),
    frozen: formatAmount(buckets.frozen),
    pending: formatAmount(buckets.pending),
    total: formatAmount(buckets.available + buckets.frozen + buckets.pending),
    creditLimit: formatAmount(creditLimit ?? 0n),
    creditUsed: formatAmount(creditUsedOf(buckets)),
  };
}

function statementLine(line: StatementLine) {
  return {
    businessDate: line.businessDate,
    opening: formatAmount(line.opening),
    credits: formatAmount(line.credits),
    debits: formatAmount(line.debits),
    closing: formatAmount(line.closing),
    entryCount: Number(line.entryCount),
  };
}

function entriesPosition(cursor: string, accountId: string): StreamPosition {
  const decoded = decodeEntriesCursor(cursor, accountId);
  if (decoded.ok) return decoded.value;
  switch (decoded.error.kind) {
    case 'CursorMalformed':
      throw badUserInput('entries cursor is malformed');
    case 'CursorOfAnotherAccount':
      throw badUserInput(`entries cursor was issued for another account than ${accountId}`);
    default:
      return unreachable(decoded.error);
  }
}

export function asAccount(view: AccountView) {
  return { __typename: 'Account' as const, ...view };
}
