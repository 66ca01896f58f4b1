/**
 * Which rows of each table belong to a logical shard, for the shard mover (shard-mover.ts): the rows whose `column`
 * (an id, or the id of the record they belong to and are written beside) ends with the logical shard in hex (`…_2a`). Ids never change, so
 * the rows of a range are the same on both sides of a move. Tables not listed hold no logical shard's rows: the
 * control tables of the control database (logical shard 0's, which never moves: settlement's reconciliation and
 * statements, the gateway's audit trail, FX rates, fee rates) and the migrations' bookkeeping. A table a part adds
 * must be listed here or in `unplacedTables` (test/shard-move.test.ts checks every table of a database is one or the
 * other).
 */
export interface PlacedTable {
  table: string;
  column: string;
  /**
   * For a table whose rows are placed by a hash rather than an id's end: the SQL expression of a row's logical shard,
   * used instead of `column`'s last two characters (e.g. a card's ownership claim, on its fingerprint's logical shard:
   * the first byte of SHA-256 of `claim:<identity key>`, modulo 64, as transaction's domain/external-accounts.ts
   * claimShard computes it).
   */
  logicalOf?: string;
}

import { idSuffix } from '../../subgraphs/shared/src/ids';

const ownerHashSql = "CONV(LEFT(SHA2(CONCAT('owner:', owner_id), 256), 2), 16, 10) % 64";

export const placedTables: readonly PlacedTable[] = [
  { table: 'accounts', column: 'id' },
  { table: 'ledger_entries', column: 'account_id' },
  { table: 'account_days', column: 'account_id' },
  { table: 'postings', column: 'id' },
  // A refusal by the id its posting had (never written): where the posting would have gone, so a replay meets it.
  { table: 'posting_rejections', column: 'anchor_id' },
  { table: 'payments', column: 'id' },
  { table: 'payment_legs', column: 'payment_id' },
  { table: 'payment_fx', column: 'payment_id' },
  { table: 'refunds', column: 'id' },
  { table: 'refund_legs', column: 'refund_id' },
  { table: 'refund_fx', column: 'refund_id' },
  { table: 'holds', column: 'id' },
  { table: 'external_transfers', column: 'id' },
  { table: 'transfer_outbox', column: 'id' },
  { table: 'sweeps', column: 'id' },
  { table: 'campaigns', column: 'id' },
  // A funding account's count of campaigns, beside them on its shard.
  { table: 'campaign_counts', column: 'funding_account_id' },
  // A row's count of refunds it gave back to, beside the row (a stripe's id names its own shard).
  { table: 'give_back_counts', column: 'account_id' },
  { table: 'fx_quotes', column: 'id' },
  { table: 'idempotency_keys', column: 'anchor_id' },
  { table: 'settlements', column: 'id' },
  // A settlement's part and an advance's piece are written on their stripe's database, beside its posting.
  { table: 'settlement_parts', column: 'stripe_account_id' },
  { table: 'advances', column: 'id' },
  { table: 'advance_pieces', column: 'stripe_account_id' },
  { table: 'advance_outstanding', column: 'stripe_account_id' },
  // By its stripe too: a pending move's credited side is keyed by the sweep's id, made on the debited stripe's shard.
  { table: 'advance_refund_offsets', column: 'stripe_account_id' },
  { table: 'advance_terms', column: 'merchant_account_id' },
  { table: 'external_accounts', column: 'id' },
  {
    table: 'external_account_claims',
    column: 'identity_key',
    logicalOf: "CONV(LEFT(SHA2(CONCAT('claim:', identity_key), 256), 2), 16, 10) % 64",
  },
  // An owner's directory row and its links' event record, on the owner's home shard: the first byte of SHA-256 of
  // `owner:<owner id>`, modulo 64 (shared's ownerHomeShard, transaction's ownerLinkShard).
  { table: 'owner_shards', column: 'owner_id', logicalOf: ownerHashSql },
  { table: 'external_account_event_heads', column: 'owner_id', logicalOf: ownerHashSql },
  { table: 'external_account_events', column: 'owner_id', logicalOf: ownerHashSql },
  { table: 'webhook_endpoints', column: 'id' },
  // A stream and its deliveries are written beside the ledger row they follow (an account, or a merchant's stripe), not
  // beside their endpoint: materializing reads that row's entries and moves the stream's cursor in one transaction.
  { table: 'webhook_streams', column: 'stripe_id' },
  { table: 'webhook_deliveries', column: 'id' },
];

/** Tables that hold no logical shard's rows (see placedTables). */
export const unplacedTables: readonly string[] = [
  'audit_events',
  'channel_accounts',
  'channel_matching_rules',
  'channel_reconciliations',
  'fx_rates',
  'merchant_fee_rates',
  'reconciliation_exception_events',
  'reconciliation_exceptions',
  'reconciliation_reports',
  'statement_channels',
  'statement_lines',
  'statement_upload_chunks',
  'statement_upload_operators',
  'statement_uploads',
  'statements',
  'webhook_sources',
  // The control shard's alone (logical shard 0's database, which never moves): the entities, their GL codes and the
  // general-ledger exports kept, the platform's assets.
  'entities',
  'assets',
  'gl_codes',
  'gl_exports',
  // The books' daily sums per database (entity, class, currency, date), not per logical shard: a move leaves the moved
  // accounts' history in the source's sums (the SHARD_MOVE posting, not built yet, is what would carry it over).
  'ledger_class_days',
  'shard_map_versions',
  'shard_map_acks',
  'shard_fences',
  'shard_moves',
];

/** The rows of a placed table that belong to logical shards first..last: the WHERE clause and its values. */
export function rangeWhere(placed: PlacedTable, first: number, last: number): { where: string; values: string[][] } {
  const logical = Array.from({ length: last - first + 1 }, (_, i) => first + i);
  if (placed.logicalOf !== undefined) return { where: `${placed.logicalOf} IN (?)`, values: [logical.map(String)] };
  return { where: `RIGHT(\`${placed.column}\`, 2) IN (?)`, values: [logical.map(idSuffix)] };
}
