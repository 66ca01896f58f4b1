import { deleteInBatches, passOverDatabases, startWorker, type Worker } from '@paygraph/shared/worker';
import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import { idsMintedBefore } from '@paygraph/shared/ids';
import { purgeQuotes, type QuotePurge } from '../db/fx';
import { retentionCutoff } from '@paygraph/shared/idempotency/index';
import {
  fxQuotePurgeBatchesPerPassMax,
  fxQuotePurgeBatchSizeMax,
  fxQuotePurgeIntervalMs,
  fxQuoteUnusedRetentionMs,
} from '../limits';

/**
 * FX quotes are deleted once nothing will read them again, so that fx_quotes grows with the
 * quotes of the last day and the FX payments of the idempotency retention, not with every quote
 * ever asked for. What reads a quote after its deadline:
 * - a payment naming it reads its terms before it claims its key (services/payment.ts), then
 *   claims it: a quote no payment took answers FX_QUOTE_EXPIRED, and a quote its payment took
 *   answers that payment's replay as the first request was answered;
 * - its maker's `fxQuote(id)`, which answers null once it is gone ("none").
 * Payment.fx, refunds, the relay, settlement and reconciliation read payment_fx, which copies
 * the quote's terms; nothing else reads fx_quotes. So:
 * - a quote no payment took goes fxQuoteUnusedRetentionMs (a day) after its deadline: a payment
 *   refused FX_QUOTE_EXPIRED meets the same refusal on its replays for the day clients retry in;
 * - a quote a payment took goes the idempotency retention after its deadline: its payment claimed
 *   its key before that deadline, so by then the key is past its retention too and no replay is
 *   promised the first answer any more.
 */
export interface QuoteRetention {
  /** IDEMPOTENCY_RETENTION_DAYS: how long a payment's replays answer its first outcome. */
  idempotencyRetentionDays: number;
}

/** Both purges of a pass at `now`. */
export function quotePurgesAt(now: Date, retention: QuoteRetention): QuotePurge[] {
  const usedBefore = retentionCutoff(now, retention.idempotencyRetentionDays);
  return [
    { kind: 'unused', expiredBefore: new Date(now.getTime() - fxQuoteUnusedRetentionMs) },
    { kind: 'used', expiredBefore: usedBefore, paymentIdBelow: idsMintedBefore('payment', usedBefore) },
  ];
}

/**
 * One pass: on each shard, each kind in batches of fxQuotePurgeBatchSizeMax until one comes back
 * short or fxQuotePurgeBatchesPerPassMax are spent. A shard away (unreachable) is logged and
 * skipped, the others go on (passOverDatabases); anything else is a bug, thrown once all have
 * ended, and the worker logs the failed pass. Any number of replicas may run it at once (db/fx.ts
 * purgeQuotes). Answers the quotes deleted.
 */
export function purgeExpiredQuotes(shards: ShardSet, retention: QuoteRetention, now: Date): Promise<number> {
  const purges = quotePurgesAt(now, retention);
  return passOverDatabases('fx quote purge', shards.all, async (shard) => {
    let deleted = 0;
    for (const purge of purges) deleted += await purgeShard(shard, purge);
    return deleted;
  });
}

function purgeShard(shard: Shard, purge: QuotePurge): Promise<number> {
  return deleteInBatches(
    (size) => purgeQuotes(shard, purge, size),
    fxQuotePurgeBatchSizeMax,
    fxQuotePurgeBatchesPerPassMax,
  );
}

export type QuotePurgeWorker = Worker;

/** Runs a pass every fxQuotePurgeIntervalMs until stopped; every replica may run it. */
export function startQuotePurge(
  shards: ShardSet,
  retention: QuoteRetention,
  now: () => Date = () => new Date(),
): QuotePurgeWorker {
  return startWorker({
    name: 'fx quote purge',
    intervalMs: fxQuotePurgeIntervalMs,
    pass: () => purgeExpiredQuotes(shards, retention, now()),
  });
}
