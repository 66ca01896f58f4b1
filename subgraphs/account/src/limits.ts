import {
  amountMinorUnitsMaxDefault,
  balanceMinorUnitsMax,
  logicalShardCount,
  timerDelayMsMax,
} from '@paygraph/shared/limits';
import { assert } from '@paygraph/shared/result';

/**
 * The account subgraph's limits, each a named constant with its units and qualifiers last.
 * Those a deployment may tune are variables of config.ts, whose defaults come from here; the
 * limits every process shares are in @paygraph/shared/limits. Their relations are asserted below
 * each group, when the module loads.
 */

/**
 * The largest credit limit an operator may set on one account: the default AMOUNT_MAX, so that a
 * debt stays below 2^53 (exact in a client's double, and in the exposure gauge) and far inside
 * BIGINT, as one movement's amount does.
 */
export const creditLimitMinorUnitsMax = amountMinorUnitsMaxDefault;
assert(
  creditLimitMinorUnitsMax <= balanceMinorUnitsMax && creditLimitMinorUnitsMax < 2n ** 53n,
  "a credit limit must fit a balance bucket and a client's double",
);

/** Business dates one account statement covers at most: a year, leap or not. */
export const statementDatesMax = 366;

/**
 * Balance-change streams (the balanceChanged subscription). The two intervals marked
 * "configurable" have an environment variable; tests pass their own values for the rest.
 */
/** Entries one replay read takes from a shard for one subscription. */
export const balanceEntryPageSizeMax = 100;
/** Recent entries the feed keeps per watched stripe, so that live subscribers need no read of their own. */
export const balanceFeedCacheEntriesPerStripeMax = 256;
/** How often the default fan-out reads the watched stripes' new entries (configurable: BALANCE_POLL_INTERVAL_MS). */
export const balancePollIntervalMsDefault = 50;
/**
 * With Redis hints a slow poll still runs, so a lost hint delays an event but never loses it (configurable:
 * BALANCE_SAFETY_POLL_INTERVAL_MS).
 */
export const balanceSafetyPollIntervalMsDefault = 1_000;
/** How often the feed looks for a watched merchant's new stripes (opened by a first payment on another shard). */
export const stripeDiscoveryIntervalMs = 1_000;
/** Balances remembered at a sequence, per stripe, so that reading an event steps forward instead of summing history. */
export const balanceSnapshotCacheStripesMax = 10_000;
/** Account home rows the balance reader remembers at once (each for about a second). */
export const homeRowsRememberedMax = 10_000;
/** Merchants whose stripe lists the balance reader remembers at once (each for stripeDiscoveryIntervalMs). */
export const merchantStripeListsRememberedMax = 10_000;
/** How many entries a remembered balance is stepped forward before one fresh read is cheaper. */
export const balanceSnapshotStepEntriesMax = 1_000;
/**
 * How long an account's home row is reused by page reads. Who owns an account never changes,
 * so authorization cannot go stale; status and version shown with an event may lag this much.
 */
export const homeRowFreshMs = 1_000;
assert(
  balancePollIntervalMsDefault < balanceSafetyPollIntervalMsDefault &&
    balanceSafetyPollIntervalMsDefault <= timerDelayMsMax,
  "the safety poll backs up the poll: slower than it, and within a timer's delay",
);

/** A sequence is a BIGINT column: a cursor naming a larger one is malformed. */
export const sequenceMax = 2n ** 63n - 1n;
/** An id, a colon, 19 digits and a comma per stripe, base64 grown by a third, with room for the prefix. */
export const cursorLengthMax = Math.ceil((((33 + 1 + 19 + 1) * logicalShardCount + 64) * 4) / 3);

/** The GraphQL spec's Int: an entry's sequence is answered as one. */
export const graphqlIntMax = 2n ** 31n - 1n;

/**
 * Rendered GetAccount answers kept for their reader (services/rendered-answers.ts), each under
 * the account row's state (version, last entry) and the document and variables that asked.
 * A reader is one tenant: it holds at most renderedAnswersPerReaderMax answers and
 * renderedAnswersBytesPerReaderMax bytes, and all readers together renderedAnswersBytesMax.
 * One answer larger than renderedAnswerBytesMax is not kept.
 */
export const renderedAnswersPerReaderMax = 256;
export const renderedAnswersBytesPerReaderMax = 16 * 1024 * 1024;
export const renderedAnswersBytesMax = 64 * 1024 * 1024;
export const renderedAnswerBytesMax = 1024 * 1024;
/** Random bytes that begin every tag of this process's kept answers (rendered-answers.ts renderedTags): 72 bits. */
export const renderedTagPrefixBytes = 9;
/** Documents whose reusability is remembered (by hash and operation name): the trusted set is small. */
export const renderedDocumentsMax = 1_000;
/** MERCHANT accounts remembered as never reused (a type never changes), so that their reads skip the lookup. */
export const unreusableAccountsMax = 10_000;
assert(
  renderedAnswerBytesMax <= renderedAnswersBytesPerReaderMax &&
    renderedAnswersBytesPerReaderMax <= renderedAnswersBytesMax,
  "one answer fits a reader's share, and a reader's share the whole",
);

/** The longest entity name CreateEntity takes (entities.name is VARCHAR(200)). */
export const entityNameLengthMax = 200;

/**
 * The pause between two passes of the books' total–subtotal check (services/books-check.ts): each
 * pass reads every shard's accounts grouped by entity, type and currency, and the books' sums.
 */
export const booksCheckIntervalMs = 60_000;

/**
 * A close takes its stripes' locks without waiting (db/account-close.ts): a stripe another transaction holds (a
 * posting under way) makes it let go of every row and try again after up to closeStripeRetryWaitMs, at most
 * closeStripeLockTriesMax times in all, then answer LOCK_TIMEOUT (retryable, nothing changed). A merchant being paid
 * holds money and cannot close anyway: these only ride out a posting or two on a merchant at rest.
 */
export const closeStripeLockTriesMax = 5;
export const closeStripeRetryWaitMs = 100;
