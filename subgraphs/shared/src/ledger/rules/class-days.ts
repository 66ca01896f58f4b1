import type { Account } from './account';
import { ledgerClassOf } from './entities';
import type { EntryDraft } from './posting-rules';

/**
 * What a batch's entries add to the books' daily sums (`ledger_class_days`): per entity,
 * ledger class, counterparty (intercompany classes), currency and business date, Σ debits,
 * Σ credits and how many postings debited or credited it. Pure: the posting transaction adds
 * these to the stored rows with the entries, as it does account_days. An entry's class comes
 * from its account and bucket (rules/entities.ts), its entity from the account.
 */
export interface ClassDayIncrement {
  entity: string;
  businessDate: string;
  ledgerClass: string;
  counterpartyEntity: string;
  currency: string;
  slot: number;
  debits: bigint;
  credits: bigint;
  debitPostings: bigint;
  creditPostings: bigint;
}

/**
 * How many rows one key is spread over: two batches in flight on a shard (and the other
 * processes') then seldom wait on one row of today's sums. Readers sum the slots.
 */
export const classDaySlots = 8;

export function classDayIncrements(
  entries: readonly EntryDraft[],
  accountOf: (id: string) => Pick<Account, 'type' | 'systemKind' | 'entity' | 'counterpartyEntity'>,
  dateOf: (entry: EntryDraft) => string,
  slot: number,
): ClassDayIncrement[] {
  const days = new Map<string, ClassDayIncrement>();
  const counted = new Set<string>();
  for (const entry of entries) {
    const account = accountOf(entry.accountId);
    const ledgerClass = ledgerClassOf(account, entry.bucket);
    const businessDate = dateOf(entry);
    const key = `${account.entity}|${businessDate}|${ledgerClass}|${account.counterpartyEntity}|${entry.currency}`;
    let day = days.get(key);
    if (!day) {
      day = {
        entity: account.entity,
        businessDate,
        ledgerClass,
        counterpartyEntity: account.counterpartyEntity,
        currency: entry.currency,
        slot,
        debits: 0n,
        credits: 0n,
        debitPostings: 0n,
        creditPostings: 0n,
      };
      days.set(key, day);
    }
    const debit = entry.amount < 0n;
    if (debit) day.debits -= entry.amount;
    else day.credits += entry.amount;
    const once = `${key}|${debit ? 'D' : 'C'}|${entry.postingId}`;
    if (counted.has(once)) continue;
    counted.add(once);
    if (debit) day.debitPostings += 1n;
    else day.creditPostings += 1n;
  }
  // In key order, so two batches add to shared rows in one order (fewer deadlocks to retry).
  return [...days.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, day]) => day);
}
