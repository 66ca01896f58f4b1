import type { Forbidden } from '@paygraph/shared/authorization';
import { log } from '@paygraph/shared/log';
import { assert, err, ok, type Result } from '@paygraph/shared/result';
import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import { inTransaction, type DrizzleTx, type Executor } from '@paygraph/shared/shards/transaction';
import { underFence } from '@paygraph/shared/control/index';
import { linksByIds } from '../db/external-accounts';
import { appendEvent, dropEventsBefore, eventsAfter, headsOf, lockedHead, payoutEventWritten } from '../db/link-events';
import { outboxById, takeOutboxHere } from '../db/outbox';
import { externalTransfersByIds } from '../db/payments';
import type { ExternalAccountStatus } from '../db/schema/external-accounts';
import type { LinkEventRow } from '../db/schema/link-events';
import type { ExternalTransferRow } from '../db/schema/transactions';
import { ownerLinkShard } from '../domain/external-accounts';
import {
  checkOwnerId,
  decideLinkStart,
  eventOfStatus,
  firstKeptLinkEvent,
  type LinkEventPosition,
  type LinkStreamRefusal,
} from '../domain/link-events';
import { linkEventDropRowsMax, linkEventPageSizeMax } from '../limits';
import { mayReadLinksOf } from './access';
import type { ServiceContext } from './context';

/**
 * Events of an owner's linked external accounts (docs/LINKED-ACCOUNTS.md "Events of an owner's
 * links"): written, numbered by the owner's head row, in the transaction that changes the link
 * (recordLinkChange), and for a payout just after its withdrawal commits, from the outbox row
 * written with it (tellPayout, and the relay after a crash); read by the externalAccountChanges
 * query and the externalAccountChanged stream (link-event-stream.ts).
 */

/**
 * Runs `write` in one transaction on the owner's link shard, under the fence where the write happens: an owner's
 * links, their claims' key, its event head and events all move with its link logical shard (ownerLinkShard, which a
 * link's id ends with too: scripts/lib/move-tables.ts), and a write made on a source after the mover's copy read them
 * would be lost at the target (an unlink lost leaves the link VERIFIED there, a payout's destination). So the fence
 * row is read in share mode first (refuseFenced), before the links' or head's locks, the order a campaign takes its
 * count's in: not open, FencedWrite (SHARD_UNAVAILABLE, retryable) and nothing written; a mover's fence write waits
 * for the COMMIT. One statement more than the write.
 */
export function underLinkFence<T>(shard: Shard, ownerId: string, write: (tx: DrizzleTx) => Promise<T>): Promise<T> {
  return underFence(shard, [ownerLinkShard(ownerId)], write);
}

/**
 * The event of a link's move to `status`, in the transaction that moved it (on the owner's link
 * shard, which holds the link): both commit, or neither.
 */
export async function recordLinkChange(
  tx: Executor,
  link: { id: string; ownerId: string },
  status: ExternalAccountStatus,
  at: Date,
): Promise<void> {
  const head = await lockedHead(tx, link.ownerId);
  await appendKept(tx, head, {
    ownerId: link.ownerId,
    type: eventOfStatus(status),
    externalAccountId: link.id,
    status,
    withdrawalId: null,
    occurredAt: at,
  });
}

/**
 * Writes the owner's next event under its head (lockedHead, same transaction) and drops the oldest
 * the bound no longer keeps (an owner's newest linkEventsPerOwnerMax: firstKeptLinkEvent), so a link →
 * unlink loop cannot grow the record without end. Past the bound each event drops one; an owner's
 * older backlog goes linkEventDropRowsMax rows per event.
 */
async function appendKept(tx: Executor, head: bigint, event: Omit<LinkEventRow, 'sequence'>): Promise<void> {
  const row = await appendEvent(tx, head, event);
  const firstKept = firstKeptLinkEvent(row.sequence);
  if (firstKept > 1n) await dropEventsBefore(tx, row.ownerId, firstKept, linkEventDropRowsMax);
}

/**
 * After a withdrawal to a link committed: its PAYOUT event, now, before the withdrawal is answered (so the owner's
 * feed has it by the answer, but for a failure). A failure (the link's shard away: found within the shard's statement
 * and probe bounds) is logged and leaves the outbox row to the relay, which writes it later; the withdrawal's answer
 * does not fail for it.
 */
export async function tellPayout(shards: ShardSet, transfer: ExternalTransferRow): Promise<void> {
  if (transfer.kind !== 'WITHDRAWAL' || transfer.externalAccountId === null) return;
  try {
    await recordPayoutEvent(shards, shards.of('withdrawal', transfer.id), transfer.id);
  } catch (error) {
    log().warn({ err: error }, `payout ${transfer.id}: its event is left to the relay`);
  }
}

/**
 * The outbox step PAYOUT_EVENT: the event of a withdrawal to a link, on the owner's link shard,
 * then the outbox row taken on the withdrawal's. Safe to run any number of times, from the request
 * and any relay replica: under the owner's head lock an event already written for the withdrawal
 * is not written again, so a crash between the two transactions repeats nothing.
 */
export async function recordPayoutEvent(shards: ShardSet, home: Shard, withdrawalId: string): Promise<void> {
  const outbox = await outboxById(home.db, withdrawalId);
  if (!outbox || outbox.status === 'DONE') return;
  const [transfer] = await externalTransfersByIds(home.db, [withdrawalId]);
  // The row was written with the withdrawal, which names a link, and links are never deleted.
  assert(transfer?.externalAccountId, `outbox row ${withdrawalId} has no withdrawal to a link`);
  const linkShard = shards.of('externalAccount', transfer.externalAccountId);
  const [link] = await linksByIds(linkShard.db, [transfer.externalAccountId]);
  assert(link, `withdrawal ${withdrawalId} names a link that is not there`);
  // Fenced (a shard move of the owner's link shard): FencedWrite, nothing written; the relay runs it again soon.
  await underLinkFence(linkShard, link.ownerId, async (tx) => {
    const head = await lockedHead(tx, link.ownerId);
    if (await payoutEventWritten(tx, withdrawalId)) return;
    await appendKept(tx, head, {
      ownerId: link.ownerId,
      type: 'PAYOUT',
      externalAccountId: link.id,
      // A payout goes only to a VERIFIED link: the status it was made under, whatever the link's now.
      status: 'VERIFIED',
      withdrawalId,
      occurredAt: transfer.createdAt,
    });
  });
  await inTransaction(home, (tx) => takeOutboxHere(tx, home.name, withdrawalId));
}

/** The owner's last event number (0 before the first): one read of its head row on its link shard. */
export async function linkEventHead(shards: ShardSet, ownerId: string): Promise<bigint> {
  const heads = await headsOf(shards.byLogical(ownerLinkShard(ownerId)).db, [ownerId]);
  return heads.get(ownerId) ?? 0n;
}

/**
 * Where an owner's stream or page starts, for a caller who may follow it: a malformed owner id or
 * cursor, or a cursor of another owner or ahead of the owner's events, is refused; another owner's
 * is Forbidden whether or not it has links, so a refusal tells nothing of it.
 */
export async function linkEventStart(
  ctx: ServiceContext,
  ownerId: string,
  after: string | null,
  from: 'head' | 'beginning',
): Promise<Result<LinkEventPosition, LinkStreamRefusal | Forbidden>> {
  const malformed = checkOwnerId(ownerId);
  if (malformed) return err(malformed);
  // The owner and operators, partners their own, as with accounts (access.ts).
  const notYours = mayReadLinksOf(ctx.identity, ownerId);
  if (notYours) return err(notYours);
  return decideLinkStart(ownerId, await linkEventHead(ctx.shards, ownerId), after, from);
}

/** Up to `first` of the owner's events after the cursor (none: from the first), oldest first. */
export async function linkEventsPage(
  ctx: ServiceContext,
  ownerId: string,
  after: string | null,
  first: number,
): Promise<Result<LinkEventRow[], LinkStreamRefusal | Forbidden>> {
  assert(first >= 1 && first <= linkEventPageSizeMax, `a page of ${first} events`);
  const start = await linkEventStart(ctx, ownerId, after, 'beginning');
  if (!start.ok) return start;
  return linkEventsAfter(ctx.shards, start.value, first);
}

/**
 * The owner's events after a position, checked to follow it one by one. The first may be further on
 * only when the events after the position were dropped since it was checked (at least
 * linkEventsPerOwnerMax written meanwhile): CursorExpired. A hole anywhere else would be a broken
 * invariant (events are dropped oldest first).
 */
export async function linkEventsAfter(
  shards: ShardSet,
  position: LinkEventPosition,
  first: number,
): Promise<Result<LinkEventRow[], { kind: 'CursorExpired' }>> {
  const { ownerId, sequence } = position;
  const rows = await eventsAfter(shards.byLogical(ownerLinkShard(ownerId)).db, ownerId, sequence, first);
  if (rows.length > 0 && rows[0]!.sequence !== sequence + 1n) return err({ kind: 'CursorExpired' });
  rows.forEach((row, i) =>
    assert(row.sequence === sequence + BigInt(i + 1), `events of ${ownerId} jump to ${row.sequence} after ${sequence}`),
  );
  return ok(rows);
}
