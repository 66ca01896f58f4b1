import { badUserInput } from '@paygraph/shared/graphql/errors';
import type { WebhookEndpointResolvers } from '../generated/resolvers-types';
import type { DeliveryRow } from '../db/schema/webhooks';
import { decodeDeliveryCursor } from '../domain/delivery-cursor';
import { endpointDeliveries } from '../services/deliveries';
import { deliveriesPageMax } from '../limits';

function asDelivery(row: DeliveryRow) {
  return {
    id: row.id,
    eventType: row.eventType,
    accountId: row.accountId,
    sequence: row.sequence.toString(),
    status: row.status,
    attempts: row.attempts,
    lastStatusCode: row.lastStatusCode,
    lastError: row.lastError,
    lastAttemptAt: row.lastAttemptAt,
    nextAttemptAt: row.status === 'PENDING' ? row.nextAttemptAt : null,
    createdAt: row.createdAt,
  };
}

/** Fields of an endpoint the caller was allowed to read (the query and mutations checked it). */
export const webhookEndpointResolvers = {
  deliveries: async (endpoint, args, ctx) => {
    const first = args.first ?? 20;
    if (!Number.isInteger(first) || first < 0 || first > deliveriesPageMax)
      throw badUserInput(`first must be between 0 and ${deliveriesPageMax}`);
    const before = args.after === null || args.after === undefined ? null : decodeDeliveryCursor(args.after);
    if (before !== null && !before.ok) throw badUserInput('after is not a cursor of this list');
    const page = await endpointDeliveries(ctx.shards, endpoint.id, first, before?.value ?? null);
    return {
      edges: page.rows.map((row) => ({ cursor: page.cursorOf(row), node: asDelivery(row) })),
      pageInfo: {
        hasNextPage: page.hasNextPage,
        endCursor: page.rows.length > 0 ? page.cursorOf(page.rows.at(-1)!) : null,
      },
    };
  },
} satisfies WebhookEndpointResolvers;
