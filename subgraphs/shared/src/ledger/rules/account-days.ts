import type { EntryDraft } from './posting-rules';

/**
 * What a set of new entries adds to the daily summary (`account_days`): per account and
 * business date, credits, debits, count, the net per bucket and the sequence range. Pure: the
 * posting transaction computes it from the entries it is about to write and adds it to the
 * stored rows in the same transaction.
 */
export interface DayIncrement {
  accountId: string;
  businessDate: string;
  credits: bigint;
  debits: bigint;
  entryCount: bigint;
  availableNet: bigint;
  frozenNet: bigint;
  pendingNet: bigint;
  firstSequence: bigint;
  lastSequence: bigint;
}

export function dayIncrements(entries: readonly EntryDraft[], dateOf: (entry: EntryDraft) => string): DayIncrement[] {
  const days = new Map<string, DayIncrement>();
  for (const entry of entries) {
    const businessDate = dateOf(entry);
    const key = `${entry.accountId}|${businessDate}`;
    let day = days.get(key);
    if (!day) {
      day = {
        accountId: entry.accountId,
        businessDate,
        credits: 0n,
        debits: 0n,
        entryCount: 0n,
        availableNet: 0n,
        frozenNet: 0n,
        pendingNet: 0n,
        firstSequence: entry.sequence,
        lastSequence: entry.sequence,
      };
      days.set(key, day);
    }
    if (entry.amount > 0n) day.credits += entry.amount;
    else day.debits -= entry.amount;
    day.entryCount += 1n;
    if (entry.bucket === 'AVAILABLE') day.availableNet += entry.amount;
    else if (entry.bucket === 'FROZEN') day.frozenNet += entry.amount;
    else day.pendingNet += entry.amount;
    if (entry.sequence < day.firstSequence) day.firstSequence = entry.sequence;
    if (entry.sequence > day.lastSequence) day.lastSequence = entry.sequence;
  }
  return [...days.values()];
}
