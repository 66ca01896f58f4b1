import { Counter, Gauge, Histogram } from 'prom-client';
import { processRegistry } from '@paygraph/shared/metrics';

/** The dispatcher's metrics, on the process's registry (served at /metrics). Labels are fixed sets. */
export const deliveryAttempts = new Counter({
  name: 'paygraph_webhook_attempts_total',
  help: 'Webhook delivery attempts by outcome: succeeded (2xx), retrying (another answer or none), failed (retry window over), gone (410: endpoint disabled), refused (destination not allowed).',
  labelNames: ['outcome'] as const,
  registers: [processRegistry],
});

export type AttemptLabel = 'succeeded' | 'retrying' | 'failed' | 'gone' | 'refused';

export const webhookQueueDepth = new Gauge({
  name: 'paygraph_webhook_queue_depth',
  help: 'Pending webhook deliveries on a shard, as the dispatcher last counted them (capped at queueDepthCountMax).',
  labelNames: ['shard'] as const,
  registers: [processRegistry],
});

export const webhookOldestPendingSeconds = new Gauge({
  name: 'paygraph_webhook_oldest_pending_seconds',
  help: 'Age of the oldest event with a pending delivery on a shard; 0 when none is pending.',
  labelNames: ['shard'] as const,
  registers: [processRegistry],
});

export const webhookAttemptSeconds = new Histogram({
  name: 'paygraph_webhook_attempt_seconds',
  help: 'How long a webhook attempt took, from request to answer (or failure).',
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [processRegistry],
});

export const webhookCommitToDeliverySeconds = new Histogram({
  name: 'paygraph_webhook_commit_to_delivery_seconds',
  help: 'From the commit of the change an event reports to its first 2xx.',
  buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
  registers: [processRegistry],
});
