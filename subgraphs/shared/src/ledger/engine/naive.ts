import type { Shard } from '../../shards/pool';
import { mysqlErrno } from '../../shards/transaction';
import { inPostingTransaction } from '../../shards/posting-transaction';
import { lockAccounts, priorOutcomes, writePostingRowByRow, writeRejections } from '../store/postings';
import { notifyCommitted } from './events';
import { chainEntries } from '../rules/tamper';
import { assertWritesMatchPlan, balancesBefore } from '../rules/plan-check';
import { DeferredInserts } from '../../db/deferred';
import { applyPosting, type EntryDraft, type PostingSpec } from '../rules/posting-rules';
import { withIntercompany } from './intercompany';
import { addClassDays } from '../store/class-days';
import { classDaysOf } from './class-days';
import type { Account } from '../rules/account';
import { prepareAlone, type PostingItem, type PostingOutcome } from './batch';

/**
 * The textbook baseline the benchmark compares merged posting with: one transaction per
 * posting, each account locked by its own statement in leg order, then the posting's writes,
 * a statement per row. Same rules and same tables, so it is correct — only slower under load
 * (a commit per posting, hot rows held across several round trips). It runs on the posting
 * transaction (shards/posting-transaction.ts) because the hooks it calls take one; BEGIN goes
 * with the first lock and a refusal's record with COMMIT, as in the merged engine.
 */
export async function postNaive<R>(shard: Shard, item: PostingItem<R>): Promise<R> {
  const written: EntryDraft[] = [];
  const result = await inPostingTransaction(
    shard,
    async (tx) => {
      written.length = 0;
      const decision = await prepareAlone(tx, item);
      if (!decision.proceed) return decision.result;
      const states = new Map<string, Account>();
      for (const leg of decision.spec.legs)
        for (const [id, state] of await lockAccounts(tx, [leg.accountId])) states.set(id, state);
      const [spec] = (await withIntercompany(shard, tx, [decision.spec], states)) as [PostingSpec];
      const prior = spec.dedupeKey ? (await priorOutcomes(tx, [spec.dedupeKey])).get(spec.dedupeKey) : undefined;
      const at = item.at ?? new Date();
      let outcome: PostingOutcome;
      if (prior?.kind === 'posted') outcome = { status: 'DUPLICATE', postingId: prior.postingId };
      else if (prior?.kind === 'rejected') outcome = { status: 'REJECTED', rejection: prior.rejection, replayed: true };
      else {
        const before = balancesBefore(states);
        const applied = applyPosting(states, spec);
        if (applied.ok) {
          const entries = chainEntries(applied.value, states);
          assertWritesMatchPlan(
            [spec],
            entries,
            [...new Set(entries.map((e) => e.accountId))].map((id) => states.get(id)!),
            before,
          );
          await writePostingRowByRow(tx, spec, at, entries, states);
          await addClassDays(tx, classDaysOf([{ spec, at }], entries, states));
          written.push(...applied.value);
          outcome = { status: 'APPLIED', postingId: spec.id, entries: applied.value };
        } else {
          if (spec.dedupeKey) {
            const refused = { dedupeKey: spec.dedupeKey, postingId: spec.id, rejection: applied.error };
            await writeRejections(tx, [refused], at);
          }
          outcome = { status: 'REJECTED', rejection: applied.error, replayed: false };
        }
      }
      const deferred = new DeferredInserts();
      const result = await item.finish(tx, outcome, states, deferred);
      await deferred.flush(tx);
      return result;
    },
    { retryOn: [mysqlErrno.deadlock, mysqlErrno.duplicateEntry] },
  );
  notifyCommitted(shard.index, written);
  return result;
}
