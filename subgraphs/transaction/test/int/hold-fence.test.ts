import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId, toLogicalShard } from '@paygraph/shared/ids';
import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import { rawRows } from '@paygraph/shared/db/raw';
import { insertAccount } from '@paygraph/shared/ledger/index';
import { FencedWrite } from '@paygraph/shared/shards/unavailable';
import { scratchShard, whileFenced, type ScratchShard } from '../../../../test/support/scratch-databases';
import { unique } from '../../../../test/support/env';
import { holds } from '../../src/db/schema/transactions';
import { captureHold, voidHold } from '../../src/services/hold';
import { serviceContext } from '../support/service-context';

/**
 * A capture's or a void's key is claimed in its posting transaction under the hold's lock, and the key row moves with
 * the hold's logical shard (scripts/lib/move-tables.ts). One refused there with a fresh key (the hold ended already)
 * posts nothing, so no posting's lock reads the fence for it: the ending reads its hold's fence row itself, in share
 * mode in the round trip that locks the hold (services/hold-endings.ts), and a process whose map missed a shard move's
 * fence writes no key row after the mover's last catch-up. On a database of this file's own: a fence here would refuse
 * other files' postings.
 */
let scratch: ScratchShard;
let shards: ShardSet;
let shard: Shard;
const fencedShard = toLogicalShard(17);

beforeAll(async () => {
  scratch = await scratchShard('holdfence');
  ({ shards, shard } = scratch);
});

afterAll(async () => scratch?.close());

/** A hold of the fenced logical shard, voided already: any capture or void of it is refused under its lock. */
async function voidedHold(): Promise<{ ownerId: string; holdId: string }> {
  const ownerId = unique('holdfence');
  const [payer, payee] = [newId('account', fencedShard), newId('account', fencedShard)];
  for (const [id, owner] of [
    [payer, ownerId],
    [payee, unique('holdfence-payee')],
  ] as const)
    await insertAccount(shard.db, { id, ownerId: owner, type: 'PERSONAL', currency: 'USD', status: 'ACTIVE' });
  const holdId = newId('hold', fencedShard);
  const now = new Date();
  await shard.db.insert(holds).values({
    id: holdId,
    payerAccountId: payer,
    payeeAccountId: payee,
    amount: 100n,
    capturedAmount: 0n,
    currency: 'USD',
    status: 'VOIDED',
    endedBy: newId('posting', fencedShard),
    description: null,
    createdBy: ownerId,
    expiresAt: new Date(now.getTime() + 3_600_000),
    createdAt: now,
    endedAt: now,
  });
  return { ownerId, holdId };
}

/** The key rows anchored on the hold. */
async function keyRows(holdId: string): Promise<number> {
  const [row] = await rawRows<{ n: number }>(shard, 'SELECT COUNT(*) AS n FROM idempotency_keys WHERE anchor_id = ?', [
    holdId,
  ]);
  return Number(row!.n);
}

const fenced = <T>(run: () => Promise<T>): Promise<T> => whileFenced(shard, fencedShard, 'fenced', run);

describe("a hold's ending refused under its lock, and a fence on its database", () => {
  for (const [verb, end] of [
    ['void', voidHold],
    ['capture', captureHold],
  ] as const) {
    it(`claims no key of a ${verb} when the hold's logical shard is fenced there, and answers it once open`, async () => {
      const { ownerId, holdId } = await voidedHold();
      const ctx = serviceContext(shards, { sub: ownerId, role: 'customer' });
      const input = { idempotencyKey: unique('key'), holdId };
      const refused = await fenced(() => end(ctx, input).catch((e: unknown) => e));
      expect(refused).toBeInstanceOf(FencedWrite);
      expect(String(refused)).toContain('is unavailable; retry');
      expect(await keyRows(holdId)).toBe(0);
      // Open again, the same request is answered, its key kept: the refusal above was the fence's.
      const answered = await end(ctx, input);
      expect(answered).toMatchObject({ ok: false, error: { kind: 'HoldNotActive', status: 'VOIDED' } });
      expect(await keyRows(holdId)).toBe(1);
    });
  }
});
