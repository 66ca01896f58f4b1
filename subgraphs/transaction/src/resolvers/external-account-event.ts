import { GraphQLError } from 'graphql';
import { authorized, badUserInput } from '@paygraph/shared/graphql/errors';
import { assert, InvariantViolation } from '@paygraph/shared/result';
import type { TransactionContext } from '../context';
import type { ExternalAccountRow } from '../db/schema/external-accounts';
import type { LinkEventRow } from '../db/schema/link-events';
import { describeLinkStreamRefusal, encodeLinkEventCursor, type LinkStreamRefusal } from '../domain/link-events';
import { linkEventsPage } from '../services/link-events';
import {
  linkEventHeads,
  linkEventStream,
  openLinkStream,
  type StreamLimitReached,
} from '../services/link-event-stream';
import type {
  ExternalAccountEventResolvers,
  QueryResolvers,
  SubscriptionResolvers,
} from '../generated/resolvers-types';
import { graphqlIntMax, linkEventPageSizeDefault, linkEventPageSizeMax } from '../limits';

export const externalAccountEventResolvers = {
  cursor: (event: LinkEventRow) => encodeLinkEventCursor(event),
  sequence: (event: LinkEventRow) => {
    // GraphQL's Int: an owner's event number beyond it would be a broken invariant, not an answer to round.
    if (event.sequence > graphqlIntMax)
      throw new InvariantViolation(`event ${event.sequence} of ${event.ownerId} exceeds GraphQL Int`);
    return Number(event.sequence);
  },
  /** The link as of the event: the row (links are never deleted), its status the event's. */
  externalAccount: async (event: LinkEventRow, _: unknown, ctx: TransactionContext): Promise<ExternalAccountRow> => {
    const link = await ctx.loaders.eventLinks.load(event.externalAccountId);
    assert(link, `event ${event.sequence} of ${event.ownerId} names no link ${event.externalAccountId}`);
    return { ...link, status: event.status };
  },
  payout: async (event: LinkEventRow, _: unknown, ctx: TransactionContext) => {
    if (event.withdrawalId === null) return null;
    const withdrawal = await ctx.loaders.eventWithdrawals.load(event.withdrawalId);
    assert(withdrawal, `event ${event.sequence} of ${event.ownerId} names no withdrawal ${event.withdrawalId}`);
    return withdrawal;
  },
} satisfies ExternalAccountEventResolvers;

/** A refusal the client acts on: BAD_USER_INPUT for what it sent, SUBSCRIPTION_LIMIT_REACHED for a stream too many. */
function refused(refusal: LinkStreamRefusal | StreamLimitReached): GraphQLError {
  if (refusal.kind === 'StreamLimitReached')
    return new GraphQLError('this owner, or this process, has as many link event streams as it may; try later', {
      extensions: { code: 'SUBSCRIPTION_LIMIT_REACHED' },
    });
  return badUserInput(describeLinkStreamRefusal(refusal));
}

export const externalAccountEventQueryResolvers = {
  externalAccountChanges: async (
    _: unknown,
    args: { ownerId: string; after?: string | null; first?: number | null },
    ctx: TransactionContext,
  ) => {
    const first = args.first ?? linkEventPageSizeDefault;
    if (!Number.isInteger(first) || first < 1 || first > linkEventPageSizeMax)
      throw badUserInput(`first must be between 1 and ${linkEventPageSizeMax}`);
    const page = authorized(await linkEventsPage(ctx, args.ownerId, args.after ?? null, first));
    if (!page.ok) throw refused(page.error);
    return page.value;
  },
} satisfies QueryResolvers;

async function opened(ctx: TransactionContext, ownerId: string, after: string | null) {
  const stream = authorized(await openLinkStream(ctx, ctx.linkEventFeed, ownerId, after));
  if (!stream.ok) throw refused(stream.error);
  return stream.value;
}

export const externalAccountSubscriptionResolvers = {
  externalAccountChanged: {
    subscribe: async (_: unknown, args: { ownerId: string; after?: string | null }, ctx: TransactionContext) =>
      linkEventStream(ctx.shards, await opened(ctx, args.ownerId, args.after ?? null)),
    resolve: (event: LinkEventRow) => event,
  },
  externalAccountHead: {
    subscribe: async (_: unknown, args: { ownerId: string }, ctx: TransactionContext) =>
      linkEventHeads(await opened(ctx, args.ownerId, null)),
    resolve: (cursor: string) => cursor,
  },
} satisfies SubscriptionResolvers;
