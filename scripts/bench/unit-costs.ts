import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { Pool } from 'undici';
import { cpuDelta, snapshotCpu, type CpuSnapshot } from './proc-stats';

/**
 * What one unit of each kind of work a payment is made of costs this machine's CPU, measured alone
 * (docs/PERFORMANCE.md, "What one unit costs"): a round trip to MySQL, one more statement in the same
 * packet, a durable COMMIT, an inserted row of the ledger's entries against the raw ceiling's narrow
 * entry, and an HTTP hop between two Node processes (over loopback TCP, over a Unix socket, and carrying
 * 8 operations a request). A figure of `npm run bench` (CPU per payment, statements and commits per
 * payment) is then a sum of these, and a lever's worth is its count times its unit's cost before
 * anything is built. Each unit is timed over enough repetitions to be read through /proc's 10 ms ticks.
 */
export interface UnitCost {
  unit: string;
  count: number;
  /** CPU µs per unit: this process (the client), the server (mysqld or the HTTP child), the whole machine. */
  clientUs: number;
  serverUs: number;
  machineUs: number;
  /** Units per second, one after another (or `concurrency` at once). */
  perSecond: number;
  /** InnoDB redo log bytes per unit (Innodb_lsn_current), for the row units. */
  redoBytes?: number;
}

export interface UnitCostOptions {
  /** A migrated shard (its ledger_entries gives the entry row's shape); the tables go in a database of their own. */
  shardUrl: string;
  mysqlPid: number;
  /** Repetitions are the defaults divided by this (a smoke run in npm test passes 50). */
  scale?: number;
  log?: (line: string) => void;
}

/** Repetitions per unit at scale 1: each takes 1–3 s of CPU on a 2-core VM, so ticks are well under 1% of it. */
const roundTripsPerRun = 20_000;
const commitsPerRun = 4_000;
const rowsPerRun = 50_000;
const rowsPerStatement = 1_000;
const hopsPerRun = 20_000;
const hopConcurrency = 16;
/**
 * Operations one batched hop carries: at a-max a call to the transaction subgraph shares a turn of the gateway's loop
 * with about 10 (weighted by call), at a-70 with 1.4–4.7 (docs/PERFORMANCE.md, "The next lever").
 */
const operationsPerBatchedHop = 8;
const statementsPerPacket = 8;

export async function measureUnitCosts(options: UnitCostOptions): Promise<UnitCost[]> {
  const scale = options.scale ?? 1;
  if (!(scale >= 1)) throw new Error(`scale must be 1 or more (the repetitions are divided by it), got ${scale}`);
  const log = options.log ?? (() => {});
  const costs: UnitCost[] = [];
  const conn = await mysql.createConnection({ uri: options.shardUrl, multipleStatements: true });
  const tables = scratchTables();
  try {
    await createScratchTables(conn, tables);
    const measure = async (unit: string, count: number, run: () => Promise<void>, redo = false): Promise<void> => {
      const cost = await timed(unit, count, options.mysqlPid, conn, run, redo);
      log(formatCost(cost));
      costs.push(cost);
    };
    const rt = Math.ceil(roundTripsPerRun / scale);
    await measure('MySQL round trip (SELECT 1)', rt, () => repeat(rt, () => conn.query('SELECT 1')));
    const packet = Array.from({ length: statementsPerPacket }, () => 'SELECT 1').join(';');
    await measure(`${statementsPerPacket} statements in one packet`, rt, () => repeat(rt, () => conn.query(packet)));
    const commits = Math.ceil(commitsPerRun / scale);
    const change = `UPDATE ${tables.counter} SET v = v + 1 WHERE id = 1`;
    await measure('BEGIN; UPDATE; ROLLBACK', commits, () =>
      repeat(commits, () => conn.query(`BEGIN; ${change}; ROLLBACK`)),
    );
    await measure('BEGIN; UPDATE; COMMIT (durable)', commits, () =>
      repeat(commits, () => conn.query(`BEGIN; ${change}; COMMIT`)),
    );
    const rows = Math.ceil(rowsPerRun / scale / rowsPerStatement) * rowsPerStatement;
    // The statements are written before the clock starts: the client's figure is sending them, not making rows.
    const wide = insertStatements(conn, tables.wide, rows, wideRow);
    await measure('ledger entry row (multi-row INSERT)', rows, () => repeat(wide.length, sendEach(conn, wide)), true);
    const narrow = insertStatements(conn, tables.narrow, rows, narrowRow);
    await measure('raw ceiling entry row', rows, () => repeat(narrow.length, sendEach(conn, narrow)), true);
  } finally {
    await dropScratchTables(conn, tables).finally(() => conn.end());
  }
  for (const variant of hopVariants) costs.push(await measureHttpHop(Math.ceil(hopsPerRun / scale), variant, log));
  return costs;
}

/**
 * This run's tables, in a database of its own on the same server: a test that lists a shard's tables (which part owns
 * each, table-ownership.test.ts) must never meet them, and two runs never meet each other.
 */
function scratchTables(): { database: string; counter: string; wide: string; narrow: string } {
  const database = `paygraph_bench_costs_${process.pid}_${Date.now().toString(36)}`;
  return { database, counter: `${database}.counter`, wide: `${database}.wide`, narrow: `${database}.narrow` };
}

async function createScratchTables(conn: mysql.Connection, t: ReturnType<typeof scratchTables>): Promise<void> {
  await conn.query(`CREATE DATABASE ${t.database}`);
  await conn.query(`CREATE TABLE ${t.counter} (id INT PRIMARY KEY, v BIGINT NOT NULL) ENGINE=InnoDB`);
  await conn.query(`INSERT INTO ${t.counter} VALUES (1, 0)`);
  // The ledger's own table shape (its columns and indexes as migrated on the shard), and the raw ceiling's.
  await conn.query(`CREATE TABLE ${t.wide} LIKE ledger_entries`);
  await conn.query(`CREATE TABLE ${t.narrow} (id BIGINT AUTO_INCREMENT PRIMARY KEY, account_id INT NOT NULL,
    amount BIGINT NOT NULL, created_at DATETIME(6) NOT NULL, KEY (account_id)) ENGINE=InnoDB`);
}

async function dropScratchTables(conn: mysql.Connection, t: ReturnType<typeof scratchTables>): Promise<void> {
  await conn.query(`DROP DATABASE IF EXISTS ${t.database}`);
}

async function repeat(count: number, step: () => Promise<unknown>): Promise<void> {
  for (let i = 0; i < count; i++) await step();
}

async function timed(
  unit: string,
  count: number,
  mysqlPid: number,
  conn: mysql.Connection,
  run: () => Promise<void>,
  redo: boolean,
): Promise<UnitCost> {
  const lsnBefore = redo ? await lsn(conn) : 0;
  const before = cpuNow(mysqlPid);
  const started = performance.now();
  await run();
  const ms = performance.now() - started;
  const after = cpuNow(mysqlPid);
  const cost = perUnit(unit, count, before, after, ms);
  return redo ? { ...cost, redoBytes: Math.round(((await lsn(conn)) - lsnBefore) / count) } : cost;
}

/** This process (the client), the server and the whole machine, through the benchmark's own snapshot (proc-stats.ts). */
function cpuNow(serverPid: number): CpuSnapshot {
  const snapshot = snapshotCpu(
    new Map([
      ['client', process.pid],
      ['server', serverPid],
    ]),
  );
  if (!snapshot.has('server') || !snapshot.has('machine')) throw new Error(`cannot read the CPU of pid ${serverPid}`);
  return snapshot;
}

function perUnit(unit: string, count: number, before: CpuSnapshot, after: CpuSnapshot, wallMs: number): UnitCost {
  const us = (ms: number) => Math.round((ms * 1000 * 10) / count) / 10;
  const { client = 0, server = 0, other = 0 } = cpuDelta(before, after);
  return {
    unit,
    count,
    clientUs: us(client),
    serverUs: us(server),
    machineUs: us(client + server + other),
    perSecond: Math.round((count * 1000) / wallMs),
  };
}

async function lsn(conn: mysql.Connection): Promise<number> {
  const [rows] = await conn.query("SHOW GLOBAL STATUS LIKE 'Innodb_lsn_current'");
  return Number((rows as Array<{ Value: string }>)[0]!.Value);
}

/** Rows in statements of rowsPerStatement, each its own transaction, as a merged batch writes them. */
function insertStatements(
  conn: mysql.Connection,
  table: string,
  count: number,
  row: (i: number) => Record<string, unknown>,
): string[] {
  const statements: string[] = [];
  for (let start = 0; start < count; start += rowsPerStatement) {
    const rows = Array.from({ length: rowsPerStatement }, (_, k) => row(start + k));
    const columns = Object.keys(rows[0]!);
    const values = rows.map((r) => `(${columns.map((c) => conn.escape(r[c])).join(',')})`).join(',');
    statements.push(`BEGIN; INSERT INTO ${table} (${columns.join(',')}) VALUES ${values}; COMMIT`);
  }
  return statements;
}

/** A step that sends the next of `statements` each time it runs. */
function sendEach(conn: mysql.Connection, statements: readonly string[]): () => Promise<unknown> {
  let next = 0;
  return () => conn.query(statements[next++]!);
}

const idOf = (prefix: string) => `${prefix}_${randomBytes(13).toString('hex').toUpperCase()}`;
const hashOf = () => randomBytes(32).toString('hex');
const at = new Date('2026-11-26T09:00:00.123Z');

/** An entry as the ledger writes it: ids of the ledger's length, two hashes, amounts, in random account order. */
function wideRow(i: number): Record<string, unknown> {
  return {
    account_id: idOf('acc'),
    sequence: i,
    id: idOf('ent'),
    posting_id: idOf('pst'),
    bucket: 'AVAILABLE',
    amount: 1 + (i % 997),
    direction: i % 2 === 0 ? 'DEBIT' : 'CREDIT',
    balance_after: 1_000_000 - i,
    currency: 'USD',
    created_at: at,
    prev_hash: hashOf(),
    hash: hashOf(),
  };
}

/** An entry as the raw ceiling (e-raw) writes it. */
function narrowRow(i: number): Record<string, unknown> {
  return { account_id: 1 + ((i * 7_919) % 1_000), amount: 1 + (i % 997), created_at: at };
}

/**
 * How the hop travels: loopback TCP, as the gateway reaches a subgraph today, or a Unix socket; and how many
 * operations one request carries (a JSON array of that many bodies, answered by an array of as many answers), the
 * unit then being one operation: what batching a gateway's calls to a subgraph would cost a payment's hop.
 */
interface HopVariant {
  transport: 'tcp' | 'unix';
  operationsPerRequest: number;
}

/** The hops measured: as today, over a Unix socket, and 8 operations a request (docs/PERFORMANCE.md). */
const hopVariants: readonly HopVariant[] = [
  { transport: 'tcp', operationsPerRequest: 1 },
  { transport: 'unix', operationsPerRequest: 1 },
  { transport: 'tcp', operationsPerRequest: operationsPerBatchedHop },
];

function hopUnit(variant: HopVariant): string {
  const over = variant.transport === 'unix' ? ' over a Unix socket' : '';
  if (variant.operationsPerRequest === 1) return `HTTP hop${over}, ${hopConcurrency} at once`;
  return `HTTP hop${over}, ${variant.operationsPerRequest} operations a request, ${hopConcurrency} at once (per operation)`;
}

/**
 * An HTTP/1.1 keep-alive POST of a payment-sized JSON body to another Node process answering a payment-sized JSON
 * answer, hopConcurrency operations at once through an undici Pool (as the gateway calls a subgraph): client and
 * server CPU per operation. Batched, hopConcurrency ÷ operationsPerRequest requests are in flight, so that as many
 * operations wait at once as unbatched.
 */
async function measureHttpHop(count: number, variant: HopVariant, log: (line: string) => void): Promise<UnitCost> {
  const server = await startEchoServer(variant.transport);
  const inFlight = Math.max(1, Math.floor(hopConcurrency / variant.operationsPerRequest));
  const pool =
    variant.transport === 'unix'
      ? new Pool('http://localhost', { connections: inFlight, connect: { socketPath: server.address } })
      : new Pool(`http://${server.address}`, { connections: inFlight });
  const operation = { query: 'x'.repeat(420), variables: { input: { amount: '1250', id: idOf('acc') } } };
  const body = JSON.stringify(
    variant.operationsPerRequest === 1
      ? operation
      : Array.from({ length: variant.operationsPerRequest }, () => operation),
  );
  const send = async () => {
    const response = await pool.request({
      path: '/',
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json' },
    });
    await response.body.text();
  };
  try {
    await repeat(200, send);
    const perClient = Math.ceil(count / variant.operationsPerRequest / inFlight);
    const before = cpuNow(server.child.pid!);
    const started = performance.now();
    await Promise.all(Array.from({ length: inFlight }, () => repeat(perClient, send)));
    const operations = perClient * inFlight * variant.operationsPerRequest;
    const cost = perUnit(hopUnit(variant), operations, before, cpuNow(server.child.pid!), performance.now() - started);
    log(formatCost(cost));
    return cost;
  } finally {
    await pool.close();
    server.child.kill();
    await server.gone;
  }
}

/**
 * A node:http server in a process of its own that reads each body and answers 300 bytes of JSON, or an array of as many
 * such answers as the body's array holds; on a free loopback port or a Unix socket of its own (removed when it exits).
 * Its address: host:port, or the socket's path.
 */
async function startEchoServer(
  transport: HopVariant['transport'],
): Promise<{ child: ChildProcess; address: string; gone: Promise<void> }> {
  const socketPath = join(tmpdir(), `paygraph-hop-${process.pid}-${randomBytes(4).toString('hex')}.sock`);
  const source = `
    const answer = JSON.stringify({ data: { createPayment: { __typename: 'Payment', id: 'pay_' + 'X'.repeat(26),
      status: 'SUCCEEDED', amount: '1250', currency: 'USD', note: 'y'.repeat(150) } } });
    const server = require('node:http').createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const sent = JSON.parse(Buffer.concat(chunks).toString());
        res.setHeader('content-type', 'application/json');
        res.end(Array.isArray(sent) ? '[' + sent.map(() => answer).join(',') + ']' : answer);
      });
    });
    const where = process.argv[1];
    const said = () => process.stdout.write((where ? where : '127.0.0.1:' + server.address().port) + '\\n');
    if (where) server.listen(where, said); else server.listen(0, '127.0.0.1', said);`;
  const args = ['-e', source, ...(transport === 'unix' ? [socketPath] : [])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const exit = once(child, 'exit');
  const gone = exit.then(() => rmSync(socketPath, { force: true }));
  // A child that dies before it listens ends the measurement with its exit, not a wait for an address that never comes.
  const exited = exit.then(([code]) => {
    throw new Error(`the HTTP hop's server exited (${String(code)}) before it listened`);
  });
  const [line] = (await Promise.race([once(child.stdout!, 'data'), exited])) as [Buffer];
  exited.catch(() => {});
  return { child, address: line.toString().trim(), gone };
}

export function formatCost(c: UnitCost): string {
  const redo = c.redoBytes === undefined ? '' : `, ${c.redoBytes} redo bytes`;
  return `${c.unit}: client ${c.clientUs} µs, server ${c.serverUs} µs, machine ${c.machineUs} µs a unit (${c.perSecond}/s${redo})`;
}
