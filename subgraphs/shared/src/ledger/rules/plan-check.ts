import { invariantBroken } from '../../result';
import { totalOf, type Account } from './account';
import type { EntryDraft, PostingSpec } from './posting-rules';
import { pushTo } from '../../collections';

/**
 * The pair assertion of the ledger's write path (TigerBeetle's "assert what you wrote equals
 * what you planned"): after the postings are decided and before a row is written, the entries
 * and the new balances about to be written are checked against the postings' legs and the
 * balances read under lock. A mismatch is a bug in the engine, so it throws, which rolls the
 * whole transaction back: nothing of a batch that would not add up reaches the ledger.
 */
export interface BalanceBefore {
  total: bigint;
  lastSequence: bigint;
}

/** The balances as read under lock, before any posting of the batch is applied. */
export function balancesBefore(states: ReadonlyMap<string, Account>): Map<string, BalanceBefore> {
  // A loop, not a callback: a closure made per call is compiled again after each major GC (docs/PERFORMANCE.md).
  const before = new Map<string, BalanceBefore>();
  for (const [id, s] of states) before.set(id, { total: totalOf(s), lastSequence: s.lastSequence });
  return before;
}

/** Amounts by posting, then account: no key text made per leg and entry. */
type PairSums = Map<string, Map<string, bigint>>;

function addTo(sums: PairSums, postingId: string, accountId: string, amount: bigint): void {
  let ofPosting = sums.get(postingId);
  if (ofPosting === undefined) sums.set(postingId, (ofPosting = new Map()));
  ofPosting.set(accountId, (ofPosting.get(accountId) ?? 0n) + amount);
}

/**
 * Each applied posting moves, account by account, exactly what its legs say (a leg with a
 * fallback bucket may become two entries on one account, never a different amount).
 */
function assertEntriesMatchLegs(applied: readonly PostingSpec[], entries: readonly EntryDraft[]): void {
  const planned: PairSums = new Map();
  for (const spec of applied) for (const leg of spec.legs) addTo(planned, spec.id, leg.accountId, leg.amount);
  const written: PairSums = new Map();
  for (const entry of entries) addTo(written, entry.postingId, entry.accountId, entry.amount);
  if (written.size !== planned.size) {
    invariantBroken(`the batch writes entries for ${written.size} postings, its postings plan ${planned.size}`);
  }
  for (const [postingId, legs] of planned) {
    const wrote = written.get(postingId);
    if (wrote?.size !== legs.size) {
      invariantBroken(`posting ${postingId} plans ${legs.size} accounts but writes ${wrote?.size ?? 0}`);
    }
    for (const [accountId, amount] of legs) {
      if (wrote.get(accountId) !== amount) {
        invariantBroken(
          `posting-account ${postingId}|${accountId} plans ${amount} but writes ${wrote.get(accountId) ?? 'nothing'}`,
        );
      }
    }
  }
}

/**
 * The pair assertion itself. Its checks run per leg, entry and account of every batch, so each
 * builds its message only when it fails (invariantBroken).
 */
export function assertWritesMatchPlan(
  applied: readonly PostingSpec[],
  entries: readonly EntryDraft[],
  touched: readonly Account[],
  before: ReadonlyMap<string, BalanceBefore>,
): void {
  assertEntriesMatchLegs(applied, entries);
  // Each touched account's new balance and sequence follow from its entries alone.
  const entriesOf = new Map<string, EntryDraft[]>();
  for (const entry of entries) pushTo(entriesOf, entry.accountId, entry);
  if (touched.length !== entriesOf.size) {
    invariantBroken(`the batch writes ${touched.length} balances for ${entriesOf.size} accounts with entries`);
  }
  for (const account of touched) assertAccountFollows(account, entriesOf.get(account.id), before.get(account.id));
}

function assertAccountFollows(account: Account, own: EntryDraft[] | undefined, prior: BalanceBefore | undefined): void {
  if (own === undefined || prior === undefined) {
    invariantBroken(`account ${account.id} is written without entries or without a balance read under lock`);
  }
  let moved = 0n;
  for (const entry of own) moved += entry.amount;
  const total = totalOf(account);
  if (total !== prior.total + moved) {
    invariantBroken(`account ${account.id} would store ${total}, its entries make ${prior.total + moved}`);
  }
  if (account.lastSequence !== prior.lastSequence + BigInt(own.length)) {
    invariantBroken(
      `account ${account.id} would end at sequence ${account.lastSequence} after ${own.length} entries from ${prior.lastSequence}`,
    );
  }
  let sequence = prior.lastSequence;
  for (const entry of own) {
    sequence += 1n;
    if (entry.sequence !== sequence) {
      invariantBroken(`entry ${entry.id} of ${account.id} is numbered ${entry.sequence}, not ${sequence}`);
    }
  }
  const last = own[own.length - 1]!;
  if (last.balanceAfter !== total) {
    invariantBroken(`account ${account.id}'s last entry ends at ${last.balanceAfter}, its balance at ${total}`);
  }
}
