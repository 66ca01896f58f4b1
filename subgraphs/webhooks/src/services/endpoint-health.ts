import { log } from '@paygraph/shared/log';
import type { ShardSet } from '@paygraph/shared/shards/pool';
import { LockTimeout, type DrizzleTx } from '@paygraph/shared/shards/transaction';
import { isShardUnreachable } from '@paygraph/shared/shards/unavailable';
import { disableEndpoint, markEndpointFailing, markEndpointHealthy } from '../db/endpoints';
import type { EndpointDirectory, KnownEndpoint } from './endpoint-directory';
import { closeEndpointQueues } from './disabled-endpoints';
import { underEndpointFence } from './writable-here';

/** What these writes need of the dispatcher's view: its endpoint as known, and the view to tell what changed. */
type View = Pick<EndpointDirectory, 'update'>;
type Known = Pick<KnownEndpoint, 'row'>;

/** What endpointWrite answers for a write it could not make now. */
const leftForLater = Symbol('left for a later pass');

/**
 * The dispatcher's writes of an endpoint's own row (services/dispatcher.ts): failing since an attempt failed, healthy
 * again after one succeeded, disabled (410 Gone, or failing for the whole window). An endpoint moves with its id's
 * logical shard, so each is made as its owner's are, under that fence row read in share mode first in its transaction
 * (underEndpointFence), on the database the map places it: made on a fenced source after the mover's copy read the row,
 * it would be lost at the target (its clock, or its disabling: the target sending again) or leave the two sides unlike
 * (the move's verify refuses, the range stays fenced). Not open there, fenced by the map, or its database away (the
 * endpoint's row lives on its owner's, its streams on their accounts'), or its row held past the lock wait: nothing
 * written, nothing thrown (`leftForLater`, logged), and the write is left for a later pass: the endpoint's next failed
 * or successful attempt marks it again, the next refresh disables it again (failing too long), and its next attempt
 * meets 410 again. The attempt's own write (its delivery's status and next time, under its stream's fence) does not
 * wait for it: thrown, it was lost, and the stream sent the same event again at every pass, past the back-off, while
 * the endpoint's database was away. A write whose COMMIT's answer was lost (unreachable then) may have been made: the
 * view catches up at the directory's next refresh.
 */
async function endpointWrite<T>(
  shards: ShardSet,
  endpointId: string,
  write: (tx: DrizzleTx) => Promise<T>,
): Promise<T | typeof leftForLater> {
  try {
    return await underEndpointFence(shards.of('webhookEndpoint', endpointId), endpointId, write);
  } catch (error) {
    // A fence (FencedWrite) is a ShardUnavailable too; the row held elsewhere past the lock wait is left the same way.
    if (!isShardUnreachable(error) && !(error instanceof LockTimeout)) throw error;
    log().info({ err: error, endpointId }, 'webhooks: endpoint write left for a later pass (fenced, or away)');
    return leftForLater;
  }
}

/** After an attempt failed: the endpoint failing from `now` unless it was (left not failing when refused). */
export async function markFailing(shards: ShardSet, directory: View, endpoint: Known, now: Date): Promise<void> {
  if (endpoint.row.failingSince !== null) return;
  const id = endpoint.row.id;
  if ((await endpointWrite(shards, id, (tx) => markEndpointFailing(tx, id, now))) === leftForLater) return;
  directory.update(id, { failingSince: now });
}

/** After an attempt succeeded: a failing endpoint healthy again (left failing here when refused: the next success). */
export async function markHealthy(shards: ShardSet, directory: View, endpoint: Known): Promise<void> {
  if (endpoint.row.failingSince === null) return;
  const id = endpoint.row.id;
  if ((await endpointWrite(shards, id, (tx) => markEndpointHealthy(tx, id))) === leftForLater) return;
  directory.update(id, { failingSince: null });
}

/**
 * Disables the endpoint (ENABLED → DISABLED with its reason): its row, then this process's view, so that its streams
 * stop, then its queues closed (disabled-endpoints.ts); true when this call disabled it. The view changes only once the
 * row is no longer ENABLED: were it marked DISABLED before a write a fence then refused, the refresh worker's
 * closeDisabled, running beside the streams, could close the queues of an endpoint still ENABLED (its PENDING deliveries
 * FAILED), and a put-back of the view could undo another stream's disabling. A stream in flight meanwhile may send once
 * more (the receiver answers 410 again). Refused by a fence, or its database away: the view as it was, nothing written,
 * false. Disabled, with a database of its streams away: true, and its queues there closed by a later refresh.
 */
export async function disableByDispatcher(
  shards: ShardSet,
  directory: View,
  endpoint: Known,
  reason: string,
  now: Date,
): Promise<boolean> {
  const { id } = endpoint.row;
  const disabled = await endpointWrite(shards, id, (tx) => disableEndpoint(tx, id, reason, now));
  if (disabled === leftForLater) return false;
  // Not ENABLED any more, whoever disabled it: the streams stop either way.
  directory.update(id, { status: 'DISABLED', disabledReason: reason, updatedAt: now });
  if (!disabled) return false;
  log().warn({ endpointId: id, reason }, 'webhooks: endpoint disabled');
  // A database of its streams away: disabled all the same (its streams stop), the queues there left to the refresh
  // worker's closeDisabled, which closes a disabled endpoint's queues until it has closed them everywhere once.
  await closeEndpointQueues(shards, id, reason).catch((error: unknown) => {
    if (!isShardUnreachable(error)) throw error;
    log().warn({ err: error, endpointId: id }, "webhooks: a disabled endpoint's queues left for the next refresh");
  });
  return true;
}
