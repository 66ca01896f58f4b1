import type { ShardSet } from '../shards/pool';
import { purgeOlderThanRetention, type KeyRetention } from '../idempotency/index';
import { purgeRejectionsBefore } from './store/postings';

/**
 * A posting's refusal is kept (posting_rejections) so that a replay of the posting, its dedupe key again, is refused
 * again rather than decided afresh. A request's replay meets its idempotency key first, and keys are kept for their
 * retention (idempotency/retention.ts): past it the same key claims a new resource, whose posting has a new dedupe
 * key, so a refusal older than the keys' cut-off answers no replay. Purged at that cut-off, by the keys' worker, in
 * the same bounded batches; before, never: every refused posting was a row for good, and a caller sending refused
 * payments (a new key each) grew the table without bound. Answers the refusals deleted; a database away is logged and
 * skipped (passOverDatabases).
 */
export function purgeExpiredRejections(shards: ShardSet, retention: KeyRetention, now: Date): Promise<number> {
  return purgeOlderThanRetention('posting refusal purge', shards, retention, now, purgeRejectionsBefore);
}
