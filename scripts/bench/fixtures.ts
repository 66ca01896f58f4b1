import { shardOf } from '../../subgraphs/shared/src/ids';
import type { Topology } from '../../subgraphs/shared/src/shards/topology';
import { contractOperation, dataField, requestBody, typenameOf } from './documents';
import { benchAccountCount, benchFundingMinorUnits, fixtureAttemptsMax, fixtureConcurrency, fixtureRetryDelayMs } from './limits';
import type { LoadClient } from './load';

/**
 * The accounts every payment scenario uses, opened and funded the way a client would: OpenAccount
 * and Deposit through the gateway. Personal accounts land on random logical shards, so with four
 * databases three payments in four cross shards.
 */
export interface Fixtures {
  accounts: string[];
  /** The owner of each account, in the same order (one account per owner). */
  owners: string[];
  /** Physical shard of each account, in the same order. */
  shardOfAccount: number[];
  merchant: string;
  /** How logical shards map onto the databases (null: ids' logical shards stand for them). */
  topology: Topology | null;
}

export interface FixtureOptions {
  client: LoadClient;
  runId: string;
  topology: Topology | null;
  accountCount?: number;
  /** False opens the accounts without a deposit (benchFundingMinorUnits each otherwise). */
  fund?: boolean;
  log: (line: string) => void;
}

export async function openAndFund(options: FixtureOptions): Promise<Fixtures> {
  const count = options.accountCount ?? benchAccountCount;
  const open = contractOperation('OpenAccount');
  const deposit = contractOperation('Deposit');
  const openOne = (ownerId: string, type: 'PERSONAL' | 'MERCHANT') => openAccount(options.client, open, ownerId, type, 'USD');
  const started = Date.now();
  const owners = Array.from({ length: count }, (_, i) => `bench-${options.runId}-${i}`);
  const accounts = await inParallel(count, fixtureConcurrency, (i) => openOne(owners[i]!, 'PERSONAL'));
  const merchant = await openOne(`bench-${options.runId}-merchant`, 'MERCHANT');
  if (options.fund !== false) await inParallel(count, fixtureConcurrency, async (i) => {
    const response = await sendRetrying(options.client, requestBody(deposit, {
      input: { idempotencyKey: `fund-${options.runId}-${i}`, accountId: accounts[i]!, amount: benchFundingMinorUnits.toString(), currency: 'USD' },
    }));
    const result = dataField(response, 'deposit');
    if (typenameOf(result) !== 'Deposit') throw new Error(`Deposit failed: ${JSON.stringify(response).slice(0, 500)}`);
  });
  const shardOfAccount = physicalShards(accounts, options.topology);
  options.log(`opened${options.fund === false ? '' : ' and funded'} ${count} accounts and a merchant in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return { accounts, owners, shardOfAccount, merchant, topology: options.topology };
}

async function openAccount(client: LoadClient, open: string, ownerId: string, type: 'PERSONAL' | 'MERCHANT', currency: string): Promise<string> {
  const response = await sendRetrying(client, requestBody(open, { input: { ownerId, type, currency } }));
  const account = dataField(response, 'openAccount') as { id?: string } | undefined;
  if (typenameOf(account) !== 'Account' || !account?.id) throw new Error(`OpenAccount failed: ${JSON.stringify(response).slice(0, 500)}`);
  return account.id;
}

/**
 * What b-fx pays into: the USD/JPY rate set (as the bench's operator), and yen accounts, unfunded
 * (they only receive), with the physical shard of each.
 */
export async function prepareFxPayees(
  client: LoadClient, runId: string, topology: Topology | null, count: number,
): Promise<{ accounts: string[]; shardOfAccount: number[] }> {
  const rate = await sendRetrying(client, requestBody(contractOperation('SetFxRate'), { input: { baseCurrency: 'USD', quoteCurrency: 'JPY', rate: '150.25', spreadBps: 30 } }));
  if (typenameOf(dataField(rate, 'setFxRate')) !== 'FxRate') throw new Error(`SetFxRate failed: ${JSON.stringify(rate).slice(0, 500)}`);
  const open = contractOperation('OpenAccount');
  const accounts = await inParallel(count, fixtureConcurrency, (i) => openAccount(client, open, `bench-${runId}-jpy-${i}`, 'PERSONAL', 'JPY'));
  return { accounts, shardOfAccount: physicalShards(accounts, topology) };
}

/** The database of each account (its logical shard when the topology is unknown). */
function physicalShards(accounts: readonly string[], topology: Topology | null): number[] {
  return accounts.map((id) => {
    const logical = shardOf('account', id);
    return topology ? topology.physicalOf[logical]! : logical;
  });
}

/**
 * Sends a fixture request again while it answers a retryable error (SHARD_UNAVAILABLE when a
 * loaded machine delays a shard past its timeouts): a deposit carries its idempotency key, and
 * an account opened twice for one owner changes no figure.
 */
export async function sendRetrying(client: LoadClient, body: string): Promise<unknown> {
  for (let attempt = 1; ; attempt++) {
    const response = await client.send(body);
    if (attempt >= fixtureAttemptsMax || !isRetryable(response)) return response;
    await new Promise((resolve) => setTimeout(resolve, fixtureRetryDelayMs));
  }
}

function isRetryable(response: unknown): boolean {
  const errors = (response as { errors?: Array<{ extensions?: { retryable?: unknown } }> } | null)?.errors;
  return Array.isArray(errors) && errors.length > 0 && errors.every((e) => e.extensions?.retryable === true);
}

/** Runs fn(0..count-1) with at most `concurrency` at once; the first failure fails the whole. */
export async function inParallel<T>(count: number, concurrency: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const results = new Array<T>(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      results[i] = await fn(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return results;
}
