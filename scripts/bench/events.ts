import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { createClient, type Client } from 'graphql-ws';
import { mintToken } from '../../subgraphs/shared/src/identity';
import { newId, parseId } from '../../subgraphs/shared/src/ids';
import { openShards, type ShardSet } from '../../subgraphs/shared/src/shards/pool';
import { postOne } from '../../subgraphs/shared/src/ledger/post';
import { onCommitted } from '../../subgraphs/shared/src/ledger/events';
import { systemAccountId } from '../../subgraphs/shared/src/ledger/system-accounts';
import { startLedgerHintPublisher } from '../../subgraphs/shared/src/events/ledger-hints';
import { dropScratchDatabases, migrateShards } from '../../subgraphs/shared/src/db/migrate';
import { describeError, ensureMysql, type MysqlServer } from '../lib/mysql-server';
import { loadConfig } from '../../subgraphs/shared/src/config';
import { configureLedger } from '../../subgraphs/shared/src/server/main';
import { gatewaySecretEnv, generateSubgraphSecrets, subgraphSecretEnv } from '../lib/subgraph-secrets';

/**
 * `npm run bench:events`: how long a committed payment takes to reach a subscriber.
 *
 * Starts the system as separate processes (account, transaction and settlement subgraphs and
 * the gateway, on databases paygraph_bench_events_s0..3 that it recreates), opens 100 payee
 * accounts with one graphql-ws subscriber each (its owner's token, through the gateway), then
 * moves money into them at a fixed rate (open loop) for a fixed time and measures, for every
 * event, the time from the commit of its entry to the event's arrival. Everything runs on
 * 127.0.0.1 and stops by itself.
 *
 *   --via ledger  (default) the bench process posts the payments itself through the posting
 *                 engine (one local transaction each, from the shard's reserve, the shape of a
 *                 same-shard payment) and takes the commit instant from onCommitted: exact
 *                 commit → wire, with the subgraphs' CPU left to the streaming path
 *   --via api     createPayment through the gateway from 20 funded payers (most cross-shard);
 *                 the commit instant is then the entry's created_at, stamped just before its
 *                 transaction, which overstates commit → wire by the transaction's duration
 *   --rate N      payments per second (default 200)
 *   --seconds N   measured window (default 15; at most 60)
 *   --accounts N  subscribed payee accounts (default 100)
 *   --redis       fan out with Redis hints (REDIS_URL, default redis://127.0.0.1:6379) instead of polling
 */
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const databasePrefix = 'paygraph_bench_events';
const payerCount = 20;
const payerFundingCents = 1_000_000_000n;
/** Payments in flight at once; past it the generator is behind and says so. */
const inFlightMax = 400;
/** How long events may still arrive after the last payment answered. */
const drainMs = 5_000;
/** The whole run, set-up included, ends by then whatever happens. */
const runDeadlineMs = 180_000;
const healthWaitMs = 60_000;
const secondsMax = 60;
const p99TargetMs = 250;
/** Connections per shard per process: four processes must fit a default MariaDB (151 connections). */
const poolSizePerShard = 6;
/** How long a child may take to stop after SIGTERM before it is killed. */
const stopGraceMs = 5_000;

const { values: args } = parseArgs({
  options: {
    rate: { type: 'string', default: '200' },
    seconds: { type: 'string', default: '15' },
    accounts: { type: 'string', default: '100' },
    redis: { type: 'boolean', default: false },
    via: { type: 'string', default: 'ledger' },
  },
});
if (args.via !== 'ledger' && args.via !== 'api') throw new Error('--via is ledger or api');
const viaLedger = args.via === 'ledger';
const rate = Number(args.rate);
const seconds = Math.min(Number(args.seconds), secondsMax);
const accountCount = Number(args.accounts);
const config = loadConfig(process.env);
// With --via ledger this process posts as a subgraph would: it seals and dates the same way.
configureLedger(config);
const redisUrl = args.redis ? (config.redisUrl ?? 'redis://127.0.0.1:6379') : '';

function log(line: string): void {
  console.log(`[bench:events] ${line}`);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const children: ChildProcess[] = [];

function startProcess(name: string, entry: string, env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', entry], { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr!.on('data', (chunk: Buffer) => process.stderr.write(`[${name}] ${chunk.toString('utf8')}`));
  children.push(child);
  return child;
}

async function waitHealthy(port: number, name: string): Promise<void> {
  const deadline = Date.now() + healthWaitMs;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2_000) });
      if (response.status === 200) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${name} did not become healthy on port ${port}`);
}

async function gql(url: string, bearer: string, query: string, variables: Record<string, unknown>): Promise<Record<string, any>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: Record<string, any>; errors?: unknown };
  if (!body.data) throw new Error(`request failed: ${JSON.stringify(body.errors)}`);
  return body.data;
}

const openAccount = 'mutation($input: OpenAccountInput!) { openAccount(input: $input) { ... on Account { id } ... on UserError { code } } }';
const depositDoc = 'mutation($input: DepositInput!) { deposit(input: $input) { __typename } }';
const payDoc = 'mutation($input: CreatePaymentInput!) { createPayment(input: $input) { __typename ... on UserError { code } } }';
const subscriptionDoc = 'subscription($accountId: ID!) { balanceChanged(accountId: $accountId) { sequence entry { createdAt amount } } }';

/** One cent from the shard's reserve into the payee: one local transaction, like a same-shard payment. */
async function postFromReserve(shards: ShardSet, payee: string): Promise<string> {
  const logical = parseId('account', payee)!.shard;
  const shard = shards.byLogical(logical);
  const reserve = await systemAccountId(shards, shard, 'RESERVE', 'USD');
  return postOne(shard, {
    spec: {
      id: newId('posting', logical), kind: 'BENCH_PAYMENT', refId: null, dedupeKey: null, currency: 'USD',
      legs: [{ accountId: reserve, bucket: 'AVAILABLE', amount: -1n }, { accountId: payee, bucket: 'AVAILABLE', amount: 1n }],
    },
    finish: async (_tx, outcome) => outcome.status,
  });
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function run(mysql: MysqlServer): Promise<boolean> {
  await dropScratchDatabases(mysql.shardUrls.split(','));
  const shards = openShards({ urls: mysql.shardUrls });
  await migrateShards(shards);
  await shards.close();

  const secret = randomBytes(32).toString('base64url');
  const subgraphSecrets = generateSubgraphSecrets();
  const ports = { account: await freePort(), transaction: await freePort(), settlement: await freePort(), gateway: await freePort() };
  const shared = {
    MYSQL_SHARDS: mysql.shardUrls, JWT_SECRET: secret, HOST: '127.0.0.1', MYSQL_POOL_SIZE: String(poolSizePerShard),
    ACCOUNT_PORT: String(ports.account), TRANSACTION_PORT: String(ports.transaction), SETTLEMENT_PORT: String(ports.settlement),
    ...(redisUrl ? { REDIS_URL: redisUrl } : { REDIS_URL: '' }),
  };
  startProcess('account', 'subgraphs/account/src/main.ts', { ...shared, ...subgraphSecretEnv(subgraphSecrets, 'account') });
  startProcess('transaction', 'subgraphs/transaction/src/main.ts', { ...shared, ...subgraphSecretEnv(subgraphSecrets, 'transaction') });
  startProcess('settlement', 'subgraphs/settlement/src/main.ts', { ...shared, ...subgraphSecretEnv(subgraphSecrets, 'settlement') });
  await Promise.all([waitHealthy(ports.account, 'account'), waitHealthy(ports.transaction, 'transaction'), waitHealthy(ports.settlement, 'settlement')]);
  startProcess('gateway', 'gateway/src/main.ts', {
    ...shared, ...gatewaySecretEnv(subgraphSecrets), PORT: String(ports.gateway), GATEWAY_HOST: '127.0.0.1',
    ACCOUNT_URL: `http://127.0.0.1:${ports.account}/graphql`,
    TRANSACTION_URL: `http://127.0.0.1:${ports.transaction}/graphql`,
    SETTLEMENT_URL: `http://127.0.0.1:${ports.settlement}/graphql`,
  });
  await waitHealthy(ports.gateway, 'gateway');
  const url = `http://127.0.0.1:${ports.gateway}/graphql`;
  const operator = await mintToken({ sub: 'bench-operator', role: 'operator' }, secret);
  log(`system up (${redisUrl ? `Redis hints from ${redisUrl}` : 'polling the shards'}); opening ${accountCount} payees and ${payerCount} payers`);

  const open = async (ownerId: string) => (await gql(url, operator, openAccount, { input: { ownerId, type: 'PERSONAL', currency: 'USD' } })).openAccount.id as string;
  const deposit = (accountId: string, amount: bigint) => gql(url, operator, depositDoc, {
    input: { idempotencyKey: randomBytes(12).toString('hex'), accountId, amount: amount.toString(), currency: 'USD' },
  });
  const payers = await Promise.all(Array.from({ length: payerCount }, (_, i) => open(`bench-payer-${i}`)));
  await Promise.all(payers.map((p) => deposit(p, payerFundingCents)));
  const owners = Array.from({ length: accountCount }, (_, i) => `bench-payee-${i}`);
  const payees = await Promise.all(owners.map(open));

  const latencies: number[] = [];
  // In ledger mode this process commits the payments: it knows each entry's commit instant.
  const committedAt = new Map<string, number>();
  const ledger = viaLedger ? openShards({ urls: mysql.shardUrls, poolSize: poolSizePerShard }) : null;
  const stopHints = ledger && redisUrl ? startLedgerHintPublisher(redisUrl) : null;
  const payeeSet = new Set(payees);
  // An event can be read off its socket in the same turn of the event loop as, and before, the
  // COMMIT's reply: such an event counts as 0 ms once its commit is seen.
  const arrivedFirst = new Set<string>();
  const stopListening = onCommitted((_shard, entries) => {
    const now = Date.now();
    for (const entry of entries) {
      if (!payeeSet.has(entry.accountId)) continue;
      const key = `${entry.accountId}:${entry.sequence}`;
      if (arrivedFirst.delete(key)) latencies.push(0);
      else committedAt.set(key, now);
    }
  });

  // One connection and subscription per payee, as its owner.
  const lastSequence = new Map<string, number>();
  const liveFrom = new Map<string, number>();
  let gaps = 0;
  let measuring = false;
  const clients: Client[] = [];
  for (const [i, payee] of payees.entries()) {
    const client = createClient({
      url: url.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${await mintToken({ sub: owners[i]!, role: 'customer' }, secret)}` },
      retryAttempts: 0,
    });
    clients.push(client);
    client.subscribe<{ balanceChanged: { sequence: number; entry: { createdAt: string } } }>(
      { query: subscriptionDoc, variables: { accountId: payee } },
      {
        next: (result) => {
          const event = result.data?.balanceChanged;
          if (!event) return;
          const previous = lastSequence.get(payee);
          if (previous !== undefined && event.sequence !== previous + 1) gaps += 1;
          lastSequence.set(payee, event.sequence);
          if (!liveFrom.has(payee)) liveFrom.set(payee, event.sequence);
          else if (measuring) {
            const key = `${payee}:${event.sequence}`;
            const committed = viaLedger ? committedAt.get(key) : Date.parse(event.entry.createdAt);
            if (committed !== undefined) latencies.push(Date.now() - committed);
            else arrivedFirst.add(key);
          }
        },
        error: (error) => log(`subscription error: ${JSON.stringify(error)}`),
        complete: () => {},
      },
    );
  }
  // Live when each subscriber has seen a probe deposit of its own account.
  for (let round = 0; round < 10 && liveFrom.size < payees.length; round++) {
    await Promise.all(payees.filter((p) => !liveFrom.has(p)).map((p) => deposit(p, 1n)));
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  if (liveFrom.size < payees.length) throw new Error(`only ${liveFrom.size} of ${payees.length} subscriptions went live`);
  await new Promise((resolve) => setTimeout(resolve, 300));
  log(`${payees.length} subscriptions live; paying ${rate}/s for ${seconds} s`);

  measuring = true;
  const started = Date.now();
  let sent = 0;
  let succeeded = 0;
  let failed = 0;
  let inFlight = 0;
  let skipped = 0;
  const pending = new Set<Promise<void>>();
  while (Date.now() - started < seconds * 1_000) {
    const due = Math.floor(((Date.now() - started) / 1_000) * rate);
    while (sent < due) {
      sent += 1;
      if (inFlight >= inFlightMax) {
        skipped += 1;
        continue;
      }
      inFlight += 1;
      const payer = payers[sent % payers.length]!;
      const payee = payees[Math.floor(Math.random() * payees.length)]!;
      const made = ledger
        ? postFromReserve(ledger, payee).then((status) => status === 'APPLIED')
        : gql(url, operator, payDoc, {
          input: { idempotencyKey: randomBytes(12).toString('hex'), payerAccountId: payer, payeeAccountId: payee, amount: '1', currency: 'USD' },
        }).then((data) => data.createPayment.__typename === 'Payment');
      const task = made.then(
        (ok) => void (ok ? succeeded++ : failed++),
        () => void failed++,
      ).finally(() => {
        inFlight -= 1;
        pending.delete(task);
      });
      pending.add(task);
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await Promise.all(pending);
  const paidFor = (Date.now() - started) / 1_000;
  const drainStarted = Date.now();
  while (latencies.length < succeeded && Date.now() - drainStarted < drainMs) await new Promise((resolve) => setTimeout(resolve, 50));
  for (const client of clients) void client.dispose();
  stopListening();
  await stopHints?.();
  await ledger?.close();

  const sorted = [...latencies].sort((a, b) => a - b);
  const p50 = percentile(sorted, 50);
  const p99 = percentile(sorted, 99);
  log(`mode: ${viaLedger ? 'payments posted by the bench through the posting engine, exact commit instants' : 'createPayment through the gateway, commit instant = entry created_at'}`);
  log(`payments: ${succeeded} succeeded, ${failed} failed, ${skipped} not sent (generator behind) in ${paidFor.toFixed(1)} s = ${(succeeded / paidFor).toFixed(0)}/s`);
  log(`events: ${latencies.length} of ${succeeded} delivered, ${gaps} gaps`);
  log(`commit → event on the wire: p50 ${p50} ms, p90 ${percentile(sorted, 90)} ms, p99 ${p99} ms, max ${sorted.at(-1)} ms (target p99 ≤ ${p99TargetMs} ms)`);
  return latencies.length === succeeded && gaps === 0 && p99 <= p99TargetMs;
}

async function main(): Promise<number> {
  const deadline = setTimeout(() => {
    log(`still running after ${runDeadlineMs / 1000} s: giving up`);
    for (const child of children) child.kill('SIGKILL');
    process.exit(2);
  }, runDeadlineMs);
  const mysql = await ensureMysql({ databasePrefix, log, server: config.mysqlServer });
  try {
    return (await run(mysql)) ? 0 : 1;
  } finally {
    clearTimeout(deadline);
    for (const child of children) child.kill('SIGTERM');
    const killer = setTimeout(() => children.forEach((c) => c.kill('SIGKILL')), stopGraceMs);
    await Promise.all(children.map((c) => new Promise((resolve) => (c.exitCode !== null || c.signalCode !== null ? resolve(null) : c.once('exit', resolve)))));
    clearTimeout(killer);
    await mysql.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`[bench:events] ${describeError(error)}`);
    for (const child of children) child.kill('SIGKILL');
    process.exit(1);
  },
);
