import { assert } from '../../result';
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
  return new Map([...states].map(([id, s]) => [id, { total: totalOf(s), lastSequence: s.lastSequence }]));
}

function addTo(map: Map<string, bigint>, key: string, amount: bigint): void {
  map.set(key, (map.get(key) ?? 0n) + amount);
}

export function assertWritesMatchPlan(
  applied: readonly PostingSpec[],
  entries: readonly EntryDraft[],
  touched: readonly Account[],
  before: ReadonlyMap<string, BalanceBefore>,
): void {
  // Each applied posting moves, account by account, exactly what its legs say (a leg with a
  // fallback bucket may become two entries on one account, never a different amount).
  const planned = new Map<string, bigint>();
  for (const spec of applied) for (const leg of spec.legs) addTo(planned, `${spec.id}|${leg.accountId}`, leg.amount);
  const written = new Map<string, bigint>();
  for (const entry of entries) addTo(written, `${entry.postingId}|${entry.accountId}`, entry.amount);
  assert(
    written.size === planned.size,
    `the batch writes entries for ${written.size} posting-account pairs, its postings plan ${planned.size}`,
  );
  for (const [key, amount] of planned) {
    assert(
      written.get(key) === amount,
      `posting-account ${key} plans ${amount} but writes ${written.get(key) ?? 'nothing'}`,
    );
  }
  // Each touched account's new balance and sequence follow from its entries alone.
  const entriesOf = new Map<string, EntryDraft[]>();
  for (const entry of entries) pushTo(entriesOf, entry.accountId, entry);
  assert(
    touched.length === entriesOf.size,
    `the batch writes ${touched.length} balances for ${entriesOf.size} accounts with entries`,
  );
  for (const account of touched) {
    const own = entriesOf.get(account.id);
    const prior = before.get(account.id);
    assert(
      own !== undefined && prior !== undefined,
      `account ${account.id} is written without entries or without a balance read under lock`,
    );
    const moved = own.reduce((sum, e) => sum + e.amount, 0n);
    assert(
      totalOf(account) === prior.total + moved,
      `account ${account.id} would store ${totalOf(account)}, its entries make ${prior.total + moved}`,
    );
    assert(
      account.lastSequence === prior.lastSequence + BigInt(own.length),
      `account ${account.id} would end at sequence ${account.lastSequence} after ${own.length} entries from ${prior.lastSequence}`,
    );
    own.forEach((entry, i) =>
      assert(
        entry.sequence === prior.lastSequence + BigInt(i + 1),
        `entry ${entry.id} of ${account.id} is numbered ${entry.sequence}, not ${prior.lastSequence + BigInt(i + 1)}`,
      ),
    );
    assert(
      own[own.length - 1]!.balanceAfter === totalOf(account),
      `account ${account.id}'s last entry ends at ${own[own.length - 1]!.balanceAfter}, its balance at ${totalOf(account)}`,
    );
  }
}
