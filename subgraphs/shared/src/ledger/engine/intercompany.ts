import type { Shard } from '../../shards/pool';
import type { PostingTx } from '../../shards/posting-transaction';
import { lockAccounts } from '../store/postings';
import { openSystemAccount, systemLogicalOf } from '../system-accounts';
import { expandIntercompany, intercompanyDrafts, intercompanyKey } from '../rules/intercompany';
import type { PostingSpec } from '../rules/posting-rules';
import type { Account } from '../rules/account';

/**
 * The engine's part of intercompany (rules/intercompany.ts decides the legs): after the
 * accounts of a batch are locked, a posting whose accounts fall in two entities needs
 * intercompany accounts on this shard, opened on first use and then locked, last (after the
 * batch's system rows, in id order, one statement), so the lock order stays total. When every
 * account is in one entity — every posting of a platform with one entity — this reads each
 * leg's entity from the locked states and returns the same array: no statement, no copy.
 */
export async function withIntercompany(
  shard: Shard,
  tx: PostingTx,
  specs: readonly PostingSpec[],
  states: Map<string, Account>,
): Promise<readonly PostingSpec[]> {
  const entityOf = (id: string) => states.get(id)?.entity;
  let needed: Map<string, Parameters<typeof openSystemAccount>[2]> | null = null;
  for (const spec of specs) {
    for (const draft of intercompanyDrafts(spec, entityOf)) {
      needed ??= new Map();
      needed.set(intercompanyKey(draft), draft);
    }
  }
  if (needed === null) return specs;
  // Named as every system account of the database (systemAccountId), never by a client's logical shard, which a
  // shard move would then refuse to take. A row opened before under another name is found by its unique key.
  const logical = systemLogicalOf(shard);
  const ids = new Map<string, string>();
  for (const [key, draft] of needed) {
    const { kind, currency, entity, counterpartyEntity } = draft;
    ids.set(key, await openSystemAccount(shard, logical, { kind, currency, entity, counterpartyEntity }));
  }
  const fresh = [...ids.values()].filter((id) => !states.has(id));
  if (fresh.length > 0)
    for (const [id, account] of await lockAccounts(tx, fresh, new Set(fresh))) states.set(id, account);
  return specs.map((spec) => expandIntercompany(spec, entityOf, (key) => ids.get(key)!));
}
