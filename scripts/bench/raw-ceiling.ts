import { parseShardUrls } from '../../subgraphs/shared/src/shards/topology';
import { randomInt } from 'node:crypto';
import mysql from 'mysql2/promise';
import { InvariantViolation } from './invariants';
import {
  benchFundingMinorUnits,
  paymentAmountMinorUnitsMax,
  rawBatchSize,
  rawConnectionsPerShard,
  requestsPerRunMax,
} from './limits';
import { Recorder } from './load';
import { cpuFigures, warmUp, windowAfterLeadIn, type ScenarioResult, type WarmupPolicy } from './scenarios';

/**
 * The raw ceiling: the SQL of a payment sent straight through mysql2, with no GraphQL, no
 * idempotency keys and no business rules, on scratch tables of the benchmark databases. What
 * the server can commit on this machine bounds what any engine above it can reach.
 *   one-per-transaction: BEGIN; UPDATE payer; INSERT entry; UPDATE payee; INSERT entry; COMMIT
 *   batched: BEGIN; SELECT … FOR UPDATE (all accounts of 50 payments, id order); one multi-row
 *            INSERT … ON DUPLICATE KEY UPDATE of the balances; one multi-row INSERT of the 100
 *            entries; COMMIT
 * Both lock accounts in id order, as the engine does, so that they never deadlock.
 */
export const rawAccountsPerShard = 1_000;
const deadlockErrno = 1213;
const deadlockRetriesMax = 5;

export interface RawOptions {
  shardUrls: string;
  seconds: number;
  batchSize: 1 | typeof rawBatchSize;
  pids: () => Map<string, number>;
  log: (line: string) => void;
  /** As BenchContext's: the warm-up before the window, and perf's samples of it. */
  warmup?: WarmupPolicy;
  sampleJit?: boolean;
}

function openPools(shardUrls: string): mysql.Pool[] {
  return parseShardUrls(shardUrls).map((uri) =>
    mysql.createPool({
      uri: uri.trim(),
      connectionLimit: rawConnectionsPerShard,
      supportBigNumbers: true,
      bigNumberStrings: true,
    }),
  );
}

/** Creates (or empties) the scratch tables and opens the accounts, each with the same funding. */
export async function prepareRawTables(shardUrls: string): Promise<void> {
  const pools = openPools(shardUrls);
  try {
    await Promise.all(
      pools.map(async (pool) => {
        await pool.query(
          'CREATE TABLE IF NOT EXISTS bench_raw_accounts (id INT PRIMARY KEY, balance BIGINT NOT NULL) ENGINE=InnoDB',
        );
        await pool.query(`CREATE TABLE IF NOT EXISTS bench_raw_entries (id BIGINT AUTO_INCREMENT PRIMARY KEY, account_id INT NOT NULL,
        amount BIGINT NOT NULL, created_at DATETIME(6) NOT NULL, KEY (account_id)) ENGINE=InnoDB`);
        await pool.query('TRUNCATE bench_raw_accounts');
        await pool.query('TRUNCATE bench_raw_entries');
        const rows = Array.from(
          { length: rawAccountsPerShard },
          (_, i) => `(${i + 1}, ${benchFundingMinorUnits})`,
        ).join(',');
        await pool.query(`INSERT INTO bench_raw_accounts (id, balance) VALUES ${rows}`);
      }),
    );
  } finally {
    await Promise.all(pools.map((p) => p.end()));
  }
}

function randomPair(): [number, number] {
  const payer = 1 + Math.floor(Math.random() * rawAccountsPerShard);
  let payee = 1 + Math.floor(Math.random() * (rawAccountsPerShard - 1));
  if (payee >= payer) payee += 1;
  return [payer, payee];
}

/** An integer amount of minor units, drawn without floating point. */
function randomAmount(): bigint {
  return BigInt(randomInt(1, paymentAmountMinorUnitsMax + 1));
}

async function onePayment(conn: mysql.PoolConnection): Promise<void> {
  const [payer, payee] = randomPair();
  const amount = randomAmount();
  const legs: Array<[number, bigint]> = [
    [payer, -amount],
    [payee, amount],
  ];
  legs.sort((a, b) => a[0] - b[0]);
  await conn.query('BEGIN');
  for (const [id, delta] of legs) {
    await conn.query('UPDATE bench_raw_accounts SET balance = balance + ? WHERE id = ?', [delta.toString(), id]);
    await conn.query('INSERT INTO bench_raw_entries (account_id, amount, created_at) VALUES (?, ?, NOW(6))', [
      id,
      delta.toString(),
    ]);
  }
  await conn.query('COMMIT');
}

async function batchOfPayments(conn: mysql.PoolConnection, size: number): Promise<void> {
  const deltas = new Map<number, bigint>();
  const entries: string[] = [];
  for (let i = 0; i < size; i++) {
    const [payer, payee] = randomPair();
    const amount = randomAmount();
    deltas.set(payer, (deltas.get(payer) ?? 0n) - amount);
    deltas.set(payee, (deltas.get(payee) ?? 0n) + amount);
    entries.push(`(${payer}, ${-amount}, NOW(6))`, `(${payee}, ${amount}, NOW(6))`);
  }
  const ids = [...deltas.keys()].sort((a, b) => a - b);
  await conn.query('BEGIN');
  await conn.query(`SELECT id, balance FROM bench_raw_accounts WHERE id IN (${ids.join(',')}) ORDER BY id FOR UPDATE`);
  const values = ids.map((id) => `(${id}, ${deltas.get(id)!})`).join(',');
  await conn.query(
    `INSERT INTO bench_raw_accounts (id, balance) VALUES ${values} ON DUPLICATE KEY UPDATE balance = balance + VALUES(balance)`,
  );
  await conn.query(`INSERT INTO bench_raw_entries (account_id, amount, created_at) VALUES ${entries.join(',')}`);
  await conn.query('COMMIT');
}

async function withDeadlockRetry(conn: mysql.PoolConnection, fn: () => Promise<void>): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await fn();
      return;
    } catch (error) {
      await conn.query('ROLLBACK').catch(() => undefined);
      if ((error as { errno?: number }).errno !== deadlockErrno || attempt >= deadlockRetriesMax) throw error;
    }
  }
}

export async function runRawCeiling(options: RawOptions): Promise<ScenarioResult> {
  const pools = openPools(options.shardUrls);
  const size = options.batchSize;
  const run = async (seconds: number) => {
    const recorder = new Recorder();
    const started = performance.now();
    const deadline = started + seconds * 1000;
    const worker = async (pool: mysql.Pool) => {
      const conn = await pool.getConnection();
      try {
        while (performance.now() < deadline && recorder.requests < requestsPerRunMax) {
          const t0 = performance.now();
          recorder.requests += 1;
          recorder.units += size;
          try {
            await withDeadlockRetry(conn, () => (size === 1 ? onePayment(conn) : batchOfPayments(conn, size)));
            recorder.succeededUnits += size;
          } catch (error) {
            recorder.fail(error);
          }
          recorder.record(performance.now() - t0);
        }
      } finally {
        conn.release();
      }
    };
    await Promise.all(pools.flatMap((pool) => Array.from({ length: rawConnectionsPerShard }, () => worker(pool))));
    return recorder.result((performance.now() - started) / 1000);
  };
  try {
    // mysql2 and the loop compile in this process: warmed up like every scenario, so that e-raw-1's bench column is
    // its steady state too (it is every ratio's denominator).
    const warmup = await warmUp({ warmup: options.warmup, seconds: options.seconds, pids: options.pids }, {}, run);
    const {
      value: load,
      cpuMs,
      conditions,
    } = await windowAfterLeadIn(options, options.seconds, run, async () => undefined);
    await checkRawInvariants(pools);
    const result: ScenarioResult = {
      id: size === 1 ? 'e-raw-1' : `e-raw-${size}`,
      title:
        size === 1 ? 'raw SQL, one transaction per payment' : `raw SQL, ${size} payments per transaction (multi-row)`,
      engine: 'mysql2',
      mode: 'sql',
      concurrency: pools.length * rawConnectionsPerShard,
      offeredPerSecond: null,
      unitsPerRequest: size,
      unit: 'payment',
      crossShardShare: 0,
      load,
      ...cpuFigures(cpuMs, load),
      mysqlPerUnit: null,
      invariants: null,
      warmup,
      ...conditions,
    };
    options.log(
      `${result.id}: ${load.unitsPerSecond} payments/s, p50 ${load.latencyMs.p50} ms, p99 ${load.latencyMs.p99} ms per transaction`,
    );
    return result;
  } finally {
    await Promise.all(pools.map((p) => p.end()));
  }
}

/** Money is only moved, never made: each shard's balances still add up to its funding, and its entries to zero. */
async function checkRawInvariants(pools: mysql.Pool[]): Promise<void> {
  const expected = benchFundingMinorUnits * BigInt(rawAccountsPerShard);
  for (const [i, pool] of pools.entries()) {
    const [rows] = await pool.query(
      'SELECT (SELECT SUM(balance) FROM bench_raw_accounts) AS balances, (SELECT COALESCE(SUM(amount), 0) FROM bench_raw_entries) AS entries',
    );
    const row = (rows as Array<{ balances: string; entries: string }>)[0]!;
    if (BigInt(row.balances) !== expected || BigInt(row.entries) !== 0n) {
      throw new InvariantViolation(
        `RAW CEILING INVARIANT BROKEN on shard ${i}: Σ balances ${row.balances} (expected ${expected}), Σ entries ${row.entries} (expected 0)`,
      );
    }
  }
}
