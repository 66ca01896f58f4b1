import { newId, shardOf } from '@paygraph/shared/ids';
import { readOwnerAccounts } from '@paygraph/shared/ledger/index';
import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import { inTransaction } from '@paygraph/shared/shards/transaction';
import { refuseFenced } from '@paygraph/shared/control/index';
import { pushTo } from '@paygraph/shared/collections';
import { verifiedLinksBetween, type VerifiedLinkFacts } from '@paygraph/transaction/read-model/webhooks';
import { insertDeliveries } from '../db/deliveries';
import {
  deliveredRecords,
  lockStreamsOf,
  moveScannedUntil,
  scannedUntil,
  streamsDueBy,
  streamsFollowing,
} from '../db/sources';
import type { StreamRow } from '../db/schema/webhooks';
import type { EventType } from '../domain/event-types';
import { eventBody, linkVerifiedEvent } from '../domain/events';
import { linkOwnerAccountsReadMax, recordLookbackMs, recordScanPageMax, recordScanPagesMax } from '../limits';
import type { EndpointDirectory } from './endpoint-directory';

/**
 * external_account.verified: a link its channel (or an operator) verified. A verification moves
 * no money, so no entry carries it; the link's row (status VERIFIED, decided_at, written by the
 * verification) is the record, scanned per shard as failed refunds are (record-events.ts): since
 * the shard's cursor (webhook_sources) less recordLookbackMs, then the cursor moves.
 *
 * Who hears it: an endpoint follows accounts, not owners, and only accounts its owner may read
 * (a partner its own, an operator any). So a link is told to each enabled endpoint wanting the
 * type that follows one of the link owner's accounts (found through the owner directory, on the
 * shards it names only), once: on the stream of the first of those accounts (by id) it follows,
 * after what that stream has queued. An endpoint following none of them (another owner's
 * partner, however widely it follows) never hears of the link. Under the stream's lock a
 * (stream, link) that has its delivery already is skipped, so a rescan queues it once.
 */
const linkVerifiedSource = 'external_account.verified';
const linkVerified = 'external_account.verified' satisfies EventType;

export async function materializeVerifiedLinks(
  shards: ShardSet,
  shard: Shard,
  directory: EndpointDirectory,
  now: () => Date,
): Promise<number> {
  const wanting = directory.enabledIds().filter((id) => directory.get(id)!.eventTypes.has(linkVerified));
  const until = now();
  // No endpoint wants it: nothing to read; the cursor moves so a later endpoint starts from now, as a new stream does.
  if (wanting.length === 0) {
    await moveScannedUntil(shard.db, linkVerifiedSource, until);
    return 0;
  }
  const cursor = (await scannedUntil(shard.db, linkVerifiedSource)) ?? until;
  const from = new Date(cursor.getTime() - recordLookbackMs);
  const links: VerifiedLinkFacts[] = [];
  let scannedTo = until;
  for (let page = 0; page < recordScanPagesMax; page++) {
    const rows = await verifiedLinksBetween(shard.db, from, until, links.at(-1) ?? null, recordScanPageMax);
    links.push(...rows);
    if (rows.length < recordScanPageMax) break;
    // More than the pass may take: the next pass goes on from the last one read.
    if (page === recordScanPagesMax - 1) scannedTo = rows.at(-1)!.verifiedAt;
  }
  let queued = 0;
  for (const link of links) queued += await queueLink(shards, wanting, link, until);
  await moveScannedUntil(shard.db, linkVerifiedSource, scannedTo);
  return queued;
}

/** One link's deliveries: the stream each endpoint hears it on, then one transaction per account shard. */
async function queueLink(
  shards: ShardSet,
  endpointIds: readonly string[],
  link: VerifiedLinkFacts,
  at: Date,
): Promise<number> {
  const accounts = await readOwnerAccounts(shards, link.ownerId, linkOwnerAccountsReadMax);
  const byShard = new Map<Shard, string[]>();
  for (const account of accounts) pushTo(byShard, shards.of('account', account.id), account.id);
  const streams = (await Promise.all([...byShard].map(([s, ids]) => streamsFollowing(s.db, endpointIds, ids)))).flat();
  // One stream per endpoint, the same on every scan: the first of the owner's accounts (by id) it follows.
  const chosen = new Map<string, StreamRow>();
  for (const stream of streams.sort((a, b) => (a.stripeId < b.stripeId ? -1 : a.stripeId > b.stripeId ? 1 : 0)))
    if (!chosen.has(stream.endpointId)) chosen.set(stream.endpointId, stream);
  const onShard = new Map<Shard, StreamRow[]>();
  for (const stream of chosen.values()) pushTo(onShard, shards.of('account', stream.stripeId), stream);
  const counts = await Promise.all([...onShard].map(([target, list]) => queueOn(target, list, link, at)));
  return counts.reduce((a, b) => a + b, 0);
}

/** On one account shard: the deliveries these streams lack, in one transaction under their locks. */
async function queueOn(
  target: Shard,
  chosen: readonly StreamRow[],
  link: VerifiedLinkFacts,
  at: Date,
): Promise<number> {
  const wanted = new Set(chosen.map((s) => `${s.endpointId}|${s.stripeId}`));
  return inTransaction(target, async (tx) => {
    // Refused (retryable) while a move fences a stripe's logical shard: the scan's cursor stays, and the next scan
    // queues them where the map then places them (writable-here.ts).
    await refuseFenced(tx, target.name, [
      ...new Set(chosen.map((s) => s.stripeId).map((id) => shardOf('account', id))),
    ]);
    const locked = await lockStreamsOf(
      tx,
      [...new Set(chosen.map((s) => s.endpointId))],
      [...new Set(chosen.map((s) => s.stripeId))],
    );
    const done = await deliveredRecords(tx, linkVerified, [link.id]);
    const rows = locked
      .filter(
        (s) => wanted.has(`${s.endpointId}|${s.stripeId}`) && !done.has(`${s.endpointId}|${s.stripeId}|${link.id}`),
      )
      .map((stream) => ({
        id: newId('webhookDelivery', shardOf('account', stream.stripeId)),
        endpointId: stream.endpointId,
        stripeId: stream.stripeId,
        accountId: stream.accountId,
        sequence: stream.lastSequence,
        eventType: linkVerified,
        recordId: link.id,
        body: eventBody(linkVerifiedEvent(link, stream.accountId, stream.lastSequence)),
        status: 'PENDING' as const,
        nextAttemptAt: at,
        createdAt: link.verifiedAt,
      }));
    await insertDeliveries(tx, rows);
    await streamsDueBy(
      tx,
      rows.map((r) => ({ endpointId: r.endpointId, stripeId: r.stripeId })),
      at,
    );
    return rows.length;
  });
}
