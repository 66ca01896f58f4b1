import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId, toLogicalShard } from '@paygraph/shared/ids';
import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import { rawRows } from '@paygraph/shared/db/raw';
import { deleteUnderFences, type FenceReason } from '@paygraph/shared/control/index';
import { idempotencyKeys } from '@paygraph/shared/idempotency/store/schema';
import { purgeExpiredKeys } from '@paygraph/shared/idempotency/index';
import { scratchShard, whileFenced, type ScratchShard } from '../../../../test/support/scratch-databases';
import { unique } from '../../../../test/support/env';
import { fxQuotes } from '../../src/db/schema/fx';
import { purgeExpiredQuotes } from '../../src/services/fx-quote-purge';
import { unclaimedQuoteRow } from '../support/fx-quote-rows';

/**
 * The purges delete rows a shard move carries (idempotency keys with their anchor's logical shard, FX quotes with
 * theirs) on every database: a delete on a fenced source after the mover's last catch-up, or of a target's arriving
 * copy, leaves the two sides unlike (the move's verify refuses, the range stays fenced). So a purge deletes only rows
 * of logical shards whose fence row there is open, read in share mode in the delete's transaction, and its search
 * leaves the others out. On a database of this file's own: a fence here would refuse other files' postings.
 */
let scratch: ScratchShard;
let shards: ShardSet;
let shard: Shard;
const fencedShard = toLogicalShard(21);
const openShard = toLogicalShard(22);

beforeAll(async () => {
  scratch = await scratchShard('purgefence');
  ({ shards, shard } = scratch);
});

afterAll(async () => scratch?.close());

const dayMs = 24 * 60 * 60 * 1000;
const now = new Date('2002-06-01T12:00:00Z');
/** Long past any retention at `now`. */
const longAgo = new Date(now.getTime() - 400 * dayMs);

const fenced = <T>(reason: FenceReason, run: () => Promise<T>): Promise<T> =>
  whileFenced(shard, fencedShard, reason, run);

/** Keys claimed long ago, anchored on these ids ('' for a legacy key, anchored nowhere). */
async function oldKeys(anchors: readonly string[]): Promise<string> {
  const caller = unique('purgefence');
  await shard.db.insert(idempotencyKeys).values(
    anchors.map((anchorId, i) => ({
      anchorId,
      callerId: caller,
      idempotencyKey: `k${i}`,
      operation: 'PAYMENT',
      requestHash: '0'.repeat(64),
      resourceId: newId('payment', fencedShard),
      // The fenced range's keys oldest: the purge's oldest-first batches would meet them first.
      createdAt: new Date(longAgo.getTime() + i * 1000),
    })),
  );
  return caller;
}

async function keysLeft(caller: string): Promise<string[]> {
  const rows = await rawRows<{ a: string }>(
    shard,
    'SELECT anchor_id AS a FROM idempotency_keys WHERE caller_id = ? ORDER BY created_at',
    [caller],
  );
  return rows.map((r) => r.a);
}

/** Quotes no payment took, expired long ago, of these logical shards. */
async function oldQuotes(logicalShards: readonly number[]): Promise<string[]> {
  const ids = logicalShards.map((l) => newId('fxQuote', toLogicalShard(l)));
  await shard.db.insert(fxQuotes).values(ids.map((id) => unclaimedQuoteRow(id, 'purgefence', longAgo)));
  return ids;
}

async function quotesLeft(ids: readonly string[]): Promise<string[]> {
  const rows = await rawRows<{ id: string }>(shard, 'SELECT id FROM fx_quotes WHERE id IN (?) ORDER BY id', [ids]);
  return rows.map((r) => r.id);
}

describe('the idempotency key purge and a fence on its database', () => {
  it('deletes no key of a range fenced or arriving there, nor lets them fill its batches, and deletes them once open', async () => {
    for (const reason of ['fenced', 'arriving'] as const) {
      const fencedAnchors = [0, 1, 2].map(() => newId('account', fencedShard));
      const openAnchors = [newId('account', openShard), ''];
      const caller = await oldKeys([...fencedAnchors, ...openAnchors]);
      // Batches of 2 with the fenced range's 3 keys oldest: an open key is deleted only if the search leaves them out.
      const deleted = await fenced(reason, () => purgeExpiredKeys(shards, { retentionDays: 30, batchSize: 2 }, now));
      expect(deleted).toBe(2);
      expect(await keysLeft(caller)).toEqual(fencedAnchors);
      // Open again, the next pass deletes them: the keys above were kept by the fence alone.
      await purgeExpiredKeys(shards, { retentionDays: 30, batchSize: 2 }, now);
      expect(await keysLeft(caller)).toEqual([]);
    }
  });

  it('rolls a delete back when a row it deletes was fenced since its search (deleteUnderFences)', async () => {
    const anchor = newId('account', fencedShard);
    const caller = await oldKeys([anchor]);
    const deletion = { sql: 'DELETE FROM idempotency_keys WHERE caller_id = ?', values: [caller] };
    expect(await fenced('fenced', () => deleteUnderFences(shard, deletion, [fencedShard]))).toBeNull();
    expect(await keysLeft(caller)).toEqual([anchor]);
    expect(await deleteUnderFences(shard, deletion, [fencedShard])).toBe(1);
    expect(await keysLeft(caller)).toEqual([]);
  });
});

describe('the FX quote purge and a fence on its database', () => {
  it('deletes no quote of a range fenced or moved away there, and deletes it once open', async () => {
    for (const reason of ['fenced', 'moved'] as const) {
      const [kept, ...gone] = await oldQuotes([fencedShard, openShard, openShard]);
      await fenced(reason, () => purgeExpiredQuotes(shards, { idempotencyRetentionDays: 30 }, now));
      expect(await quotesLeft([kept!, ...gone])).toEqual([kept]);
      await purgeExpiredQuotes(shards, { idempotencyRetentionDays: 30 }, now);
      expect(await quotesLeft([kept!])).toEqual([]);
    }
  });
});
