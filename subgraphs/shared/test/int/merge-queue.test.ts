import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertAccount, postOne, type PostingSpec } from '../../src/ledger/index';
import { PostingQueueFull } from '../../src/ledger/engine/batcher';
import { newId, type LogicalShard } from '../../src/ids';
import { postingConfig, type PostingSettings } from '../../src/config/shared';
import { ConfigError, readConfig } from '../../src/config/env';
import { rawRows } from '../../src/db/raw';
import { formatSubgraphError } from '../../src/server/subgraph';
import type { Shard, ShardSet } from '../../src/shards/pool';
import { ShardUnavailable } from '../../src/shards/unavailable';
import { testConfig, testShards, unique } from '../../../../test/support/env';
import { accountRow, depositFromReserve } from '../../../../test/support/ledger';

/**
 * The merged-posting queue is bounded (MERGE_QUEUE_SIZE, issue 46): on a real shard whose queue
 * holds two postings, two batches are held in flight, two postings fill the queue, and the next is
 * refused at once as an unavailable shard is (SHARD_UNAVAILABLE, retryable) before anything of it
 * ran: no prepare, no finish, no posting, no entry. Its retry, once the queue drains, posts.
 */
let shards: ShardSet;
let shard: Shard;
let logical: LogicalShard;
/** One posting per batch, no wait: each submission flushes while fewer than two batches are in flight (the second once the first has run mergeSecondBatchAfterMs). */
const posting: PostingSettings = {
  ...testConfig().posting,
  engine: 'merged',
  mergeWaitMs: 0,
  mergeBatchSize: 1,
  mergeQueueSize: 2,
};

beforeAll(() => {
  shards = testShards(4, posting);
  shard = shards.all[0]!;
  logical = shards.logicalOn(shard)[0]!;
});
afterAll(async () => shards.close());

async function open(): Promise<string> {
  const id = newId('account', logical);
  await insertAccount(shard.db, { id, ownerId: unique('queue'), type: 'PERSONAL', currency: 'USD' });
  return id;
}

function transfer(from: string, to: string, dedupeKey: string | null = null): PostingSpec {
  return {
    id: newId('posting', logical),
    kind: 'TEST',
    refId: null,
    dedupeKey,
    currency: 'USD',
    legs: [
      { accountId: from, bucket: 'AVAILABLE', amount: -1n },
      { accountId: to, bucket: 'AVAILABLE', amount: 1n },
    ],
  };
}

/** Postings whose prepare waits for `gate`: each holds a batch, and a connection, in flight until it opens. */
function heldInFlight(count: number, spec: () => PostingSpec, gate: Promise<void>) {
  return Array.from({ length: count }, () => {
    let began!: () => void;
    const started = new Promise<void>((resolve) => (began = resolve));
    const done = postOne<string>(shard, {
      kind: 'prepare',
      prepare: async () => {
        began();
        await gate;
        return { proceed: true, spec: spec() };
      },
      finish: async (_tx, outcome) => outcome.status,
    });
    return { started, done };
  });
}

describe('the merged-posting queue', () => {
  it('refuses a posting past MERGE_QUEUE_SIZE at once, retryable, writing nothing of it', async () => {
    const [payer, payee] = [await open(), await open()];
    expect((await depositFromReserve(shards, payer, 100n)).status).toBe('APPLIED');
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const held = heldInFlight(2, () => transfer(payer, payee), gate);
    await Promise.all(held.map((h) => h.started));
    const queued = [0, 1].map(() =>
      postOne<string>(shard, { kind: 'spec', spec: transfer(payer, payee), finish: async (_tx, o) => o.status }),
    );
    const refusedSpec = transfer(payer, payee, unique('refused'));
    const ran: string[] = [];
    const refused = postOne<string>(shard, {
      kind: 'prepare',
      prepare: async () => {
        ran.push('prepare');
        return { proceed: true, spec: refusedSpec };
      },
      finish: async (_tx, o) => {
        ran.push('finish');
        return o.status;
      },
    });
    // Refused at once: settled before the event loop turns, while the held batches still wait.
    const error = await Promise.race([
      refused.then(
        () => 'posted',
        (e: unknown) => e,
      ),
      new Promise((resolve) => setImmediate(() => resolve('still waiting'))),
    ]);
    release();
    expect(error).toBeInstanceOf(PostingQueueFull);
    expect(error).toBeInstanceOf(ShardUnavailable);
    expect(await Promise.all([...held.map((h) => h.done), ...queued])).toEqual(Array(4).fill('APPLIED'));
    expect(ran).toEqual([]);
    const written = await rawRows<{ id: string }>(shard, 'SELECT id FROM postings WHERE id = ? OR dedupe_key = ?', [
      refusedSpec.id,
      refusedSpec.dedupeKey,
    ]);
    expect(written).toEqual([]);
    expect((await accountRow(shards, payer))!.available).toBe(100n - 4n);
    expect((await accountRow(shards, payee))!.available).toBe(4n);
    // The same posting sent again once the queue has drained is posted, once.
    const retry = await postOne<string>(shard, { kind: 'spec', spec: refusedSpec, finish: async (_tx, o) => o.status });
    expect(retry).toBe('APPLIED');
    expect((await accountRow(shards, payee))!.available).toBe(5n);
  });

  it("is answered to a client as SHARD_UNAVAILABLE, retryable, naming the shard's database only", () => {
    const answer = formatSubgraphError(
      { message: 'raw', extensions: { code: 'INTERNAL_SERVER_ERROR' } },
      new PostingQueueFull(shard.name, 2),
      true,
    );
    expect(answer.extensions).toEqual({ code: 'SHARD_UNAVAILABLE', retryable: true, shard: shard.name });
    expect(answer.message).not.toContain('queue');
  });

  it('is at least a batch long: MERGE_QUEUE_SIZE below MERGE_BATCH_SIZE is refused at start-up', () => {
    expect(() => readConfig(postingConfig, { MERGE_BATCH_SIZE: '20', MERGE_QUEUE_SIZE: '10' })).toThrow(ConfigError);
    expect(readConfig(postingConfig, { MERGE_BATCH_SIZE: '20', MERGE_QUEUE_SIZE: '20' }).mergeQueueSize).toBe(20);
  });
});
