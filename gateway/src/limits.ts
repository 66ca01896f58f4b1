import { internalTokenLifetimeSeconds } from '@paygraph/shared/limits';
import { assert } from '@paygraph/shared/result';

/**
 * The gateway's own limits, each a named constant with its unit last. The operation limits
 * are checked before any subgraph is called; the budgets marked "configurable" have an
 * environment variable (read in config.ts), the rest are decisions worth a review.
 */

/** Bytes of GraphQL document text a request may carry (variables are not counted). */
export const documentBytesMax = 32_768;
/**
 * Lexical tokens a document may hold (comments are not counted). Validation does work that
 * grows faster than the document, so this bounds what one request can cost before it is refused.
 */
export const documentTokensMax = 2_000;
/** Nested fields below the root of an operation; the contract's deepest (GetAccount) is 5. */
export const operationDepthMax = 12;
/**
 * Nested fields below __schema or __type. Introspection is answered by the gateway itself and is
 * off in production; the standard introspection query (GraphiQL, Explorer) is 15 deep.
 */
export const introspectionDepthMax = 20;
/** Aliased fields in an operation, counted once per place a fragment is spread. */
export const operationAliasesMax = 30;
/**
 * The estimated number of fields an operation resolves: each list multiplies what is below it by
 * its `first` argument, or by listItemsDefault. GetAccount (100 entries) is estimated at about 900.
 */
export const operationCostMax = 20_000;
/** Items a list field without `first` (or a list argument to count) is assumed to return. */
export const listItemsDefault = 10;

/**
 * Rate limits per principal (role and subject) over a sliding window. Money mutations and
 * everything else have separate budgets; createPayments weighs one unit per input.
 */
export const rateLimitWindowMs = 60_000;
/** Rate limits per principal (role and subject) over the window; the gateway's schema (config.ts) reads them. */
/**
 * Money-mutation units per window for customers, merchants, partners and channels (configurable:
 * RATE_LIMIT_MONEY_PER_MINUTE).
 */
export const rateLimitMoneyPerMinuteDefault = 6_000;
/**
 * Other operations per window for customers, merchants, partners and channels (configurable:
 * RATE_LIMIT_READS_PER_MINUTE).
 */
export const rateLimitReadsPerMinuteDefault = 60_000;
/**
 * Operators run back-office batches (bulk payouts, the benchmark's 1,000-payment requests), so
 * their budgets are far higher; they still bound what a stolen operator token can do
 * (configurable: RATE_LIMIT_OPERATOR_MONEY_PER_MINUTE, RATE_LIMIT_OPERATOR_READS_PER_MINUTE).
 */
export const rateLimitOperatorMoneyPerMinuteDefault = 1_200_000;
export const rateLimitOperatorReadsPerMinuteDefault = 1_200_000;
/** Budget counters the in-memory limiter keeps; past it the least recently used are forgotten. */
export const rateLimitCountersMax = 100_000;
/**
 * Requests refused before they have a principal (no token; a bad, expired or unknown-role one; a body or document
 * refused) that one client address may send, or have in flight, per refusal window (configurable:
 * RATE_LIMIT_REFUSALS_PER_ADDRESS, 0 for off; RATE_LIMIT_REFUSAL_WINDOW_MS); past it the address's requests are
 * answered 429 before their body is read, but for tokens verified already (security/refusal-throttle.ts). Ten a second:
 * a client whose token expired retries far less, a flood far more; users sharing the address with a flood keep being
 * served with their verified tokens (docs/SECURITY.md, "Refusals per address").
 */
export const refusalsPerAddressMaxDefault = 600;
export const refusalWindowMsDefault = 60_000;
/**
 * Addresses whose refusals one gateway process counts; past it the least recently refused are forgotten, so a sender
 * rotating addresses costs at most this many counters (about 100 bytes each) and regains its budget once forgotten.
 */
export const refusalAddressCountersMax = 100_000;
/** Principals longer than this are hashed before they become a Redis key. */
export const rateLimitKeyCharsMax = 200;
/**
 * How long a rate-limit decision may wait for Redis before the in-memory limiter decides
 * instead; it also bounds the commands waiting on the connection (requests × this long).
 */
export const redisCommandTimeoutMs = 250;

/** Audit rows written to the control shard in one INSERT, and the pause between writes. */
export const auditBatchRowsMax = 500;
export const auditFlushIntervalMs = 200;
/** Audit rows waiting for the database at most; past it new rows are dropped (and counted). */
export const auditQueueRowsMax = 100_000;
assert(auditBatchRowsMax <= auditQueueRowsMax, 'an audit INSERT takes at most the queue');
/**
 * Money actions an audit record lists (a row each) for a request refused before it ran (no token, a document not
 * trusted, a rate or operation limit): it moved nothing, and one such request could otherwise name tens of thousands
 * (createPayments' inputs under aliases, no budget taken) and crowd others' rows out of the bounded queue. The rest are
 * counted in the record (moneyUnlisted).
 */
export const auditUnexecutedMoneyActionsMax = 10;
/** Connections the gateway keeps to the control shard for audit rows. */
export const auditPoolConnectionsMax = 2;
/** How long stopping the gateway waits for the last audit rows to be written. */
export const auditCloseTimeoutMs = 5_000;
/** Bytes the audit log stream may hold unwritten; past it lines are dropped (and counted). */
export const auditLogBufferBytesMax = 16_777_216;
/**
 * Bytes of audit lines the log stream gathers before it writes them (every auditFlushIntervalMs at the latest): one
 * write per line was 4% of the gateway's CPU on payments (docs/PERFORMANCE.md). Below sonic-boom's write size, 16 KiB.
 */
export const auditLogWriteBytesMin = 8_192;
/** Characters kept of free text (description, reason, externalRef, user agent) in an audit record. */
export const auditTextCharsMax = 256;

/**
 * The most subgraph calls one plan may make: each fetch selects at least one field of the
 * document, and a document has at most documentTokensMax tokens (the HTTP screen and the
 * operation limits refuse larger ones before planning).
 */
export const planFetchesMax = documentTokensMax;

/** Distinct operation names the metrics count by (metrics.ts); past it an operation counts as "other". */
export const metricsOperationNamesMax = 200;

/**
 * Subscriptions (subscriptions/): each principal's and socket's, the events held per page, and
 * when a slow reader or the account subgraph's stream is given up on.
 */
/** Subscriptions one gateway process accepts per WebSocket connection and per principal (role and subject). */
export const subscriptionsPerConnectionMax = 20;
export const subscriptionsPerPrincipalMax = 100;
/** Events the gateway reads per page for a subscription: the most it ever holds for one. */
export const subscriptionPageEventsMax = 50;
/** A subscriber whose socket takes no event for this long is ended (SLOW_CONSUMER) and resumes from its cursor. */
export const subscriptionConsumerStallMsMax = 10_000;
/** Bytes queued in a socket's own buffer past which its subscriptions end (SLOW_CONSUMER). */
export const subscriptionSocketBufferBytesMax = 1_048_576;
assert(
  subscriptionsPerConnectionMax <= subscriptionsPerPrincipalMax,
  "a socket's subscriptions are its principal's too",
);
/** The gateway's stream from the account subgraph: reconnects after it went away, and the pause before each. */
export const upstreamReconnectAttemptsMax = 20;
export const upstreamReconnectDelayMs = 250;

/** The gateway signs a new identity token once the one it holds for a request or socket has less than this left. */
export const internalTokenRenewBeforeExpirySeconds = 30;
/** Identity tokens the gateway keeps signed per subgraph, shared by requests of the same caller. */
export const signedIdentityTokensMax = 10_000;
// A token renewed this long before its expiry must have been good for longer than that.
assert(
  internalTokenRenewBeforeExpirySeconds < internalTokenLifetimeSeconds,
  'an identity token must be renewed before, not after, its lifetime ends',
);

/** Keep-alive connections the gateway holds to each subgraph. */
export const subgraphConnectionsMax = 64;
/**
 * How long the gateway waits for a TCP connection to a subgraph (undici's own default is 10 s): a host that drops
 * packets (powered off, partitioned) is then answered SUBGRAPH_UNAVAILABLE well within subgraphRequestTimeoutMs.
 */
export const subgraphConnectTimeoutMs = 2_000;
/**
 * How long one call to a subgraph may take (undici's headers and body timeouts) before the
 * gateway answers SUBGRAPH_UNAVAILABLE, retryable: well under a client's usual 10 s. A healthy
 * subgraph answers sooner even when it must give up: an unreachable shard answers
 * SHARD_UNAVAILABLE within the contract's 3 s (a dead link is found within
 * shardStatementProbeAfterMs + shardProbeTimeoutMs), and a row lock held elsewhere LOCK_TIMEOUT
 * within lockWaitSeconds plus a merged batch's lone retry (lockRetryWaitSeconds), 3 s. Both
 * rules are checked when the gateway starts (invariants.ts: assertTimingRules).
 */
export const subgraphRequestTimeoutMs = 5_000;
assert(subgraphConnectTimeoutMs < subgraphRequestTimeoutMs, 'a connection is made within the time of a call');
/**
 * The mutations that do a file's worth of work in one call, and how long the gateway waits for the subgraph's answer to
 * each instead of subgraphRequestTimeoutMs (plugins.ts slowOperations). importBankStatement reads, checks and writes a
 * whole bank file, up to 100 MiB once uploaded: an MT940 of 250,000 entries committed in 7.4 s (npm run
 * bench:statements), and the client was told SUBGRAPH_UNAVAILABLE at 5 s while it went on.
 */
export const statementImportTimeoutMs = 120_000;
/**
 * createPayments posts up to bulkPaymentsMax (1,000) payments in one call: about 0.3 s on a quiet machine (c-bulk-1000,
 * docs/PERFORMANCE.md), but over 5 s at a load of 6, when the client was told SUBGRAPH_UNAVAILABLE while its payments
 * went on (a retry with the same keys answers them, but the caller cannot tell in time).
 */
export const bulkPaymentsTimeoutMs = 30_000;
/**
 * channelReconciliation (a query) matches a channel's day, up to statementLinesMax (10,000) lines a statement, and
 * stores its report, in one call: a statement at the size limit, one exception per line, took over 5 s on a 2-core
 * machine during a full `npm test` (2026-11-26), when the operator was told SUBGRAPH_UNAVAILABLE while it went on.
 */
export const reconciliationTimeoutMs = 60_000;
/** The root fields that do a file's worth of work in one call, and how long the gateway waits for each. */
export const slowFieldTimeoutsMs: Readonly<Record<string, number>> = {
  importBankStatement: statementImportTimeoutMs,
  createPayments: bulkPaymentsTimeoutMs,
  channelReconciliation: reconciliationTimeoutMs,
};

/**
 * Operations whose route (forwarded to one subgraph, or planned) the gateway remembers, by
 * document hash and operation name: clients send a small set of documents (the contract's).
 */
export const passThroughPlansMax = 1_000;

/**
 * Documents sent as text outside the trusted manifests (by callers in `off` or `log` mode) whose security analysis
 * (fragments, root fields, the measure against the operation limits) the gateway keeps, least recently used dropped
 * first; a trusted document's is kept beside its manifest entry (security/document-analysis.ts).
 */
export const documentAnalysesMax = 1_000;

/**
 * Trusted documents all manifests together may hold, and the bytes one manifest file may have:
 * an app ships tens to hundreds of operations, so these bound a runaway file, not a real one.
 */
export const trustedDocumentsMax = 20_000;
export const trustedManifestBytesMax = 16_777_216;
/**
 * How often the gateway re-reads its manifests by default (configurable: TRUSTED_DOCUMENTS_RELOAD_MS); SIGHUP re-reads
 * at once.
 */
export const trustedManifestReloadMsDefault = 30_000;
/**
 * Distinct unknown documents a gateway in log mode writes a line for; past it one line says the
 * rest go unlogged (a client sending a fresh document each time must not flood the log).
 */
export const untrustedDocumentsLoggedMax = 1_000;
/**
 * Distinct client names (apollographql-client-name, or a trusted document's manifest) the
 * metrics and audit lines carry; past it a client counts as "other" (header values come from
 * anyone, and each would be a new time series).
 */
export const clientNamesMax = 50;
/** Characters kept of a client's name or version. */
export const clientLabelCharsMax = 64;

/**
 * Automatic persisted queries (Apollo's APQ: a client registers a document's text under its hash
 * once, then sends the hash) kept in Redis when REDIS_URL is set, shared by every gateway replica:
 * at most this many documents, each kept this long after its last registration; the oldest go
 * first. A client whose document has gone sends its text again (the APQ protocol's
 * PERSISTED_QUERY_NOT_FOUND), so either bound only costs a round trip.
 */
export const persistedQueriesMax = 10_000;
export const persistedQueryTtlSeconds = 86_400;

/**
 * Bytes of the settlement subgraph's answer to an upload the gateway relays (statement-uploads.ts): a JSON object of a
 * few hundred bytes; anything past this is dropped.
 */
export const uploadAnswerBytesMax = 4_096;
/**
 * How long an upload may go without a byte either way between the gateway and the settlement subgraph (statement-
 * uploads.ts) before it is cut and answered 503 SUBGRAPH_UNAVAILABLE, retryable: without it a hung settlement process
 * held the client and the gateway's socket for ever once the body had all arrived (Node's requestTimeout stops
 * counting then). The subgraph stores the body as it arrives, one uploadChunkBytesMax (1 MiB) piece at a time, each
 * statement bounded by shardStatementTimeoutMs (4 s), so it is silent only while it writes a piece and, after the last
 * byte, while it writes what the sockets' buffers still hold (a few MiB) and completes the upload: 100 MiB were stored
 * in 1.4 s (npm run bench:statements), so a healthy subgraph is silent for well under a second, a few seconds when a
 * piece waits for a lock; 30 s leaves room for several such pieces on a loaded machine. A sender silent this long
 * mid-body is cut too, with the same retryable answer: it holds one of settlement's uploadsInFlightMax (4).
 */
export const uploadSubgraphIdleTimeoutMs = 30_000;

/**
 * The express lane's parsed and routed documents (pass-through/express-lane.ts): manifest entries only, by operation
 * name, so a caller cannot fill it; clients send a small set.
 */
export const expressDocumentsMax = 2_000;
/**
 * Copies of the subgraphs' kept answers the express lane holds (pass-through/rendered-copies.ts), per reader (one
 * tenant) and in all, as the account subgraph bounds the answers it keeps (its limits.ts renderedAnswers*).
 */
export const renderedCopiesPerReaderMax = 256;
export const renderedCopiesBytesPerReaderMax = 16 * 1024 * 1024;
export const renderedCopiesBytesMax = 64 * 1024 * 1024;
export const renderedCopyBytesMax = 1024 * 1024;
/** Distinct accept headers whose content type the express lane keeps: clients send one or two. */
export const expressAcceptValuesMax = 64;
