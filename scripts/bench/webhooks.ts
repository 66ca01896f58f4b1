import { parseArgs } from 'node:util';
import { startLedgerHintPublisher } from '../../subgraphs/shared/src/events/ledger-hints';
import { mintToken } from '../../subgraphs/shared/src/identity';
import { benchDatabasePrefix } from './bench-stack';
import { benchConfig, printWindow, profiledProcesses, runDeliveryBench } from './delivery-bench';
import { runWebhookDelivery } from './webhook-delivery';
import {
  eventRatePerSecondDefault,
  eventRatePerSecondMax,
  eventSecondsDefault,
  eventSecondsMax,
  noisyDelayMsDefault,
  noisyDelayMsMax,
  noisyEndpointsMax,
  noisyRatePerSecondDefault,
  noisyRatePerSecondMax,
  webhookAccountsDefault,
  webhookAccountsMax,
} from './limits';
import { boundedArg } from './args';

/**
 * `npm run bench:webhooks`: how long a committed payment takes to reach a partner's webhook
 * receiver, and what delivering it costs each process. Starts the system as separate processes
 * (delivery-bench.ts, the webhooks subgraph among them, on databases paygraph_bench_hooks_s0..3
 * that it recreates), then runs webhook-delivery.ts and writes bench/results/webhooks/<ISO date>.json.
 *
 *   --accounts N  payee accounts, one endpoint each (default 200)
 *   --rate N      payments per second (default 200)
 *   --seconds N   measured window (default 15; at most 60)
 *   --databases P the bench databases' prefix (default paygraph_bench_hooks)
 *   --profile p1,p2  start these processes (gateway, account, transaction, settlement, webhooks)
 *                 under the CPU profiler, profiling the measured window only, and summarise them
 *   --noisy-endpoints N  issue 31's noisy tenant beside the measured (quiet) ones: one partner
 *                 with N endpoints (at most 50) on four accounts of its own, whose receiver answers
 *                 200 after --noisy-delay-ms (default 9000), posted into at --noisy-rate (default
 *                 20/s) through the window (webhooks-noisy-tenant.ts); default 0, none
 *   --polling     no Redis: the dispatcher polls every shard at WEBHOOK_DISPATCH_INTERVAL_MS instead of
 *                 being woken by ledger hints (REDIS_URL, default redis://127.0.0.1:6379), as a
 *                 deployment without Redis runs
 */
const { values: args } = parseArgs({
  options: {
    rate: { type: 'string' },
    seconds: { type: 'string' },
    accounts: { type: 'string' },
    databases: { type: 'string' },
    profile: { type: 'string' },
    polling: { type: 'boolean', default: false },
    'noisy-endpoints': { type: 'string' },
    'noisy-delay-ms': { type: 'string' },
    'noisy-rate': { type: 'string' },
  },
  strict: true,
});
const config = benchConfig();
const options = {
  rate: boundedArg('rate', args.rate, eventRatePerSecondDefault, eventRatePerSecondMax),
  seconds: boundedArg('seconds', args.seconds, eventSecondsDefault, eventSecondsMax),
  accounts: boundedArg('accounts', args.accounts, webhookAccountsDefault, webhookAccountsMax),
  redisUrl: args.polling ? null : (config.redisUrl ?? 'redis://127.0.0.1:6379'),
  noisyEndpoints:
    args['noisy-endpoints'] === undefined
      ? 0
      : boundedArg('noisy-endpoints', args['noisy-endpoints'], 0, noisyEndpointsMax),
};
const noisy =
  options.noisyEndpoints === 0
    ? null
    : {
        endpoints: options.noisyEndpoints,
        delayMs: boundedArg('noisy-delay-ms', args['noisy-delay-ms'], noisyDelayMsDefault, noisyDelayMsMax),
        ratePerSecond: boundedArg('noisy-rate', args['noisy-rate'], noisyRatePerSecondDefault, noisyRatePerSecondMax),
      };
const redisUrl = options.redisUrl;

runDeliveryBench(config, {
  name: 'webhooks',
  databasePrefix: benchDatabasePrefix(args.databases, 'paygraph_bench_hooks'),
  profiled: profiledProcesses(args.profile),
  // The receivers are this process's, on loopback over http: allowed explicitly, as npm start does.
  subgraphEnv: () => ({ WEBHOOK_ALLOW_LOCAL_DESTINATIONS: 'true', ...(redisUrl ? { REDIS_URL: redisUrl } : {}) }),
  // This process posts the payments, so it publishes the hints the transaction subgraph would.
  around: () => (redisUrl ? startLedgerHintPublisher(redisUrl) : null),
  extra: { wakeUp: redisUrl ? 'redis' : 'polling', noisy },
  measure: (run) => {
    run.log(
      `system up (dispatcher ${redisUrl ? `woken by Redis hints from ${redisUrl}` : 'polling the shards'}); opening ${options.accounts} payees with an endpoint each`,
    );
    return runWebhookDelivery({
      ...run,
      gatewayUrl: run.stack.gatewayUrl,
      partnerToken: (sub) => mintToken({ sub, role: 'partner' }, run.jwtSecret),
      accounts: options.accounts,
      ratePerSecond: options.rate,
      seconds: options.seconds,
      noisy,
    });
  },
  print: (report, log) => {
    log(
      `payments: ${report.payments.succeeded} succeeded, ${report.payments.failed} failed, ${report.payments.notSent} not sent = ${report.payments.perSecond}/s into ${report.accounts} accounts with an endpoint each`,
    );
    log(
      `events: ${report.events.delivered} of ${report.payments.succeeded} delivered, ${report.events.repeats} repeats, ${report.events.outOfOrder} out of order, ${report.events.verified} signatures verified`,
    );
    if (report.noisy) {
      const n = report.noisy;
      log(
        `noisy tenant: ${n.endpoints} endpoints answering after ${n.delayMs} ms, ${n.posted} entries posted at ${n.ratePerSecond}/s, ${n.received} requests received, at most ${n.heldMax} held at once`,
      );
    }
    printWindow(
      log,
      report.noisy ? 'commit → receipt of the quiet tenants (beside the noisy one)' : 'commit → receipt',
      report,
    );
  },
});
