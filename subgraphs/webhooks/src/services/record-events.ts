import { newId, shardOf } from '@paygraph/shared/ids';
import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import { inTransaction } from '@paygraph/shared/shards/transaction';
import { refuseFenced } from '@paygraph/shared/control/index';
import { failedRefundsBetween, type FailedRefundFacts } from '@paygraph/transaction/read-model/webhooks';
import { insertDeliveries } from '../db/deliveries';
import { deliveredRecords, lockStreamsOf, moveScannedUntil, scannedUntil, streamsDueBy } from '../db/sources';
import { refundFailedEvent, eventBody } from '../domain/events';
import { recordLookbackMs, recordScanPageMax, recordScanPagesMax } from '../limits';
import type { EndpointDirectory } from './endpoint-directory';
import { pushTo } from '@paygraph/shared/collections';

/**
 * Events that no ledger entry carries. A refund that fails moves no money on the accounts it
 * names (a cross-shard refund refused on the payee's shard, a refund of legs undone leg by leg
 * nets to nothing), so the refund's row — status FAILED and its end instant, written in the
 * transaction that failed it — is the record. Per shard, at each endpoint refresh, the
 * dispatcher reads the refunds that ended FAILED since the shard's scan cursor (webhook_sources),
 * less recordLookbackMs: a transaction may commit a little after the instant it wrote, so the
 * window reaches back over those. For each, on the shard of each account its payment names (the
 * payer, the row it credited), every enabled endpoint wanting refund.failed and following that
 * account gets one delivery, placed after what the stream has queued so far. Under the streams'
 * locks, a (stream, refund) that has its delivery already is skipped: scanning a refund twice
 * queues it once. Then the cursor moves to the scan's instant.
 */
const refundFailedSource = 'refund.failed';

export async function materializeFailedRefunds(
  shards: ShardSet,
  shard: Shard,
  directory: EndpointDirectory,
  now: () => Date,
): Promise<number> {
  const wanting = directory.enabledIds().filter((id) => directory.get(id)!.eventTypes.has('refund.failed'));
  const until = now();
  const cursor = (await scannedUntil(shard.db, refundFailedSource)) ?? until;
  const from = new Date(cursor.getTime() - recordLookbackMs);
  const failed: FailedRefundFacts[] = [];
  let scannedTo = until;
  for (let page = 0; page < recordScanPagesMax; page++) {
    const rows = await failedRefundsBetween(shard.db, from, until, failed.at(-1) ?? null, recordScanPageMax);
    failed.push(...rows);
    if (rows.length < recordScanPageMax) break;
    // More than the pass may take: the next pass goes on from the last one read.
    if (page === recordScanPagesMax - 1) scannedTo = rows.at(-1)!.endedAt;
  }
  let queued = 0;
  if (wanting.length > 0 && failed.length > 0) {
    const byShard = new Map<Shard, FailedRefundFacts[]>();
    /** The logical shards of the stripes each shard holds: those whose fence its transaction reads. */
    const logicalOn = new Map<Shard, Set<number>>();
    for (const refund of failed) {
      for (const stripeId of new Set([refund.payerAccountId, refund.creditAccountId])) {
        const target = shards.of('account', stripeId);
        pushTo(byShard, target, refund);
        logicalOn.set(target, (logicalOn.get(target) ?? new Set()).add(shardOf('account', stripeId)));
      }
    }
    const counts = await Promise.all(
      [...byShard].map(([target, refunds]) =>
        queueOn(target, wanting, refunds, [...logicalOn.get(target)!], directory, until),
      ),
    );
    queued = counts.reduce((a, b) => a + b, 0);
  }
  await moveScannedUntil(shard.db, refundFailedSource, scannedTo);
  return queued;
}

/** On one account shard: the refund.failed deliveries its streams lack, in one transaction. */
async function queueOn(
  target: Shard,
  endpointIds: readonly string[],
  refunds: readonly FailedRefundFacts[],
  logicalShards: readonly number[],
  directory: EndpointDirectory,
  at: Date,
): Promise<number> {
  const stripesOf = (r: FailedRefundFacts) => [r.payerAccountId, r.creditAccountId];
  return inTransaction(target, async (tx) => {
    // Refused (retryable) while a move fences a stripe's logical shard: the scan's cursor stays, and the next scan
    // queues them where the map then places them (writable-here.ts).
    await refuseFenced(tx, target.name, logicalShards);
    const streams = await lockStreamsOf(tx, endpointIds, [...new Set(refunds.flatMap(stripesOf))]);
    if (streams.length === 0) return 0;
    const done = await deliveredRecords(
      tx,
      'refund.failed',
      refunds.map((r) => r.id),
    );
    const rows = streams.flatMap((stream) =>
      refunds
        .filter(
          (r) => stripesOf(r).includes(stream.stripeId) && !done.has(`${stream.endpointId}|${stream.stripeId}|${r.id}`),
        )
        .filter(() => directory.get(stream.endpointId)?.eventTypes.has('refund.failed') === true)
        .map((r) => ({
          id: newId('webhookDelivery', shardOf('account', stream.stripeId)),
          endpointId: stream.endpointId,
          stripeId: stream.stripeId,
          accountId: stream.accountId,
          sequence: stream.lastSequence,
          eventType: 'refund.failed',
          recordId: r.id,
          body: eventBody(refundFailedEvent(r, stream.lastSequence)),
          status: 'PENDING' as const,
          nextAttemptAt: at,
          createdAt: r.endedAt,
        })),
    );
    await insertDeliveries(tx, rows);
    const given = new Map(
      rows.map((r) => [`${r.endpointId}|${r.stripeId}`, { endpointId: r.endpointId, stripeId: r.stripeId }]),
    );
    await streamsDueBy(tx, [...given.values()], at);
    return rows.length;
  });
}
