import { sql } from 'drizzle-orm';
import { bigint, char, date, datetime, index, int, mysqlEnum, mysqlTable, primaryKey, text, uniqueIndex, varchar, boolean } from 'drizzle-orm/mysql-core';

/**
 * Settlement and reconciliation records. A settlement lives on its merchant's home shard;
 * each of its parts lives on the shard of the stripe it settled, written in the same local
 * transaction as that stripe's settlement posting. Statements and reconciliation reports
 * are platform-wide and live on the control shard (the one holding logical shard 0).
 */
const moment = (name: string) => datetime(name, { mode: 'date', fsp: 6 }).notNull().default(sql`CURRENT_TIMESTAMP(6)`);
const money = (name: string) => bigint(name, { mode: 'bigint' }).notNull().default(sql`0`);

export const settlements = mysqlTable(
  'settlements',
  {
    id: varchar('id', { length: 33 }).primaryKey(),
    merchantAccountId: varchar('merchant_account_id', { length: 33 }).notNull(),
    businessDate: date('business_date', { mode: 'string' }).notNull(),
    currency: char('currency', { length: 3 }).notNull(),
    status: mysqlEnum('status', ['PROCESSING', 'SETTLED']).notNull(),
    feeBps: int('fee_bps').notNull(),
    grossAmount: money('gross_amount'),
    refundedAmount: money('refunded_amount'),
    feeAmount: money('fee_amount'),
    netAmount: money('net_amount'),
    createdAt: moment('created_at'),
    completedAt: datetime('completed_at', { mode: 'date', fsp: 6 }),
  },
  (t) => [uniqueIndex('settlements_merchant_date_uq').on(t.merchantAccountId, t.businessDate)],
);

export const settlementParts = mysqlTable(
  'settlement_parts',
  {
    settlementId: varchar('settlement_id', { length: 33 }).notNull(),
    stripeAccountId: varchar('stripe_account_id', { length: 33 }).notNull(),
    grossAmount: money('gross_amount'),
    refundedAmount: money('refunded_amount'),
    feeAmount: money('fee_amount'),
    /** Moved from the stripe's pending: its payments' amounts less what was refunded before settlement. */
    movedAmount: money('moved_amount'),
    postingId: varchar('posting_id', { length: 33 }),
    createdAt: moment('created_at'),
  },
  (t) => [primaryKey({ columns: [t.settlementId, t.stripeAccountId] })],
);

export const merchantFeeRates = mysqlTable('merchant_fee_rates', {
  merchantAccountId: varchar('merchant_account_id', { length: 33 }).primaryKey(),
  feeBps: int('fee_bps').notNull(),
  updatedAt: moment('updated_at'),
});

export const statements = mysqlTable(
  'statements',
  {
    id: varchar('id', { length: 40 }).primaryKey(),
    channel: varchar('channel', { length: 64 }).notNull(),
    businessDate: date('business_date', { mode: 'string' }).notNull(),
    lineCount: int('line_count').notNull(),
    importedBy: varchar('imported_by', { length: 64 }).notNull(),
    createdAt: moment('created_at'),
  },
  (t) => [uniqueIndex('statements_channel_date_uq').on(t.channel, t.businessDate)],
);

export const statementLines = mysqlTable(
  'statement_lines',
  {
    statementId: varchar('statement_id', { length: 40 }).notNull(),
    lineNumber: int('line_number').notNull(),
    externalRef: varchar('external_ref', { length: 128 }).notNull(),
    amount: bigint('amount', { mode: 'bigint' }).notNull(),
    currency: char('currency', { length: 3 }).notNull(),
    direction: mysqlEnum('direction', ['CREDIT', 'DEBIT']).notNull(),
    valueDate: date('value_date', { mode: 'string' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.statementId, t.lineNumber] }), index('statement_lines_ref_idx').on(t.externalRef)],
);

export const reconciliationReports = mysqlTable(
  'reconciliation_reports',
  {
    id: varchar('id', { length: 40 }).primaryKey(),
    businessDate: date('business_date', { mode: 'string' }).notNull(),
    balanced: boolean('balanced').notNull(),
    /** The discrepancies as JSON (amounts as strings). */
    discrepancies: text('discrepancies').notNull(),
    createdBy: varchar('created_by', { length: 64 }).notNull(),
    createdAt: moment('created_at'),
  },
  (t) => [index('reconciliation_reports_date_idx').on(t.businessDate, t.createdAt)],
);

export type SettlementRow = typeof settlements.$inferSelect;
export type SettlementPartRow = typeof settlementParts.$inferSelect;
export type StatementLineRow = typeof statementLines.$inferSelect;
export type ReportRow = typeof reconciliationReports.$inferSelect;
