import type { ShardSet } from '../../subgraphs/shared/src/shards/pool';
import { createPaymentsDocument, dataField, requestBody, typenameOf } from './documents';
import { inParallel, sendRetrying, type Fixtures } from './fixtures';
import { checkInvariants } from './invariants';
import { readAccountCount, readEntriesMin, readSeedConcurrency } from './limits';
import type { LoadClient } from './load';

/**
 * The accounts the read scenarios (group f) ask for. GetAccount reads `entries(first: 100)`, and
 * a freshly funded account holds one entry, so without this the reads would measure a page of
 * one entry when only group f runs, and a full page after the payment groups: each of these
 * accounts is given at least readEntriesMin entries first, whatever ran before.
 *
 * Round r (1 ≤ r ≤ rounds) has account i pay account (i + r) mod n one minor unit: every round
 * gives each account one debit and one credit, so readEntriesMin / 2 rounds give each at least
 * readEntriesMin entries, and no round pays an account to itself while n > rounds. A round is
 * one createPayments request; the relay finishes the cross-shard credits before reads start.
 */
export interface ReadFixtures {
  accounts: string[];
  /** The owner of each read account, in the same order. */
  owners: string[];
}

export async function prepareReadAccounts(options: {
  client: LoadClient;
  fixtures: Fixtures;
  runId: string;
  shards: ShardSet | null;
  log: (line: string) => void;
  accountCount?: number;
  entriesMin?: number;
}): Promise<ReadFixtures> {
  const count = Math.min(options.accountCount ?? readAccountCount, options.fixtures.accounts.length);
  const accounts = options.fixtures.accounts.slice(0, count);
  const owners = options.fixtures.owners.slice(0, count);
  const rounds = Math.ceil((options.entriesMin ?? readEntriesMin) / 2);
  if (count <= rounds)
    throw new Error(`read fixtures: ${count} accounts cannot take ${rounds} rounds without paying themselves`);
  const started = Date.now();
  await inParallel(rounds, readSeedConcurrency, async (round) => {
    const inputs = accounts.map((payer, i) => ({
      idempotencyKey: `read-${options.runId}-${round}-${i}`,
      payerAccountId: payer,
      payeeAccountId: accounts[(i + round + 1) % count]!,
      amount: '1',
      currency: 'USD',
    }));
    const response = await sendRetrying(options.client, requestBody(createPaymentsDocument, { inputs }));
    const results = dataField(response, 'createPayments');
    const paid = Array.isArray(results) ? results.filter((r: unknown) => typenameOf(r) === 'Payment').length : 0;
    if (paid !== count)
      throw new Error(
        `read fixtures: round ${round} paid ${paid} of ${count}: ${JSON.stringify(response).slice(0, 500)}`,
      );
  });
  // Reads should find every credit in place: wait for the relay (and check the ledger on the way).
  if (options.shards) await checkInvariants(options.shards);
  options.log(
    `gave ${count} read accounts ≥ ${rounds * 2} entries each in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  return { accounts, owners };
}
