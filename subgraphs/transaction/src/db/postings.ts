import { inArray } from 'drizzle-orm';
import type { Executor } from '@paygraph/shared/shards/transaction';
import { postings } from '@paygraph/shared/ledger/read-model/tables';
import { type PostingRow } from '@paygraph/shared/ledger/index';

/** Postings by id on one shard (a posting id names the shard it was written on). */
export async function postingsByIds(db: Executor, ids: readonly string[]): Promise<PostingRow[]> {
  if (ids.length === 0) return [];
  return db
    .select()
    .from(postings)
    .where(inArray(postings.id, [...ids]));
}
