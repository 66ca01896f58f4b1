import { eq, inArray } from 'drizzle-orm';
import { holds, type HoldRow } from '@paygraph/transaction/db/schema/transactions';
import type { ShardSet } from '@paygraph/shared/shards/pool';
import { parseId } from '@paygraph/shared/ids';
import { accounts } from '@paygraph/shared/db/schema/ledger';
import { contractOperation, gql } from './graphql';
import type { Answer } from './money';

/** The hold operations of the contract, and what tests read of holds behind the API. */
export const holdDocs = {
  createHold: contractOperation('CreateHold'),
  captureHold: contractOperation('CaptureHold'),
  voidHold: contractOperation('VoidHold'),
  getHold: contractOperation('GetHold'),
};

export interface HoldInput {
  payer: string;
  payee: string;
  amount: string;
  key: string;
  currency?: string;
  expiresInSeconds?: number;
  description?: string;
}

export function createHold(url: string, bearer: string, h: HoldInput): Promise<Answer> {
  return gql(url, holdDocs.createHold, {
    input: {
      idempotencyKey: h.key, payerAccountId: h.payer, payeeAccountId: h.payee, amount: h.amount, currency: h.currency ?? 'USD',
      ...(h.expiresInSeconds === undefined ? {} : { expiresInSeconds: h.expiresInSeconds }),
      ...(h.description === undefined ? {} : { description: h.description }),
    },
  }, bearer);
}

export function captureHold(url: string, bearer: string, holdId: string, key: string, amount?: string): Promise<Answer> {
  return gql(url, holdDocs.captureHold, { input: { idempotencyKey: key, holdId, ...(amount === undefined ? {} : { amount }) } }, bearer);
}

export function voidHold(url: string, bearer: string, holdId: string, key: string): Promise<Answer> {
  return gql(url, holdDocs.voidHold, { input: { idempotencyKey: key, holdId } }, bearer);
}

export async function holdRow(shards: ShardSet, id: string): Promise<HoldRow | undefined> {
  const [row] = await shards.byLogical(parseId('hold', id)!.shard).db.select().from(holds).where(eq(holds.id, id));
  return row;
}

/**
 * The frozen-equals-held invariant for these accounts: each one's stored `frozen` is the sum of
 * the amounts of its HELD holds. Answers the accounts where it fails.
 */
export async function frozenAgainstHeld(shards: ShardSet, accountIds: readonly string[]): Promise<Array<{ accountId: string; frozen: bigint; held: bigint }>> {
  const failures: Array<{ accountId: string; frozen: bigint; held: bigint }> = [];
  for (const shard of shards.all) {
    const mine = accountIds.filter((id) => shards.byLogical(parseId('account', id)!.shard) === shard);
    if (mine.length === 0) continue;
    const rows = await shard.db.select({ id: accounts.id, frozen: accounts.frozen }).from(accounts).where(inArray(accounts.id, mine));
    const held = await shard.db.select().from(holds).where(inArray(holds.payerAccountId, mine));
    for (const row of rows) {
      const sum = held.filter((h) => h.payerAccountId === row.id && h.status === 'HELD').reduce((a, h) => a + h.amount, 0n);
      if (sum !== row.frozen) failures.push({ accountId: row.id, frozen: row.frozen, held: sum });
    }
  }
  return failures;
}
