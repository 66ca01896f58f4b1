import { formatAmount } from '@paygraph/shared/money';
import type { QueryResolvers } from '../generated/resolvers-types';
import { ledgerHealthFor, reconciliationFor, reconciliationReportsFor } from '../services/reconcile';
import { readableSettlement } from '../services/settlements';
import { advanceOfferFor } from '../services/advances';
import { allowed } from '@paygraph/shared/graphql/errors';
import { reportFromRow } from './reconciliation';
import { GraphQLError } from 'graphql';
import { isChannel } from '@paygraph/shared/channels';
import {
  channelReconciliationFor,
  channelReconciliationsFor,
  reconciliationExceptionsFor,
} from '../services/channel-reconcile';

/** A query has no result union: a malformed channel is a malformed request. */
function channelOrThrow(channel: string): string {
  if (!isChannel(channel))
    throw new GraphQLError('channel must be 1-64 characters of [A-Za-z0-9_.-]', {
      extensions: { code: 'BAD_USER_INPUT' },
    });
  return channel;
}

/** Thin: each service authorizes (services/access.ts); a refusal is FORBIDDEN here. */
export const queryResolvers = {
  reconciliation: async (_, args, ctx) => allowed(await reconciliationFor(ctx, args.businessDate)),
  reconciliationReports: async (_, args, ctx) =>
    allowed(await reconciliationReportsFor(ctx, args.businessDate, args.first)).map(reportFromRow),
  channelReconciliation: async (_, args, ctx) =>
    allowed(await channelReconciliationFor(ctx, channelOrThrow(args.channel), args.businessDate)),
  channelReconciliations: async (_, args, ctx) =>
    allowed(await channelReconciliationsFor(ctx, channelOrThrow(args.channel), args.businessDate, args.first)),
  reconciliationExceptions: async (_, args, ctx) => {
    const channel = args.channel === null || args.channel === undefined ? null : channelOrThrow(args.channel);
    return allowed(await reconciliationExceptionsFor(ctx, channel, args.status ?? 'OPEN', args.first));
  },
  ledgerHealth: async (_, __, ctx) => {
    const { health, frozen } = allowed(await ledgerHealthFor(ctx));
    return {
      balanced: health.balanced && frozen.length === 0,
      frozenMismatches: frozen.map((m) => ({ ...m, frozen: formatAmount(m.frozen), held: formatAmount(m.held) })),
      inTransit: health.inTransit.map((t) => ({ currency: t.currency, amount: formatAmount(t.amount) })),
      shards: health.shards.map((s) => ({ ...s, debits: formatAmount(s.debits), credits: formatAmount(s.credits) })),
    };
  },
  settlement: async (_, args, ctx) => allowed(await readableSettlement(ctx, args.id)),
  advanceOffer: async (_, args, ctx) => allowed(await advanceOfferFor(ctx, args.merchantAccountId)),
} satisfies QueryResolvers;
