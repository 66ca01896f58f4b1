import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId, toLogicalShard } from '@paygraph/shared/ids';
import type { ShardSet } from '@paygraph/shared/shards/pool';
import { insertReport, reportsOfDate } from '../../src/db/settlement-store';
import { channelReconciliationsOf, insertChannelReconciliation } from '../../src/db/reconciliation-store';
import { testShards } from '../../../../test/support/env';
import { reportStoredBytesMax } from '../../src/limits';

/**
 * A reconciliation keeps its report, discrepancies and all: a date with many (a shard move's day listed 879, about
 * 225 kB) must be stored whole, where a TEXT column's 64 KiB refused the insert and the reconciliation answered an
 * internal error. A channel's day of a bank file's size (the statement bench's day holds 60,000 entries) must be too:
 * 60,000 unmatched lines are about 28 MB of report, over MEDIUMTEXT's 16 MiB and the server's max_allowed_packet.
 */
let shards: ShardSet;

beforeAll(() => {
  shards = testShards(1);
});
afterAll(async () => shards.close());

/** An id of the ledger's shape whose 26 characters are random, as real ids are: they do not compress away. */
const randomId = (prefix: string) => `${prefix}_${randomBytes(13).toString('hex')}_00`;

/** One exception as a channel report holds it (channel-reconcile.ts exceptionView), about 420 bytes of JSON. */
function exceptionOf(n: number) {
  return {
    id: randomId('rex'),
    kind: 'MISSING_INTERNAL',
    channel: 'bank-big',
    businessDate: '2001-02-03',
    externalRef: `NONREF-${randomBytes(8).toString('hex')}-${n}`,
    movementId: null,
    amount: `${1 + (n % 997)}.${String(n % 100).padStart(2, '0')}`,
    currency: 'EUR',
    detail: 'a statement line with no movement of the channel in the ledger (reference, then amount and date)',
    status: 'OPEN',
    resolution: null,
    note: null,
    resolvedBy: null,
    resolvedAt: null,
    postingId: null,
    detectedAt: '2001-02-04T00:00:01.000Z',
    ageDays: 0,
  };
}

describe("a reconciliation's report", () => {
  it('is stored whole with a thousand discrepancies (about 250 kB of JSON)', async () => {
    const discrepancy = (n: number) => ({
      kind: 'UNBALANCED_POSTING',
      detail: `posting pst_${String(n).padStart(26, '0')}_00 on a database sums to -1`,
      ...{ accountId: null, paymentId: null, externalRef: null, currency: 'USD', expected: '0', actual: '-1' },
    });
    const discrepancies = JSON.stringify(Array.from({ length: 1_000 }, (_, n) => discrepancy(n)));
    expect(discrepancies.length).toBeGreaterThan(200_000);
    const businessDate = '2001-02-03';
    const id = newId('reconciliation', toLogicalShard(0));
    const db = shards.all[0]!.db;
    await insertReport(db, { id, businessDate, balanced: false, discrepancies, createdBy: 'operator' });
    const stored = (await reportsOfDate(db, businessDate, 10)).find((r) => r.id === id);
    expect(stored?.discrepancies).toBe(discrepancies);
  });

  it("is stored whole for a channel's day of 60,000 unmatched statement lines (about 28 MB of JSON)", async () => {
    const exceptions = Array.from({ length: 60_000 }, (_, n) => exceptionOf(n));
    const id = newId('reconciliation', toLogicalShard(0));
    const body = JSON.stringify({ id, channel: 'bank-big', businessDate: '2001-02-03', matches: [], exceptions });
    expect(body.length).toBeGreaterThan(20 * 1024 * 1024);
    const db = shards.all[0]!.db;
    await insertChannelReconciliation(db, {
      id,
      channel: 'bank-big',
      businessDate: '2001-02-03',
      body,
      createdBy: 'op',
    });
    const [stored] = await channelReconciliationsOf(db, 'bank-big', '2001-02-03', 1);
    expect(stored?.id).toBe(id);
    expect(stored?.body).toBe(body);
  }, 60_000);

  it('refuses to store a report over reportStoredBytesMax gzipped, naming the bound', async () => {
    // Random bytes as base64 hardly compress: 12 MB of it is about 9 MiB gzipped.
    const body = JSON.stringify({ exceptions: [randomBytes(9 * 1024 * 1024).toString('base64')] });
    const row = { id: newId('reconciliation', toLogicalShard(0)), channel: 'bank-huge', businessDate: '2001-02-04' };
    const db = shards.all[0]!.db;
    await expect(insertChannelReconciliation(db, { ...row, body, createdBy: 'op' })).rejects.toThrow(
      `over reportStoredBytesMax (${reportStoredBytesMax})`,
    );
    expect(await channelReconciliationsOf(db, 'bank-huge', '2001-02-04', 1)).toEqual([]);
  });

  it('keeps reading a report stored as text before reports were compressed', async () => {
    const id = newId('reconciliation', toLogicalShard(0));
    const body = JSON.stringify({ id, channel: 'bank-old', businessDate: '2001-02-05', matches: [], exceptions: [] });
    const db = shards.all[0]!.db;
    await db.execute(
      sql`INSERT INTO channel_reconciliations (id, channel, business_date, body, created_by) VALUES (${id}, 'bank-old', '2001-02-05', ${body}, 'op')`,
    );
    const [stored] = await channelReconciliationsOf(db, 'bank-old', '2001-02-05', 1);
    expect(stored?.body).toBe(body);
  });
});
