import { allowed, badUserInput } from '@paygraph/shared/graphql/errors';
import { parseId } from '@paygraph/shared/ids';
import type { Account } from '@paygraph/shared/ledger/index';
import type { AccountContext } from '../context';
import { decodeBalanceCursor, encodeBalanceCursor, type StreamPosition } from '../domain/balance-cursor';
import { decideStart, describeStartRefusal } from '../domain/stream-start';
import { balanceEvents, balanceHeads, type BalanceEvent } from '../services/balance-events';
import { followable } from '../services/accounts';
import { asAccount } from './account';
import { sequenceOf } from './entry';
import type { BalanceChangeEventResolvers, QueryResolvers, SubscriptionResolvers } from '../generated/resolvers-types';
import { balanceEntryPageSizeMax } from '../limits';

export const balanceEventResolvers = {
  cursor: (event: BalanceEvent) => encodeBalanceCursor(event.position),
  sequence: (event: BalanceEvent) => sequenceOf(event.entry),
  stripeId: (event: BalanceEvent) => event.stripeId,
  entry: (event: BalanceEvent) => event.entry,
  /**
   * The account as of the event: its balance right after the entry; status and version as read
   * within the last homeRowFreshMs (a stream's events would otherwise show them as they were
   * when it was subscribed). A page read has just read the row, so this reads nothing more.
   */
  account: async (event: BalanceEvent, _args: unknown, ctx: AccountContext) => {
    const home = (await ctx.balances.reader.home(event.home.id)) ?? event.home;
    const stripeIds = [...event.position.sequences.keys()].filter((id) => id !== home.id);
    return asAccount({
      id: home.id,
      ownerId: home.ownerId,
      type: home.type,
      status: home.status,
      currency: home.currency,
      entity: home.entity,
      version: home.version,
      createdAt: home.createdAt,
      creditLimit: home.creditLimit,
      lastSequence: home.lastSequence,
      ...event.buckets,
      stripeIds,
    });
  },
} satisfies BalanceChangeEventResolvers;

/** The account to follow, for a caller who may (services/accounts.ts followable). */
function authorize(ctx: AccountContext, accountId: string, home: Account | null): Account {
  const found = allowed(followable(ctx, accountId, home));
  if (!found) throw badUserInput(`there is no account ${accountId}`);
  return found;
}

function checkAccountId(accountId: string): void {
  if (!parseId('account', accountId)) throw badUserInput(`"${accountId}" is not an account id`);
}

export const balanceEventQueryResolvers = {
  balanceChanges: async (
    _: unknown,
    args: { accountId: string; after?: string | null; first?: number | null },
    ctx: AccountContext,
  ) => {
    checkAccountId(args.accountId);
    const first = args.first ?? 50;
    if (!Number.isInteger(first) || first < 1 || first > balanceEntryPageSizeMax)
      throw badUserInput(`first must be between 1 and ${balanceEntryPageSizeMax}`);
    const { reader } = ctx.balances;
    const home = authorize(ctx, args.accountId, await reader.home(args.accountId));
    let position: StreamPosition = { accountId: home.id, sequences: new Map() };
    if (args.after) {
      const decoded = decodeBalanceCursor(args.after, args.accountId);
      if (!decoded.ok) throw badUserInput(describeStartRefusal(decoded.error));
      position = decoded.value;
    }
    const events = await reader.after(home, position, first);
    if (!events.ok) throw badUserInput(describeStartRefusal(events.error));
    return events.value;
  },
} satisfies QueryResolvers;

async function startOf(ctx: AccountContext, accountId: string, after: string | null) {
  checkAccountId(accountId);
  const rows = await ctx.balances.reader.rows(accountId);
  authorize(ctx, accountId, rows?.find((r) => r.id === accountId) ?? null);
  const start = decideStart(accountId, rows!, after);
  if (!start.ok) throw badUserInput(describeStartRefusal(start.error));
  return { rows: rows!, start: start.value };
}

export const subscriptionResolvers = {
  balanceChanged: {
    subscribe: async (_: unknown, args: { accountId: string; after?: string | null }, ctx: AccountContext) => {
      const { rows, start } = await startOf(ctx, args.accountId, args.after ?? null);
      return balanceEvents(ctx.balances.reader, ctx.balances.feed, rows, start);
    },
    resolve: (event: BalanceEvent) => event,
  },
  balanceHead: {
    subscribe: async (_: unknown, args: { accountId: string }, ctx: AccountContext) => {
      const { rows } = await startOf(ctx, args.accountId, null);
      return balanceHeads(ctx.balances.feed, rows);
    },
    resolve: (cursor: string) => cursor,
  },
} satisfies SubscriptionResolvers;
