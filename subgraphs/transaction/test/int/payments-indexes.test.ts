import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drizzle, type MySql2Database } from 'drizzle-orm/mysql2';
import type mysql from 'mysql2/promise';
import type { ShardSet } from '@paygraph/shared/shards/pool';
import { paymentsOfAccount } from '@paygraph/transaction/db/payments';
import { dueSettlements, paymentIdsOfSettlement } from '@paygraph/transaction/read-model/settlement';
import { testShards } from '../../../../test/support/env';

/**
 * The payments table keeps only the secondary indexes a query needs (schema/transactions.ts):
 * each index is an entry every payment writes. This holds each read of the table by account or
 * settlement to an index MySQL can use for it, so that dropping one a query needs fails here
 * rather than turning the query into a scan of every payment on the shard. The statements are
 * the ones the functions send, captured from drizzle's logger, and asked of EXPLAIN.
 */
let shards: ShardSet;

beforeAll(() => {
  shards = testShards(2);
});
afterAll(async () => shards?.close());

interface Captured {
  sql: string;
  params: unknown[];
}

/** A drizzle database over the first shard's pool that records every statement it sends. */
function capturingDb(): { db: MySql2Database; statements: Captured[] } {
  const statements: Captured[] = [];
  const shard = shards.all[0]!;
  const db: MySql2Database = drizzle({
    client: shard.pool as unknown as mysql.Pool,
    mode: 'default',
    logger: { logQuery: (sql, params) => void statements.push({ sql, params }) },
  });
  return { db, statements };
}

async function possibleKeys(statement: Captured): Promise<string[]> {
  return (await plan(statement))[0]!.keys;
}

/** EXPLAIN's rows: each table's access type and possible keys. */
async function plan(statement: Captured): Promise<Array<{ table: string; type: string; keys: string[] }>> {
  const [rows] = await shards.all[0]!.pool.query(`EXPLAIN ${statement.sql}`, statement.params);
  return (rows as Array<{ table: string; type: string; possible_keys: string | null }>).map((r) => ({
    table: r.table,
    type: r.type,
    keys: (r.possible_keys ?? '').split(',').filter((k) => k !== ''),
  }));
}

const account = 'acc_01M81V1K15Y32W0Z8YFNZHS3BQ_2f';

describe('the payments table answers its reads from an index', () => {
  it("an account's payments: as payer from payments_payer_idx, as payee from payments_settle_idx's prefix", async () => {
    const { db, statements } = capturingDb();
    // With the placed logical shards' filter, as a database of several reads it (account-payments.ts).
    await paymentsOfAccount(db, account, null, 11, [0, 1, 47]);
    await paymentsOfAccount(db, account, 'pay_01M81V3GJGZFKE3QP0QGTT2CDM_33', 11, [0, 1, 47]);
    expect(statements).toHaveLength(2);
    for (const statement of statements) {
      expect(await possibleKeys(statement)).toEqual(
        expect.arrayContaining(['payments_payer_idx', 'payments_settle_idx']),
      );
    }
  });

  it("a settlement's payments: by merchant and settlement from payments_settle_idx", async () => {
    const { db, statements } = capturingDb();
    await paymentIdsOfSettlement(db, account, 'stl_01M81V3GJGZFKE3QP0QGTT2CDM_33');
    expect(statements).toHaveLength(1);
    expect(await possibleKeys(statements[0]!)).toContain('payments_settle_idx');
  });

  it('the pairs left to settle: from payments_due_idx, refunds_due_idx and payment_legs_due_idx, never a scan', async () => {
    // The settlement worker asks this of every shard each pass: a scan read every payment (or refund, or leg) the
    // shard ever held.
    const { db, statements } = capturingDb();
    await dueSettlements(db, '2026-11-26');
    expect(statements).toHaveLength(3);
    const [fromPayments, fromRefunds, fromLegs] = await Promise.all(statements.map(plan));
    const payments = fromPayments![0]!;
    const refunds = fromRefunds!.find((r) => r.table === 'refunds')!;
    const legs = fromLegs!.find((r) => r.table === 'payment_legs')!;
    expect(payments.keys).toContain('payments_due_idx');
    expect(refunds.keys).toContain('refunds_due_idx');
    expect(legs.keys).toContain('payment_legs_due_idx');
    for (const read of [payments, refunds, legs]) expect(['ALL', 'index']).not.toContain(read.type);
  });
});
