import { statementDateMax, statementLinesMax, timerDelayMsMax, uploadBytesMax } from '@paygraph/shared/limits';
import { assert } from '@paygraph/shared/result';

/**
 * The settlement subgraph's limits, each a named constant with its units and qualifiers last.
 * Those a deployment may tune are variables of config.ts, whose defaults come from here; the
 * limits every process shares (statements' sizes among them, which the gateway's body limit
 * carries) are in @paygraph/shared/limits. Their relations are asserted below each group, when
 * the module loads.
 */

/** Settlement: merchants' fee rate unless set per merchant (configurable: SETTLEMENT_FEE_BPS). */
export const settlementFeeBpsDefault = 250;
/** A fee rate is basis points of the amount moved: 10,000 is all of it. */
export const feeBpsMax = 10_000;
/** The worker settles date D on D+N (configurable: SETTLEMENT_DELAY_DAYS); D itself is never settled while open. */
export const settlementDelayDaysDefault = 1;
/** A delay longer than a year is a typo: merchants would wait that long for their money. */
export const settlementDelayDaysMax = 365;
/** The settlement worker's pause between passes (configurable: SETTLEMENT_WORKER_INTERVAL_MS). */
export const settlementWorkerIntervalMsDefault = 60_000;
/**
 * The most (merchant, date) settlements one worker pass runs, oldest date first: a pass is
 * bounded like every worker's (worker.ts), and a backlog larger than this is worked off by the
 * next passes.
 */
export const settlementsPerPassMax = 1_000;

/**
 * Settlements left PROCESSING that the settlement worker reads from each database a pass to resume them (the oldest
 * first; services/worker.ts), whether or not their date is due: a tenth of a pass, so that rows which cannot finish
 * yet (a leg in flight, a database away, BALANCE_LIMIT) leave the pass's other runs their slots.
 */
export const settlementsResumedPerPassMax = 100;
/**
 * The most advances left PENDING (a crash between their pieces) one pass of the advance worker
 * reads per shard, oldest first: each is finished or taken back under its merchant's lock, and a
 * larger backlog is worked off by the next passes.
 */
export const advancesLeftPerPassMax = 100;
assert(settlementFeeBpsDefault <= feeBpsMax, 'the default fee rate must be a rate');
assert(
  settlementDelayDaysDefault <= settlementDelayDaysMax,
  'the default settlement delay must be one the ceiling allows',
);
assert(settlementWorkerIntervalMsDefault <= timerDelayMsMax, "the settlement worker's pause must fit a timer");

/**
 * Requests of one merchant that may wait in this process for its advance lock behind the one
 * holding it (services/advance-lock.ts): an advance, a settlement of the merchant or the advance
 * worker. A merchant's requests run one at a time, so more waiting only grows how long the last
 * waits; one past the bound is refused at once, SHARD_UNAVAILABLE (retryable), nothing written.
 * Above the tests' bursts of two dozen concurrent advances of one merchant.
 */
export const advanceLockWaitersPerMerchantMax = 64;

/** Statement lines written per INSERT when a statement is stored. */
export const statementInsertBatchMax = 1_000;

/** A statement's id, in characters: the statements table's id column (varchar(40)). */
export const statementIdCharsMax = 40;

/** The widest date window a channel may set: a month, so a report reads a bounded range of statements. */
export const dateWindowDaysMax = 31;
assert(
  new Date(Date.parse(`${statementDateMax}T00:00:00Z`) + dateWindowDaysMax * 86_400_000).toISOString() <
    '9999-12-31T23:59:59.999Z',
  'a window around the last statement date must end on a date a DATE column holds',
);
/** A tolerance in basis points is a share of the line: at most all of it. */
export const amountToleranceBpsMax = 10_000;
assert(amountToleranceBpsMax <= feeBpsMax, 'a tolerance in basis points is at most all of the line, as a fee rate is');

/**
 * Exceptions, events or ids one reconciliation statement carries at most (an INSERT's rows, an IN list):
 * short statements however many a channel's day holds.
 */
export const reconciliationRowsPerStatementMax = 1_000;
/**
 * The subjects of before c3452ee a run tries for one match now (domain/legacy-subjects.ts), beside its shared-places
 * one: each of its lines may have had its old key from any statement holding a copy, so the candidates are the product
 * of its lines' choices. A match of one line with a day's and a month's copy has 2; 64 covers six lines held twice
 * each. Past it only the first 64 are tried: a bound on one run's reads, where an old row left unfound opens the
 * match's exception of now beside it.
 */
export const legacyMatchSubjectsMax = 64;
/**
 * Rounds one run re-keys in (services/channel-reconcile.ts rekeyLegacy): a round whose move another run beat (it took
 * the subject now first) reads the rows again, locked, and closes what the new holder makes a duplicate. Two runs at
 * once need two rounds; a third is a spare.
 */
export const rekeyRoundsMax = 3;
/** An exception's detail text, and an event's: the width of their columns. */
export const exceptionDetailCharsMax = 500;

/** Characters of the note an operator may give when resolving an exception. */
export const resolutionNoteLengthMax = 500;

/**
 * How many candidates of an amount range stage 2 weighs per line: a bound, so equal amounts cannot make it quadratic.
 */
export const candidateScanMax = 64;

/** MT940's :25: is 35 characters (35x), camt.053's Othr/Id 34: the longest an identification may be. */
export const accountIdentificationLengthMax = 35;

/** One-to-many matching's bounds (domain/batches.ts, subset-search.ts). */
/** The most members one search weighs: a small merchant's day of card deposits. Its search lists 2 × 2^12 sums. */
export const subsetCandidatesMax = 24;
/**
 * The sums one matching run may list over all its searches (subsetSearchSteps: 8,192 for 24 members, 12 for 5): 244
 * searches of 24, about 0.25 s on this 2-core machine (~120 ns a sum measured); the searches after it are not made.
 */
export const subsetSearchStepsTotalMax = 2_000_000;

/** SWIFT lines are 65 characters, :86: lines of some banks a few hundred: a longer line is no MT940. */
export const mt940LineLengthMax = 10_000;

/**
 * Statements one bank file may hold (camt.053 Stmt, MT940 statements, a CSV's dates and currencies), whatever its
 * entries: an MT940 record without entries is about 45 bytes, so a 100 MiB upload of them was millions of statements
 * held before any check, and as many rows to write. A year of daily statements of 27 accounts fits (the largest
 * shared fixture holds 132); the file past it is refused at the statement that passes it.
 */
export const statementsPerFileMax = 10_000;
/**
 * Balances (Bal) one camt.053 statement may hold: its opening, closing, available and forward ones, a few each. Each was
 * kept until the statement closed, so a 100 MiB Stmt of 17 million <Bal/> took gigabytes; past this it is refused.
 */
export const balancesPerStatementMax = 100;
assert(
  statementLinesMax <= statementsPerFileMax,
  "a CSV's statements (one per date and currency of its lines) must fit the file's",
);

/**
 * The settlement subgraph's limits on statement uploads (`POST /uploads/statements`, services/statement-uploads.ts),
 * named with their units. The largest file is the shared uploadBytesMax (the contract's 100 MB), which the gateway
 * enforces too.
 */
export { uploadBytesMax };

/**
 * Bytes of one stored piece of an upload (a MEDIUMBLOB row of statement_upload_chunks). The body is cut into pieces of
 * this size as it arrives and each is written before more is read, so what a process holds of an upload is about one
 * piece being filled, the piece being written (mysql2 sends a BLOB parameter as escaped text: up to twice its size)
 * and the socket's buffer: about 4 MiB. Reading an upload back holds one piece at a time.
 */
export const uploadChunkBytesMax = 1024 * 1024;
/** Uploads one settlement process receives at once; one more is refused (503, retryable): 4 × 4 MiB held at most. */
export const uploadsInFlightMax = 4;
/**
 * What one operator may hold at once: uploads kept (received or being received, and not expired) and their bytes.
 * Past either the upload is refused (429, UPLOAD_QUOTA_EXCEEDED) until one expires: a token cannot fill the control
 * shard's disk.
 */
export const uploadsPerOperatorMax = 10;
export const uploadBytesPerOperatorMax = 3 * uploadBytesMax;
/** An upload is good for an hour (the contract) from when its last byte was stored; then the import refuses it. */
export const uploadTtlMs = 60 * 60 * 1000;
/**
 * Entries (statement lines) one uploaded file may hold: what a 100 MB MT940 file of the shortest entries carries, as
 * statementLinesMax is for a statement sent inline. (The benchmark's files: 60,000 camt.053 and 250,000 MT940 entries.)
 */
export const uploadEntriesMax = 1_000_000;
/** How often the purge worker looks for expired uploads, and how many it deletes per pass (with their pieces). */
export const uploadPurgeIntervalMs = 60_000;
export const uploadPurgeUploadsMax = 50;
/** Pieces one DELETE removes while purging: a 100 MB upload is 100 statements of about 1 MiB each, none of 100 MiB. */
export const uploadPurgeChunksMax = 8;

// A MEDIUMBLOB holds 16 MiB − 1 bytes, and MariaDB's max_allowed_packet is 16 MiB by default: a piece and its statement
// must fit both with room to spare.
assert(uploadChunkBytesMax * 2 < 16 * 1024 * 1024, 'an upload piece, escaped, must fit a 16 MiB packet');
assert(uploadBytesPerOperatorMax >= uploadBytesMax, 'an operator must be able to hold one upload of the largest size');
assert(uploadsPerOperatorMax >= 1, 'an operator must be able to hold an upload');

/** Bank accounts one channel may have registered (RegisterChannelAccount): a bank file of a client's accounts. */
export const channelAccountsPerChannelMax = 1_000;

/**
 * Posting ids in one statement's IN list when reconciliation reads the entries of postings still off whose row is on
 * another database (db/ledger-checks.ts entrySumsWithoutPosting): a date with many is read in statements of this many.
 */
export const postingIdsPerStatementMax = 1_000;
/**
 * Bytes of a stored reconciliation report, gzipped (db/report-bodies.ts): mysql2 sends a BLOB parameter as escaped
 * text, up to twice its size, and the server's max_allowed_packet is 16 MiB by default. A report's JSON compresses
 * about 13× with random ids (60,000 unmatched lines: 28.5 MB of JSON, 2.2 MB stored, report-storage.test.ts's rows),
 * so this holds a day of about 190,000 such lines; a larger one fails its run whole, saying so, and stores nothing.
 */
export const reportStoredBytesMax = 7 * 1024 * 1024;
