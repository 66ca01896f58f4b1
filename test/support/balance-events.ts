import type { ShardSet } from '@paygraph/shared/shards/pool';
import { newId, parseId } from '@paygraph/shared/ids';
import { insertAccount } from '@paygraph/shared/ledger/index';
import { contractOperation, gql } from './graphql';
import { unique } from './env';
import type { BalanceEvent, Subscription } from './ws';

/**
 * Money moved through the gateway with the contract's documents, for the balance-stream
 * tests: every event they expect comes from a real posting.
 */
export const balanceChanged = contractOperation('BalanceChanged');
const openAccountDoc = contractOperation('OpenAccount');
const depositDoc = contractOperation('Deposit');
const createPaymentDoc = contractOperation('CreatePayment');

export async function openAccount(
  gatewayUrl: string,
  bearer: string,
  ownerId: string,
  type: 'PERSONAL' | 'MERCHANT' = 'PERSONAL',
): Promise<string> {
  const answer = await gql(gatewayUrl, openAccountDoc, { input: { ownerId, type, currency: 'USD' } }, bearer);
  const opened = answer.data?.openAccount;
  if (opened?.__typename !== 'Account') throw new Error(`openAccount failed: ${JSON.stringify(answer)}`);
  return opened.id as string;
}

export async function deposit(gatewayUrl: string, bearer: string, accountId: string, amount: bigint): Promise<string> {
  const answer = await gql(
    gatewayUrl,
    depositDoc,
    {
      input: { idempotencyKey: unique('dep'), accountId, amount: amount.toString(), currency: 'USD' },
    },
    bearer,
  );
  const made = answer.data?.deposit;
  if (made?.__typename !== 'Deposit') throw new Error(`deposit failed: ${JSON.stringify(answer)}`);
  return made.id as string;
}

/** Payers opened and funded through the gateway, each with its own owner. */
export async function fundedPayers(
  gatewayUrl: string,
  bearer: string,
  count: number,
  each: bigint = 1_000_000n,
): Promise<string[]> {
  const payers = await Promise.all(
    Array.from({ length: count }, () => openAccount(gatewayUrl, bearer, unique('payer'))),
  );
  await Promise.all(payers.map((id) => deposit(gatewayUrl, bearer, id, each)));
  return payers;
}

export async function pay(
  gatewayUrl: string,
  bearer: string,
  payerAccountId: string,
  payeeAccountId: string,
  amount: bigint,
): Promise<{ id: string; status: string }> {
  const answer = await gql(
    gatewayUrl,
    createPaymentDoc,
    {
      input: {
        idempotencyKey: unique('pay'),
        payerAccountId,
        payeeAccountId,
        amount: amount.toString(),
        currency: 'USD',
      },
    },
    bearer,
  );
  const made = answer.data?.createPayment;
  if (made?.__typename !== 'Payment') throw new Error(`createPayment failed: ${JSON.stringify(answer)}`);
  return { id: made.id as string, status: made.status as string };
}

/** Runs the tasks with at most `concurrency` at once; resolves with their results in order. */
export async function inParallel<T>(
  count: number,
  concurrency: number,
  task: (index: number) => Promise<T>,
): Promise<T[]> {
  const results = new Array<T>(count);
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, count) }, async () => {
    while (next < count) {
      const index = next++;
      results[index] = await task(index);
    }
  });
  await Promise.all(workers);
  return results;
}

/** How long one probe waits for its event before the next probe. */
const probeWaitMs = 1_000;
const probesMax = 10;

/**
 * A stream without `after` starts at the account's end as of when the subscription reached the
 * account subgraph, which the client cannot observe; so deposit 1 until an event arrives. After
 * that every later change is delivered. Returns the event that proved the stream live.
 */
export async function untilLive(subscription: Subscription, probe: () => Promise<unknown>): Promise<BalanceEvent> {
  for (let i = 0; i < probesMax; i++) {
    const seen = subscription.events.length;
    await probe();
    try {
      await subscription.waitFor(() => subscription.events.length > seen, 'a probe event', probeWaitMs);
      return subscription.events.at(-1)!;
    } catch {
      // Not live yet (or slow): probe again; events of earlier probes are harmless.
    }
  }
  throw new Error(`no event after ${probesMax} probes: ${JSON.stringify(subscription.error)}`);
}

/** Opens an account on a chosen physical shard (the API picks one at random). */
export async function openAccountOn(
  shards: ShardSet,
  physical: number,
  ownerId: string,
  type: 'PERSONAL' | 'MERCHANT' = 'PERSONAL',
): Promise<string> {
  const shard = shards.all[physical];
  if (!shard) throw new Error(`there is no physical shard ${physical}`);
  const id = newId('account', shards.logicalOn(shard)[0]!);
  await insertAccount(shard.db, { id, ownerId, type, currency: 'USD' });
  return id;
}

export function physicalShardOf(shards: ShardSet, accountId: string): number {
  const parsed = parseId('account', accountId);
  if (!parsed) throw new Error(`${accountId} is not an account id`);
  return shards.topology.physicalOf[parsed.shard]!;
}
