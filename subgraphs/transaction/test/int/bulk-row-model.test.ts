import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Stack } from '../../../../test/support/stack';
import { defaultStack } from '../../../../test/support/default-stack';
import { contractOperation, gql } from '../../../../test/support/graphql';
import { token, unique } from '../../../../test/support/env';
import { rawRows } from '@paygraph/shared/db/raw';

/**
 * What a bulk payment writes (docs/PERFORMANCE.md, "Bulk (c)"): rows per table and the
 * secondary indexes each row also enters, counted on the test shards around one createPayments
 * of PERSONAL → PERSONAL payments. A change to the row model changes these figures on purpose,
 * and the table in the docs with them.
 */
const bulkDoc = `mutation Bulk($inputs: [CreatePaymentInput!]!) {
  createPayments(inputs: $inputs) { __typename ... on Payment { id status } ... on UserError { code message } }
}`;

/** The tables a payment writes rows into. */
const writtenTables = [
  'idempotency_keys',
  'payments',
  'transfer_outbox',
  'postings',
  'ledger_entries',
  'account_days',
] as const;

let stack: Stack;
let operator: string;
const q = (doc: string, variables: Record<string, unknown>) => gql(stack.gatewayUrl, doc, variables, operator);

beforeAll(async () => {
  stack = await defaultStack();
  operator = await token('operator', 'operator');
});
afterAll(async () => stack?.stop());

async function funded(amount: string): Promise<string> {
  const id = (
    await q(contractOperation('OpenAccount'), { input: { ownerId: unique('rows'), type: 'PERSONAL', currency: 'USD' } })
  ).data!.openAccount.id;
  if (amount !== '0')
    await q(contractOperation('Deposit'), {
      input: { idempotencyKey: unique('dep'), accountId: id, amount, currency: 'USD' },
    });
  return id;
}

async function rowCounts(): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const shard of stack.shards.all) {
    for (const table of writtenTables) {
      const [row] = await rawRows<{ n: string }>(shard, `SELECT COUNT(*) AS n FROM \`${table}\``);
      counts[table] = (counts[table] ?? 0) + Number(row!.n);
    }
  }
  return counts;
}

/** Secondary indexes per table (the primary key excluded), from the first shard's catalogue. */
async function secondaryIndexes(): Promise<Record<string, string[]>> {
  const rows = await rawRows<{ t: string; i: string }>(
    stack.shards.all[0]!,
    `SELECT DISTINCT TABLE_NAME AS t, INDEX_NAME AS i FROM information_schema.STATISTICS
     WHERE TABLE_SCHEMA = DATABASE() AND INDEX_NAME <> 'PRIMARY' AND TABLE_NAME IN (?) ORDER BY t, i`,
    [[...writtenTables]],
  );
  const byTable: Record<string, string[]> = {};
  for (const r of rows) (byTable[r.t] ??= []).push(r.i);
  return byTable;
}

describe('the row model of a bulk payment', () => {
  it('writes the rows and index entries docs/PERFORMANCE.md lists', async () => {
    const payers = await Promise.all(Array.from({ length: 10 }, () => funded('100000')));
    const payees = await Promise.all(Array.from({ length: 10 }, () => funded('0')));
    const inputs = Array.from({ length: 200 }, (_, i) => ({
      idempotencyKey: unique(`rows-${i}`),
      payerAccountId: payers[i % 10],
      payeeAccountId: payees[(i * 3) % 10],
      amount: String(1 + (i % 20)),
      currency: 'USD',
    }));
    const before = await rowCounts();
    const statementsBefore = stack.shards.all.reduce((n, s) => n + s.queryCount, 0);
    const results = (await q(bulkDoc, { inputs })).data!.createPayments as Array<{
      __typename: string;
      id: string;
      status: string;
    }>;
    const statements = stack.shards.all.reduce((n, s) => n + s.queryCount, 0) - statementsBefore;
    expect(results.every((r) => r.__typename === 'Payment' && r.status === 'SUCCEEDED')).toBe(true);
    const after = await rowCounts();
    const ids = results.map((r) => r.id);
    let crossShard = 0;
    for (const shard of stack.shards.all) {
      const [row] = await rawRows<{ n: string }>(
        shard,
        "SELECT COUNT(*) AS n FROM payments WHERE id IN (?) AND route = 'CROSS_SHARD'",
        [ids],
      );
      crossShard += Number(row!.n);
    }
    const indexes = await secondaryIndexes();
    const perTable = writtenTables.map((t) => ({
      table: t,
      rows: after[t]! - before[t]!,
      secondaryIndexes: indexes[t] ?? [],
    }));
    console.log(JSON.stringify({ payments: inputs.length, crossShard, statements, perTable }));
    const n = inputs.length;
    // Per payment: its key and its record; per cross-shard payment also the outbox row its
    // credit runs from, and the credit's posting on the payee's shard; two entries per posting.
    expect(
      Object.fromEntries(perTable.filter((t) => t.table !== 'account_days').map((t) => [t.table, t.rows])),
    ).toEqual({
      idempotency_keys: n,
      payments: n,
      transfer_outbox: crossShard,
      postings: n + crossShard,
      ledger_entries: 2 * (n + crossShard),
    });
    expect(indexes).toEqual({
      idempotency_keys: ['idempotency_keys_created_idx'],
      payments: ['payments_due_idx', 'payments_payer_idx', 'payments_settle_idx'],
      transfer_outbox: ['transfer_outbox_due_idx'],
      postings: ['postings_business_date_idx', 'postings_dedupe_uq'],
      ledger_entries: ['ledger_entries_id_uq', 'ledger_entries_posting_idx'],
    });
  });
});
