import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { ShardUnavailable } from './shards/unavailable';

/**
 * The process's own metrics (prom-client): one registry per process, served at /metrics by
 * every subgraph and, merged with its per-instance registry, by the gateway. Labels are bounded
 * sets chosen here (shard names, outcomes, error kinds), never client input, so the number of
 * series stays fixed however clients behave.
 */
export const processRegistry = new Registry();

let defaultsCollected = false;

/** Node's process and event-loop metrics (process_*, nodejs_*): registered once per process. */
export function collectProcessDefaults(): void {
  if (defaultsCollected) return;
  defaultsCollected = true;
  collectDefaultMetrics({ register: processRegistry });
}

/**
 * Payments and holds by outcome: a status the write answered (SUCCEEDED, PROCESSING, FAILED,
 * HELD...) or the kind of the business error that refused it (InsufficientFunds...).
 */
export const moneyMovements = new Counter({
  name: 'paygraph_money_movements_total',
  help: 'Payments and holds requested, by kind (payment, hold) and outcome (the status written, or the error kind that refused it).',
  labelNames: ['kind', 'outcome'] as const,
  registers: [processRegistry],
});

export type MoneyMovementKind = 'payment' | 'hold';

export function countMoneyMovement(kind: MoneyMovementKind, outcome: string): void {
  moneyMovements.inc({ kind, outcome });
}

/** Up to the largest MERGE_BATCH_SIZE (1000): how full merged batches run tells whether merging pays. */
const batchSizeBuckets = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000];

export const mergedBatchSize = new Histogram({
  name: 'paygraph_ledger_merged_batch_size',
  help: 'Postings committed together in one merged ledger transaction (ledger/engine/batcher.ts).',
  labelNames: ['shard'] as const,
  buckets: batchSizeBuckets,
  registers: [processRegistry],
});

/**
 * Where a posting's time goes in the merger (ledger/engine/batcher.ts): waiting for its batch to start (a slot, the
 * merge wait) and the batch's run (its round trips and commit, each waiting for a core when the machine is busy). A
 * cross-shard payment's answer waits for two postings (debit, credit): together with the batch size they say whether
 * a slow answer queued or ran (docs/PERFORMANCE.md, "a-70's tail"). Buckets from 0.5 ms to the lock wait's 5 s.
 */
const postingStageBucketsSeconds = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export const postingQueueSeconds = new Histogram({
  name: 'paygraph_ledger_posting_queue_seconds',
  help: "Time a posting waited in its shard's merge queue before its batch started (ledger/engine/batcher.ts).",
  labelNames: ['shard'] as const,
  buckets: postingStageBucketsSeconds,
  registers: [processRegistry],
});

export const mergedBatchSeconds = new Histogram({
  name: 'paygraph_ledger_merged_batch_seconds',
  help: 'Time a merged ledger batch ran, from its start to its answer (commit, or its postings retried alone).',
  labelNames: ['shard'] as const,
  buckets: postingStageBucketsSeconds,
  registers: [processRegistry],
});

export const relayBacklog = new Gauge({
  name: 'paygraph_relay_backlog',
  help: 'Outbox rows due and not yet done on a shard, as the relay last counted them (capped at relayBacklogCountMax).',
  labelNames: ['shard'] as const,
  registers: [processRegistry],
});

export const relayLagSeconds = new Gauge({
  name: 'paygraph_relay_lag_seconds',
  help: 'How long the oldest due outbox row of a shard has waited, as the relay last saw it; 0 when none is due.',
  labelNames: ['shard'] as const,
  registers: [processRegistry],
});

export const balanceStreamsOpen = new Gauge({
  name: 'paygraph_balance_streams_open',
  help: 'Balance subscriptions the account subgraph is feeding now.',
  registers: [processRegistry],
});

/**
 * The balance feed's reads of new entries (services/balance-feed.ts), by what asked for them: the
 * timer (`poll`, every watched stripe of a shard) or Redis hints (`hint`, only the stripes
 * hinted). With the stripes each read asked for, they show whether reads grow with subscribers.
 */
export const balanceFeedReads = new Counter({
  name: 'paygraph_balance_feed_reads_total',
  help: 'Statements the balance feed ran to read new ledger entries, by trigger (poll, hint).',
  labelNames: ['trigger'] as const,
  registers: [processRegistry],
});

export const balanceFeedStripesRead = new Counter({
  name: 'paygraph_balance_feed_stripes_read_total',
  help: 'Watched stripes the balance feed asked for in those statements, by trigger (poll, hint).',
  labelNames: ['trigger'] as const,
  registers: [processRegistry],
});

/**
 * Requests the subgraph's express lane answered (`answered`; `same` when the answer was a kept text the gateway holds
 * a copy of, sent without its body), handed to Apollo Server after running them (`handed`), or declined
 * (server/subgraph-lane.ts).
 */
export const subgraphLaneRequests = new Counter({
  name: 'paygraph_subgraph_lane_requests_total',
  help: "GraphQL requests the subgraph's express lane answered (answered; same: a kept text the gateway holds, sent without its body), handed to Apollo Server after running them (their errors), or declined.",
  labelNames: ['outcome'] as const,
  registers: [processRegistry],
});

/**
 * GetAccount answers the account subgraph served from its rendered answers (`hit`), rendered for
 * want of one (`miss`), and kept once rendered (`kept`): services/rendered-answers.ts.
 */
export const renderedAnswers = new Counter({
  name: 'paygraph_account_rendered_answers_total',
  help: 'Reads of an account the account subgraph answered from a rendered answer (hit), rendered (miss), kept (kept).',
  labelNames: ['outcome'] as const,
  registers: [processRegistry],
});

/** The connection-acquire bound is 2 s (shardAcquireTimeoutMs); the buckets cover it. */
const poolWaitBucketsSeconds = [0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export const shardPoolWaitSeconds = new Histogram({
  name: 'paygraph_shard_pool_wait_seconds',
  help: 'Time spent waiting for a pooled shard connection, by shard and result (ok, failed).',
  labelNames: ['shard', 'result'] as const,
  buckets: poolWaitBucketsSeconds,
  registers: [processRegistry],
});

/** 0 closed, 1 half-open, 2 open: a number so that alerts can say "> 0". */
export const breakerStateValues = { closed: 0, 'half-open': 1, open: 2 } as const;

export interface BreakerSource {
  readonly name: string;
  readonly state: keyof typeof breakerStateValues;
}

/** The shard pools alive in this process, read at scrape time (pools register and unregister themselves). */
const breakerSources = new Set<BreakerSource>();

export function watchBreaker(source: BreakerSource): () => void {
  breakerSources.add(source);
  return () => breakerSources.delete(source);
}

export const shardBreakerState = new Gauge({
  name: 'paygraph_shard_breaker_state',
  help: "Each shard's circuit breaker: 0 closed, 1 half-open, 2 open.",
  labelNames: ['shard'] as const,
  registers: [processRegistry],
  collect() {
    this.reset();
    for (const source of breakerSources) this.set({ shard: source.name }, breakerStateValues[source.state]);
  },
});

/**
 * FX payments' reads of their quote's terms (transaction subgraph, services/fx-quotes.ts): from
 * the process's cache of the quotes it made (`cache`), or from the quote's shard (`shard`, a
 * statement more). A rising share of `shard` means quotes are forgotten before they are used.
 */
export const fxQuoteTermsReads = new Counter({
  name: 'paygraph_fx_quote_terms_reads_total',
  help: "FX payments' reads of their quote's terms, by source (cache: this process made it and still holds it; shard: read back).",
  labelNames: ['source'] as const,
  registers: [processRegistry],
});

/** What the credit exposure gauge reads at each scrape: the account subgraph's figures per currency and home shard. */
export type ExposureSource = () => Promise<ReadonlyArray<{ currency: string; shard: string; used: bigint }>>;
/**
 * The sources registered, newest last: one per process in production, several where tests run subgraphs side by side.
 */
const exposureSources: ExposureSource[] = [];

/**
 * Makes each scrape of this process read the credit exposure from `source` (the account
 * subgraph registers its ledger read at start-up; the newest registered is read); answers the
 * undo, which leaves the others registered.
 */
export function measureCreditExposure(source: ExposureSource): () => void {
  exposureSources.push(source);
  return () => {
    const at = exposureSources.indexOf(source);
    if (at >= 0) exposureSources.splice(at, 1);
  };
}

/**
 * The platform's credit in use (Σ max(0, −available) of the accounts with a credit line), per
 * currency and the accounts' home shard, in minor units, read from the ledger at each scrape so
 * it is never older than the scrape. Currencies are ISO codes the accounts hold: a bounded set.
 * A shard that does not answer keeps its last figures, so the scrape still answers every other
 * metric; any other error is a bug and fails the scrape.
 */
export const creditExposureMinorUnits = new Gauge({
  name: 'paygraph_credit_exposure_minor_units',
  help: 'Credit in use per currency and home shard (minor units), read from the ledger at each scrape.',
  labelNames: ['currency', 'shard'] as const,
  registers: [processRegistry],
  async collect() {
    const source = exposureSources.at(-1);
    if (source === undefined) return;
    let lines: Awaited<ReturnType<ExposureSource>>;
    try {
      lines = await source();
    } catch (error) {
      if (error instanceof ShardUnavailable) return;
      throw error;
    }
    this.reset();
    // A gauge holds a double: exact up to 2^53 minor units, far beyond any sane exposure.
    for (const line of lines) this.set({ currency: line.currency, shard: line.shard }, Number(line.used));
  },
});

/**
 * The books' total–subtotal check (issue 49, ledger/books.ts): how many entity, class and
 * currency figures of the books differ from the sum of their accounts' balances, per shard, at
 * the last pass of the account subgraph's books check. Anything but 0 is a bug: alert on it.
 */
export const booksDifferences = new Gauge({
  name: 'paygraph_books_total_subtotal_differences',
  help: "Figures of the books that differ from the sum of their accounts' balances, per shard (should be 0).",
  labelNames: ['shard'] as const,
  registers: [processRegistry],
});
