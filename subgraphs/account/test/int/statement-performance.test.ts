import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDays } from '@paygraph/shared/business-date';
import { newId, shardOf } from '@paygraph/shared/ids';
import { postBatch } from '@paygraph/shared/ledger/engine/batch';
import { type PostingItem, systemAccountId, type Leg } from '@paygraph/shared/ledger/index';
import { rawRows } from '@paygraph/shared/db/raw';
import { startStack, type Stack } from '../../../../test/support/stack';
import { contractOperation, gql } from '../../../../test/support/graphql';
import { unique } from '../../../../test/support/env';
import { moneyKit, type MoneyKit } from '../../../../test/support/money';

/**
 * A year of statement lines for an account with 100,000 entries. The statement reads the
 * daily summary (at most 366 rows in the range, plus the earlier dates' rows for the opening)
 * through its primary key, so its time does not grow with the entries. The figure is printed;
 * the assertions are loose enough for a loaded two-core CI machine and check the plan, which is
 * what would regress into a scan.
 */
const entriesWanted = 100_000;
const legsPerPosting = 20;
const postingsPerBatch = 1_000;
const year = 365;
// Long past, so that no other test's business date (today, or far in the future) shares its 5,000 postings.
const firstDate = '1991-01-01';

let stack: Stack;
let kit: MoneyKit;
let accountId: string;
const clock = new Date(`${addDays(firstDate, year + 1)}T12:00:00Z`);

beforeAll(async () => {
  stack = await startStack({ now: () => clock });
  kit = await moneyKit(stack);
});

afterAll(async () => {
  await stack.stop();
});

/** Ten credits then ten smaller debits on the account, the difference from the reserve. */
function legsOf(account: string, reserve: string, n: number): Leg[] {
  const legs: Leg[] = [];
  let net = 0n;
  for (let i = 0; i < legsPerPosting / 2; i++) {
    const amount = BigInt(100 + ((n * 7 + i * 13) % 900));
    legs.push({ accountId: account, bucket: 'AVAILABLE', amount });
    net += amount;
  }
  for (let i = 0; i < legsPerPosting / 2; i++) {
    const amount = BigInt(1 + ((n * 11 + i * 5) % 99));
    legs.push({ accountId: account, bucket: 'AVAILABLE', amount: -amount });
    net -= amount;
  }
  legs.push({ accountId: reserve, bucket: 'AVAILABLE', amount: -net });
  return legs;
}

async function seed(): Promise<void> {
  accountId = await kit.open(unique('busy'));
  const logical = shardOf('account', accountId);
  const shard = stack.shards.byLogical(logical);
  const reserve = await systemAccountId(stack.shards, shard, 'RESERVE', 'USD');
  const postings = entriesWanted / legsPerPosting;
  const start = Date.parse(`${firstDate}T00:00:00Z`);
  for (let from = 0; from < postings; from += postingsPerBatch) {
    const items: Array<PostingItem<undefined>> = [];
    for (let n = from; n < Math.min(from + postingsPerBatch, postings); n++) {
      items.push({
        at: new Date(start + Math.floor((n * year * 86_400_000) / postings)),
        kind: 'spec',
        spec: {
          id: newId('posting', logical),
          kind: 'TEST',
          refId: null,
          dedupeKey: null,
          currency: 'USD',
          legs: legsOf(accountId, reserve, n),
        },
        finish: async () => undefined,
      });
    }
    await postBatch(stack.shards.byLogical(logical), items);
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

describe('a year of statement lines for an account with 100,000 entries', () => {
  it('answers through the gateway in ≤ 100 ms on an idle machine, reading the summary by its primary key', async () => {
    await seed();
    const shard = stack.shards.of('account', accountId);
    const [{ n }] = (await rawRows<{ n: string }>(
      shard.db,
      'SELECT COUNT(*) AS n FROM ledger_entries WHERE account_id = ?',
      [accountId],
    )) as [{ n: string }];
    expect(Number(n)).toBe(entriesWanted);
    const from = addDays(firstDate, 0);
    const to = addDays(firstDate, year);
    const doc = contractOperation('AccountStatement');
    const timings: number[] = [];
    let lines: Array<{ entryCount: number; closing: string }> = [];
    for (let run = 0; run < 11; run++) {
      const started = performance.now();
      const r = await gql(stack.gatewayUrl, doc, { id: accountId, from, to }, kit.operator);
      timings.push(performance.now() - started);
      expect(r.errors).toBeUndefined();
      lines = r.data!.account.statement;
    }
    expect(lines).toHaveLength(year + 1);
    expect(lines.reduce((s, l) => s + l.entryCount, 0)).toBe(entriesWanted);
    const figure = median(timings);
    console.log(
      `statement of ${year + 1} lines over ${entriesWanted} entries: median ${figure.toFixed(1)} ms through the gateway (runs: ${timings.map((t) => t.toFixed(0)).join(', ')})`,
    );
    for (const [label, sql, values] of [
      [
        'opening',
        'EXPLAIN SELECT COALESCE(SUM(credits - debits), 0) FROM account_days WHERE account_id IN (?) AND business_date < ?',
        [[accountId], from],
      ],
      [
        'lines',
        'EXPLAIN SELECT business_date, credits, debits, entry_count FROM account_days WHERE account_id IN (?) AND business_date BETWEEN ? AND ?',
        [[accountId], from, to],
      ],
    ] as const) {
      const plan = await rawRows<{ type: string; key: string | null; rows: string | number }>(shard.db, sql, values);
      console.log(`EXPLAIN ${label}: ${JSON.stringify(plan)}`);
      expect(plan).toHaveLength(1);
      expect(plan[0]!.key).toBe('PRIMARY');
      expect(['range', 'ref', 'const']).toContain(plan[0]!.type);
      expect(Number(plan[0]!.rows)).toBeLessThanOrEqual(2 * (year + 1));
    }
    // Loose for a loaded CI machine; a plan that summed 100,000 entries would still be caught above.
    expect(figure).toBeLessThan(1_000);
  }, 600_000);
});
