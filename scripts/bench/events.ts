import { parseArgs } from 'node:util';
import { mintToken } from '../../subgraphs/shared/src/identity';
import { startLedgerHintPublisher } from '../../subgraphs/shared/src/events/ledger-hints';
import { benchDatabasePrefix } from './bench-stack';
import { benchConfig, printWindow, profiledProcesses, runDeliveryBench } from './delivery-bench';
import { runEventDelivery } from './event-delivery';
import {
  eventAccountsDefault,
  eventAccountsMax,
  eventRatePerSecondDefault,
  eventRatePerSecondMax,
  eventSecondsDefault,
  eventSecondsMax,
} from './limits';
import { boundedArg } from './args';

/**
 * `npm run bench:events`: how long a committed payment takes to reach a subscriber, and what
 * delivering it costs each process. Starts the system as separate processes (delivery-bench.ts:
 * the subgraphs and the gateway, on databases paygraph_bench_events_s0..3 that it recreates),
 * then runs event-delivery.ts and writes bench/results/events/<ISO date>.json.
 *
 *   --accounts N  subscribed payee accounts, one graphql-ws connection and owner each (default 1,000)
 *   --rate N      payments per second (default 200)
 *   --seconds N   measured window (default 15; at most 60)
 *   --via ledger  (default) the bench posts the payments itself: exact commit instants
 *   --via api     createPayment through the gateway; commit instant = the entry's created_at
 *   --redis       fan out with Redis hints (REDIS_URL, default redis://127.0.0.1:6379) instead of polling
 *   --profile p1,p2  start these processes (gateway, account, transaction, settlement, webhooks) under the
 *                 CPU profiler, profiling the measured window only, and summarise the profiles
 *                 at the end (as `npm run bench -- --profile` does)
 */
const { values: args } = parseArgs({
  options: {
    rate: { type: 'string' },
    seconds: { type: 'string' },
    accounts: { type: 'string' },
    redis: { type: 'boolean', default: false },
    via: { type: 'string', default: 'ledger' },
    databases: { type: 'string' },
    profile: { type: 'string' },
  },
  strict: true,
});
if (args.via !== 'ledger' && args.via !== 'api') throw new Error('--via is ledger or api');
const config = benchConfig();
const options = {
  viaLedger: args.via === 'ledger',
  rate: boundedArg('rate', args.rate, eventRatePerSecondDefault, eventRatePerSecondMax),
  seconds: boundedArg('seconds', args.seconds, eventSecondsDefault, eventSecondsMax),
  accounts: boundedArg('accounts', args.accounts, eventAccountsDefault, eventAccountsMax),
  redisUrl: args.redis ? (config.redisUrl ?? 'redis://127.0.0.1:6379') : null,
};
const redisUrl = options.redisUrl;

runDeliveryBench(config, {
  name: 'events',
  databasePrefix: benchDatabasePrefix(args.databases, 'paygraph_bench_events'),
  profiled: profiledProcesses(args.profile),
  subgraphEnv: () => (redisUrl ? { REDIS_URL: redisUrl } : {}),
  // With --via ledger this process posts, so it publishes the hints a subgraph would.
  around: () => (options.viaLedger && redisUrl ? startLedgerHintPublisher(redisUrl) : null),
  extra: { fanOut: redisUrl ? 'redis' : 'polling' },
  measure: (run) => {
    run.log(
      `system up (${redisUrl ? `Redis hints from ${redisUrl}` : 'polling the shards'}); opening ${options.accounts} payees`,
    );
    return runEventDelivery({
      ...run,
      gatewayUrl: run.stack.gatewayUrl,
      customerToken: (sub) => mintToken({ sub, role: 'customer' }, run.jwtSecret),
      ledger: options.viaLedger ? run.ledger : null,
      accounts: options.accounts,
      ratePerSecond: options.rate,
      seconds: options.seconds,
      accountMetricsUrl: run.stack.urls.account.replace(/\/graphql$/, '/metrics'),
    });
  },
  print: (r, log) => {
    log(
      `fan-out: ${redisUrl ? 'Redis hints' : 'polling'}; mode: ${r.via === 'ledger' ? 'payments posted by the bench, exact commit instants' : 'createPayment through the gateway, commit instant = entry created_at'}`,
    );
    log(
      `payments: ${r.payments.succeeded} succeeded, ${r.payments.failed} failed, ${r.payments.notSent} not sent (generator behind) = ${r.payments.perSecond}/s into ${r.accounts} subscribed accounts`,
    );
    log(
      `events: ${r.events.delivered} of ${r.payments.succeeded} delivered, ${r.events.gaps} gaps, ${r.events.repeats} repeats`,
    );
    printWindow(log, 'commit → event on the wire', r);
    if (r.feed) {
      log(
        `balance feed: ${r.feed.reads.poll} timer reads asking for ${r.feed.stripesRead.poll} stripes, ${r.feed.reads.hint} hinted reads asking for ${r.feed.stripesRead.hint}`,
      );
    }
  },
});
