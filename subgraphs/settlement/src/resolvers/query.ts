import { formatAmount } from '@paygraph/shared/money';
import { ledgerHealth } from '@paygraph/shared/ledger/health';
import type { QueryResolvers } from '../generated/resolvers-types';
import { frozenAgainstHolds, reconcileAndStore, storedReports } from '../services/reconcile';
import { allowed, permitted } from '@paygraph/shared/graphql/errors';
import { operatorOnly, readableSettlement } from '../services/authorization';
import { reportFromRow } from './reconciliation';
import { GraphQLError } from 'graphql';
import { isChannel } from '@paygraph/shared/channels';
import { listExceptions, reconcileChannel, storedChannelReports } from '../services/channel-reconcile';

/** A query has no result union: a malformed channel is a malformed request. */
function channelOrThrow(channel: string): string {
  if (!isChannel(channel)) throw new GraphQLError('channel must be 1-64 characters of [A-Za-z0-9_.-]', { extensions: { code: 'BAD_USER_INPUT' } });
  return channel;
}

export const queryResolvers = {
  reconciliation: async (_, args, ctx) => {
    permitted(operatorOnly(ctx.identity, 'reconcile'));
    return reconcileAndStore(ctx.shards, args.businessDate, ctx.identity.sub, ctx.now());
  },
  reconciliationReports: async (_, args, ctx) => {
    permitted(operatorOnly(ctx.identity, 'read reconciliation reports'));
    return (await storedReports(ctx.shards, args.businessDate, args.first)).map(reportFromRow);
  },
  channelReconciliation: async (_, args, ctx) => {
    permitted(operatorOnly(ctx.identity, 'reconcile channels'));
    return reconcileChannel(ctx.shards, channelOrThrow(args.channel), args.businessDate, ctx.identity.sub, ctx.now());
  },
  channelReconciliations: async (_, args, ctx) => {
    permitted(operatorOnly(ctx.identity, 'read channel reconciliations'));
    return storedChannelReports(ctx.shards, channelOrThrow(args.channel), args.businessDate, args.first);
  },
  reconciliationExceptions: async (_, args, ctx) => {
    permitted(operatorOnly(ctx.identity, 'read reconciliation exceptions'));
    const channel = args.channel === null || args.channel === undefined ? null : channelOrThrow(args.channel);
    return listExceptions(ctx.shards, channel, args.status ?? 'OPEN', args.first, ctx.now());
  },
  ledgerHealth: async (_, __, ctx) => {
    permitted(operatorOnly(ctx.identity, 'read ledger health'));
    const [health, frozen] = await Promise.all([ledgerHealth(ctx.shards), frozenAgainstHolds(ctx.shards)]);
    return {
      balanced: health.balanced && frozen.length === 0,
      frozenMismatches: frozen.map((m) => ({ ...m, frozen: formatAmount(m.frozen), held: formatAmount(m.held) })),
      inTransit: health.inTransit.map((t) => ({ currency: t.currency, amount: formatAmount(t.amount) })),
      shards: health.shards.map((s) => ({ ...s, debits: formatAmount(s.debits), credits: formatAmount(s.credits) })),
    };
  },
  settlement: async (_, args, ctx) => allowed(await readableSettlement(ctx, args.id)),
} satisfies QueryResolvers;
