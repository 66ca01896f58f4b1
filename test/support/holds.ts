import { eq } from 'drizzle-orm';
import { frozenMismatches } from '@paygraph/transaction/read-model/settlement';
import { holds, type HoldRow } from '@paygraph/transaction/db/schema/transactions';
import type { ShardSet } from '@paygraph/shared/shards/pool';
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
  return gql(
    url,
    holdDocs.createHold,
    {
      input: {
        idempotencyKey: h.key,
        payerAccountId: h.payer,
        payeeAccountId: h.payee,
        amount: h.amount,
        currency: h.currency ?? 'USD',
        ...(h.expiresInSeconds === undefined ? {} : { expiresInSeconds: h.expiresInSeconds }),
        ...(h.description === undefined ? {} : { description: h.description }),
      },
    },
    bearer,
  );
}

export function captureHold(
  url: string,
  bearer: string,
  holdId: string,
  key: string,
  amount?: string,
): Promise<Answer> {
  return gql(
    url,
    holdDocs.captureHold,
    { input: { idempotencyKey: key, holdId, ...(amount === undefined ? {} : { amount }) } },
    bearer,
  );
}

export function voidHold(url: string, bearer: string, holdId: string, key: string): Promise<Answer> {
  return gql(url, holdDocs.voidHold, { input: { idempotencyKey: key, holdId } }, bearer);
}

export async function holdRow(shards: ShardSet, id: string): Promise<HoldRow | undefined> {
  const [row] = await shards.of('hold', id).db.select().from(holds).where(eq(holds.id, id));
  return row;
}

/**
 * The frozen-equals-held invariant for these accounts: each one's stored `frozen` is the sum of
 * the amounts of its HELD holds (one statement per shard, so it holds even mid-workload).
 * Answers the accounts where it fails.
 */
export async function frozenAgainstHeld(
  shards: ShardSet,
  accountIds: readonly string[],
): Promise<Array<{ accountId: string; frozen: bigint; held: bigint }>> {
  const found = await Promise.all(
    shards.all.map((shard) => {
      const mine = accountIds.filter((id) => shards.of('account', id) === shard);
      return frozenMismatches(shard.db, mine);
    }),
  );
  return found.flat().map(({ accountId, frozen, held }) => ({ accountId, frozen, held }));
}
