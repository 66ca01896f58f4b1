import { expect } from 'vitest';
import type { ShardSet } from '@paygraph/shared/shards/pool';
import { contractOperation, gql } from './graphql';
import { physicalOf } from './bank';
import { unique } from './env';

/** What the process-level bank tests start with: accounts on every database, each funded by a deposit. */
export interface FundedAccounts {
  /** Account ids by physical shard. */
  byShard: Map<number, string[]>;
  /** Every account, shard by shard. */
  all: string[];
  /** The funding deposits, by deposit id. */
  deposits: Map<string, { accountId: string; amount: bigint }>;
}

export interface FundedAccountsOptions {
  gatewayUrl: string;
  operator: string;
  /** Where the accounts land: each open lands on a random database, which these pools locate. */
  shards: ShardSet;
  runId: string;
  perShard: number;
  /** Opens sent at a time. */
  batch: number;
  /** Opens at the most before giving up on filling every database. */
  opensMax: number;
  deposit: bigint;
}

/** Opens PERSONAL USD accounts through the gateway until every database has perShard of them, and funds each. */
export async function openFundedAccounts(options: FundedAccountsOptions): Promise<FundedAccounts> {
  const { gatewayUrl, operator, shards, runId, perShard } = options;
  const docs = { openAccount: contractOperation('OpenAccount'), deposit: contractOperation('Deposit') };
  const byShard = new Map<number, string[]>(shards.all.map((s) => [s.index, []]));
  const openOne = async (): Promise<void> => {
    const response = await gql(
      gatewayUrl,
      docs.openAccount,
      { input: { ownerId: unique(`${runId}-owner`), type: 'PERSONAL', currency: 'USD' } },
      operator,
    );
    expect(response.errors).toBeUndefined();
    const id = response.data!.openAccount.id as string;
    const list = byShard.get(physicalOf(shards, id))!;
    if (list.length < perShard) list.push(id);
  };
  // A few at a time: each lands on a random database, and the extra ones are left unused.
  for (let opened = 0; [...byShard.values()].some((ids) => ids.length < perShard); opened += options.batch) {
    if (opened >= options.opensMax)
      throw new Error(`${options.opensMax} accounts opened without ${perShard} on every database`);
    await Promise.all(Array.from({ length: options.batch }, openOne));
  }
  const all = [...byShard.values()].flat();
  const deposits = new Map<string, { accountId: string; amount: bigint }>();
  await Promise.all(
    all.map(async (accountId, i) => {
      const input = {
        idempotencyKey: `${runId}-fund-${i}`,
        accountId,
        amount: String(options.deposit),
        currency: 'USD',
      };
      const response = await gql(gatewayUrl, docs.deposit, { input }, operator);
      expect(response.errors).toBeUndefined();
      expect(response.data!.deposit).toMatchObject({
        __typename: 'Deposit',
        status: 'SUCCEEDED',
        amount: String(options.deposit),
      });
      deposits.set(response.data!.deposit.id as string, { accountId, amount: options.deposit });
    }),
  );
  return { byShard, all, deposits };
}
