import { newId, parseId, shardOf } from '@paygraph/shared/ids';
import { assert } from '@paygraph/shared/result';
import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import { inTransaction, type DrizzleTx } from '@paygraph/shared/shards/transaction';
import {
  holdFacts,
  holdsCapturedBy,
  paymentFacts,
  payoutFacts,
  refundFacts,
} from '@paygraph/transaction/read-model/webhooks';
import { advanceFacts } from '@paygraph/settlement/read-model/webhooks';
import { insertDeliveries, pendingOfStreams } from '../db/deliveries';
import { advanceStreams, entriesAfter, lockStreams, type EntryWithPosting } from '../db/streams';
import type { DeliveryRow, StreamRow } from '../db/schema/webhooks';
import { deriveEvents, eventBody, factsWanted, type Facts, type StreamEntry } from '../domain/events';
import { deliveriesPerClaimMax, eventBodyBytesMax, materializeEntriesPerStreamMax } from '../limits';
import type { EndpointDirectory } from './endpoint-directory';
import { pushTo } from '@paygraph/shared/collections';
import { writableHere } from './writable-here';

/**
 * Turns new ledger entries of followed accounts into deliveries, one pass per shard. The
 * ledger is the record: a stream's cursor (last_sequence) and the deliveries it produced move
 * together in one local transaction on the account's shard, so a crash anywhere either left
 * both or neither, and the next pass (in any replica) goes on from the cursor. Reads happen
 * without locks; the transaction locks only the streams (SKIP LOCKED: another replica's are
 * skipped) and writes those whose cursor is still where the reads began.
 */
export interface ClaimOptions {
  leaseMs: number;
  /** Takes a request slot for a stream of this endpoint (false: none free, or the endpoint is not sendable). */
  take: (endpointId: string) => boolean;
  free: (endpointId: string) => void;
}

export interface Materialized {
  written: number;
  /** Streams claimed in the same transaction, each with its pending deliveries in order (read there), slots taken. */
  claimed: Array<{ stream: StreamRow; deliveries: DeliveryRow[] }>;
}

export async function materializeShard(
  shards: ShardSet,
  shard: Shard,
  directory: EndpointDirectory,
  now: () => Date,
  claim: ClaimOptions,
  behind: readonly StreamRow[],
): Promise<Materialized> {
  const none: Materialized = { written: 0, claimed: [] };
  // Streams of an endpoint not known (yet) to this process wait for its next refresh.
  const lagging = behind.filter((s) => directory.get(s.endpointId)?.row.status === 'ENABLED');
  if (lagging.length === 0) return none;
  const ranges = cursorRanges(lagging);
  const entries = await entriesAfter(
    shard.db,
    [...ranges].map(([stripeId, r]) => ({ stripeId, after: r.after })),
    materializeEntriesPerStreamMax + Number(widestSpread(ranges)),
  );
  const byStripe = new Map<string, EntryWithPosting[]>();
  for (const e of entries) pushTo(byStripe, e.stripeId, e);
  const facts = await readFacts(shards, entries);
  const at = now();
  const plans = lagging.map((stream) => planStream(stream, byStripe.get(stream.stripeId) ?? [], facts, directory, at));
  const moving = plans.filter((plan) => plan.lastSequence !== plan.stream.lastSequence);
  if (moving.length === 0) return none;
  // Slots are taken before the transaction (it may run more than once) for the streams it may claim, and those it did
  // not claim are freed after.
  const slotted = new Set(moving.filter((plan) => plan.deliveries.length > 0 && claim.take(plan.stream.endpointId)));
  const leaseUntil = new Date(at.getTime() + claim.leaseMs);
  let claimed: Materialized['claimed'] = [];
  try {
    // A few round trips whatever the number of streams: lock, insert every delivery, move every cursor (and claim).
    const written = await inTransaction(shard, async (tx) => {
      const done = await writePlans(tx, moving, slotted, at, leaseUntil);
      claimed = done.claimed;
      return done.written;
    });
    return { written, claimed };
  } catch (error) {
    claimed = [];
    throw error;
  } finally {
    const kept = new Set(claimed.map((c) => `${c.stream.endpointId}|${c.stream.stripeId}`));
    for (const plan of slotted)
      if (!kept.has(`${plan.stream.endpointId}|${plan.stream.stripeId}`)) claim.free(plan.stream.endpointId);
  }
}

/**
 * Per stripe, the span of its lagging streams' cursors: entries are read from the lowest, as far as the highest needs.
 */
function cursorRanges(lagging: readonly StreamRow[]): Map<string, { after: bigint; upTo: bigint }> {
  const ranges = new Map<string, { after: bigint; upTo: bigint }>();
  for (const s of lagging) {
    const r = ranges.get(s.stripeId);
    ranges.set(
      s.stripeId,
      r
        ? {
            after: s.lastSequence < r.after ? s.lastSequence : r.after,
            upTo: s.lastSequence > r.upTo ? s.lastSequence : r.upTo,
          }
        : { after: s.lastSequence, upTo: s.lastSequence },
    );
  }
  return ranges;
}

/** A stream's plan (planStream): the deliveries its new entries make, and where its cursor and buckets move. */
type StreamPlan = ReturnType<typeof planStream>;

/**
 * materializeShard's transaction: the moving streams locked, the deliveries of those still where
 * the reads began inserted and their cursors moved, and the slotted ones no one holds claimed,
 * with their pending deliveries; answers how many deliveries it wrote. Streams of a logical shard a
 * shard move has fenced (or moved away) are left as they are (writable-here.ts).
 */
async function writePlans(
  tx: DrizzleTx,
  moving: readonly StreamPlan[],
  slotted: ReadonlySet<StreamPlan>,
  at: Date,
  leaseUntil: Date,
): Promise<Materialized> {
  const held = await writableHere(tx, moving, (plan) => shardOf('account', plan.stream.stripeId));
  const locked = new Map(
    (
      await lockStreams(
        tx,
        held.map((p) => p.stream),
      )
    ).map((s) => [`${s.endpointId}|${s.stripeId}`, s]),
  );
  // Held by another replica, or moved since the reads: the next pass reads again.
  const mine = held.flatMap((plan) => {
    const row = locked.get(`${plan.stream.endpointId}|${plan.stream.stripeId}`);
    return row?.lastSequence === plan.stream.lastSequence ? [{ plan, row }] : [];
  });
  // Nothing waited on the stream and no one holds it: this pass sends it.
  const claimable = ({ plan, row }: (typeof mine)[number]) =>
    slotted.has(plan) && row.dueAt === null && row.leaseUntil <= at;
  await insertDeliveries(
    tx,
    mine.flatMap(({ plan }) => plan.deliveries),
  );
  await advanceStreams(
    tx,
    mine.map((m) => ({
      endpointId: m.plan.stream.endpointId,
      stripeId: m.plan.stream.stripeId,
      accountId: m.plan.stream.accountId,
      lastSequence: m.plan.lastSequence,
      ...m.plan.buckets,
      queuedAt: m.plan.deliveries.length > 0 ? at : null,
      leaseUntil: claimable(m) ? leaseUntil : m.row.leaseUntil,
    })),
  );
  // Read back rather than taken from the plan: whatever else waits on the stream goes first (order is the point).
  const taken = mine.filter(claimable);
  const pending = await pendingOfStreams(
    tx,
    taken.map(({ row }) => row),
    taken.length * deliveriesPerClaimMax,
  );
  const claimed = taken.map(({ plan, row }) => ({
    stream: { ...row, lastSequence: plan.lastSequence, dueAt: at, leaseUntil },
    deliveries: pending.get(`${row.endpointId}|${row.stripeId}`) ?? [],
  }));
  return { written: mine.reduce((n, { plan }) => n + plan.deliveries.length, 0), claimed };
}

function widestSpread(ranges: Map<string, { after: bigint; upTo: bigint }>): bigint {
  let spread = 0n;
  for (const r of ranges.values()) if (r.upTo - r.after > spread) spread = r.upTo - r.after;
  return spread;
}

function planStream(
  stream: StreamRow,
  stripeEntries: readonly EntryWithPosting[],
  facts: Facts,
  directory: EndpointDirectory,
  at: Date,
) {
  const endpoint = directory.get(stream.endpointId);
  const mine: StreamEntry[] = [];
  let previous: EntryWithPosting | undefined;
  for (const e of stripeEntries) {
    if (
      e.sequence > stream.lastSequence &&
      e.sequence <= stream.lastSequence + BigInt(materializeEntriesPerStreamMax)
    ) {
      mine.push({
        ...e,
        firstOfPosting:
          previous === undefined || previous.sequence !== e.sequence - 1n || previous.postingId !== e.postingId,
      });
    }
    previous = e;
  }
  const start = {
    lastSequence: stream.lastSequence,
    buckets: { available: stream.available, frozen: stream.frozen, pending: stream.pending },
  };
  const derived = deriveEvents(stream.accountId, start, mine, facts);
  const logical = shardOf('account', stream.stripeId);
  const deliveries = derived.events
    .filter((event) => endpoint?.eventTypes.has(event.type))
    .map((event) => {
      const body = eventBody(event);
      assert(Buffer.byteLength(body) <= eventBodyBytesMax, `a webhook body of ${Buffer.byteLength(body)} bytes`);
      return {
        id: newId('webhookDelivery', logical),
        endpointId: stream.endpointId,
        stripeId: stream.stripeId,
        accountId: stream.accountId,
        sequence: event.sequence,
        eventType: event.type,
        body,
        status: 'PENDING' as const,
        nextAttemptAt: at,
        createdAt: event.createdAt,
      };
    });
  return { stream, deliveries, lastSequence: derived.lastSequence, buckets: derived.buckets };
}

/**
 * The payments, refunds, holds, advances and payouts to links the entries finished, each read on its own shard, one statement per shard
 * and kind.
 */
async function readFacts(shards: ShardSet, entries: readonly EntryWithPosting[]): Promise<Facts> {
  const wanted = {
    payment: new Set<string>(),
    refund: new Set<string>(),
    hold: new Set<string>(),
    capture: new Set<string>(),
    advance: new Set<string>(),
    withdrawal: new Set<string>(),
  };
  for (const e of entries) {
    const w = factsWanted(e);
    if (w) wanted[w.kind].add(w.id);
  }
  for (const id of wanted.capture) wanted.payment.add(id);
  const grouped = (ids: Set<string>, kind: 'payment' | 'refund' | 'hold' | 'advance' | 'withdrawal') => {
    const byShard = new Map<Shard, string[]>();
    for (const id of ids) {
      // A posting's ref_id names a record of its kind; anything else (a foreign id) has no such record.
      if (!parseId(kind, id)) continue;
      const shard = shards.of(kind, id);
      pushTo(byShard, shard, id);
    }
    return [...byShard];
  };
  const read = async <T>(
    ids: Set<string>,
    kind: 'payment' | 'refund' | 'hold' | 'advance' | 'withdrawal',
    fn: (db: Shard['db'], ids: string[]) => Promise<T[]>,
  ) => (await Promise.all(grouped(ids, kind).map(([shard, local]) => fn(shard.db, local)))).flat();
  const [payments, refunds, holds, captured, advanced, payouts] = await Promise.all([
    read(wanted.payment, 'payment', paymentFacts),
    read(wanted.refund, 'refund', refundFacts),
    read(wanted.hold, 'hold', holdFacts),
    // A capture's hold lives on its payer's shard, as its payment does.
    read(wanted.capture, 'payment', holdsCapturedBy),
    // An advance lives on its merchant's home shard.
    read(wanted.advance, 'advance', advanceFacts),
    // A withdrawal lives on its account's shard.
    read(wanted.withdrawal, 'withdrawal', payoutFacts),
  ]);
  return {
    payments: new Map(payments.map((p) => [p.id, p])),
    refunds: new Map(refunds.map((r) => [r.id, r])),
    holds: new Map(holds.map((h) => [h.id, h])),
    holdsByPayment: new Map(captured.map((h) => [h.endedBy!, h])),
    advances: new Map(advanced.map((a) => [a.id, a])),
    payouts: new Map(payouts.map((p) => [p.id, p])),
  };
}
