import { formatAmount } from '@paygraph/shared/money';
import type { QueryResolvers } from '../generated/resolvers-types';
import { ledgerHealthFor, reconciliationFor, reconciliationReportsFor } from '../services/reconcile';
import { readableSettlement } from '../services/settlements';
import { advanceOfferFor } from '../services/advances';
import { allowed } from '@paygraph/shared/graphql/errors';
import { reportFromRow } from './reconciliation';
import { GraphQLError } from 'graphql';
import { isChannel } from '@paygraph/shared/channels';
import { statementDateMax } from '@paygraph/shared/limits';
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

/**
 * A channel's reconciliation of a date after statementDateMax is a malformed request: no statement is dated after it,
 * and the window around a later date would run past the last day a date may be (addDays('9999-12-31', 1) is no date).
 */
function reconcilableDateOrThrow(businessDate: string): string {
  if (businessDate > statementDateMax)
    throw new GraphQLError(
      `businessDate must be on or before ${statementDateMax} (the last day a statement may be dated), got ${businessDate}`,
      { extensions: { code: 'BAD_USER_INPUT' } },
    );
  return businessDate;
}

/** Thin: each service authorizes (services/access.ts); a refusal is FORBIDDEN here. */
export const queryResolvers = {
  reconciliation: async (_, args, ctx) => allowed(await reconciliationFor(ctx, args.businessDate)),
  reconciliationReports: async (_, args, ctx) =>
    allowed(await reconciliationReportsFor(ctx, args.businessDate, args.first)).map(reportFromRow),
  channelReconciliation: async (_, args, ctx) =>
    allowed(
      await channelReconciliationFor(ctx, channelOrThrow(args.channel), reconcilableDateOrThrow(args.businessDate)),
    ),
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
      unreachableShards: health.unreachableShards,
      frozenMismatches: frozen.map((m) => ({ ...m, frozen: formatAmount(m.frozen), held: formatAmount(m.held) })),
      inTransit: health.inTransit.map((t) => ({ currency: t.currency, amount: formatAmount(t.amount) })),
      shards: health.shards.map((s) => ({ ...s, debits: formatAmount(s.debits), credits: formatAmount(s.credits) })),
    };
  },
  settlement: async (_, args, ctx) => allowed(await readableSettlement(ctx, args.id)),
  advanceOffer: async (_, args, ctx) => allowed(await advanceOfferFor(ctx, args.merchantAccountId)),
} satisfies QueryResolvers;
