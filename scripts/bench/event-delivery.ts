import WebSocket from 'ws';
import { createClient, type Client } from 'graphql-ws';
import { newId, shardOf } from '../../subgraphs/shared/src/ids';
import type { ShardSet } from '../../subgraphs/shared/src/shards/pool';
import type { Topology } from '../../subgraphs/shared/src/shards/topology';
import { postOne, systemAccountId } from '../../subgraphs/shared/src/ledger/index';
import { contractOperation, dataField, requestBody, typenameOf } from './documents';
import { inParallel, openAndFund, sendRetrying } from './fixtures';
import {
  eventDrainMs,
  eventP99TargetMs,
  eventPayerCount,
  eventProbesMax,
  eventProbeWaitMs,
  eventSubscribeAttemptsMax,
  eventSubscribeConcurrency,
} from './limits';
import type { LoadClient } from './load';
import { measureWindow, round, trackCommitLatency, type MeasuredWindow } from './delivery-bench';

/**
 * The measurement of `npm run bench:events` (events.ts starts the system; the smoke test runs
 * this against an in-process stack): opens `accounts` payee accounts, gives each one graphql-ws
 * subscriber through the gateway (its owner's token, one connection each, as separate clients
 * would), proves every subscription live with a probe, then moves money into random payees at
 * a fixed rate (open loop) and measures, for every event, the time from the commit of its entry
 * to its arrival, and the CPU every process spent per delivered event.
 *
 *   ledger mode: this process posts the payments itself through the posting engine (one local
 *                transaction each, from the shard's reserve, the shape of a same-shard payment)
 *                and takes each commit instant from onCommitted: exact commit → wire, with the
 *                subgraphs' CPU left to the streaming path
 *   api mode:    createPayment through the gateway from eventPayerCount funded payers (most
 *                cross-shard); the commit instant is then the entry's created_at, stamped just
 *                before its transaction, which overstates commit → wire by the transaction
 */
export interface EventRunOptions {
  /** The gateway's HTTP /graphql URL; its WebSocket is the same URL with ws://. */
  gatewayUrl: string;
  /** Requests as the operator: opening accounts, deposits, payments. */
  client: LoadClient;
  /** A client token for an account's owner (role customer). */
  customerToken: (ownerId: string) => Promise<string>;
  /** The shards this process posts on in ledger mode; null sends createPayment through the gateway. */
  ledger: ShardSet | null;
  topology: Topology | null;
  accounts: number;
  ratePerSecond: number;
  seconds: number;
  runId: string;
  /** Processes whose CPU is reported per event, by name. */
  pids: () => Map<string, number>;
  /** The account subgraph's /metrics, for how many reads its balance feed made; null skips it. */
  accountMetricsUrl: string | null;
  /** Called as the measured window opens (the bench starts its CPU profilers here). */
  onMeasureStart?: () => void;
  log: (line: string) => void;
}

export interface EventRunReport extends MeasuredWindow {
  via: 'ledger' | 'api';
  accounts: number;
  ratePerSecond: number;
  seconds: number;
  setupSeconds: number;
  events: { delivered: number; gaps: number; repeats: number };
  p99TargetMs: number;
  /** Every event delivered once, in order, and p99 within the target. */
  met: boolean;
  /** The account subgraph's balance-feed reads over the same window: statements and stripes asked for, by trigger. */
  feed: { reads: Record<string, number>; stripesRead: Record<string, number> } | null;
}

const subscriptionDocument =
  'subscription($accountId: ID!) { balanceChanged(accountId: $accountId) { sequence entry { createdAt amount } } }';

interface Subscriber {
  payee: string;
  client: Client;
  /** True at the first event, false when the subscription ends without one. */
  live: Promise<boolean>;
}

export async function runEventDelivery(options: EventRunOptions): Promise<EventRunReport> {
  const setupStarted = Date.now();
  const viaLedger = options.ledger !== null;
  const payeeFixtures = await openAndFund({
    client: options.client,
    runId: options.runId,
    topology: options.topology,
    accountCount: options.accounts,
    fund: false,
    log: options.log,
  });
  const payees = payeeFixtures.accounts;
  const payers = viaLedger
    ? []
    : (
        await openAndFund({
          client: options.client,
          runId: `${options.runId}p`,
          topology: options.topology,
          accountCount: eventPayerCount,
          log: options.log,
        })
      ).accounts;

  const latency = trackCommitLatency(payees);
  const lastSequence = new Map<string, number>();
  const counts = { gaps: 0, repeats: 0 };
  const onEvent = (payee: string, event: { sequence: number; entry: { createdAt: string } }) => {
    const previous = lastSequence.get(payee);
    if (previous !== undefined && event.sequence <= previous) counts.repeats += 1;
    else if (previous !== undefined && event.sequence !== previous + 1) counts.gaps += 1;
    lastSequence.set(payee, Math.max(event.sequence, previous ?? 0));
    latency.arrived(payee, event.sequence, viaLedger ? undefined : Date.parse(event.entry.createdAt));
  };

  const pay = (payee: string, payer: string | undefined, key: string): Promise<boolean> =>
    viaLedger
      ? postFromReserve(options.ledger!, payee).then((status) => status === 'APPLIED')
      : paymentThroughApi(options.client, payer!, payee, key);
  const probe = (payee: string, attempt: number) =>
    viaLedger
      ? postFromReserve(options.ledger!, payee)
      : depositThroughApi(options.client, payee, `${options.runId}-probe-${payee}-${attempt}`);

  const subscribers: Subscriber[] = [];
  try {
    await inParallel(payees.length, eventSubscribeConcurrency, async (i) => {
      // A subscription refused while a shard's breaker is open for a moment (a loaded machine)
      // is opened again; one that stays silent through every probe fails the run.
      for (let attempt = 1; ; attempt++) {
        const subscriber = await subscribe(options, payees[i]!, payeeFixtures.owners[i]!, onEvent);
        subscribers.push(subscriber);
        if (await untilLive(subscriber, (n) => probe(subscriber.payee, n))) return;
        if (attempt >= eventSubscribeAttemptsMax)
          throw new Error(`the subscription of ${payees[i]} failed ${attempt} times`);
        await subscriber.client.dispose();
      }
    });
    const setupSeconds = (Date.now() - setupStarted) / 1000;
    options.log(
      `${payees.length} subscriptions live after ${setupSeconds.toFixed(1)} s of set-up; paying ${options.ratePerSecond}/s for ${options.seconds} s`,
    );

    const feedBefore = options.accountMetricsUrl ? await feedCounters(options.accountMetricsUrl) : null;
    const window = await measureWindow({
      run: options,
      rate: options,
      latency,
      payees,
      payers,
      pay,
      delivered: () => latency.latencies.length,
      drainMs: eventDrainMs,
    });
    const feedAfter = options.accountMetricsUrl ? await feedCounters(options.accountMetricsUrl) : null;
    const { delivered, ...measured } = window;
    return {
      via: viaLedger ? 'ledger' : 'api',
      accounts: payees.length,
      ratePerSecond: options.ratePerSecond,
      seconds: options.seconds,
      setupSeconds: round(setupSeconds),
      ...measured,
      events: { delivered, ...counts },
      p99TargetMs: eventP99TargetMs,
      met:
        delivered === window.payments.succeeded &&
        counts.gaps === 0 &&
        counts.repeats === 0 &&
        window.latencyMs.p99 <= eventP99TargetMs,
      feed: feedBefore && feedAfter ? counterDelta(feedBefore, feedAfter) : null,
    };
  } finally {
    latency.stop();
    await Promise.all(subscribers.map((s) => s.client.dispose()));
  }
}

async function subscribe(
  options: EventRunOptions,
  payee: string,
  ownerId: string,
  onEvent: (payee: string, event: { sequence: number; entry: { createdAt: string } }) => void,
): Promise<Subscriber> {
  const client = createClient({
    url: options.gatewayUrl.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${await options.customerToken(ownerId)}` },
    retryAttempts: 0,
  });
  let settle: (live: boolean) => void = () => {};
  const live = new Promise<boolean>((resolve) => {
    settle = resolve;
  });
  client.subscribe<{ balanceChanged: { sequence: number; entry: { createdAt: string } } }>(
    { query: subscriptionDocument, variables: { accountId: payee } },
    {
      next: (result) => {
        const event = result.data?.balanceChanged;
        if (!event) return;
        settle(true);
        onEvent(payee, event);
      },
      error: (error) => {
        settle(false);
        options.log(`subscription of ${payee} failed: ${describeSubscriptionError(error)}`);
      },
      complete: () => settle(false),
    },
  );
  return { payee, client, live };
}

/** GraphQL errors as JSON; a closed socket (a CloseEvent, which JSON shows as {}) by its code and reason. */
function describeSubscriptionError(error: unknown): string {
  if (
    typeof error === 'object' &&
    error !== null &&
    'code' in error &&
    typeof (error as { code: unknown }).code === 'number'
  ) {
    const { code, reason } = error as { code: number; reason?: unknown };
    return `socket closed with ${code}${typeof reason === 'string' && reason !== '' ? ` (${reason})` : ''}`;
  }
  return JSON.stringify(error).slice(0, 300);
}

/**
 * A stream without a cursor starts wherever the account is when the subscription reaches the
 * account subgraph, which the client cannot see: probe until an event arrives. False when the
 * subscription ended instead.
 */
async function untilLive(subscriber: Subscriber, probe: (attempt: number) => Promise<unknown>): Promise<boolean> {
  for (let attempt = 0; attempt < eventProbesMax; attempt++) {
    // A probe that fails (a shard's breaker open for a moment on a loaded machine) is just tried again.
    await probe(attempt).catch(() => undefined);
    const outcome = await Promise.race([
      subscriber.live,
      new Promise<null>((resolve) => setTimeout(() => resolve(null), eventProbeWaitMs)),
    ]);
    if (outcome !== null) return outcome;
  }
  throw new Error(`the subscription of ${subscriber.payee} delivered nothing after ${eventProbesMax} probes`);
}

/** The open loop: payments leave at the rate whatever the answers do, up to eventPaymentsInFlightMax at once. */
/** One cent from the shard's reserve into the payee: one local transaction, like a same-shard payment. */
export async function postFromReserve(shards: ShardSet, payee: string): Promise<string> {
  const logical = shardOf('account', payee);
  const shard = shards.byLogical(logical);
  const reserve = await systemAccountId(shards, shard, 'RESERVE', 'USD');
  return postOne(shard, {
    kind: 'spec',
    spec: {
      id: newId('posting', logical),
      kind: 'BENCH_PAYMENT',
      refId: null,
      dedupeKey: null,
      currency: 'USD',
      legs: [
        { accountId: reserve, bucket: 'AVAILABLE', amount: -1n },
        { accountId: payee, bucket: 'AVAILABLE', amount: 1n },
      ],
    },
    finish: async (_tx, outcome) => outcome.status,
  });
}

const createPayment = contractOperation('CreatePayment');
const deposit = contractOperation('Deposit');

async function paymentThroughApi(client: LoadClient, payer: string, payee: string, key: string): Promise<boolean> {
  const response = await client.send(
    requestBody(createPayment, {
      input: { idempotencyKey: key, payerAccountId: payer, payeeAccountId: payee, amount: '1', currency: 'USD' },
    }),
  );
  return typenameOf(dataField(response, 'createPayment')) === 'Payment';
}

async function depositThroughApi(client: LoadClient, accountId: string, key: string): Promise<void> {
  const response = await sendRetrying(
    client,
    requestBody(deposit, { input: { idempotencyKey: key, accountId, amount: '1', currency: 'USD' } }),
  );
  if (typenameOf(dataField(response, 'deposit')) !== 'Deposit')
    throw new Error(`probe deposit failed: ${JSON.stringify(response).slice(0, 300)}`);
}

const feedSeries = ['paygraph_balance_feed_reads_total', 'paygraph_balance_feed_stripes_read_total'] as const;

/** The balance feed's counters from a /metrics page, by series and trigger. */
async function feedCounters(metricsUrl: string): Promise<Map<string, number>> {
  const text = await (await fetch(metricsUrl)).text();
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^(\w+)\{trigger="(\w+)"\} (\S+)$/.exec(line);
    if (match && (feedSeries as readonly string[]).includes(match[1]!))
      values.set(`${match[1]}:${match[2]}`, Number(match[3]));
  }
  return values;
}

function counterDelta(before: Map<string, number>, after: Map<string, number>): NonNullable<EventRunReport['feed']> {
  const of = (series: string) =>
    Object.fromEntries(
      ['poll', 'hint'].map((trigger) => {
        const key = `${series}:${trigger}`;
        return [trigger, (after.get(key) ?? 0) - (before.get(key) ?? 0)];
      }),
    );
  return { reads: of(feedSeries[0]), stripesRead: of(feedSeries[1]) };
}
