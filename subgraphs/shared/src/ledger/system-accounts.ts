import type { Shard, ShardSet } from '../shards/pool';
import { newId } from '../ids';
import { insertSystemAccountIfMissing, systemAccount } from './store/accounts';
import { assert } from '../result';
import type { SystemKind } from './rules/account';

/**
 * The platform's own accounts, one of each kind per shard and currency: the bank reserve
 * (an asset: where deposits come from and withdrawals go), clearing (money in flight to
 * another shard) and fee income. They are opened on first use; a unique key on
 * (kind, currency) makes concurrent first uses agree on one row.
 */
export const platformOwnerId = 'platform';

const known = new Map<string, string>();
const systemIds = new Set<string>();

/**
 * Whether an id is a system account this process has used. The posting engine locks these
 * shared, hot rows last, so a posting waiting on a client's row does not hold them meanwhile.
 */
export function isKnownSystemAccount(id: string): boolean {
  return systemIds.has(id);
}

export async function systemAccountId(
  shards: ShardSet,
  shard: Shard,
  kind: SystemKind,
  currency: string,
): Promise<string> {
  // Keyed by the database URL: two shard sets in one process never share an id.
  const key = `${shards.topology.urls[shard.index]}:${kind}:${currency}`;
  const cached = known.get(key);
  if (cached) return cached;
  let row = await systemAccount(shard.db, kind, currency);
  if (!row) {
    const logical = shards.logicalOn(shard)[0];
    assert(logical !== undefined, `shard ${shard.name} holds no logical shard`);
    await insertSystemAccountIfMissing(shard.db, {
      id: newId('account', logical),
      ownerId: platformOwnerId,
      type: 'SYSTEM',
      systemKind: kind,
      currency,
      status: 'ACTIVE',
    });
    row = await systemAccount(shard.db, kind, currency);
  }
  assert(row, `system account ${kind} ${currency} missing on ${shard.name}`);
  known.set(key, row.id);
  systemIds.add(row.id);
  return row.id;
}
