import type { Account } from '../rules/account';
import type { AccountRow, EntryLine, EntryRow } from './schema';
import { bigintOf } from '../../db/raw';

/**
 * How the store's reads become the shapes the rest of the ledger takes: an accounts row as the
 * Account (rules/account.ts), an entries page's row as an EntryLine. No SQL runs here.
 */

/**
 * An accounts row read through drizzle, as the Account every layer above db/ takes
 * (rules/account.ts): the seal and updated_at stay behind. Each drizzle read of accounts maps
 * its rows through here once; the hand-written reads map theirs with accountOfRaw.
 */
export function accountOfRow(row: AccountRow): Account {
  return {
    id: row.id,
    ownerId: row.ownerId,
    type: row.type,
    systemKind: row.systemKind,
    parentId: row.parentId,
    stripeShards: row.stripeShards,
    currency: row.currency,
    entity: row.entity,
    counterpartyEntity: row.counterpartyEntity,
    status: row.status,
    available: row.available,
    frozen: row.frozen,
    pending: row.pending,
    creditLimit: row.creditLimit,
    lastSequence: row.lastSequence,
    lastEntryHash: row.lastEntryHash,
    version: row.version,
    createdAt: row.createdAt,
  };
}

/** An accounts row as mysql2 sends it for the hand-written reads (db/raw.ts): BIGINT as a string. */
export interface RawAccount {
  id: string;
  owner_id: string;
  type: AccountRow['type'];
  system_kind: AccountRow['systemKind'];
  parent_id: string | null;
  stripe_shards: string;
  currency: string;
  entity: string;
  counterparty_entity: string;
  status: AccountRow['status'];
  available: string;
  frozen: string;
  pending: string;
  credit_limit: string | null;
  last_sequence: string;
  last_entry_hash: string;
  version: string;
  mac: string;
  mac_key_id: string;
  created_at: Date;
  updated_at: Date;
}

export const accountColumns =
  'id, owner_id, type, system_kind, parent_id, stripe_shards, currency, entity, counterparty_entity, status, available, frozen, pending, credit_limit, ' +
  'last_sequence, last_entry_hash, version, mac, mac_key_id, created_at, updated_at';

/**
 * A hand-written read's row as an Account, mapped by hand for the posting path's sake
 * (docs/PERFORMANCE.md). The posting path checks the seal on the raw row (lockAndReadPrior).
 */
export function accountOfRaw(r: RawAccount): Account {
  return {
    id: r.id,
    ownerId: r.owner_id,
    type: r.type,
    systemKind: r.system_kind,
    parentId: r.parent_id,
    stripeShards: bigintOf(r.stripe_shards),
    currency: r.currency,
    entity: r.entity,
    counterpartyEntity: r.counterparty_entity,
    status: r.status,
    available: bigintOf(r.available),
    frozen: bigintOf(r.frozen),
    pending: bigintOf(r.pending),
    creditLimit: r.credit_limit === null ? null : bigintOf(r.credit_limit),
    lastSequence: bigintOf(r.last_sequence),
    lastEntryHash: r.last_entry_hash,
    version: bigintOf(r.version),
    createdAt: r.created_at,
  };
}

/** A ledger_entries row's page columns (entryLineColumns) as mysql2 sends them for the hand-written reads (db/raw.ts). */
export interface RawEntry {
  account_id: string;
  sequence: string;
  id: string;
  posting_id: string;
  bucket: EntryRow['bucket'];
  amount: string;
  direction: EntryRow['direction'];
  balance_after: string;
  currency: string;
  created_at: Date;
}

/** A page's columns (EntryLine): the row's without prev_hash and hash. */
export const entryLineColumns =
  'account_id, sequence, id, posting_id, bucket, amount, direction, balance_after, currency, created_at';

export function entryLineOf(r: RawEntry): EntryLine {
  return {
    accountId: r.account_id,
    sequence: bigintOf(r.sequence),
    id: r.id,
    postingId: r.posting_id,
    bucket: r.bucket,
    amount: bigintOf(r.amount),
    direction: r.direction,
    balanceAfter: bigintOf(r.balance_after),
    currency: r.currency,
    createdAt: r.created_at,
  };
}
