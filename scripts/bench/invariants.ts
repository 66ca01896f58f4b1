import { ledgerHealth, type LedgerHealth } from '../../subgraphs/shared/src/ledger/index';
import type { ShardSet } from '../../subgraphs/shared/src/shards/pool';
import { drainPollIntervalMs, drainTimeoutMs } from './limits';

/**
 * The ledger's invariants after a scenario: every shard balanced per currency, no account whose
 * stored balance differs from its entries, and Σ clearing over all shards (money debited on one
 * shard and not yet credited on another) back to zero once the relay has finished every
 * cross-shard payment. The first two hold at every instant, so one failure is final; the third
 * is waited for, up to drainTimeoutMs.
 */
export interface InvariantReport {
  balanced: boolean;
  balanceMismatches: number;
  inTransit: Array<{ currency: string; amount: string }>;
  /** How long the relay took to drain what was in flight when the scenario ended. */
  drainedInMs: number;
  /** How long one ledgerHealth computation took (it scans every entry). */
  healthCheckMs: number;
}

export class InvariantViolation extends Error {}

export async function checkInvariants(shards: ShardSet, timeoutMs: number = drainTimeoutMs): Promise<InvariantReport> {
  const started = Date.now();
  for (;;) {
    const checkStarted = Date.now();
    const health = await ledgerHealth(shards);
    const healthCheckMs = Date.now() - checkStarted;
    if (!health.balanced) throw new InvariantViolation(`LEDGER INVARIANT BROKEN: ${describe(health)}`);
    const inTransit = health.inTransit.filter((t) => t.amount !== 0n);
    if (inTransit.length === 0) {
      return { balanced: true, balanceMismatches: 0, inTransit: [], drainedInMs: Date.now() - started, healthCheckMs };
    }
    if (Date.now() - started > timeoutMs) {
      throw new InvariantViolation(
        `LEDGER INVARIANT BROKEN: Σ clearing is still ${inTransit.map((t) => `${t.amount} ${t.currency}`).join(', ')} ` +
          `${timeoutMs} ms after the scenario ended (the relay should have completed every cross-shard payment by then)`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, drainPollIntervalMs));
  }
}

function describe(health: LedgerHealth): string {
  const unbalanced = health.shards
    .filter((s) => !s.balanced)
    .map((s) => `${s.shard} ${s.currency} debits ${s.debits} ≠ credits ${s.credits}`);
  const mismatches = health.balanceMismatches
    .slice(0, 5)
    .map((m) => `${m.shard}/${m.accountId} stored ${m.stored} ≠ entries ${m.entries}`);
  const away = health.unreachableShards.map((name) => `${name} unreachable, not read`);
  return [...away, ...unbalanced, ...mismatches, `${health.balanceMismatches.length} balance mismatches in all`].join(
    '; ',
  );
}

/**
 * b-advance's part of the ledger, summed over every shard: its merchants' pending and available (home rows and stripes)
 * and the platform's fee income.
 */
export interface AdvanceLedger {
  pendingSum: bigint;
  availableSum: bigint;
  feeIncome: bigint;
}

export async function advanceLedger(
  shards: ShardSet,
  merchants: readonly string[],
  currency: string,
): Promise<AdvanceLedger> {
  const perShard = await Promise.all(
    shards.all.map(async (shard) => {
      const [own] = await shard.pool.query(
        `SELECT CAST(COALESCE(SUM(pending), 0) AS CHAR) AS pending_sum, CAST(COALESCE(SUM(available), 0) AS CHAR) AS available_sum
       FROM accounts WHERE currency = ? AND (id IN (?) OR parent_id IN (?))`,
        [currency, merchants, merchants],
      );
      const [fee] = await shard.pool.query(
        `SELECT CAST(COALESCE(SUM(available), 0) AS CHAR) AS fee FROM accounts WHERE system_kind = 'FEE_INCOME' AND currency = ?`,
        [currency],
      );
      const sums = (own as Array<{ pending_sum: string; available_sum: string }>)[0]!;
      return {
        pendingSum: BigInt(sums.pending_sum),
        availableSum: BigInt(sums.available_sum),
        feeIncome: BigInt((fee as Array<{ fee: string }>)[0]!.fee),
      };
    }),
  );
  return perShard.reduce(
    (a, s) => ({
      pendingSum: a.pendingSum + s.pendingSum,
      availableSum: a.availableSum + s.availableSum,
      feeIncome: a.feeIncome + s.feeIncome,
    }),
    { pendingSum: 0n, availableSum: 0n, feeIncome: 0n },
  );
}

/**
 * Each advance answered charges the contract's fee exactly: advanceFeeOf (rounded up), the one function the service's
 * pieces, the simulator's model and the tests use. `wrong` lists the first answers that did not.
 */
export function checkAdvanceFees(wrong: readonly string[]): void {
  if (wrong.length === 0) return;
  throw new InvariantViolation(
    `ADVANCE FEE BROKEN: answered fees that are not advanceFeeOf(amount): ${wrong.join('; ')}`,
  );
}

/**
 * After b-advance: the ledger moved exactly as the advances answered say (Σ amount out of the
 * merchants' pending, Σ (amount − fee) into their available, Σ fee into fee income). Only
 * asserted when every advance sent got a typed answer: one cut off (a timeout) may have posted.
 */
export function checkAdvanceLedger(
  before: AdvanceLedger,
  after: AdvanceLedger,
  paid: { amount: bigint; fee: bigint },
): void {
  const moved = {
    out: before.pendingSum - after.pendingSum,
    in: after.availableSum - before.availableSum,
    fees: after.feeIncome - before.feeIncome,
  };
  if (moved.out === paid.amount && moved.in === paid.amount - paid.fee && moved.fees === paid.fee) return;
  throw new InvariantViolation(
    `LEDGER INVARIANT BROKEN: the advances answered moved ${paid.amount} out of pending, ${paid.amount - paid.fee} to available ` +
      `and ${paid.fee} to fee income; the ledger moved ${moved.out}, ${moved.in} and ${moved.fees}`,
  );
}
