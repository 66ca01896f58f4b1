/**
 * Every limit in one place, each a named constant with its unit last.
 * Changing one is a decision worth a review, so none is configurable at run time
 * unless a comment says so.
 */

/** Logical shards ids are routed by; physical databases are a map over these. */
export const logicalShardCount = 64;

/** Page sizes for connections (entries, accounts, payments). */
export const pageSizeDefault = 20;
export const pageSizeMax = 100;

/** The largest number of ids one DataLoader batch sends to one shard in one query. */
export const loaderBatchSizeMax = 500;

/** Connections each subgraph process keeps per shard. */
export const shardPoolSizeDefault = 10;

/** How long a statement waits for a row lock before MariaDB gives up (error 1205). */
export const lockWaitSeconds = 5;

/** Deadlocks (1213) and serialization conflicts are retried this many times, with jitter. */
export const deadlockRetryCountMax = 5;
export const deadlockRetryBaseMs = 5;
export const deadlockRetryCapMs = 200;

/** How long a shard may take to answer a health probe. */
export const healthProbeTimeoutMs = 2_000;

/** Text fields a client may send. */
export const ownerIdLengthMax = 64;
export const externalRefLengthMax = 128;
export const descriptionLengthMax = 500;
export const idempotencyKeyLengthMax = 128;

/** Tokens: the clock skew tolerated on exp and nbf. */
export const tokenClockToleranceSeconds = 30;
/** Tokens minted by scripts/token.ts and npm start live this long. */
export const tokenLifetimeSeconds = 24 * 60 * 60;

/** Request bodies larger than this are refused before parsing. */
export const requestBodyBytesMax = 1_000_000;

/** Postings applied in one database transaction. */
export const postingBatchSizeMax = 1_000;
