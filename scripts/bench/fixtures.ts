import { shardOf } from '../../subgraphs/shared/src/ids';
import type { Topology } from '../../subgraphs/shared/src/shards/topology';
import { contractOperation, dataField, requestBody, typenameOf } from './documents';
import {
  advanceAmountMinorUnitsMax,
  advanceFeeBps,
  advanceBpsMax,
  advanceMerchantOpeningRoundsMax,
  advanceRatePerMerchantMax,
  unsteadyWindowsMax,
  windowLeadInSeconds,
  benchAccountCount,
  benchFundingMinorUnits,
  fixtureAttemptsMax,
  fixtureConcurrency,
  fixtureRetryDelayMs,
  warmupSecondsMax,
} from './limits';
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
  const openOne = (ownerId: string, type: 'PERSONAL' | 'MERCHANT') =>
    openAccount(options.client, open, ownerId, type, 'USD');
  const started = Date.now();
  const owners = Array.from({ length: count }, (_, i) => `bench-${options.runId}-${i}`);
  const accounts = await inParallel(count, fixtureConcurrency, (i) => openOne(owners[i]!, 'PERSONAL'));
  const merchant = await openOne(`bench-${options.runId}-merchant`, 'MERCHANT');
  if (options.fund !== false)
    await inParallel(count, fixtureConcurrency, async (i) => {
      const response = await sendRetrying(
        options.client,
        requestBody(deposit, {
          input: {
            idempotencyKey: `fund-${options.runId}-${i}`,
            accountId: accounts[i]!,
            amount: benchFundingMinorUnits.toString(),
            currency: 'USD',
          },
        }),
      );
      const result = dataField(response, 'deposit');
      if (typenameOf(result) !== 'Deposit')
        throw new Error(`Deposit failed: ${JSON.stringify(response).slice(0, 500)}`);
    });
  const shardOfAccount = physicalShards(accounts, options.topology);
  options.log(
    `opened${options.fund === false ? '' : ' and funded'} ${count} accounts and a merchant in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  return { accounts, owners, shardOfAccount, merchant, topology: options.topology };
}

async function openAccount(
  client: LoadClient,
  open: string,
  ownerId: string,
  type: 'PERSONAL' | 'MERCHANT',
  currency: string,
): Promise<string> {
  const response = await sendRetrying(client, requestBody(open, { input: { ownerId, type, currency } }));
  const account = dataField(response, 'openAccount') as { id?: string } | undefined;
  if (typenameOf(account) !== 'Account' || !account?.id)
    throw new Error(`OpenAccount failed: ${JSON.stringify(response).slice(0, 500)}`);
  return account.id;
}

/**
 * What b-fx pays into: the USD/JPY rate set (as the bench's operator), and yen accounts, unfunded
 * (they only receive), with the physical shard of each.
 */
export async function prepareFxPayees(
  client: LoadClient,
  runId: string,
  topology: Topology | null,
  count: number,
): Promise<{ accounts: string[]; shardOfAccount: number[] }> {
  const rate = await sendRetrying(
    client,
    requestBody(contractOperation('SetFxRate'), {
      input: { baseCurrency: 'USD', quoteCurrency: 'JPY', rate: '150.25', spreadBps: 30 },
    }),
  );
  if (typenameOf(dataField(rate, 'setFxRate')) !== 'FxRate')
    throw new Error(`SetFxRate failed: ${JSON.stringify(rate).slice(0, 500)}`);
  const open = contractOperation('OpenAccount');
  const accounts = await inParallel(count, fixtureConcurrency, (i) =>
    openAccount(client, open, `bench-${runId}-jpy-${i}`, 'PERSONAL', 'JPY'),
  );
  return { accounts, shardOfAccount: physicalShards(accounts, topology) };
}

/** What b-advance advances from: its merchants, and the pending each was paid (spread over its stripes). */
export interface AdvanceMerchants {
  merchants: string[];
  pendingEach: bigint;
  /**
   * Databases each merchant has a stripe with pending on (one payment from each), and the most merchants homed on one
   * of them.
   */
  stripes: number;
  perDatabase: number;
  feeBps: number;
}

/**
 * Pending per merchant for a window of `seconds` (and the warm-up, and the windows that may be let go as warm-up, each
 * with its lead-in): more than its advances can take (limits.ts).
 */
export function advancePendingPerMerchant(seconds: number): bigint {
  const windowsSeconds = (seconds + windowLeadInSeconds) * (1 + unsteadyWindowsMax);
  return BigInt(
    Math.ceil(advanceRatePerMerchantMax * (windowsSeconds + warmupSecondsMax) * advanceAmountMinorUnitsMax),
  );
}

/**
 * b-advance's merchants, set up as clients would: opened (OpenAccount, MERCHANT) until every
 * database the fixture accounts are on is home to as many as the others and to at most
 * `perDatabase` (merchants opened beyond that are left unused), `countMax` in all; each paid its
 * pending by one fixture account on every database (CreatePayment: a payment to a merchant is
 * credited to its stripe on the payer's database, as pending), and given terms by the bench's
 * operator (SetAdvanceTerms) that let all of its pending be advanced: maxAdvanceBps advanceBpsMax,
 * the cap (outstandingMax) as large as the pending, the fee advanceFeeBps.
 */
export async function prepareAdvanceMerchants(options: {
  client: LoadClient;
  runId: string;
  fixtures: Fixtures;
  perDatabase: number;
  countMax: number;
  pendingEach: bigint;
  log: (line: string) => void;
}): Promise<AdvanceMerchants> {
  const { client, runId, fixtures } = options;
  const started = Date.now();
  const payersByShard = new Map<number, string[]>();
  fixtures.accounts.forEach((id, i) =>
    payersByShard.set(fixtures.shardOfAccount[i]!, [...(payersByShard.get(fixtures.shardOfAccount[i]!) ?? []), id]),
  );
  const merchants = await openBalancedMerchants(
    client,
    runId,
    fixtures.topology,
    [...payersByShard.keys()],
    options.perDatabase,
    options.countMax,
  );
  const payers = [...payersByShard.values()];
  const perStripe = (options.pendingEach + BigInt(payers.length) - 1n) / BigInt(payers.length);
  const pay = contractOperation('CreatePayment');
  await inParallel(merchants.length * payers.length, fixtureConcurrency, async (n) => {
    const m = Math.floor(n / payers.length);
    const onShard = payers[n % payers.length]!;
    const response = await sendRetrying(
      client,
      requestBody(pay, {
        input: {
          idempotencyKey: `advance-${runId}-${n}`,
          payerAccountId: onShard[m % onShard.length]!,
          payeeAccountId: merchants[m]!,
          amount: perStripe.toString(),
          currency: 'USD',
        },
      }),
    );
    const payment = dataField(response, 'createPayment') as { status?: string } | undefined;
    // Credited on the payer's own database: done when answered, so the ledger check's first reading sees it.
    if (typenameOf(payment) !== 'Payment' || payment?.status !== 'SUCCEEDED')
      throw new Error(`b-advance: paying a merchant failed: ${JSON.stringify(response).slice(0, 500)}`);
  });
  const pendingEach = perStripe * BigInt(payers.length);
  const setTerms = contractOperation('SetAdvanceTerms');
  await inParallel(merchants.length, fixtureConcurrency, async (i) => {
    const response = await sendRetrying(
      client,
      requestBody(setTerms, {
        input: {
          merchantAccountId: merchants[i]!,
          maxAdvanceBps: advanceBpsMax,
          feeBps: advanceFeeBps,
          outstandingMax: pendingEach.toString(),
        },
      }),
    );
    if (typenameOf(dataField(response, 'setAdvanceTerms')) !== 'AdvanceTerms')
      throw new Error(`SetAdvanceTerms failed: ${JSON.stringify(response).slice(0, 500)}`);
  });
  const perDatabase = Math.ceil(merchants.length / payers.length);
  options.log(
    `b-advance: ${merchants.length} merchants (at most ${perDatabase} homed per database), each paid ${pendingEach} pending over ${payers.length} databases, ` +
      `terms set, in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  return { merchants, pendingEach, stripes: payers.length, perDatabase, feeBps: advanceFeeBps };
}

/**
 * Opens merchants (a new account's home database is drawn at random) until each of `databases`
 * is home to its share of min(countMax, databases × perDatabase), the shares differing by one at
 * most; merchants opened past a database's share are left unused.
 */
async function openBalancedMerchants(
  client: LoadClient,
  runId: string,
  topology: Topology | null,
  databases: readonly number[],
  perDatabase: number,
  countMax: number,
): Promise<string[]> {
  const wanted = Math.min(countMax, databases.length * perDatabase);
  const share = new Map(
    databases.map((d, i) => [d, Math.floor(wanted / databases.length) + (i < wanted % databases.length ? 1 : 0)]),
  );
  const open = contractOperation('OpenAccount');
  const kept: string[] = [];
  let opened = 0;
  for (let round = 0; kept.length < wanted; round++) {
    if (round >= advanceMerchantOpeningRoundsMax)
      throw new Error(
        `b-advance: ${advanceMerchantOpeningRoundsMax} rounds opened ${opened} merchants and still not ${wanted} spread over ${databases.length} databases`,
      );
    const batch = Math.max(databases.length, 2 * (wanted - kept.length));
    const ids = await inParallel(batch, fixtureConcurrency, (i) =>
      openAccount(client, open, `bench-${runId}-advance-${opened + i}`, 'MERCHANT', 'USD'),
    );
    opened += batch;
    physicalShards(ids, topology).forEach((database, i) => {
      const left = share.get(database) ?? 0;
      if (left > 0 && kept.length < wanted) {
        kept.push(ids[i]!);
        share.set(database, left - 1);
      }
    });
  }
  return kept;
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
