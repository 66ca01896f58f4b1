import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId, toLogicalShard } from '../../src/ids';
import type { Shard, ShardSet } from '../../src/shards/pool';
import { rawRows } from '../../src/db/raw';
import { FencedWrite } from '../../src/shards/unavailable';
import { ok } from '../../src/result';
import { claimKeys, keyClaim, withIdempotencyKey, type KeySpec } from '../../src/idempotency/index';
import { scratchShard, whileFenced, type ScratchShard } from '../../../../test/support/scratch-databases';
import { unique } from '../../../../test/support/env';

/**
 * An idempotency key's row moves with its anchor's logical shard (scripts/lib/move-tables.ts), so a claim writes it
 * only under that logical shard's open fence row, read in share mode in the claim's transaction: a process whose map
 * missed a shard move's fence cannot claim a key on the source after the mover's last catch-up (its verify would
 * refuse, and the range stay fenced). On a database of this file's own: a fence here would refuse other files' work.
 */
let scratch: ScratchShard;
let shards: ShardSet;
let shard: Shard;
const fencedShard = toLogicalShard(12);
const openShard = toLogicalShard(13);

beforeAll(async () => {
  scratch = await scratchShard('keyfence');
  ({ shards, shard } = scratch);
});

afterAll(async () => scratch?.close());

const context = () => ({ shards, identity: { sub: unique('keyfence') }, now: () => new Date() });

/** A transfer's key anchored on an account of the logical shard. */
function spec(logical: number): KeySpec {
  const accountId = newId('account', toLogicalShard(logical));
  return {
    anchor: { kind: 'account', id: accountId },
    key: unique('key'),
    operation: 'WITHDRAWAL',
    content: { accountId, amount: 100n },
    newResourceId: () => newId('withdrawal', toLogicalShard(logical)),
  };
}

/** The key rows anchored on these ids, on the database. */
async function keyRows(anchorIds: readonly string[]): Promise<number> {
  const [row] = await rawRows<{ n: number }>(
    shard,
    'SELECT COUNT(*) AS n FROM idempotency_keys WHERE anchor_id IN (?)',
    [anchorIds],
  );
  return Number(row!.n);
}

const fenced = <T>(run: () => Promise<T>): Promise<T> => whileFenced(shard, fencedShard, 'fenced', run);

describe('a key claim and a fence on its database', () => {
  it('claims nothing and runs no body when the anchor is fenced there, and claims once it is open', async () => {
    const ctx = context();
    const fencedKey = spec(fencedShard);
    let ran = 0;
    const body = async ({ resourceId }: { resourceId: string }) => {
      ran += 1;
      return ok(resourceId);
    };
    const refused = await fenced(() => withIdempotencyKey(ctx, fencedKey, body).catch((e: unknown) => e));
    expect(refused).toBeInstanceOf(FencedWrite);
    expect(String(refused)).toContain('is unavailable; retry');
    expect({ ran, rows: await keyRows([fencedKey.anchor.id]) }).toEqual({ ran: 0, rows: 0 });
    // Open again, the same request claims it: the refusal above was the fence's, not the request's.
    const made = await withIdempotencyKey(ctx, fencedKey, body);
    expect(made.ok).toBe(true);
    expect({ ran, rows: await keyRows([fencedKey.anchor.id]) }).toEqual({ ran: 1, rows: 1 });
  });

  it("reads the fence once per batch, and a fenced anchor's key does not refuse the open ones that shared it", async () => {
    const ctx = context();
    const open = Array.from({ length: 6 }, (_, i) => spec(i % 2 === 0 ? openShard : toLogicalShard(14)));
    const before = shard.queryCount;
    // Made in one turn of the event loop: one batch, one INSERT and one fence read, whatever the number of keys.
    const claimed = await Promise.all(open.map((s) => withIdempotencyKey(ctx, s, async (c) => ok(c))));
    expect(claimed.every((c) => c.ok && !c.value.replay)).toBe(true);
    expect(shard.queryCount - before).toBe(2);
    // A fenced anchor among open ones: its key refused, theirs claimed, in one turn.
    const fencedKey = spec(fencedShard);
    const more = [spec(openShard), spec(openShard)];
    const answers = await fenced(() =>
      Promise.all([fencedKey, ...more].map((s) => withIdempotencyKey(ctx, s, async (c) => ok(c)).catch((e) => e))),
    );
    expect(answers[0]).toBeInstanceOf(FencedWrite);
    expect(answers.slice(1).map((a) => (a as { ok: boolean }).ok)).toEqual([true, true]);
    expect(await keyRows([fencedKey.anchor.id])).toBe(0);
    expect(await keyRows(more.map((s) => s.anchor.id))).toBe(2);
    // Replays answer the resource the first claim named, as before the fence.
    const replays = await Promise.all(open.map((s) => withIdempotencyKey(ctx, s, async (c) => ok(c))));
    expect(replays.map((r) => r.ok && r.value)).toEqual(claimed.map((c) => c.ok && { ...c.value, replay: true }));
  });

  it("refuses a bulk claim whose anchor is fenced there, with the fenced anchor's key not written", async () => {
    const ctx = context();
    const specs = [spec(fencedShard), spec(openShard)];
    const requests = specs.map((s) => keyClaim(ctx, s));
    const refused = await fenced(() => claimKeys(shards, requests, new Date()).catch((e: unknown) => e));
    expect(refused).toBeInstanceOf(FencedWrite);
    expect((refused as FencedWrite).logicalShards).toEqual([fencedShard]);
    expect(await keyRows([specs[0]!.anchor.id])).toBe(0);
    // Open again, the retry claims the fenced anchor's key, and replays the open one's when it was claimed meanwhile.
    const claims = await claimKeys(shards, requests, new Date());
    expect(claims.map((c) => c.kind)).toEqual(['fresh', 'replay']);
    expect(await keyRows(specs.map((s) => s.anchor.id))).toBe(2);
  });
});
