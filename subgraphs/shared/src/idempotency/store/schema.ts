import { sql } from 'drizzle-orm';
import { char, datetime, index, mysqlTable, primaryKey, varchar } from 'drizzle-orm/mysql-core';

/**
 * The idempotency module's table, on every shard. The transaction subgraph made it (its migration
 * set, subgraphs/transaction/drizzle, 0000 and later) before idempotency was shared
 * infrastructure, and its migrations stay there: they have been applied to every database, and
 * moving them to another set would make that set run them again. So the transaction set's
 * drizzle-kit config reads this file beside its own schema (subgraphs/transaction/drizzle.config.ts),
 * and a change to the table is generated there; the table, its SQL and its code are this module's.
 */
const moment = (name: string) =>
  datetime(name, { mode: 'date', fsp: 6 })
    .notNull()
    .default(sql`CURRENT_TIMESTAMP(6)`);

/**
 * An idempotency key, claimed before any money moves, on the shard of the record it guards.
 * Its scope is (anchor, caller, key): the anchor is what the request names and moves money
 * from or into — the account debited by a payment, the account of a deposit or a withdrawal,
 * the payment a refund reverses — so the key row sits in the database of that record and the
 * request touches no other shard. Operation and request hash are its content: the same scope
 * with another content is a reused key. The row names the resource the first request created.
 * Rows claimed before keys were anchored carry anchor_id '' until the data step
 * (the transaction subgraph's services/legacy-keys.ts) moves them to their record's shard.
 */
export const idempotencyKeys = mysqlTable(
  'idempotency_keys',
  {
    anchorId: varchar('anchor_id', { length: 33 }).notNull().default(''),
    callerId: varchar('caller_id', { length: 64 }).notNull(),
    idempotencyKey: varchar('idempotency_key', { length: 128 }).notNull(),
    operation: varchar('operation', { length: 24 }).notNull(),
    requestHash: char('request_hash', { length: 64 }).notNull(),
    resourceId: varchar('resource_id', { length: 33 }).notNull(),
    createdAt: moment('created_at'),
  },
  // The anchor leads the key, so the legacy rows (anchor '') are one range of it.
  (t) => [
    primaryKey({ columns: [t.anchorId, t.callerId, t.idempotencyKey] }),
    index('idempotency_keys_created_idx').on(t.createdAt),
  ],
);
