import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import mysql from 'mysql2/promise';
import { eq, inArray } from 'drizzle-orm';
import type { Shard, ShardSet } from '../../src/shards/pool';
import { LockTimeout } from '../../src/shards/transaction';
import { newId, type LogicalShard } from '../../src/ids';
import { postBatch } from '../../src/ledger/engine/batch';
import {
  postOne,
  type PostingItem,
  type PostingOutcome,
  systemAccountId,
  type Bucket,
  type PostingSpec,
  type AccountStatus,
  insertAccount,
} from '../../src/ledger/index';
import { balanceMismatches } from '../../src/ledger/store/health';
import { accounts, ledgerEntries, postings, type AccountRow } from '../../src/ledger/store/schema';
import { lockWaitSeconds } from '../../src/limits';
import { testShards, unique } from '../../../../test/support/env';
import { useSeededRandom } from '../../../../test/support/seeded-random';

/**
 * The posting engine against real MySQL. Other test files post on the same shards at the same
 * time (and use the same RESERVE accounts), so every assertion is about accounts this file
 * created, never about totals of a whole shard.
 */
/** The concurrent transfers' pairs and amounts. */
const random = useSeededRandom();
let shards: ShardSet;
let shard: Shard;
let logical: LogicalShard;
let reserve: string;

beforeAll(async () => {
  shards = testShards(8);
  // The second physical shard, so that nothing here quietly relies on shard 0 being the only one.
  shard = shards.all[Math.min(1, shards.all.length - 1)]!;
  logical = shards.logicalOn(shard)[0]!;
  reserve = await systemAccountId(shards, shard, 'RESERVE', 'USD');
});

afterAll(async () => {
  await shards.close();
});

async function openAccount(options: { status?: AccountStatus; currency?: string } = {}): Promise<string> {
  const id = newId('account', logical);
  await insertAccount(shard.db, {
    id,
    ownerId: unique('posting-owner'),
    type: 'PERSONAL',
    currency: options.currency ?? 'USD',
    status: options.status ?? 'ACTIVE',
  });
  return id;
}

function spec(
  from: string,
  to: string,
  amount: bigint,
  options: { dedupeKey?: string; currency?: string; toBucket?: Bucket } = {},
): PostingSpec {
  return {
    id: newId('posting', logical),
    kind: 'TEST',
    refId: null,
    dedupeKey: options.dedupeKey ?? null,
    currency: options.currency ?? 'USD',
    legs: [
      { accountId: from, bucket: 'AVAILABLE', amount: -amount },
      { accountId: to, bucket: options.toBucket ?? 'AVAILABLE', amount },
    ],
  };
}

/** An item that answers with the engine's outcome, so tests can inspect it. */
function item(s: PostingSpec): PostingItem<PostingOutcome> {
  return { kind: 'spec', spec: s, finish: async (_tx, outcome) => outcome };
}

async function rows(ids: readonly string[]): Promise<Map<string, AccountRow>> {
  const found = await shard.db
    .select()
    .from(accounts)
    .where(inArray(accounts.id, [...ids]));
  return new Map(found.map((r) => [r.id, r]));
}

async function entriesOf(accountId: string) {
  return shard.db
    .select()
    .from(ledgerEntries)
    .where(eq(ledgerEntries.accountId, accountId))
    .orderBy(ledgerEntries.sequence);
}

async function postingRows(ids: readonly string[]) {
  return shard.db
    .select()
    .from(postings)
    .where(inArray(postings.id, [...ids]));
}

async function entriesOfPostings(ids: readonly string[]) {
  return shard.db
    .select()
    .from(ledgerEntries)
    .where(inArray(ledgerEntries.postingId, [...ids]));
}

/**
 * The ledger's invariants for these accounts: entries numbered 1..n with no gap, last_sequence
 * = n, every balance_after the running total, and the stored buckets equal to Σ entries.
 */
async function expectConsistent(ids: readonly string[]): Promise<void> {
  const stored = await rows(ids);
  for (const id of ids) {
    const row = stored.get(id)!;
    const entries = await entriesOf(id);
    expect(entries.map((e) => e.sequence)).toEqual(entries.map((_, i) => BigInt(i + 1)));
    expect(row.lastSequence).toBe(BigInt(entries.length));
    let running = 0n;
    const buckets = { AVAILABLE: 0n, FROZEN: 0n, PENDING: 0n };
    for (const e of entries) {
      running += e.amount;
      buckets[e.bucket] += e.amount;
      expect(e.balanceAfter).toBe(running);
      expect(e.direction).toBe(e.amount < 0n ? 'DEBIT' : 'CREDIT');
    }
    expect({ available: row.available, frozen: row.frozen, pending: row.pending }).toEqual({
      available: buckets.AVAILABLE,
      frozen: buckets.FROZEN,
      pending: buckets.PENDING,
    });
  }
  const mismatched = (await balanceMismatches(shard.db)).filter((m) => ids.includes(m.accountId));
  expect(mismatched).toEqual([]);
}

describe('posting engine on MySQL', () => {
  it('deposits from the reserve: balances equal Σ entries, sequences are gapless, postings net to zero', async () => {
    const ids = [await openAccount(), await openAccount(), await openAccount()];
    const specs: PostingSpec[] = [];
    // One batch of several deposits per account (one into PENDING, so buckets are checked apart),
    // then single postings on top, so that numbering continues across transactions.
    const batch = ids.flatMap((id, i) => [
      spec(reserve, id, 100n + BigInt(i)),
      spec(reserve, id, 250n),
      spec(reserve, id, 7n, { toBucket: 'PENDING' }),
    ]);
    specs.push(...batch);
    const outcomes = await postBatch(shard, batch.map(item));
    expect(outcomes.map((o) => o.status)).toEqual(batch.map(() => 'APPLIED'));
    for (const id of ids) {
      const more = spec(reserve, id, 1_000n);
      specs.push(more);
      expect((await postOne(shard, item(more))).status).toBe('APPLIED');
    }

    const stored = await rows(ids);
    ids.forEach((id, i) => {
      expect(stored.get(id)!.available).toBe(100n + BigInt(i) + 250n + 1_000n);
      expect(stored.get(id)!.pending).toBe(7n);
      expect(stored.get(id)!.lastSequence).toBe(4n);
    });
    await expectConsistent(ids);

    expect((await postingRows(specs.map((s) => s.id))).length).toBe(specs.length);
    const entries = await entriesOfPostings(specs.map((s) => s.id));
    expect(entries.length).toBe(specs.length * 2);
    for (const s of specs) {
      const own = entries.filter((e) => e.postingId === s.id);
      expect(own.length).toBe(2);
      expect(own.reduce((sum, e) => sum + e.amount, 0n)).toBe(0n);
      expect(own.find((e) => e.accountId === reserve)?.amount).toBe(s.legs[0]!.amount);
    }
  });

  it('lets a rejected posting fail alone, commits the rest and writes nothing for a duplicate', async () => {
    const a = await openAccount();
    const b = await openAccount();
    const frozen = await openAccount({ status: 'FROZEN' });
    const euro = await openAccount({ currency: 'EUR' });
    const missing = newId('account', logical);
    expect((await postOne(shard, item(spec(reserve, a, 1_000n)))).status).toBe('APPLIED');

    const key = unique('dedupe');
    const batch = [
      spec(a, b, 300n),
      spec(b, a, 500n), // b holds only the 300 it got from the posting before it in this batch
      spec(reserve, frozen, 100n),
      spec(reserve, missing, 100n),
      spec(reserve, euro, 100n),
      spec(reserve, b, 50n, { dedupeKey: key }),
      spec(reserve, b, 70n, { dedupeKey: key }),
    ];
    const outcomes = await postBatch(shard, batch.map(item));
    // toMatchObject: outcomes may carry more detail than this test is about.
    expect(outcomes).toMatchObject([
      { status: 'APPLIED', postingId: batch[0]!.id },
      { status: 'REJECTED', rejection: { code: 'INSUFFICIENT_FUNDS', accountId: b, available: 300n } },
      { status: 'REJECTED', rejection: { code: 'ACCOUNT_NOT_ACTIVE', accountId: frozen, status: 'FROZEN' } },
      { status: 'REJECTED', rejection: { code: 'ACCOUNT_NOT_FOUND', accountId: missing } },
      {
        status: 'REJECTED',
        rejection: { code: 'CURRENCY_MISMATCH', accountId: euro, accountCurrency: 'EUR', postingCurrency: 'USD' },
      },
      { status: 'APPLIED', postingId: batch[5]!.id },
      { status: 'DUPLICATE', postingId: batch[5]!.id },
    ]);

    // The same key in a later batch is a duplicate of the committed posting; the batch's other posting still applies.
    const later = [spec(reserve, b, 90n, { dedupeKey: key }), spec(reserve, b, 5n)];
    const laterOutcomes = await postBatch(shard, later.map(item));
    expect(laterOutcomes).toMatchObject([
      { status: 'DUPLICATE', postingId: batch[5]!.id },
      { status: 'APPLIED', postingId: later[1]!.id },
    ]);

    const written = [batch[0]!.id, batch[5]!.id, later[1]!.id];
    const notWritten = [...batch.filter((s) => !written.includes(s.id)), later[0]!].map((s) => s.id);
    expect((await postingRows(written)).map((p) => p.id).sort()).toEqual([...written].sort());
    expect(await postingRows(notWritten)).toEqual([]);
    expect(await entriesOfPostings(notWritten)).toEqual([]);

    const stored = await rows([a, b, frozen, euro, missing]);
    expect(stored.get(a)!.available).toBe(700n);
    expect(stored.get(b)!.available).toBe(355n);
    for (const untouched of [frozen, euro]) {
      expect(stored.get(untouched)).toMatchObject({ available: 0n, lastSequence: 0n, version: 0n });
    }
    expect(stored.has(missing)).toBe(false);
    await expectConsistent([a, b, frozen, euro]);
  });

  it('keeps every invariant under 40 concurrent postings between 5 accounts', async () => {
    const ids = await Promise.all(Array.from({ length: 5 }, () => openAccount()));
    const funding = 1_000n;
    await postBatch(
      shard,
      ids.map((id) => item(spec(reserve, id, funding))),
    );

    const transfers = Array.from({ length: 40 }, () => {
      const from = random.below(ids.length);
      const to = (from + 1 + random.below(ids.length - 1)) % ids.length;
      return spec(ids[from]!, ids[to]!, BigInt(random.between(1, 600)));
    });
    // Each postOne is its own transaction on its own pooled connection, racing for the row locks.
    const outcomes = await Promise.all(transfers.map((t) => postOne(shard, item(t))));
    expect(
      outcomes.every(
        (o) => o.status === 'APPLIED' || (o.status === 'REJECTED' && o.rejection.code === 'INSUFFICIENT_FUNDS'),
      ),
    ).toBe(true);
    expect(outcomes.some((o) => o.status === 'APPLIED')).toBe(true);

    const stored = await rows(ids);
    const balances = ids.map((id) => stored.get(id)!.available);
    expect(balances.reduce((sum, v) => sum + v, 0n)).toBe(funding * BigInt(ids.length));
    expect(balances.every((v) => v >= 0n)).toBe(true);
    // Whatever order the transactions ran in, each account's balance is its funding plus the
    // transfers that applied: no lost update and no transfer applied twice.
    const expected = new Map(ids.map((id) => [id, funding]));
    transfers.forEach((t, i) => {
      if (outcomes[i]!.status !== 'APPLIED') return;
      for (const leg of t.legs) expected.set(leg.accountId, expected.get(leg.accountId)! + leg.amount);
    });
    expect(balances).toEqual(ids.map((id) => expected.get(id)));
    const applied = outcomes.filter((o) => o.status === 'APPLIED').length;
    expect(ids.reduce((sum, id) => sum + Number(stored.get(id)!.lastSequence), 0)).toBe(ids.length + 2 * applied);
    await expectConsistent(ids);
  });

  it('gives up on a locked account after lockWaitSeconds and persists nothing of the posting', async () => {
    const a = await openAccount();
    const b = await openAccount();
    await postBatch(shard, [item(spec(reserve, a, 500n)), item(spec(reserve, b, 500n))]);
    const before = await rows([a, b]);

    const holder = await mysql.createConnection({ uri: shards.topology.urls[shard.index]! });
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT id FROM accounts WHERE id = ? FOR UPDATE', [a]);

      // The prepare step writes a business row first, as a refund or payment would: MariaDB's
      // lock timeout undoes only the statement that timed out, so this shows the whole
      // transaction is rolled back, not just the lock.
      const businessRow = newId('account', logical);
      const posting = spec(a, b, 200n);
      const started = performance.now();
      const attempt = postOne(shard, {
        kind: 'prepare',
        prepare: async (tx) => {
          await insertAccount(tx, { id: businessRow, ownerId: unique('business'), type: 'PERSONAL', currency: 'USD' });
          return { proceed: true, spec: posting };
        },
        finish: async (_tx, outcome) => outcome,
      });
      await expect(attempt).rejects.toBeInstanceOf(LockTimeout);
      expect(performance.now() - started).toBeGreaterThanOrEqual((lockWaitSeconds - 0.5) * 1_000);

      expect(await postingRows([posting.id])).toEqual([]);
      expect(await entriesOfPostings([posting.id])).toEqual([]);
      expect((await rows([businessRow])).size).toBe(0);
      const after = await rows([a, b]);
      for (const id of [a, b]) {
        expect(after.get(id)).toMatchObject({
          available: before.get(id)!.available,
          lastSequence: before.get(id)!.lastSequence,
          version: before.get(id)!.version,
        });
      }
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
    // Once the lock is gone the same accounts post normally.
    expect((await postOne(shard, item(spec(a, b, 200n)))).status).toBe('APPLIED');
    await expectConsistent([a, b]);
  });

  it('rolls back the whole batch when a finish hook throws', async () => {
    const a = await openAccount();
    const b = await openAccount();
    await postOne(shard, item(spec(reserve, a, 500n)));
    const before = await rows([a, b]);

    const first = spec(a, b, 100n);
    const second = spec(reserve, b, 40n);
    const failing: PostingItem<PostingOutcome> = {
      kind: 'spec',
      spec: second,
      finish: async () => {
        throw new Error('business record could not be written');
      },
    };
    await expect(postBatch(shard, [item(first), failing])).rejects.toThrow('business record could not be written');

    expect(await postingRows([first.id, second.id])).toEqual([]);
    expect(await entriesOfPostings([first.id, second.id])).toEqual([]);
    const after = await rows([a, b]);
    for (const id of [a, b]) {
      expect(after.get(id)).toMatchObject({
        available: before.get(id)!.available,
        lastSequence: before.get(id)!.lastSequence,
        version: before.get(id)!.version,
      });
    }
    await expectConsistent([a, b]);
  });
});
