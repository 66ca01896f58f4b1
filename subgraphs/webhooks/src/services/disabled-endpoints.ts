import type { ShardSet } from '@paygraph/shared/shards/pool';
import { isShardUnreachable } from '@paygraph/shared/shards/unavailable';
import { failPendingOfEndpoint } from '../db/deliveries';
import { deleteStreamsOf } from '../db/streams';
import { underOpenFences } from './writable-here';

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

/**
 * On every shard holding the endpoint's streams: answers the deliveries failed. Each database's in one transaction
 * under its fence rows (writable-here.ts underOpenFences): a delivery and a stream move with their stripe's logical
 * shard, and a close made on a fenced source after the copy read them would be lost at the target, where the queue
 * would stay open. A range not open is left as it is; the dispatcher closes the endpoint's queues again at every
 * refresh for disabledSweepMs (thirty times the longest fence, shardMoveFenceMsMax), on the side the map then places
 * that range. A database away does not keep the others' open: every reachable one is closed first, then the first
 * unreachable failure is thrown (isShardUnreachable), for the caller to close again later; anything else is a bug,
 * thrown before it.
 */
export async function closeEndpointQueues(shards: ShardSet, endpointId: string, reason: string): Promise<number> {
  const answers = await Promise.allSettled(
    shards.all.map((shard) =>
      underOpenFences(shard, async (tx, leftOut) => {
        const failed = await failPendingOfEndpoint(tx, endpointId, disabledError(reason), leftOut);
        await deleteStreamsOf(tx, endpointId, leftOut);
        return failed;
      }),
    ),
  );
  const failures = answers.flatMap((answer) => (answer.status === 'rejected' ? [answer.reason as unknown] : []));
  const bug = failures.find((error) => !isShardUnreachable(error));
  if (bug !== undefined) throw bug;
  if (failures.length > 0) throw failures[0];
  return answers.reduce((sum, answer) => sum + (answer.status === 'fulfilled' ? answer.value : 0), 0);
}
