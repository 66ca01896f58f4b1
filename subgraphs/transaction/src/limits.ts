import {
  accountsPerOwnerMax,
  idempotencyRetentionDaysMin,
  ownerIdLengthMax,
  shardMoveFenceMsMax,
  timerDelayMsMax,
} from '@paygraph/shared/limits';
import { assert } from '@paygraph/shared/result';

/**
 * The transaction subgraph's limits, each a named constant with its units and qualifiers last.
 * Those a deployment may tune are variables of config.ts, whose defaults come from here; the
 * limits every process shares (amounts, shards, text fields, idempotency keys) are in
 * @paygraph/shared/limits. Their relations are asserted below each group, when the module loads.
 */

/**
 * Merchant stripes a process remembers as opened (services/accounts.ts stripeFor), about 40 bytes each: past it the
 * oldest is forgotten, and its next payment writes one INSERT IGNORE that finds it.
 */
export const knownStripesMax = 100_000;

/** Payments one createPayments request may carry. */
export const bulkPaymentsMax = 1_000;

/**
 * Splits one payment may carry (CreatePaymentInput.splits): each is a leg posted, and reversed if the payment fails.
 */
export const splitsMax = 10;
/** A campaign's percentOffBps: basis points of the payment, at most all of it. */
export const campaignPercentOffBpsMax = 10_000;
/** Payees a campaign may name (CreateCampaignInput.payeeAccountIds); beyond it, a campaign for any payee. */
export const campaignPayeesMax = 100;

/** The most significant digits a rate may carry ("150.25" has 5). */
export const fxRateSignificantDigitsMax = 12;
/** A rate string's length bound, so that "0.000…001" cannot make an unbounded denominator. */
export const fxRateCharsMax = 32;
/** The spread, in basis points of the amount bought: 0 (none) to 10000 (all of it). */
export const fxSpreadBpsMax = 10_000;

/**
 * Holds (two-phase payments). A hold lives HOLD_TTL_SECONDS unless its request says otherwise
 * (configurable: HOLD_TTL_SECONDS, at most holdTtlSecondsMax), never longer than
 * holdTtlSecondsMax. The expiry worker releases holds in batches of at most holdExpiryBatchSizeMax
 * per shard, the next at once while they come back full, at most holdExpiryBatchesPerPassMax a pass
 * (10,000 holds per shard, 1,000 a second over the pause, ten times what one caller's money rate
 * limit may create), and passes every holdExpiryIntervalMsDefault (configurable:
 * HOLD_EXPIRY_INTERVAL_MS, at most holdExpiryIntervalMsMax), so an expired hold's money is available
 * again within about that long of its deadline; a void of it releases it at once.
 */
export const holdTtlSecondsDefault = 7 * 24 * 60 * 60;
export const holdTtlSecondsMax = 30 * 24 * 60 * 60;
export const holdExpiryBatchSizeMax = 200;
export const holdExpiryBatchesPerPassMax = 50;
export const holdExpiryIntervalMsDefault = 10_000;
export const holdExpiryIntervalMsMax = 30_000;
assert(holdTtlSecondsDefault <= holdTtlSecondsMax, 'the default hold lifetime must be one a request may ask for');
assert(
  holdExpiryIntervalMsDefault <= holdExpiryIntervalMsMax && holdExpiryIntervalMsMax <= timerDelayMsMax,
  "the hold expiry's default pause must be within its ceiling, and that within a timer's",
);

/**
 * FX quotes: good for FX_QUOTE_TTL_SECONDS from their making (configurable, at most
 * fxQuoteTtlSecondsMax): a quote is a price the platform holds while the market moves, so it
 * stays short.
 */
export const fxQuoteTtlSecondsDefault = 60;
export const fxQuoteTtlSecondsMax = 3600;
/**
 * Expired quotes are deleted by the transaction subgraph's purge (services/fx-quote-purge.ts).
 * A quote no payment took is kept this long past its deadline: a payment refused
 * FX_QUOTE_EXPIRED answers the same to its key's replays for the day clients retry in (see
 * idempotencyRetentionDaysMin); later a replay is refused INVALID_INPUT naming the quote, and
 * still writes nothing. A quote a payment took is kept for the idempotency retention past its
 * deadline, since that payment's replays read it (services/post-payment.ts).
 */
export const fxQuoteUnusedRetentionMs = 24 * 60 * 60 * 1000;
/** Quotes one purge statement deletes: short row locks, as the key purge's batches. */
export const fxQuotePurgeBatchSizeMax = 1_000;
/** Batches one purge pass deletes per shard and kind at most: a backlog drains over passes. */
export const fxQuotePurgeBatchesPerPassMax = 100;
/** The pause between quote purge passes. */
export const fxQuotePurgeIntervalMs = 60_000;
assert(fxQuoteTtlSecondsDefault <= fxQuoteTtlSecondsMax, 'the default quote lifetime must be one the ceiling allows');
// A refused payment's replays answer the same for the day clients retry in: its unused quote outlives that day.
assert(
  fxQuoteUnusedRetentionMs >= idempotencyRetentionDaysMin * 24 * 60 * 60 * 1000,
  'an unused quote must be kept at least as long as the shortest key retention',
);

/**
 * Quotes this process made, by maker and id, for the payment that uses one; past the limit one is
 * forgotten, and its payment reads it back (one more statement on the quote's shard). Sized
 * for every quote still alive: 50,000 is a minute (the default FX_QUOTE_TTL_SECONDS) of 830
 * quotes/s from one process. At 10,000, bench b-fx with 30 s windows made 23,158 quotes ahead
 * and paid with the oldest first, so every payment missed and read its quote (2026-11-23T09-09-47Z:
 * transaction CPU 1.98 ms per payment against 1.55–1.66 in the 10 s runs, whose 8,926 quotes
 * fitted). A cached quote holds about 0.7 kB of heap (measured with 50,000), 36 MB at the bound.
 * Shared fairly by makers (FairShareCache): a lone maker (the benchmark's one operator) may use
 * all of it, and one who floods it with quotes forgets its own oldest, never those of a maker
 * holding fewer.
 */
export const quoteTermsCachedMax = 50_000;

/**
 * Payers' facts a process keeps (services/payer-facts.ts), by the caller who paid from them: an id and five short
 * strings, about 0.4 kB of heap each with the maps around them, 20 MB at the bound. Shared fairly by callers
 * (FairShareCache): a caller paying from more accounts than its share forgets its own oldest, never another's.
 */
export const payerFactsCachedMax = 50_000;

/** Campaigns' terms this process has read, by id; past the limit the least used is forgotten. */
export const campaignTermsCachedMax = 1_000;
/**
 * Campaigns one account may fund (createCampaign; one more is INVALID_INPUT, field fundingAccountId).
 * Campaigns are kept, an ended one too, so every one counts: without a bound one account could fill its
 * shard with them. A new promotion every day for almost three years; the tests make a few per account.
 */
export const campaignsPerFundingAccountMax = 1_000;

/**
 * How long the relay leaves a fresh outbox row (a cross-shard payment's, refund's or sweep's
 * second half) to the request that wrote it, which tries it inline first.
 */
export const outboxInlineGraceMs = 5_000;

/**
 * Cross-shard payments' endings a process may still be writing after it answered them (services/endings-in-flight.ts):
 * a promise and its id, about 200 bytes each. Past it a request waits for its payment's ending before answering.
 * Ten thousand is several seconds of the machine's most payments per second (bench a-max, docs/PERFORMANCE.md).
 */
export const endingsInFlightMax = 10_000;

/** Tests only (TRANSACTION_FAILPOINT=payment-after-answer): how long the answer has to go out before the process dies. */
export const failpointAfterAnswerWaitMs = 2_000;

/** The outbox relay's pause between passes (configurable: RELAY_INTERVAL_MS). */
export const relayIntervalMsDefault = 1_000;
/** Relay limits: rows per shard per tick, how long a claimed row is ours, the pause between ticks. */
export const relayBatchSizeMax = 100;
export const relayLeaseMs = 30_000;
/** The backlog metric counts at most this many rows per shard: beyond it the number only says "far behind". */
export const relayBacklogCountMax = 10_000;
/**
 * A row whose step met a shard move's fence (FencedWrite) comes due again after this, instead of at its lease's end:
 * the fence lifts within shardMoveFenceMsMax, and the movement's money waits in clearing until the row is done.
 */
export const relayFencedRetryMs = 250;
assert(relayFencedRetryMs < shardMoveFenceMsMax, 'a fenced row is tried again within the fence it met');
// A row the relay claimed stays its own longer than the grace a request has to finish it inline.
assert(relayLeaseMs > outboxInlineGraceMs, "the relay's lease must outlast the inline grace");

/** Legacy keys read, placed and removed at a time by the data step. */
export const legacyKeyPageRowsMax = 500;

/** Receiving legs of refunds in flight read and counted at a time by the give-backs' step (give-back-counts.ts). */
export const giveBackStepPageRowsMax = 500;

/**
 * Linked external accounts (domain/external-accounts.ts). An owner may hold at most
 * externalAccountsPerOwnerMax links of any status (one more is INVALID_INPUT, field ownerId), so
 * that its list is one bounded statement and no owner fills a shard with links. A card number is
 * 12-19 digits (ISO/IEC 7812); a wallet id and a holder's name are bounded like other text.
 */
export const externalAccountsPerOwnerMax = 50;
export const cardDigitsMin = 12;
export const cardDigitsMax = 19;
export const walletIdCharsMax = 64;
export const holderNameCharsMax = 140;
/** CARD_FINGERPRINT_KEY's shortest length: an HMAC key as long as the card numbers it hides, and more. */
export const cardFingerprintKeyCharsMin = 32;
assert(cardDigitsMin < cardDigitsMax, 'a card number has a range of lengths');
/**
 * How far ahead of the platform's clock a channel's reportExternalBalance may date its report: newest asOf wins, so a
 * report dated far ahead would pin its balance against every true later one.
 */
export const reportedAsOfAheadMsMax = 5 * 60_000;

/**
 * The most ledger accounts one ownerPortfolio answers (read per database at most this plus one);
 * an owner with more is refused as a bad request rather than answered short.
 */
export const portfolioAccountsMax = 500;
assert(portfolioAccountsMax >= accountsPerOwnerMax, 'every account an owner may open fits its portfolio');

/**
 * Events of an owner's links (externalAccountChanged, externalAccountChanges; services/link-events.ts). A page, and
 * what a stream reads at a time, is at most linkEventPageSizeMax events (linkEventPageSizeDefault when the query does
 * not say). The feed of a process (services/link-event-feed.ts) reads the heads of the owners its streams follow
 * every linkEventPollIntervalMs, one statement per database and linkEventHeadsReadMax owners, while any is followed.
 * It follows at most linkEventOwnersWatchedMax owners and linkEventStreamsPerOwnerMax streams of one owner; a stream
 * past either is refused SUBSCRIPTION_LIMIT_REACHED. A cursor is at most linkEventCursorCharsMax characters (an owner
 * id of 64 and a 19-digit number, base64url).
 */
export const linkEventPageSizeMax = 100;
export const linkEventPageSizeDefault = 50;
export const linkEventPollIntervalMs = 100;
export const linkEventHeadsReadMax = 1_000;
export const linkEventOwnersWatchedMax = 10_000;
export const linkEventStreamsPerOwnerMax = 100;
export const linkEventCursorCharsMax = 128;
/**
 * The events kept of one owner: its newest linkEventsPerOwnerMax. Each event written past them drops
 * the oldest, at most linkEventDropRowsMax rows (an owner from before the bound drains its backlog so),
 * in the event's own transaction: without it a link → unlink loop grew the record without end. A
 * cursor whose next event is no longer kept is refused (CursorExpired, BAD_USER_INPUT). Years of a busy
 * owner's links and daily payouts; the record is the notifications' log, not the money's.
 */
export const linkEventsPerOwnerMax = 10_000;
export const linkEventDropRowsMax = 100;
/** An event's number: a BIGINT in the record; beyond GraphQL's Int it could not be answered (an invariant, not input). */
export const linkEventSequenceMax = 2n ** 63n - 1n;
export const graphqlIntMax = 2n ** 31n - 1n;
assert(
  linkEventPageSizeDefault >= 1 && linkEventPageSizeDefault <= linkEventPageSizeMax,
  "a page's default size must be one a query may ask for",
);
assert(linkEventPollIntervalMs <= timerDelayMsMax, "the link feed's pause must fit a timer");
assert(
  linkEventsPerOwnerMax >= linkEventPageSizeMax && linkEventDropRowsMax >= 1,
  'an owner keeps at least a page of events, and each new one drops at least the one it pushes out',
);
assert(
  Math.ceil(((`links:/`.length + ownerIdLengthMax + 19) * 4) / 3) <= linkEventCursorCharsMax,
  'the longest owner id and event number must fit a cursor',
);
