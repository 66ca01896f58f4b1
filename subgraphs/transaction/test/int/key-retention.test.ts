import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { and, eq, inArray, like } from 'drizzle-orm';
import type { ShardSet } from '@paygraph/shared/shards/pool';
import { idempotencyKeys } from '@paygraph/shared/idempotency/store/schema';
import { postingRejections } from '@paygraph/shared/ledger/store/schema';
import { purgeExpiredRejections } from '@paygraph/shared/ledger/index';
import { startKeyPurge } from '../../src/services/key-retention';
import { purgeKeysBefore } from '@paygraph/shared/idempotency/store/keys';
import { purgeExpiredKeys, retentionCutoff } from '@paygraph/shared/idempotency/index';
import { testShards, unique } from '../../../../test/support/env';
import { compiledNodeArgs } from '../../../../test/support/processes';

/**
 * Keys are kept IDEMPOTENCY_RETENTION_DAYS, then purged in bounded batches. The rows here are
 * dated in 2001, long before any other test's keys, so a purge whose cut-off lies in 2001
 * touches nothing but them, whatever else runs on the shared test shards.
 */
let shards: ShardSet;

beforeAll(() => {
  shards = testShards(4);
});

afterAll(async () => {
  await shards.close();
});

const day = 24 * 60 * 60 * 1000;
const now = new Date('2001-03-01T12:00:00Z');
const retentionDays = 30;
const cutoff = retentionCutoff(now, retentionDays);

async function seed(caller: string, count: number, createdAt: (i: number) => Date, on = shards.all): Promise<void> {
  await Promise.all(
    on.map((shard) =>
      shard.db.insert(idempotencyKeys).values(
        Array.from({ length: count }, (_, i) => ({
          anchorId: `acc_${shard.index}_${i}`,
          callerId: caller,
          idempotencyKey: `k${i}`,
          operation: 'payment',
          requestHash: '0'.repeat(64),
          resourceId: `pay_${i}`,
          createdAt: createdAt(i),
        })),
      ),
    ),
  );
}

async function left(caller: string): Promise<Array<{ createdAt: Date }>> {
  const rows = await Promise.all(
    shards.all.map((shard) =>
      shard.db
        .select({ createdAt: idempotencyKeys.createdAt })
        .from(idempotencyKeys)
        .where(eq(idempotencyKeys.callerId, caller)),
    ),
  );
  return rows.flat();
}

describe('idempotency key retention', () => {
  it('cuts off exactly the retention before now', () => {
    expect(cutoff.toISOString()).toBe(new Date(now.getTime() - 30 * day).toISOString());
  });

  it('a purge batch deletes at most its size, oldest first', async () => {
    const caller = unique('ret-batch');
    const shard = shards.all[0]!;
    // 7 keys older than the cut-off (by 1..7 days).
    await seed(caller, 7, (i) => new Date(cutoff.getTime() - (i + 1) * day), [shard]);
    expect(await purgeKeysBefore(shard, cutoff, 3)).toBe(3);
    const rest = await shard.db
      .select({ key: idempotencyKeys.idempotencyKey })
      .from(idempotencyKeys)
      .where(and(eq(idempotencyKeys.callerId, caller), inArray(idempotencyKeys.idempotencyKey, ['k4', 'k5', 'k6'])));
    // The three oldest (k6, k5, k4) went first.
    expect(rest).toEqual([]);
    expect(await purgeKeysBefore(shard, cutoff, 3)).toBe(3);
    expect(await purgeKeysBefore(shard, cutoff, 3)).toBe(1);
    expect(await purgeKeysBefore(shard, cutoff, 3)).toBe(0);
  });

  it('keeps younger keys and removes older ones, in batches, with two purges running at once', async () => {
    const caller = unique('ret-pass');
    const older = 25;
    const younger = 5;
    // Keys 0..24 are older than the cut-off by a minute to 25 days; 25..29 are a millisecond
    // to a few days younger than it: they must all survive.
    await seed(caller, older + younger, (i) =>
      i < older
        ? new Date(cutoff.getTime() - (i === 0 ? 60_000 : i * day))
        : new Date(cutoff.getTime() + (i === older ? 1 : (i - older) * day)),
    );
    const [a, b] = await Promise.all([
      purgeExpiredKeys(shards, { retentionDays, batchSize: 4 }, now),
      purgeExpiredKeys(shards, { retentionDays, batchSize: 4 }, now),
    ]);
    const remaining = await left(caller);
    expect(remaining).toHaveLength(younger * shards.all.length);
    for (const row of remaining) expect(row.createdAt.getTime()).toBeGreaterThanOrEqual(cutoff.getTime());
    // Every old key was deleted once, by one of the two purges (other tests' keys are younger).
    expect(a + b).toBe(older * shards.all.length);
  });
});

/** Refusals on every database, dedupe keys `<prefix>:<i>`, the first two with a legacy refusal's empty anchor. */
async function seedRefusals(prefix: string, count: number, createdAt: (i: number) => Date): Promise<void> {
  await Promise.all(
    shards.all.map((shard) =>
      shard.db.insert(postingRejections).values(
        Array.from({ length: count }, (_, i) => ({
          dedupeKey: `${prefix}:${shard.index}:${i}`,
          anchorId: i < 2 ? '' : `pst_${shard.index}_${i}`,
          code: 'INSUFFICIENT_FUNDS',
          detail: '{}',
          createdAt: createdAt(i),
        })),
      ),
    ),
  );
}

async function refusalsLeft(prefix: string): Promise<Array<{ createdAt: Date }>> {
  const rows = await Promise.all(
    shards.all.map((shard) =>
      shard.db
        .select({ createdAt: postingRejections.createdAt })
        .from(postingRejections)
        .where(like(postingRejections.dedupeKey, `${prefix}:%`)),
    ),
  );
  return rows.flat();
}

/**
 * Refusals answer replays of their postings; a replay meets its idempotency key first, so past the keys' cut-off no
 * replay needs them. Before, they were never purged: a caller sending refused payments grew the table for good.
 */
describe('posting refusal retention', () => {
  it("keeps younger refusals and removes older ones at the keys' cut-off, two purges at once", async () => {
    const prefix = unique('refusals');
    const older = 9;
    const younger = 3;
    await seedRefusals(prefix, older + younger, (i) =>
      i < older ? new Date(cutoff.getTime() - (i + 1) * 60_000) : new Date(cutoff.getTime() + (i - older + 1)),
    );
    const [a, b] = await Promise.all([
      purgeExpiredRejections(shards, { retentionDays, batchSize: 4 }, now),
      purgeExpiredRejections(shards, { retentionDays, batchSize: 4 }, now),
    ]);
    const remaining = await refusalsLeft(prefix);
    expect(remaining).toHaveLength(younger * shards.all.length);
    for (const row of remaining) expect(row.createdAt.getTime()).toBeGreaterThan(cutoff.getTime());
    // Every old refusal was deleted once, legacy ones (no anchor) among them (other tests' refusals are younger).
    expect(a + b).toBe(older * shards.all.length);
  });

  it("are purged by the keys' worker in the same pass as the keys", async () => {
    const caller = unique('ret-worker');
    const prefix = unique('refusals-worker');
    await seed(caller, 2, () => new Date(cutoff.getTime() - day));
    await seedRefusals(prefix, 3, () => new Date(cutoff.getTime() - day));
    const worker = startKeyPurge(shards, retentionDays, () => now);
    try {
      await worker.drain();
    } finally {
      await worker.stop();
    }
    expect(await left(caller)).toEqual([]);
    expect(await refusalsLeft(prefix)).toEqual([]);
  });
});

describe('IDEMPOTENCY_RETENTION_DAYS', () => {
  const run = promisify(execFile);
  const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
  it('stops the transaction subgraph at start-up, naming the variable, when out of range', async () => {
    // Compiled, as npm start runs it (dist/transaction.js; npm test builds it when stale).
    const started = run(process.execPath, compiledNodeArgs('transaction'), {
      cwd: repoRoot,
      env: { ...process.env, NODE_OPTIONS: '', IDEMPOTENCY_RETENTION_DAYS: '0', TRANSACTION_PORT: '0' },
      timeout: 20_000,
    });
    await expect(started).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/IDEMPOTENCY_RETENTION_DAYS must be between 1 and 3650, got 0/),
    });
  });
});
