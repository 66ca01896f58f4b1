import type { ShardSet } from '@paygraph/shared/shards/pool';
import { failPendingOfEndpoint } from '../db/deliveries';
import { deleteStreamsOf } from '../db/streams';

/**
 * What disabling does to an endpoint's queue (docs/WEBHOOKS.md, "Disabled endpoints"): nothing
 * more is sent to it, so its PENDING deliveries end FAILED with the reason in last_error and its
 * streams go — they leave the queue depth and the oldest-pending age instead of waiting there
 * for ever, and the dispatcher's reads of streams need not name the enabled endpoints. Disabling is final (there is no
 * re-enabling: a partner registers a new
 * endpoint), so nothing has to come back to PENDING; a redelivery on a disabled endpoint is refused.
 */
export function disabledError(reason: string): string {
  return `endpoint disabled: ${reason}`;
}

/** On every shard holding the endpoint's streams: answers the deliveries failed. */
export async function closeEndpointQueues(shards: ShardSet, endpointId: string, reason: string): Promise<number> {
  const counts = await Promise.all(
    shards.all.map(async (shard) => {
      const failed = await failPendingOfEndpoint(shard.db, endpointId, disabledError(reason));
      await deleteStreamsOf(shard.db, endpointId);
      return failed;
    }),
  );
  return counts.reduce((a, b) => a + b, 0);
}
