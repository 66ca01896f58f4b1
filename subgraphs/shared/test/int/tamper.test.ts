import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { and, eq, sql } from 'drizzle-orm';
import {
  insertAccount,
  verifyAccounts,
  postOne,
  type PostingOutcome,
  type PostingSpec,
  setKeyRing,
  TamperDetected,
} from '../../src/ledger/index';
import { accounts, ledgerEntries } from '../../src/ledger/store/schema';
import { newId, type LogicalShard } from '../../src/ids';
import { postBatch } from '../../src/ledger/engine/batch';
import { keyRing } from '../../src/ledger/rules/tamper';
import { parseKeyRing } from '../../src/config/ledger-keys';
import type { Shard, ShardSet } from '../../src/shards/pool';
import { ledgerKeyRing } from '../../src/config/shared';
import { testConfig, testShards, unique } from '../../../../test/support/env';
import { depositFromReserve, transferSpec } from '../../../../test/support/ledger';

/**
 * Tamper evidence on real MySQL: rows edited, deleted or inserted by direct SQL are found by
 * the verifier and refused by the write path; clean rows never raise an alarm; keys rotate.
 */
let shards: ShardSet;
let shard: Shard;
let logical: LogicalShard;
let a: string;
let b: string;

const transfer = (from: string, to: string, amount: bigint): PostingSpec => transferSpec(logical, from, to, amount);
const item = (spec: PostingSpec) => ({
  kind: 'spec' as const,
  spec,
  finish: async (_tx: unknown, outcome: PostingOutcome) => outcome,
});

async function open(): Promise<string> {
  const id = newId('account', logical);
  await insertAccount(shard.db, { id, ownerId: unique('tamper'), type: 'PERSONAL', currency: 'USD' });
  return id;
}

beforeAll(async () => {
  shards = testShards();
  shard = shards.all[1]!;
  logical = shards.logicalOn(shard)[0]!;
  a = await open();
  b = await open();
  expect((await depositFromReserve(shards, a, 1_000_000n)).status).toBe('APPLIED');
  // 5,000 postings between a and b: 10,000 entries, written a thousand postings a transaction.
  for (let round = 0; round < 5; round++) {
    const specs = Array.from({ length: 1_000 }, (_, i) => (i % 2 === 0 ? transfer(a, b, 3n) : transfer(b, a, 1n)));
    const outcomes = await postBatch(shard, specs.map(item));
    expect(outcomes.every((o) => o.status === 'APPLIED')).toBe(true);
  }
}, 120_000);

// Back to the keys of the run (test/support/setup.ts) after a test rotated them.
afterEach(() => setKeyRing(ledgerKeyRing(testConfig())!));
afterAll(async () => shards.close());

describe('tamper evidence', () => {
  it('raises no alarm over 10,000 clean entries and their accounts', async () => {
    const [{ n }] = (
      (await shard.db.execute(
        sql`SELECT COUNT(*) AS n FROM ledger_entries WHERE account_id IN (${a}, ${b})`,
      )) as unknown as [[{ n: number }]]
    )[0];
    expect(Number(n)).toBeGreaterThanOrEqual(10_000);
    expect(await verifyAccounts(shard.db, [a, b])).toEqual([]);
  });

  it('finds a balance edited by direct SQL, and the write path refuses to build on it', async () => {
    await shard.db
      .update(accounts)
      .set({ available: sql`${accounts.available} + 100` })
      .where(eq(accounts.id, a));
    try {
      expect(await verifyAccounts(shard.db, [a])).toEqual([{ kind: 'ACCOUNT_MAC_INVALID', accountId: a }]);
      await expect(postOne(shard, item(transfer(a, b, 1n)))).rejects.toBeInstanceOf(TamperDetected);
    } finally {
      await shard.db
        .update(accounts)
        .set({ available: sql`${accounts.available} - 100` })
        .where(eq(accounts.id, a));
    }
    expect(await verifyAccounts(shard.db, [a])).toEqual([]);
  });

  it('finds an entry deleted, edited or inserted by direct SQL', async () => {
    const [middle] = await shard.db
      .select()
      .from(ledgerEntries)
      .where(and(eq(ledgerEntries.accountId, b), eq(ledgerEntries.sequence, 100n)));
    await shard.db.delete(ledgerEntries).where(and(eq(ledgerEntries.accountId, b), eq(ledgerEntries.sequence, 100n)));
    try {
      expect(await verifyAccounts(shard.db, [b])).toEqual([
        { kind: 'ENTRY_CHAIN_BROKEN', accountId: b, sequence: 101n },
      ]);
    } finally {
      await shard.db.insert(ledgerEntries).values(middle!);
    }
    await shard.db
      .update(ledgerEntries)
      .set({ amount: sql`${ledgerEntries.amount} + 1` })
      .where(and(eq(ledgerEntries.accountId, b), eq(ledgerEntries.sequence, 7n)));
    try {
      expect(await verifyAccounts(shard.db, [b])).toEqual([{ kind: 'ENTRY_HASH_INVALID', accountId: b, sequence: 7n }]);
    } finally {
      await shard.db
        .update(ledgerEntries)
        .set({ amount: sql`${ledgerEntries.amount} - 1` })
        .where(and(eq(ledgerEntries.accountId, b), eq(ledgerEntries.sequence, 7n)));
    }
    const [last] = await shard.db
      .select()
      .from(ledgerEntries)
      .where(eq(ledgerEntries.accountId, b))
      .orderBy(sql`${ledgerEntries.sequence} DESC`)
      .limit(1);
    const forged = { ...last!, id: newId('entry', logical), sequence: last!.sequence + 1n, prevHash: last!.hash };
    await shard.db.insert(ledgerEntries).values(forged);
    try {
      expect(await verifyAccounts(shard.db, [b])).toEqual([
        { kind: 'ENTRY_HASH_INVALID', accountId: b, sequence: forged.sequence },
        { kind: 'CHAIN_HEAD_MISMATCH', accountId: b },
      ]);
    } finally {
      await shard.db
        .delete(ledgerEntries)
        .where(and(eq(ledgerEntries.accountId, b), eq(ledgerEntries.sequence, forged.sequence)));
    }
    expect(await verifyAccounts(shard.db, [a, b])).toEqual([]);
  });

  it('rotates keys: old MACs verify while their key is listed, new writes use the new key', async () => {
    const old = keyRing();
    const untouched = await open();
    const oldSpec = [...old.byId].map(([id, secret]) => `${id}:${secret.export().toString('utf8')}`).join(',');
    setKeyRing(parseKeyRing(`k2:a-brand-new-key-for-rotation,${oldSpec}`));
    expect(await verifyAccounts(shard.db, [a, b, untouched])).toEqual([]);
    expect((await postOne(shard, item(transfer(a, b, 1n)))).status).toBe('APPLIED');
    const rows = await shard.db
      .select({ id: accounts.id, keyId: accounts.macKeyId })
      .from(accounts)
      .where(sql`${accounts.id} IN (${a}, ${untouched})`);
    expect(Object.fromEntries(rows.map((r) => [r.id, r.keyId]))).toEqual({ [a]: 'k2', [untouched]: old.current.id });
    // Once the old key is dropped, a row nobody re-sealed since is no longer trusted.
    setKeyRing(parseKeyRing('k2:a-brand-new-key-for-rotation'));
    expect(await verifyAccounts(shard.db, [a, untouched])).toEqual([
      { kind: 'ACCOUNT_MAC_INVALID', accountId: untouched },
    ]);
  });
});
