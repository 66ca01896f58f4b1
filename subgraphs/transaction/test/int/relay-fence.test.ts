import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId, toLogicalShard } from '@paygraph/shared/ids';
import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import { rawRows, rawWrite } from '@paygraph/shared/db/raw';
import { inTransaction } from '@paygraph/shared/shards/transaction';
import { fenceOn, unfenceOn } from '@paygraph/shared/control/index';
import { scratchShard, type ScratchShard } from '../../../../test/support/scratch-databases';
import { relayTick, retrySoon } from '../../src/services/relay';
import { outboxDueOnArrival, takeOutboxHere } from '../../src/db/outbox';
import { FencedWrite } from '@paygraph/shared/shards/unavailable';

/**
 * The relay writes no outbox row of a range fenced on its database (a shard move's fence), whatever its process's map
 * says yet: its lease and its shortened lease are writes to a row the move carries, and one made after the mover's
 * last catch-up left the source's row different from the target's copy: the move's verify refused, and the range
 * stayed fenced (test/shard-move-catch-up.test.ts met it once in four full runs). Where the range arrives, the switch
 * makes its PENDING rows due at once. On databases of this file's own: a fence here would refuse other files' postings.
 */
let scratch: ScratchShard;
let shards: ShardSet;
let shard: Shard;
const fencedShard = toLogicalShard(5);
const otherShard = toLogicalShard(6);

beforeAll(async () => {
  scratch = await scratchShard('relayfence');
  ({ shards, shard } = scratch);
});

afterAll(async () => scratch?.close());

interface Row {
  attempts: number;
  next: string;
}

/** A PENDING row of the logical shard, due `dueInSeconds` from now (negative: past due). */
async function outboxRow(logical: number, dueInSeconds: number): Promise<string> {
  const id = newId('payment', toLogicalShard(logical));
  await rawWrite(
    shard,
    `INSERT INTO transfer_outbox (id, step, status, attempts, created_at, next_attempt_at)
     VALUES (?, 'PAYMENT_CREDIT', 'PENDING', 0, NOW(3), NOW(3) + INTERVAL ? SECOND)`,
    [id, dueInSeconds],
  );
  return id;
}

async function rowOf(id: string): Promise<Row> {
  const [row] = await rawRows<Row>(
    shard,
    'SELECT attempts, CAST(next_attempt_at AS CHAR) AS next FROM transfer_outbox WHERE id = ?',
    [id],
  );
  return { attempts: Number(row!.attempts), next: String(row!.next) };
}

async function setFence(logical: number, fenced: boolean): Promise<void> {
  if (fenced) await fenceOn(shard, logical, logical, 'fenced');
  else await unfenceOn(shard, logical, logical);
}

describe('the relay and a fence on its database', () => {
  it('claims no row of a range fenced there while its map still places the range here', async () => {
    const id = await outboxRow(fencedShard, -1);
    const before = await rowOf(id);
    expect(shards.logicalOn(shard)).toContain(fencedShard);
    await setFence(fencedShard, true);
    try {
      await relayTick(shards, shard, () => new Date());
      expect(await rowOf(id)).toEqual(before);
    } finally {
      await setFence(fencedShard, false);
    }
    // Open again, the same pass takes it: the row was due, and the check above was not vacuous.
    await relayTick(shards, shard, () => new Date());
    expect((await rowOf(id)).attempts).toBe(1);
  });

  it('leaves a row of a range fenced there to its lease instead of shortening it, and shortens it when open', async () => {
    const id = await outboxRow(fencedShard, 30);
    const leased = await rowOf(id);
    const soon = new Date(Date.now() + 250);
    await setFence(fencedShard, true);
    try {
      await retrySoon(shard, id, soon);
      expect(await rowOf(id)).toEqual(leased);
    } finally {
      await setFence(fencedShard, false);
    }
    await retrySoon(shard, id, soon);
    const shortened = await rowOf(id);
    expect(shortened.attempts).toBe(leased.attempts + 1);
    expect(shortened.next < leased.next).toBe(true);
  });

  it('ends a row of a range fenced there with nothing written, where no posting reads the fence (takeOutboxHere)', async () => {
    // A refund of legs, a sweep, a payout's event and a payment its campaign refused end so: no posting of theirs reads
    // the fence, and the ending wrote the row DONE (and its record beside it) after a move's last catch-up.
    const id = await outboxRow(fencedShard, -1);
    const status = async () =>
      (await rawRows<{ s: string }>(shard, 'SELECT status AS s FROM transfer_outbox WHERE id = ?', [id]))[0]!.s;
    await setFence(fencedShard, true);
    try {
      await expect(inTransaction(shard, (tx) => takeOutboxHere(tx, shard.name, id))).rejects.toBeInstanceOf(
        FencedWrite,
      );
      expect(await status()).toBe('PENDING');
    } finally {
      await setFence(fencedShard, false);
    }
    expect(await inTransaction(shard, (tx) => takeOutboxHere(tx, shard.name, id))).toBe(true);
    expect(await status()).toBe('DONE');
  });

  it("makes the arriving range's PENDING rows due at once, and no other's", async () => {
    const [arriving, elsewhere, done] = [
      await outboxRow(fencedShard, 30),
      await outboxRow(otherShard, 30),
      await outboxRow(fencedShard, 30),
    ];
    await rawWrite(shard, "UPDATE transfer_outbox SET status = 'DONE' WHERE id = ?", [done]);
    const [elsewhereBefore, doneBefore] = [await rowOf(elsewhere), await rowOf(done)];
    const now = new Date();
    await inTransaction(shard, (tx) => outboxDueOnArrival(tx, [fencedShard], now));
    const [due] = await rawRows<{ due: number }>(
      shard,
      'SELECT next_attempt_at <= NOW(3) AS due FROM transfer_outbox WHERE id = ?',
      [arriving],
    );
    expect(Number(due!.due)).toBe(1);
    expect(await rowOf(elsewhere)).toEqual(elsewhereBefore);
    expect(await rowOf(done)).toEqual(doneBefore);
  });
});
