import * as z from 'zod';
import {
  boolean,
  evenWithRefusedValues,
  extended,
  integer,
  intervalMs,
  port,
  readConfig,
  text,
} from '@paygraph/shared/config/env';
import { subgraphRequirements, subgraphSecret, subgraphShape } from '@paygraph/shared/config/shared';
import {
  accountDiscoveryIntervalMsDefault,
  attemptTimeoutMsDefault,
  deliveryPurgeIntervalMsDefault,
  dispatchSafetyIntervalMsDefault,
  queueMetricsIntervalMsDefault,
  deliveryRetentionMsDefault,
  dispatchIntervalMsDefault,
  endpointFailingDisableMsDefault,
  endpointRefreshIntervalMsDefault,
  retryDelayMsMaxDefault,
  retryFirstDelayMsDefault,
  retryFirstDelayMsMax,
  retryWindowMsDefault,
  secretKeyCharsMin,
  streamLeaseMs,
} from './limits';

/** Where the webhooks subgraph listens unless WEBHOOKS_PORT says otherwise. */
export const webhooksPortDefault = 4004;
/**
 * The webhooks subgraph's configuration: the shared subgraph pieces, its port and secret, the
 * key its endpoints' secrets are sealed with, and its dispatcher's timings. The defaults are the
 * contract's (10 s per attempt, first retry within 10 s, retried for more than a day); tests
 * shorten them.
 */
const developmentSecretKey = 'paygraph-development-webhook-secret-key-not-for-production';

export const dispatcherSettingsConfig = z.object({
  intervalMs: intervalMs('WEBHOOK_DISPATCH_INTERVAL_MS', dispatchIntervalMsDefault, {
    default: `\`${dispatchIntervalMsDefault}\``,
    meaning:
      'webhooks subgraph: how often its dispatcher turns new ledger entries into deliveries and claims due ones, per shard',
  }),
  safetyIntervalMs: intervalMs('WEBHOOK_SAFETY_DISPATCH_INTERVAL_MS', dispatchSafetyIntervalMsDefault, {
    default: `\`${dispatchSafetyIntervalMsDefault}\``,
    meaning:
      'webhooks subgraph, with Redis: ledger hints wake its dispatcher, and this slower poll per shard covers a lost hint, retries coming due and redeliveries',
  }),
  discoveryIntervalMs: intervalMs('WEBHOOK_ACCOUNT_DISCOVERY_INTERVAL_MS', accountDiscoveryIntervalMsDefault, {
    default: `\`${accountDiscoveryIntervalMsDefault}\``,
    meaning:
      "webhooks subgraph: how often the dispatcher looks for accounts opened since that its endpoints should follow (a new endpoint's at once)",
  }),
  metricsIntervalMs: intervalMs('WEBHOOK_QUEUE_METRICS_INTERVAL_MS', queueMetricsIntervalMsDefault, {
    default: `\`${queueMetricsIntervalMsDefault}\``,
    meaning:
      'webhooks subgraph: how often the queue depth and the age of the oldest pending delivery are counted, per shard',
  }),
  /**
   * A claimed stream is the claimer's this long (extended while it sends); a crashed claimer's streams return after it.
   */
  leaseMs: intervalMs('WEBHOOK_STREAM_LEASE_MS', streamLeaseMs, {
    default: `\`${streamLeaseMs}\``,
    meaning:
      "webhooks subgraph: how long a dispatcher holds a claimed (endpoint, account) stream; a crashed dispatcher's streams are taken by another replica after it",
  }),
  endpointRefreshIntervalMs: intervalMs('WEBHOOK_ENDPOINT_REFRESH_INTERVAL_MS', endpointRefreshIntervalMsDefault, {
    default: `\`${endpointRefreshIntervalMsDefault}\``,
    meaning:
      'webhooks subgraph: how often the dispatcher rereads endpoints (status, URL, secrets) and finds accounts they should follow',
  }),
  attemptTimeoutMs: integer('WEBHOOK_ATTEMPT_TIMEOUT_MS', 'ms', 1, attemptTimeoutMsDefault, attemptTimeoutMsDefault, {
    default: `\`${attemptTimeoutMsDefault}\``,
    meaning:
      'webhooks subgraph: the most one delivery attempt may take (connection, answer and body); no answer by then is a failure, retried',
  }),
  retry: z.object({
    firstDelayMs: integer('WEBHOOK_RETRY_FIRST_DELAY_MS', 'ms', 1, retryFirstDelayMsMax, retryFirstDelayMsDefault, {
      default: `\`${retryFirstDelayMsDefault}\``,
      meaning:
        'webhooks subgraph: the first retry comes within this (full jitter below it); each next one within twice the previous',
    }),
    delayMsMax: intervalMs('WEBHOOK_RETRY_DELAY_MAX_MS', retryDelayMsMaxDefault, {
      default: `\`${retryDelayMsMaxDefault}\` (1 h)`,
      meaning: 'webhooks subgraph: the longest wait between two attempts',
    }),
    windowMs: integer('WEBHOOK_RETRY_WINDOW_MS', 'ms', 1, Number.MAX_SAFE_INTEGER, retryWindowMsDefault, {
      default: `\`${retryWindowMsDefault}\` (25 h)`,
      meaning: 'webhooks subgraph: a delivery is retried until this long after its first attempt, then FAILED',
    }),
  }),
  disableAfterFailingMs: integer(
    'WEBHOOK_DISABLE_AFTER_FAILING_MS',
    'ms',
    1,
    Number.MAX_SAFE_INTEGER,
    endpointFailingDisableMsDefault,
    {
      default: `\`${endpointFailingDisableMsDefault}\` (24 h)`,
      meaning: 'webhooks subgraph: an endpoint whose every attempt failed for this long is disabled, the reason on it',
    },
  ),
  /** Finished deliveries older than this are purged (retention, limits.ts). */
  retentionMs: integer('WEBHOOK_DELIVERY_RETENTION_MS', 'ms', 1, Number.MAX_SAFE_INTEGER, deliveryRetentionMsDefault, {
    default: `\`${deliveryRetentionMsDefault}\` (30 days)`,
    meaning:
      'webhooks subgraph: SUCCEEDED and FAILED deliveries whose event is older than this are deleted (the deliveries list and redelivery reach back this far); PENDING ones never are',
  }),
  purgeIntervalMs: intervalMs('WEBHOOK_PURGE_INTERVAL_MS', deliveryPurgeIntervalMsDefault, {
    default: `\`${deliveryPurgeIntervalMsDefault}\``,
    meaning:
      'webhooks subgraph: how often the dispatcher deletes deliveries past their retention and erases rotated-out secrets past their 24 h overlap, on every shard',
  }),
});

export type DispatcherSettings = z.output<typeof dispatcherSettingsConfig>;

export const webhooksConfig = z
  .object({
    ...subgraphShape,
    port: port('WEBHOOKS_PORT', webhooksPortDefault, {
      default: `\`${webhooksPortDefault}\``,
      meaning: "the webhooks subgraph's port",
    }),
    secret: subgraphSecret('webhooks'),
    /** AES-256-GCM key material for endpoint secrets (services/secrets.ts); the development key outside production. */
    secretKey: extended(
      text('WEBHOOK_SECRET_KEY', `string, ${secretKeyCharsMin}+ characters`, undefined, {
        default: 'a development key',
        meaning:
          "webhooks subgraph: the key endpoints' signing secrets are stored encrypted with (AES-256-GCM). Required with `NODE_ENV=production`",
      }),
      (key) =>
        key.refine((value) => value === null || value.length >= secretKeyCharsMin, {
          error: `must be at least ${secretKeyCharsMin} characters`,
        }),
    ),
    dispatcherEnabled: boolean('WEBHOOK_DISPATCHER_ENABLED', true, {
      default: '`true`',
      meaning: 'run the webhook dispatcher in the webhooks subgraph (every replica may: they share the work)',
    }),
    /** Loopback and plain-http receivers (destination.ts): explicit only, never implied by NODE_ENV. */
    allowLocalDestinations: boolean('WEBHOOK_ALLOW_LOCAL_DESTINATIONS', false, {
      default: '`false` (`npm start` sets `true`)',
      meaning:
        'webhooks subgraph: let endpoints use `http://` and loopback addresses (127.0.0.0/8, ::1, localhost), for receivers on this machine; private, link-local and metadata addresses stay refused. Whatever `NODE_ENV` says',
    }),
    dispatcher: dispatcherSettingsConfig,
  })
  .superRefine(subgraphRequirements('webhooks'), evenWithRefusedValues)
  .superRefine((config, ctx) => {
    if (config.production && config.secretKey === null) {
      ctx.addIssue({
        code: 'custom',
        message:
          'WEBHOOK_SECRET_KEY must be set with NODE_ENV=production: the development key would seal real endpoint secrets',
        input: config,
      });
    }
  }, evenWithRefusedValues);

export type WebhooksConfig = z.output<typeof webhooksConfig>;

/** The dispatcher's settings with the contract's defaults, for tests that override a few. */
export const dispatcherSettingsDefault: DispatcherSettings = readConfig(dispatcherSettingsConfig, {});

export function developmentWebhookSecretKey(): string {
  return developmentSecretKey;
}
