import { timerDelayMsMax } from '@paygraph/shared/limits';
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

/** The widest date window a channel may set: a month, so a report reads a bounded range of statements. */
export const dateWindowDaysMax = 31;
/** A tolerance in basis points is a share of the line: at most all of it. */
export const amountToleranceBpsMax = 10_000;
assert(amountToleranceBpsMax <= feeBpsMax, 'a tolerance in basis points is at most all of the line, as a fee rate is');

/**
 * Exceptions, events or ids one reconciliation statement carries at most (an INSERT's rows, an IN list):
 * short statements however many a channel's day holds.
 */
export const reconciliationRowsPerStatementMax = 1_000;
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
