import type { Shard, ShardSet } from '../shards/pool';
import { newId, type LogicalShard } from '../ids';
import { insertSystemAccountIfMissing, systemAccount } from './store/accounts';
import { assert } from '../result';
import type { SystemKind } from './rules/account';
import { platformEntity } from './rules/entities';

/**
 * The platform's own accounts, one of each kind per entity, shard and currency (the services'
 * are PLATFORM's; the posting engine opens intercompany ones per counterparty too): the bank reserve
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
  entity = platformEntity,
  counterpartyEntity = '',
): Promise<string> {
  // Keyed by the database URL: two shard sets in one process never share an id.
  const key = `${shards.topology.urls[shard.index]}:${entity}:${kind}:${currency}:${counterpartyEntity}`;
  const cached = known.get(key);
  if (cached) return cached;
  const id = await openSystemAccount(shard, systemLogicalOf(shard), { kind, currency, entity, counterpartyEntity });
  known.set(key, id);
  return id;
}

/**
 * The logical shard that names a database's new system accounts: its first the map does not fence. A shard move
 * refuses a range holding a logical shard that names a system account (scripts/lib/shard-mover.ts), so naming every
 * one by this shard keeps the database's other logical shards free to move (docs/SCALING.md).
 */
export function systemLogicalOf(shard: Shard): LogicalShard {
  const logical = shard.logicalHere()[0];
  assert(logical !== undefined, `shard ${shard.name} holds no logical shard`);
  return logical;
}

const knownOnShard = new WeakMap<Shard, Map<string, string>>();

/**
 * The id of a system account on a shard, opened on first use (a unique key on entity, kind,
 * currency and counterparty makes concurrent first uses agree on one row); ids minted for
 * `logical`, a logical shard the shard holds. For the posting engine, which knows its shard and
 * not the set: cached per Shard. Runs on its own pooled connection, outside any transaction.
 */
export async function openSystemAccount(
  shard: Shard,
  logical: LogicalShard,
  key: { kind: SystemKind; currency: string; entity: string; counterpartyEntity: string },
): Promise<string> {
  const cacheKey = `${key.entity}:${key.kind}:${key.currency}:${key.counterpartyEntity}`;
  const cache = knownOnShard.get(shard) ?? new Map<string, string>();
  knownOnShard.set(shard, cache);
  const cached = cache.get(cacheKey);
  if (cached) return cached;
  const { kind, currency, entity, counterpartyEntity } = key;
  let row = await systemAccount(shard.db, kind, currency, entity, counterpartyEntity);
  if (!row) {
    await insertSystemAccountIfMissing(shard.db, {
      id: newId('account', logical),
      ownerId: platformOwnerId,
      type: 'SYSTEM',
      systemKind: kind,
      currency,
      entity,
      counterpartyEntity,
      status: 'ACTIVE',
    });
    row = await systemAccount(shard.db, kind, currency, entity, counterpartyEntity);
  }
  assert(row, `system account ${entity} ${kind} ${currency} ${counterpartyEntity} missing on ${shard.name}`);
  cache.set(cacheKey, row.id);
  systemIds.add(row.id);
  return row.id;
}
