import { assert } from './result';

/**
 * The limits every process shares (the shared library's, and those two parts must agree on),
 * each a named constant with its units and qualifiers last; each part's own are in its
 * limits.ts (gateway/src/limits.ts, subgraphs/<name>/src/limits.ts). Changing one is a decision
 * worth a review, so none is configurable at run time unless a comment says so. Their relations
 * are asserted below each group, when the module loads (TIGER_STYLE).
 */

/** Logical shards ids are routed by; physical databases are a map over these. */
export const logicalShardCount = 64;

/**
 * MySQL's signed BIGINT, the type of every balance bucket, balance_after and amount column. The
 * posting rules refuse (BALANCE_LIMIT) any posting that would take a bucket or an account's
 * total past it, so the database never rounds, clips or errs on a balance.
 */
export const balanceMinorUnitsMax = 2n ** 63n - 1n;
export const balanceMinorUnitsMin = -(2n ** 63n);
/** An Amount's text: a sign and BIGINT's 19 digits fit with room; longer is refused before it is parsed. */
export const amountCharsMax = 25;
assert(balanceMinorUnitsMin === -balanceMinorUnitsMax - 1n, 'a balance bucket is a signed BIGINT');

/**
 * The largest amount one money operation may move (configurable: AMOUNT_MAX, validated at
 * start-up). 10^15 minor units is ten trillion in a two-decimal currency (about 6.7 trillion
 * USD in yen), far above any real single movement; it is below 2^53, so a client that reads
 * an Amount into a double still gets it exactly; and 9,223 maximal deposits would be needed
 * before any account (the reserve first) could reach the BIGINT bound.
 */
export const amountMinorUnitsMaxDefault = 10n ** 15n;
assert(
  amountMinorUnitsMaxDefault < 2n ** 53n && amountMinorUnitsMaxDefault <= balanceMinorUnitsMax,
  "the default largest amount must be exact in a client's double and fit a balance",
);

/**

/** Page sizes for connections (entries, accounts, payments). */
export const pageSizeDefault = 20;
export const pageSizeMax = 100;
assert(pageSizeDefault <= pageSizeMax, 'the default page must be one a client may ask for');

/** The largest number of ids one DataLoader batch sends to one shard in one query. */
export const loaderBatchSizeMax = 500;
/** Statements of one coalescer out at once per shard; calls made meanwhile wait and go out together. */
export const coalescerInFlightPerShardMax = 1;
/**
 * Calls one coalescer holds waiting per shard (shards/coalescer.ts): twenty statements' worth, far
 * above a busy process's turn (a bulk request of 1,000 payments makes 1,000 claims). Past it a call
 * is refused at once, SHARD_UNAVAILABLE (retryable, nothing sent), instead of a stalled shard
 * collecting callers without bound.
 */
export const coalescerWaitingPerShardMax = 20 * loaderBatchSizeMax;
/** Rows one multi-row INSERT carries at most: keeps each statement well under max_allowed_packet. */
export const rawInsertRowsMax = 500;
/**
 * Instants whose DATETIME text db/raw.ts keeps (a batch's rows share a few: its clock); past it
 * the kept texts are dropped at once and made again as rows need them.
 */
export const datetimeTextsMax = 256;
/** Accounts read per page while verifying a shard. */
export const verifyAccountPageSize = 500;

/**
 * Requests one shard's pool holds waiting for a connection (shards/shard-pool.ts), counted until
 * mysql2's queue hands each one a connection or fails it (a caller that gave up after
 * shardAcquireTimeoutMs stays in that queue until then). Past it getConnection answers
 * SHARD_UNAVAILABLE (retryable) at once, not counted against the shard by the breaker: a stalled
 * pool cannot collect callers without bound. Ten times the benchmark's 1,000 clients.
 */
export const shardAcquireWaitersMax = 10_000;
/** Scripts (migrate, verify) and tools that open shards without a size of their own. */
export const shardPoolSizeDefault = 10;
/** The largest MYSQL_POOL_SIZE accepted: more than this per shard per process is a typo, not a plan. */
export const shardPoolSizeMax = 100;
/** Nodes one shard may list: more than this is a typo, not a cluster (Galera clusters run 3 to 9). */
export const shardNodesMax = 9;
/** MariaDB's and MySQL's default max_connections, which the default pool sizes are budgeted against. */
export const mysqlMaxConnectionsDefault = 151;
assert(shardPoolSizeDefault <= shardPoolSizeMax, 'the default pool size must be one MYSQL_POOL_SIZE accepts');

/**
 * How long a statement waits for a row lock before MariaDB gives up (error 1205), answered
 * LOCK_TIMEOUT (retryable). With a merged batch's lone retry (lockRetryWaitSeconds) a lock-bound
 * request answers within about 3 s, well under the gateway's subgraphRequestTimeoutMs (5 s), so
 * the client learns LOCK_TIMEOUT and not that the service did not answer (the gateway checks
 * this rule when it starts: gateway/src/invariants.ts).
 */
export const lockWaitSeconds = 2;
/**
 * When a merged batch gave up on a lock, each of its postings is tried again alone with this
 * shorter wait: the batch has waited lockWaitSeconds already, and the one whose row is held
 * should not wait that long twice.
 */
export const lockRetryWaitSeconds = 1;
assert(lockRetryWaitSeconds < lockWaitSeconds, "a merged batch's lone retry waits less than the batch did");

/** Deadlocks (1213) and serialization conflicts are retried this many times, with jitter. */
export const deadlockRetryCountMax = 5;
export const deadlockRetryBaseMs = 5;
export const deadlockRetryCapMs = 200;
assert(deadlockRetryBaseMs <= deadlockRetryCapMs, 'the first deadlock retry waits no longer than the cap');

/**
 * Bounded waits on a shard (shards/shard-pool.ts): a shard that cannot be reached answers
 * SHARD_UNAVAILABLE within a few seconds instead of holding the request until it comes back.
 */
/**
 * How long opening a pooled connection (TCP and MySQL's handshake) may take by the wall clock:
 * mysql2's connectTimeout, a plain timer, which counts the process's own stalls too (Node runs
 * expired timers before it polls I/O). At 2 s, a test process that stalled about 2 s starting
 * subgraph servers found its connections to three healthy shards "timed out" in the same
 * millisecond and opened their breakers; 1 s timed out under a burst of 1000 payments. A dead
 * link is found sooner and without that error: an acquire is watched like a statement, and its
 * probe counts only the process's listening time (shardStatementProbeAfterMs, then
 * shardProbeTimeoutMs by loop-deadline.ts), then opens the breaker.
 */
export const shardConnectTimeoutMs = 10_000;
/**
 * How long a request waits for a free connection of the pool, one being opened included (a dead
 * link's probe fails it sooner). Not counted by the breaker: the shard may answer, the process is behind.
 */
export const shardAcquireTimeoutMs = 3_000;
/**
 * The client-side bound on one statement; the connection is then dropped. It must exceed
 * lockWaitSeconds, since a statement waiting for a row lock is slow but healthy: the lock wait
 * answers LOCK_TIMEOUT first. A statement on a dead link is caught sooner by the probe below.
 */
export const shardStatementTimeoutMs = (lockWaitSeconds + 2) * 1_000;
/**
 * The server's own bound on a statement of ours (MariaDB's max_statement_time, MySQL's
 * max_execution_time), a second past the client's: a client that gives up closes its
 * connection, but the server goes on running a statement until it next writes to the socket,
 * and a grouped read does not write until it ends. A reconciliation read once ran for over
 * 2,000 s that way, at a third of a core, holding a metadata lock that stopped the next test
 * run's DROP DATABASE. The client's bound stays the first to fire, so callers see one error.
 */
export const shardServerStatementTimeoutMs = serverStatementTimeoutMsOf(shardStatementTimeoutMs);
/** The server's bound for a client's bound of `clientMs` (a pool opened with a longer one: pool.ts). */
export function serverStatementTimeoutMsOf(clientMs: number): number {
  return clientMs + 1_000;
}
// A lock wait answers LOCK_TIMEOUT before the client gives up on the statement, and the client before the server.
assert(
  shardStatementTimeoutMs > lockWaitSeconds * 1_000,
  'a statement waiting for a row lock must outlast the lock wait',
);
assert(
  shardServerStatementTimeoutMs > shardStatementTimeoutMs,
  "the client's statement bound must fire before the server's",
);
/**
 * A statement (or an acquire) still unanswered after this long, and again each time this long
 * passes, makes the pool probe its shard on a fresh connection; when the probe fails, the shard's
 * breaker opens and every statement waiting on it fails at once (SHARD_UNAVAILABLE) instead of
 * at shardStatementTimeoutMs. Short, since suspecting costs little: a healthy local statement
 * answers in under a millisecond, and a slow one costs a probe (one at a time per shard and
 * process), never a failure, which only a probe unanswered for shardProbeTimeoutMs causes. At
 * 750 ms, requests in flight when the link went dark answered after 3.1-4.6 s on the loaded
 * test machine (the fault test): a response that reads the shard again in another subgraph
 * (withdraw's account balance) waits out a second probe there.
 */
export const shardStatementProbeAfterMs = 250;
/**
 * How long a probe (a fresh connection and SELECT 1) may take in all. A failed probe opens the
 * breaker, so it is generous for a loaded healthy server: 60 probes of the local server on the
 * two-core test machine at load average 17 took 12 ms at the median, 58 ms at p90, 110 ms at
 * most. (The 1 s connects that timed out were a pool opening many at once under a burst, see
 * shardConnectTimeoutMs; a probe is one connection, bounded by the process's listening time.)
 * With shardStatementProbeAfterMs a dead link is found within 1.25 s, which leaves the
 * contract's 3 s room for a request that was already running when the link died, or that reads
 * the shard again in a second subgraph. At 1.5 s, such requests answered after up to 3.8 s in
 * the fault test.
 */
export const shardProbeTimeoutMs = 1_000;
/**
 * shardProbeTimeoutMs counts only time the process was free to read the answer (shards/
 * loop-deadline.ts); this bounds the probe by the wall clock too, however busy the process.
 */
export const shardProbeWallTimeoutMs = 5 * shardProbeTimeoutMs;
assert(
  shardProbeWallTimeoutMs >= shardProbeTimeoutMs,
  "a probe's wall-clock bound must not cut its listening time short",
);
/** How often a loop deadline looks at the clock. */
export const loopDeadlineTickMs = 50;
/** The most one tick counts, however late it ran: a late tick is time the process could not listen. */
export const loopDeadlineTickCountedMsMax = 2 * loopDeadlineTickMs;
/** How deep the `cause` chain is followed: drizzle wraps the driver's error in its own. */
export const driverErrorCauseDepthMax = 5;
assert(loopDeadlineTickCountedMsMax >= loopDeadlineTickMs, 'a tick on time must count whole');
/** How long closing a pool waits for its connections to say goodbye (a blackholed one never does). */
export const shardCloseTimeoutMs = 1_000;
/**
 * How long the start-up check (shards/galera.ts) waits for each node of a shard of several nodes
 * before leaving it out as down for now.
 */
export const shardNodeCheckTimeoutMs = 2_000;
/**
 * How many times the start-up check asks a node that did not answer: a node left out wrongly
 * sends the process to another node than its fleet's (a process started under load, load
 * average 12–18, chose node 0 while the fleet wrote to node 1, whose answer was late).
 */
export const shardNodeCheckAttempts = 2;
/**
 * How long a failover waits for the new primary to apply every write committed before it (a
 * causal read, shard-pool.ts): the survivors of a killed node commit again only once they agree
 * it is gone (1.6 s in the local cluster's settings). The breaker stays open meanwhile and tries
 * again after this.
 */
export const shardFailoverBarrierTimeoutMs = 3_000;
/**
 * How soon a shard of several nodes tries to fail over again when no node would do yet (the
 * survivors not ready while they agree on a new view): sooner than a single server's probe
 * interval, since a failover usually waits only for that agreement.
 */
export const shardFailoverRetryMs = 200;
/**
 * How long a posting transaction whose COMMIT answer was lost waits for its shard to answer again
 * (on the same node, or on the node the pool failed over to) before reading whether it committed
 * (posting-transaction.ts). Failover takes about a second (1.0–1.2 s per kill in the Galera
 * test); the contract's answer for a shard that cannot be reached comes within 3 s
 * (shard-fault.isolated.test.ts's answerWithinMs), and 3_000 here made a reset mid-COMMIT answer
 * after 3.1 s, so the wait leaves a second for the rest of the request.
 */
export const commitOutcomeWaitMs = 2_000;
/**
 * How long a shard of a Galera cluster may stop taking writes after one of its nodes dies: its
 * pool on the next node within 3 s (issue 26), the contract's bound for a shard that cannot be
 * reached. A cluster whose group timings make a failover slower is named at start-up and in
 * /health/ready (shards/galera-timings.ts).
 */
export const shardFailoverBudgetMs = 3_000;
/**
 * What a failover takes beyond the group's agreement that the node is gone (the view change,
 * the pools' probes every shardFailoverRetryMs, the catch-up read, a client's retry): measured
 * 2.1 s with evs.suspect_timeout 0.8 s and evs.inactive_check_period 0.2 s, and 6.5 s with
 * Galera's 5 s and 0.5 s (issue 31), about 1 s beyond the agreement both times.
 */
export const galeraFailoverOwnMs = 1_000;
/** Consecutive unreachability failures of a shard that open its circuit breaker. */
export const shardBreakerFailuresToOpen = 3;
/** How often an open breaker probes its shard; it closes at the first probe that answers. */
export const shardBreakerProbeIntervalMs = 500;
// The contract's 3 s for a shard that cannot be reached: a dead link is found, and a lost COMMIT resolved, within it.
assert(
  shardStatementProbeAfterMs + shardProbeTimeoutMs < shardFailoverBudgetMs,
  'finding a dead link must fit the 3 s a shard that cannot be reached is answered in',
);
assert(commitOutcomeWaitMs < shardFailoverBudgetMs, 'resolving a lost COMMIT must leave room in the 3 s');
assert(shardFailoverRetryMs < shardBreakerProbeIntervalMs, "a cluster's failover is tried again sooner than a probe");

/** How long a stopping process waits for requests, streams and pools to close before it exits anyway. */
export const shutdownGraceMs = 5_000;

/** How long a shard may take to answer a health probe. */
export const healthProbeTimeoutMs = 2_000;

/**
 * The years a DateTime a client sends may fall in, as an instant in UTC: MySQL's DATETIME range ('1000-01-01
 * 00:00:00' to '9999-12-31 23:59:59.999999'), the type of every column an instant is kept in or compared with.
 * Outside it a write fails inside the database, an internal error rather than an answer, so the DateTime scalar
 * refuses such a value as malformed input (graphql/scalars.ts).
 */
export const dateTimeYearMin = 1000;
export const dateTimeYearMax = 9999;
assert(dateTimeYearMin >= 1000 && dateTimeYearMax <= 9999, "DateTime's years must be ones a DATETIME column holds");

/**
 * The years a Date a client sends may fall in: MySQL's DATE range ('1000-01-01' to '9999-12-31'), the type of every
 * column a business date is kept in or compared with. Before it MySQL promises nothing (MariaDB stored '0999-01-01'
 * and answered NULL for '0000-01-01' less a day) and addDays leaves "YYYY-MM-DD" (a day before '0000-01-01' is
 * '-000001-12'), yet settlements, statements and reports of such dates were written; the Date scalar refuses them as
 * malformed input (graphql/scalars.ts), as DateTime refuses instants outside DATETIME.
 */
export const dateYearMin = 1000;
export const dateYearMax = 9999;
assert(dateYearMin >= 1000 && dateYearMax <= 9999, "Date's years must be ones a DATE column holds");
/**
 * The last day a bank statement or its line may be dated (the statement parsers refuse a later one as the file's
 * INVALID_STATEMENT, as they refuse a year before dateYearMin): a month before the last DATE day, so that a channel's
 * date window around any statement date (at most 31 days each side, settlement's dateWindowDaysMax, asserted there)
 * stays a date; addDays('9999-12-31', 1) is '+010000-01-01', no "YYYY-MM-DD" at all.
 */
export const statementDateMax = '9999-11-30';

/**
 * Accounts one owner may open (openAccount; one more is INVALID_INPUT, field ownerId). Rows are kept
 * (an account is closed, never deleted), so closed ones count: without a bound one owner could fill
 * the shards with accounts. Far above what a person or a shop holds (the benchmark opens one per
 * owner), and no more than ownerPortfolio answers for one owner (transaction's portfolioAccountsMax).
 */
export const accountsPerOwnerMax = 500;

/** Text fields a client may send. */
export const ownerIdLengthMax = 64;
export const externalRefLengthMax = 128;
export const descriptionLengthMax = 500;
export const idempotencyKeyLengthMax = 128;
/**
 * A payment's client context (device id, IP, user agent; a header or the input's clientContext): cut to these, the
 * widths of the columns that keep it (payments' and audit_events').
 */
export const clientDeviceIdCharsMax = 128;
export const clientIpCharsMax = 64;
export const clientUserAgentCharsMax = 256;
/** A channel's name (channels.ts): the bank or card integration money moved through. */
export const channelLengthMax = 64;
/** Long enough for a UUID or a trace id with a prefix; the audit_events column holds this many. */
export const requestIdCharsMax = 64;

/**
 * A bank statement a client may send inline (importBankStatement's `content` in CSV, camt.053 or
 * MT940, and importStatement's CSV): its size, and its lines (entries) after the header. A larger
 * file is uploaded first (POST /uploads/statements) and imported by its uploadId, within
 * settlement's uploadBytesMax and uploadEntriesMax (subgraphs/settlement/src/limits.ts).
 *
 * The statement travels as a JSON string inside a GraphQL request, and every request body is
 * bounded by requestBodyBytesMax before anything reads it or knows who sent it (the gateway
 * verifies the token only after the body is read). Rather than open larger bodies to callers
 * not yet authenticated, the statement's limit is what that body limit carries: JSON's escapes
 * at most double a statement's text (", \, tab, CR, LF are two bytes each; a bank format holds
 * no other control character), and the document (gateway's documentBytesMax) and the other
 * variables (statementRequestVariablesBytesMax) ride beside it, so
 *   requestBodyBytesMax ≥ 2 × statementBytesMax + documentBytesMax + statementRequestVariablesBytesMax
 * (the gateway asserts it when it starts: gateway/src/invariants.ts). A statement past the limit
 * thus reaches the service and is refused whole as INVALID_STATEMENT, never as a body too large.
 * 450 kB is about 9,000 CSV lines, 5,000 MT940 entries or 900 camt.053 entries; the lines' bound
 * is what the smallest CSV line (about 45 bytes) fills it with.
 */
export const statementBytesMax = 450_000;
export const statementLinesMax = 10_000;
/** Bytes an import request's variables other than the statement (channel, format, JSON's keys) take at most. */
export const statementRequestVariablesBytesMax = 8_192;

/**
 * A bank's file sent to `POST /uploads/statements` instead (the contract's "at most 100 MB"), for files larger than a
 * request may carry. The gateway refuses a Content-Length over it before it reads a byte and cuts a chunked body off
 * when it passes it; the settlement subgraph, which stores the file, counts again (subgraphs/settlement/src/limits.ts
 * holds the rest of the uploads' limits). The gateway's request body limit (requestBodyBytesMax) is not raised: an
 * upload's body is streamed, never held.
 */
export const uploadBytesMax = 100 * 1024 * 1024;
/**
 * A request answered before its body ended (an upload refused halfway: over its limit or its operator's quota): what
 * the sender still sends is read and dropped for at most this long and this many bytes before the connection is
 * closed, as nginx's lingering close does. Closed at once with bytes unread, the connection would be reset, and a
 * sender still writing would see the reset instead of the answer.
 */
export const refusedBodyLingerMs = 2_000;
export const refusedBodyLingerBytesMax = 1024 * 1024;

/** Tokens: the clock skew tolerated on exp and nbf. */
export const tokenClockToleranceSeconds = 30;
/**
 * A verified token is believed again without a signature check for at most this long (never
 * past its exp), in a bounded cache per process (verified-cache.ts).
 */
export const verifiedTokenCacheMs = 60_000;
export const verifiedTokenCacheEntriesMax = 10_000;

/**
 * Tokens remembered as verified once, until their exp, per process (identity.ts verifiedOnce): the gateway lets such
 * a caller in from an address its refusal budget throttles. Bounded (least recently used forgotten first); one entry
 * is the token's text, under 2 KiB for the gateway's tokens, so at most ≈ 20 MiB, and a user forgotten is only
 * verified before it is let in again.
 */
export const tokenAdmissionsMax = 10_000;
/** Tokens minted by scripts/token.ts and npm start live this long. */
export const tokenLifetimeSeconds = 24 * 60 * 60;

/**
 * Request bodies larger than this are refused before parsing, and before the caller is known;
 * it carries the largest statement (statementBytesMax, whose comment states the relation).
 */
export const requestBodyBytesMax = 1_000_000;

/** Postings applied in one database transaction. */
export const postingBatchSizeMax = 1_000;

/**
/** Keep-alive pings on every subscription socket (configurable: SUBSCRIPTION_KEEPALIVE_MS). */
export const subscriptionKeepAliveMsDefault = 12_000;
/**
 * Ledger hints published and not yet acknowledged by Redis; hints past it are dropped (the safety poll covers them).
 */
export const redisPublishesInFlightMax = 10_000;
/** The pause before reconnecting to Redis. */
export const redisReconnectDelayMs = 500;
/**
 * Every Redis connection (events/redis-pubsub.ts connectRedis) sends a PING this often, and one not answered within
 * redisPingTimeoutMs is destroyed and made anew: a connection that died silently (a failover that sent no reset, a
 * link gone) is noticed within about 10 s. Without it a subscriber, which only listens, heard nothing for about 2 h
 * (the OS's TCP keepalive) while its streams fell back to the 1 s safety poll, and the publisher's unanswered hints
 * filled redisPublishesInFlightMax. A shorter TCP keepalive would not do: a proxy or load balancer in front of Redis
 * answers its probes itself. A healthy Redis answers a PING in well under a millisecond; the timeout leaves room for
 * a fork or a slow command holding it for a moment.
 */
export const redisPingIntervalMs = 5_000;
export const redisPingTimeoutMs = 5_000;

/**
 * Trust between the gateway and the subgraphs (subgraphs/shared/src/gateway-trust.ts). The
 * gateway signs each caller's identity for one subgraph; the token is short-lived so that one
 * copied off the internal network is soon worthless.
 */
export const internalTokenLifetimeSeconds = 60;
/** Gateway and subgraphs run on one host or one data centre's NTP, so their clocks agree closely. */
export const internalTokenClockToleranceSeconds = 5;
assert(
  internalTokenClockToleranceSeconds < internalTokenLifetimeSeconds,
  "an identity token's clock tolerance must be shorter than its life",
);
/** A subgraph secret shorter than this is refused at start-up: it is a password only machines type. */
export const subgraphSecretCharsMin = 32;
/** How long one fetch of JWKS_URL may take. */
export const jwksFetchTimeoutMs = 5_000;
/**
 * How long fetched signing keys are used before JWKS_URL is read again, so removed keys stop working (configurable:
 * JWKS_CACHE_MAX_AGE_MS).
 */
export const jwksCacheMaxAgeMsDefault = 600_000;
/**
 * After a fetch, how long a token with an unknown kid waits before it may make the gateway fetch again (configurable:
 * JWKS_COOLDOWN_MS).
 */
export const jwksCooldownMsDefault = 30_000;

/**
 * Idempotency keys (subgraphs/shared/src/idempotency/retention.ts). Within the retention
 * a replay answers the original outcome; after it the key is purged and may claim anew.
 */
/** How long a key is kept (configurable: IDEMPOTENCY_RETENTION_DAYS, within the bounds below). */
export const idempotencyRetentionDaysDefault = 30;
/** Shorter would break the promise clients retry on (a day of retries); longer than ten years is a typo. */
export const idempotencyRetentionDaysMin = 1;
export const idempotencyRetentionDaysMax = 3_650;
assert(
  idempotencyRetentionDaysMin <= idempotencyRetentionDaysDefault &&
    idempotencyRetentionDaysDefault <= idempotencyRetentionDaysMax,
  'the default key retention must be within its bounds',
);
/** Keys one purge statement deletes: short row locks, small undo, other writers barely wait. */
export const idempotencyPurgeBatchSizeMax = 1_000;
/** Batches one purge pass deletes per shard at most, so a backlog drains over passes, not in one burst. */
export const idempotencyPurgeBatchesPerPassMax = 100;
/** The pause between purge passes. */
export const idempotencyPurgeIntervalMs = 60_000;

/**
 * Traces (tracing.ts, on with OTEL_EXPORTER_OTLP_ENDPOINT). A merged batch's round trip holds a
 * few hundred statements; its text (placeholders only) is cut at this many characters, so one
 * span stays a few kilobytes in the export queue.
 */
export const traceAttributeValueCharsMax = 4_096;
/** Finished spans waiting for export at most; more are dropped (counted by the SDK), never queued without bound. */
export const traceQueueSpansMax = 4_096;
/** Spans one OTLP export request carries at most. */
export const traceExportBatchSpansMax = 512;
/** The pause between exports: spans reach the collector within about this long. */
export const traceExportDelayMs = 1_000;
assert(traceExportBatchSpansMax <= traceQueueSpansMax, 'an export request carries at most the queue');

/**
 * Merged posting (ledger/engine/batcher.ts): a lone posting waits at most MERGE_WAIT_MS for others to
 * share its transaction, a batch holds at most MERGE_BATCH_SIZE postings, and at most
 * MERGE_QUEUE_SIZE postings wait per shard for a batch. Each setting has its default and its ceiling
 * (…Max), the largest value the variable accepts.
 */
export const mergeWaitMsDefault = 1;
/** Longer than this adds latency to every lone posting for no throughput the benchmark could measure. */
export const mergeWaitMsMax = 2;
export const mergeBatchSizeDefault = 200;
/** A merged batch is one posting transaction: at most postingBatchSizeMax postings. */
export const mergeBatchSizeMax = postingBatchSizeMax;
/**
 * Postings waiting per shard for a merged batch, beside the batches in flight: fifty batches of the
 * default size. A posting past it is refused at once, retryable (SHARD_UNAVAILABLE: the shard does
 * not keep up), rather than queued behind more work than its client waits for; nothing of it runs.
 */
export const mergeQueueSizeDefault = 10_000;
/** More postings waiting than this on one shard is memory held for answers no client still waits for. */
export const mergeQueueSizeMax = 100_000;
assert(
  mergeBatchSizeDefault <= mergeBatchSizeMax && mergeBatchSizeMax <= postingBatchSizeMax,
  'a merged batch is one posting transaction: mergeBatchSizeDefault <= mergeBatchSizeMax <= postingBatchSizeMax',
);
/**
 * Merged batches of one shard in flight at once (ledger/engine/batcher.ts): the second only once the
 * first has run for mergeSecondBatchAfterMs, so a batch waiting for a lock held elsewhere does not hold
 * the shard's other postings, and batches that work are not split in two.
 */
export const mergeInFlightPerShardMax = 2;
/**
 * A batch in flight this long waits for a lock held elsewhere rather than works (a batch that works is
 * two or three round trips): the next batch may start beside it. Until then the next waits and grows.
 */
export const mergeSecondBatchAfterMs = 100;
assert(
  mergeQueueSizeDefault >= mergeInFlightPerShardMax * mergeBatchSizeDefault,
  'the default merge queue holds the next batch of each in flight: mergeQueueSizeDefault >= mergeInFlightPerShardMax * mergeBatchSizeDefault',
);
assert(
  mergeBatchSizeMax <= mergeQueueSizeDefault && mergeQueueSizeDefault <= mergeQueueSizeMax,
  'the default queue holds the largest batch: mergeBatchSizeMax <= mergeQueueSizeDefault <= mergeQueueSizeMax',
);

/**
 * A posting's business date is its `at`'s (ledger/engine/class-days.ts), read before it is queued, locked and committed
 * (ledger/engine/post.ts), so a posting made at a date's last moment may commit after the date ended: the books must
 * not take a date as closed before every such posting has committed. How long that takes at most, from the limits
 * above. One attempt of a posting transaction: a connection, its round trips each within a statement's bound (a lock
 * wait ends sooner, LOCK_TIMEOUT), a lost COMMIT's outcome, the backoff before the next attempt. A merged batch makes
 * about four round trips (shards/posting-transaction.ts); a prepare's or a finish's own reads and the intercompany
 * accounts' opening and lock add a few: postingAttemptRoundTripsMax counts them with room.
 */
export const postingAttemptRoundTripsMax = 8;
export const postingAttemptMsMax =
  shardAcquireTimeoutMs +
  postingAttemptRoundTripsMax * shardStatementTimeoutMs +
  commitOutcomeWaitMs +
  deadlockRetryCapMs;
/** One posting transaction: its first attempt and deadlockRetryCountMax more (deadlock, duplicate key, not applied). */
export const postingTransactionMsMax = (deadlockRetryCountMax + 1) * postingAttemptMsMax;
/**
 * A posting from its `at` to its COMMIT: the batches ahead of it in a full merge queue of the defaults
 * (mergeQueueSizeDefault ÷ mergeBatchSizeDefault, mergeInFlightPerShardMax at a time), then its own; each batch run
 * once together, then, after a failure, its postings alone (engine/batcher.ts); and all of it twice, since a payment
 * whose key an earlier request held is posted again under the same `at` (transaction's services/post-payment.ts).
 * About 6.4 h: every batch ahead failing every attempt on the slowest statement, which no run has come near.
 */
export const postingAtToCommitMsMax =
  2 * (mergeQueueSizeDefault / (mergeBatchSizeDefault * mergeInFlightPerShardMax) + 1) * 2 * postingTransactionMsMax;
/**
 * How long after a business date ends its general-ledger export is first kept (account's services/books.ts): until
 * then it is computed afresh at each ask and kept nowhere, so a posting of the date still committing reaches it. Past
 * the longest a posting takes from its `at` to its COMMIT, plus the clock difference two processes may have (the
 * posting's `at` is the transaction subgraph's clock, the export's the account subgraph's): 8 h.
 */
export const glExportCloseGraceMs = 8 * 60 * 60 * 1_000;
assert(
  glExportCloseGraceMs > postingAtToCommitMsMax + internalTokenClockToleranceSeconds * 1_000,
  "a date's export is kept only once its last posting has committed: glExportCloseGraceMs > postingAtToCommitMsMax + skew",
);

/**
 * The longest delay Node's timers take (2^31 - 1 ms, about 24.8 days): a longer one fires after
 * 1 ms instead, so a pause between worker passes or polls is refused above it at start-up.
 */
export const timerDelayMsMax = 2_147_483_647;

/**
 * Compiled operations a subgraph keeps (graphql/jit-executor.ts). Its callers are the gateway's
 * query plans, a few dozen documents; the bound stops a caller sending endless distinct
 * documents from growing the process. A compiled GetAccount holds about 31 kB of heap
 * (document included), so the cache stays near 30 MB at most.
 */
export const compiledQueriesMax = 1_000;
/**
 * Documents a subgraph's express lane keeps parsed and validated (server/subgraph-lane.ts), by text and operation
 * name: the gateway's query plans, as for compiledQueriesMax, and bounded the same.
 */
export const laneDocumentsMax = 1_000;
/** Distinct accept headers whose answer type a subgraph's express lane keeps: the gateway sends one. */
export const laneAcceptValuesMax = 16;

/** The longest GL code an operator may map to a ledger class (the contract; gl_codes.gl_code is VARCHAR(32)). */
export const glCodeLengthMax = 32;

/** The most minor-unit digits a platform asset may have (the contract: exponent 0-6; ISO's most is 4). */
export const assetExponentMax = 6;

/**
 * The most platform assets the platform may define (issue 48: bounded per platform). Each is a
 * row of the control shard's `assets` table that every process holds in memory and reloads whole
 * on a miss, so the bound keeps that reload one small read.
 */
export const assetsMax = 100;

/** The longest asset name DefineAsset takes (assets.name is VARCHAR(200)). */
export const assetNameLengthMax = 200;

/**
 * The live shard map (control/follower.ts, docs/SCALING.md). Every process reads the control database's newest map
 * version every shardMapPollIntervalMs, so a new version (a fence, a switch) is followed everywhere within that, plus
 * a statement: a move's fence lasts a few of these rounds, and must stay under shardMoveFenceMsMax.
 */
export const shardMapPollIntervalMs = 200;
/** A process refreshes its acknowledgement row (its heartbeat) at most this often when the map did not change. */
export const shardMapHeartbeatMs = 1_000;
/**
 * A process whose heartbeat is older than this is gone (killed, partitioned away): a mover does not wait for it. A
 * process cut off from the control database for that long has stopped acknowledging, and a fence it missed is
 * checked again where the write happens (control/store/fences.ts).
 */
export const shardMapProcessLiveMs = 3 * shardMapHeartbeatMs;
/** Acknowledgement rows of processes not seen for this long are deleted (the table stays as small as the fleet). */
export const shardMapAckForgetMs = 24 * 60 * 60 * 1_000;
/** How long a mover waits for every live process to acknowledge a version before it gives up on the step. */
export const shardMapAckWaitMs = 5_000;
/** The longest a move's fence may stand (issue 50: requests to moved shards unavailable for at most 2 s). */
export const shardMoveFenceMsMax = 2_000;
assert(
  shardMapPollIntervalMs < shardMapHeartbeatMs && shardMapHeartbeatMs < shardMapProcessLiveMs,
  'a live process acknowledges before it counts as gone: poll < heartbeat < live',
);
assert(
  3 * shardMapPollIntervalMs < shardMoveFenceMsMax,
  'a fence (published, acknowledged, switched, lifted) fits in a few polls',
);
