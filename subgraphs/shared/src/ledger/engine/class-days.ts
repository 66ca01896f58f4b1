import { businessDateOf } from '../../business-date';
import { classDayIncrements, classDaySlots, type ClassDayIncrement } from '../rules/class-days';
import type { Account } from '../rules/account';
import type { EntryDraft, PostingSpec } from '../rules/posting-rules';

let nextSlot = 0;

/**
 * The books' daily sums a batch adds (rules/class-days.ts), each entry on its posting's business
 * date, in the next slot of this process's round: two batches in flight take two rows.
 */
export function classDaysOf(
  applied: ReadonlyArray<{ spec: PostingSpec; at: Date }>,
  entries: readonly EntryDraft[],
  states: ReadonlyMap<string, Account>,
): ClassDayIncrement[] {
  if (entries.length === 0) return [];
  // A loop, not a callback: a closure made per call is compiled again after each major GC (docs/PERFORMANCE.md).
  const dateOf = new Map<string, string>();
  for (const a of applied) dateOf.set(a.spec.id, businessDateOf(a.at));
  nextSlot = (nextSlot + 1) % classDaySlots;
  return classDayIncrements(
    entries,
    (id) => states.get(id)!,
    (entry) => dateOf.get(entry.postingId)!,
    nextSlot,
  );
}
