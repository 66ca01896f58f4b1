import { assert } from '@paygraph/shared/result';

/**
 * The webhooks subgraph's limits, named with their units and qualifiers last. Those a deployment
 * may tune are variables of config.ts, whose defaults come from here. Their relations are
 * asserted below each group, when the module loads.
 */

/** Accounts one endpoint may name; more is a list of everything, which omitting accountIds says. */
export const endpointAccountIdsMax = 100;
/** ENABLED endpoints one owner may have (a disabled one frees its place: its replacement may be registered). */
export const endpointsPerOwnerMax = 50;
/**
 * Endpoint rows one owner may have, DISABLED ones counted: disabling is final and rows are kept
 * (their deliveries stay listable), so without this a create → disable loop would grow the
 * owner's rows, their streams and every dispatcher refresh without bound.
 */
export const endpointsPerOwnerRowsMax = 4 * endpointsPerOwnerMax;
export const endpointUrlCharsMax = 2048;
export const endpointDescriptionCharsMax = 500;
assert(endpointsPerOwnerRowsMax >= endpointsPerOwnerMax, "an owner's rows hold at least its enabled endpoints");

/** How deep a failed attempt's `cause` chain is read for its class names and codes (attempt-error.ts). */
export const errorCauseDepthMax = 4;
/** What a receiver's answer may hold: read up to this, then the connection is dropped. */
export const responseBytesMax = 4096;
/** An event body never exceeds this (they are a few hundred bytes); a bigger one is a bug. */
export const eventBodyBytesMax = 16_384;

/** Per attempt: the contract's 10 s for an answer (headers and body together). */
export const attemptTimeoutMsDefault = 10_000;
/** The first retry comes within this (the jitter draws below it). */
export const retryFirstDelayMsDefault = 5_000;
export const retryFirstDelayMsMax = 10_000;
/** Each retry waits twice the previous one, up to this. */
export const retryDelayMsMaxDefault = 3_600_000;
/** A delivery is retried until this long after its first attempt, then FAILED: a day and an hour. */
export const retryWindowMsDefault = 25 * 3_600_000;
assert(
  retryFirstDelayMsDefault <= retryFirstDelayMsMax && retryFirstDelayMsMax <= retryDelayMsMaxDefault,
  'the first retry comes within its ceiling, and that within the longest wait',
);
assert(retryDelayMsMaxDefault < retryWindowMsDefault, 'a delivery is retried more than once in its window');
/** An endpoint whose every attempt failed for this long is disabled. */
export const endpointFailingDisableMsDefault = 24 * 3_600_000;
/** WEBHOOK_SECRET_KEY's shortest accepted length. */
export const secretKeyCharsMin = 32;
/** The new secret and the old one both sign for this long after a rotation. */
export const secretRotationOverlapMs = 24 * 3_600_000;

/** How often the dispatcher looks for new entries and due deliveries on each shard. */
export const dispatchIntervalMsDefault = 100;
/**
 * With Redis, ledger hints (and the dispatcher's own hand-backs) wake a shard's pass at once, and
 * this slower poll only covers what no hint announces: a lost hint, a retry coming due, a
 * redelivery asked of another replica. Each pass costs a statement per shard even when idle.
 */
export const dispatchSafetyIntervalMsDefault = 1_000;
/**
 * How often the dispatcher looks for accounts its endpoints should follow and do not yet (an
 * account or stripe opened after the registration; three statements per shard). A new endpoint
 * seen by a refresh is looked for at once. The first events of an account opened later wait for
 * this at most, none lost: its stream starts at its first entry.
 */
export const accountDiscoveryIntervalMsDefault = 5_000;
/** How often the queue-depth and oldest-pending metrics are read (a count per shard): a scrape's resolution. */
export const queueMetricsIntervalMsDefault = 5_000;
/** How often the dispatcher reads the endpoints (status, URL, secrets) and looks for new accounts to follow. */
export const endpointRefreshIntervalMsDefault = 1_000;
/** Streams whose new entries one materialisation pass turns into deliveries, per shard. */
export const materializeStreamsMax = 100;
/** Entries per stream per pass. */
export const materializeEntriesPerStreamMax = 100;
/** Streams one dispatcher claims per shard per pass. */
export const claimStreamsMax = 50;
/** Deliveries sent for one claimed stream before it is handed back (others of the endpoint get their turn). */
export const deliveriesPerClaimMax = 50;
/** A claimed stream is the claimer's for this long; a crashed dispatcher's streams return after it. */
export const streamLeaseMs = 30_000;
// The lease is extended once less than two attempts' time is left (dispatcher.ts): it must outlast that much.
assert(streamLeaseMs > 2 * attemptTimeoutMsDefault, "a stream's lease must outlast two attempts");
/**
 * Handing a stream back is tried this often, this far apart (growing: about 11 s in all, longer
 * than a shard's breaker stays open once the shard answers again), before its lease is left to end.
 */
export const releaseAttemptsMax = 10;
/** Deliveries per claimed stream the claim's batched read allows for; a stream with more reads its own. */
export const pendingReadPerStream = 4;
/** Streams handed back in one transaction at most. */
export const handBackBatchMax = 100;
export const releaseRetryDelayMs = 200;
assert(deliveriesPerClaimMax >= pendingReadPerStream, 'a claim sends at least what its batched read allows for');
/** Requests in flight to one endpoint from one dispatcher: a slow endpoint holds at most these. */
export const endpointConcurrencyMax = 4;
/** Requests in flight from one dispatcher in all. */
export const dispatcherConcurrencyMax = 64;
/**
 * Owners share the dispatcher's slots: with n owners holding slots, each may hold
 * ceil(dispatcherConcurrencyMax / (n + ownerSharesHeldFree)), so this many shares stay free for
 * an owner whose work arrives next — one tenant's many slow receivers cannot take every slot.
 */
export const ownerSharesHeldFree = 1;
/**
 * Busy endpoints a pass names in its statements' NOT IN (domain/busy-endpoints.ts): with many
 * owners at their share that could be thousands per statement; past this, streams of busy
 * endpoints may be claimed and are handed back at once.
 */
export const busyEndpointsListedMax = 500;
/**
 * Receivers' names (safe-agent.ts): each A or AAAA query is given up after dnsTimeoutMs (c-ares
 * tries dnsTriesMax times within it); an answer is kept for its TTL, at least dnsTtlMsMin and at
 * most dnsTtlMsMax; a failure for dnsFailureTtlMs (a hostile name that never answers costs one
 * timeout per this, not one per attempt); dnsCacheEntriesMax names at most.
 */
export const dnsTimeoutMs = 2_000;
export const dnsTriesMax = 2;
export const dnsTtlMsMin = 1_000;
export const dnsTtlMsMax = 300_000;
export const dnsFailureTtlMs = 5_000;
export const dnsCacheEntriesMax = 10_000;
assert(dnsTtlMsMin <= dnsTtlMsMax, "a name's TTL bounds must be in order");
assert(dnsTimeoutMs < attemptTimeoutMsDefault, "a receiver's name must resolve within an attempt");
/**
 * Signers (opened secrets) the dispatcher keeps (endpoint-directory.ts): one per endpoint known
 * at the last refresh, others forgotten then; this bounds the cache whatever the table holds.
 */
export const signerCacheEntriesMax = 10_000;
/**
 * Finished deliveries (SUCCEEDED, FAILED) are kept this long after their event, then purged:
 * the deliveries list and a redelivery reach back this far. Thirty days, as partners' dashboards
 * (Stripe's events) keep them.
 */
export const deliveryRetentionMsDefault = 30 * 24 * 3_600_000;
/**
 * How often the purge runs on each shard, and the erasure of rotated-out secrets past their overlap
 * (db/endpoints.ts forgetExpiredSecrets): a sealed old secret leaves its row within this long of its end.
 */
export const deliveryPurgeIntervalMsDefault = 60_000;
/** Deliveries one purge statement deletes, and statements per shard per purge pass. */
export const deliveryPurgeBatchMax = 1_000;
export const deliveryPurgeBatchesPerPassMax = 20;
/**
 * A disabled endpoint's queues are closed again at each endpoint refresh for this long after it
 * was disabled: an attempt in flight then (at most attemptTimeoutMs, its hand-back retried for
 * about 11 s) may still write a retry, which the next closing turns FAILED.
 */
export const disabledSweepMs = 60_000;
/** How long a hand-back is retried in all: releaseRetryDelayMs × (1 + 2 + … + releaseAttemptsMax − 1). */
const releaseRetriesMs = (releaseRetryDelayMs * (releaseAttemptsMax - 1) * releaseAttemptsMax) / 2;
assert(
  disabledSweepMs > attemptTimeoutMsDefault + releaseRetriesMs,
  "a disabled endpoint's queues are closed again until an attempt in flight then has been handed back",
);
/**
 * How far back each scan for failed refunds reaches before its cursor (record-events.ts): a
 * refund's transaction may commit after the instant it wrote as its end, by at most a lock wait
 * or a slow commit; two minutes is well beyond both.
 */
export const recordLookbackMs = 120_000;
/** Failed refunds read per statement, and statements per shard per scan. */
export const recordScanPageMax = 500;
export const recordScanPagesMax = 20;
/** The queue-depth metric counts at most this many deliveries per shard. */
export const queueDepthCountMax = 100_000;
/** Delivery pages. */
export const deliveriesPageMax = 100;

/**
 * The most accounts of a link's owner read to place its external_account.verified (the owner's
 * accounts, from the owner directory): each endpoint gets it on the first of them it follows.
 */
export const linkOwnerAccountsReadMax = 1_000;
