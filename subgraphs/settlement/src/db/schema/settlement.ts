import { sql } from 'drizzle-orm';
import {
  bigint,
  char,
  customType,
  date,
  datetime,
  index,
  int,
  mysqlEnum,
  mysqlTable,
  primaryKey,
  text,
  uniqueIndex,
  varchar,
  boolean,
} from 'drizzle-orm/mysql-core';

/** MariaDB's MEDIUMBLOB (up to 16 MiB), which drizzle's mysql-core has no builder for: bytes in, bytes out. */
const mediumblob = customType<{ data: Buffer; driverData: Buffer }>({ dataType: () => 'mediumblob' });

/**
 * Settlement and reconciliation records. A settlement lives on its merchant's home shard;
 * each of its parts lives on the shard of the stripe it settled, written in the same local
 * transaction as that stripe's settlement posting. Statements and reconciliation reports
 * are platform-wide and live on the control shard (the one holding logical shard 0).
 */
const moment = (name: string) =>
  datetime(name, { mode: 'date', fsp: 6 })
    .notNull()
    .default(sql`CURRENT_TIMESTAMP(6)`);
const money = (name: string) =>
  bigint(name, { mode: 'bigint' })
    .notNull()
    .default(sql`0`);

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
    /** What of the date's payments had been advanced before it settled (paid then, not again). */
    advancedAmount: money('advanced_amount'),
    feeAmount: money('fee_amount'),
    netAmount: money('net_amount'),
    /**
     * Of what the settlement made available (moved less the fee), the part that covered the
     * merchant's credit in use (its available below zero) when the run that completed it began.
     */
    creditRepaidAmount: money('credit_repaid_amount'),
    createdAt: moment('created_at'),
    completedAt: datetime('completed_at', { mode: 'date', fsp: 6 }),
  },
  (t) => [
    uniqueIndex('settlements_merchant_date_uq').on(t.merchantAccountId, t.businessDate),
    // The settlement worker resumes every settlement left PROCESSING (processingSettlements): one range a pass.
    index('settlements_status_date_idx').on(t.status, t.businessDate),
  ],
);

export const settlementParts = mysqlTable(
  'settlement_parts',
  {
    settlementId: varchar('settlement_id', { length: 33 }).notNull(),
    stripeAccountId: varchar('stripe_account_id', { length: 33 }).notNull(),
    grossAmount: money('gross_amount'),
    refundedAmount: money('refunded_amount'),
    feeAmount: money('fee_amount'),
    /**
     * Moved from the stripe's pending by this part's posting: its payments' amounts less what was
     * refunded before settlement, less what an advance had moved already (advancedAmount).
     */
    movedAmount: money('moved_amount'),
    /** Of the date's money on this stripe, what advances had moved already: covered, not moved again, no fee. */
    advancedAmount: money('advanced_amount'),
    postingId: varchar('posting_id', { length: 33 }),
    createdAt: moment('created_at'),
  },
  (t) => [primaryKey({ columns: [t.settlementId, t.stripeAccountId] })],
);

/**
 * A merchant's advance terms (SetAdvanceTerms), on its home shard. No row: advances disabled.
 * Its row is also the lock that serialises the merchant's advances (services/advances.ts).
 */
export const advanceTerms = mysqlTable('advance_terms', {
  merchantAccountId: varchar('merchant_account_id', { length: 33 }).primaryKey(),
  currency: char('currency', { length: 3 }).notNull(),
  maxAdvanceBps: int('max_advance_bps').notNull(),
  feeBps: int('fee_bps').notNull(),
  outstandingMax: money('outstanding_max'),
  updatedBy: varchar('updated_by', { length: 64 }).notNull(),
  updatedAt: moment('updated_at'),
});

/**
 * An advance, on its merchant's home shard, written (PENDING, with its plan of pieces) before
 * any piece posts, so that a run cut off halfway is found and finished by the next one.
 */
export const advances = mysqlTable(
  'advances',
  {
    id: varchar('id', { length: 33 }).primaryKey(),
    merchantAccountId: varchar('merchant_account_id', { length: 33 }).notNull(),
    currency: char('currency', { length: 3 }).notNull(),
    amount: money('amount'),
    feeAmount: money('fee_amount'),
    status: mysqlEnum('status', ['PENDING', 'PAID', 'REVERSED']).notNull(),
    /** The pieces as JSON: [{ stripeAccountId, amount, feeAmount }] (amounts as strings). */
    plan: text('plan').notNull(),
    createdAt: moment('created_at'),
    completedAt: datetime('completed_at', { mode: 'date', fsp: 6 }),
  },
  (t) => [
    index('advances_merchant_status_idx').on(t.merchantAccountId, t.status),
    /** The advance worker's scan for advances a crash left PENDING, oldest first. */
    index('advances_status_created_idx').on(t.status, t.createdAt),
  ],
);

/** One stripe's piece of an advance, on the stripe's shard, written in the same local transaction as its posting. */
export const advancePieces = mysqlTable(
  'advance_pieces',
  {
    advanceId: varchar('advance_id', { length: 33 }).notNull(),
    stripeAccountId: varchar('stripe_account_id', { length: 33 }).notNull(),
    amount: money('amount'),
    feeAmount: money('fee_amount'),
    postingId: varchar('posting_id', { length: 33 }).notNull(),
    /**
     * Set when an advance that could not post every piece took this one back, as far as no settlement had covered it
     * since it posted (services/advance-pieces.ts prepareReversal).
     */
    reversed: boolean('reversed').notNull().default(false),
    /**
     * The stripe's advance_outstanding.covered when the piece posted: its reversal reads what settlements covered since
     * (more than the stripe's outstanding can still give back is this piece, covered as advanced, final).
     */
    coveredBefore: money('covered_before'),
    /**
     * The stripe's advance_outstanding.moved when the piece posted: what moves of pending out of the stripe raised its
     * outstanding by since stands against other money than this piece's, so its reversal does not take it back.
     */
    movedBefore: money('moved_before'),
    createdAt: moment('created_at'),
  },
  (t) => [primaryKey({ columns: [t.advanceId, t.stripeAccountId] })],
);

/**
 * What advances moved out of a stripe's pending and no settlement has covered yet, on the
 * stripe's shard: raised by an advance's piece, lowered by the stripe's settlement and by what
 * refunds repaid of it (advance_refund_offsets), each in the local transaction that records it,
 * so it always equals Σ pieces − Σ parts' advancedAmount − Σ offsets.
 */
export const advanceOutstanding = mysqlTable('advance_outstanding', {
  stripeAccountId: varchar('stripe_account_id', { length: 33 }).primaryKey(),
  merchantAccountId: varchar('merchant_account_id', { length: 33 }).notNull(),
  outstanding: money('outstanding'),
  /**
   * Σ what the stripe's settlement parts covered (their advancedAmount), raised with outstanding's fall in the part's
   * transaction: a piece records it when it posts, so its reversal knows what settlements covered since.
   */
  covered: money('covered'),
  /**
   * Σ what moves of pending changed outstanding by (write-model/advances.ts): + a move out of the stripe, − what a move
   * into it repaid; each in the move's transaction, beside its offset under the sweep's id, so it always equals −Σ the
   * stripe's sweep offsets. A piece records it when it posts, so its reversal knows what moves added since.
   */
  moved: money('moved'),
});

/**
 * What a refund of money not yet settled took from a stripe's available because an advance had
 * already moved that money out of pending (issue 33): the merchant gave the advance back, so the
 * stripe's outstanding advance was lowered by it, once (the key), at the stripe's first
 * settlement part after the refund, in that part's local transaction (services/advance-refunds.ts).
 * A piece taken back after such a refund gave part of it back puts back only the rest
 * (services/advance-pieces.ts): its row, under the advance's id, is that part, negative, so that
 * the rows sum to what refunds repaid of pieces not taken back.
 */
export const advanceRefundOffsets = mysqlTable(
  'advance_refund_offsets',
  {
    refundId: varchar('refund_id', { length: 33 }).notNull(),
    stripeAccountId: varchar('stripe_account_id', { length: 33 }).notNull(),
    amount: money('amount'),
    createdAt: moment('created_at'),
  },
  (t) => [
    primaryKey({ columns: [t.refundId, t.stripeAccountId] }),
    index('advance_refund_offsets_stripe_idx').on(t.stripeAccountId),
  ],
);

export const merchantFeeRates = mysqlTable('merchant_fee_rates', {
  merchantAccountId: varchar('merchant_account_id', { length: 33 }).primaryKey(),
  feeBps: int('fee_bps').notNull(),
  updatedAt: moment('updated_at'),
});

export const statementFormats = ['CSV', 'CAMT053', 'MT940'] as const;

/**
 * A channel's statement of one span. importStatement's CSV (one per channel and date, no
 * currency or balances) and importBankStatement's statements (one per channel, account, span and
 * currency, with the bank's opening and closing balances when the format carries them).
 * `account` is the registered account it is of (channel_accounts' key), '' on a channel with no
 * account registered (one account, as every channel was before accounts were registered).
 * Its span is opening_date to business_date (its closing date): the day's own statement and the month's closing on
 * the same day are two statements, held side by side; opening_date is the opening balance's date as the bank gives
 * it, the closing date where none is given (CSV) and for the rows stored before it was kept.
 * span_known is true where opening_date is the span's; NULL on a bank file's row stored before spans were kept
 * (migration 0015), whose opening_date is its closing date whatever the file's span was (a month then read as one
 * day): an import of its channel, account, closing date and currency replaces it, whatever its own span.
 */
export const statements = mysqlTable(
  'statements',
  {
    id: varchar('id', { length: 40 }).primaryKey(),
    channel: varchar('channel', { length: 64 }).notNull(),
    account: varchar('account', { length: 35 }).notNull().default(''),
    /**
     * The account the statement named (as `account` keys it; '' when it named none), whatever it is stored under: a
     * statement a channel of no account took is stored under '', and the registration of the account it named to that
     * channel moves it under the account (reconciliation-store.ts adoptStatements), so that the account's next import
     * of the day replaces it instead of standing beside it. NULL: stored before it was kept.
     */
    namedAccount: varchar('named_account', { length: 35 }),
    businessDate: date('business_date', { mode: 'string' }).notNull(),
    openingDate: date('opening_date', { mode: 'string' }).notNull(),
    spanKnown: boolean('span_known'),
    format: mysqlEnum('format', statementFormats).notNull().default('CSV'),
    currency: char('currency', { length: 3 }),
    openingBalance: bigint('opening_balance', { mode: 'bigint' }),
    closingBalance: bigint('closing_balance', { mode: 'bigint' }),
    lineCount: int('line_count').notNull(),
    importedBy: varchar('imported_by', { length: 64 }).notNull(),
    createdAt: moment('created_at'),
  },
  (t) => [
    uniqueIndex('statements_channel_account_span_currency_uq').on(
      t.channel,
      t.account,
      t.businessDate,
      t.openingDate,
      t.currency,
    ),
    index('statements_channel_date_idx').on(t.channel, t.businessDate),
  ],
);

/**
 * Which channel a bank account's statements belong to (RegisterChannelAccount): one channel per
 * account, the account kept as statements are compared (no spaces, upper case: an IBAN or the
 * bank's own number), with the currency its statements must be in.
 */
export const channelAccounts = mysqlTable(
  'channel_accounts',
  {
    accountIdentification: varchar('account_identification', { length: 35 }).primaryKey(),
    channel: varchar('channel', { length: 64 }).notNull(),
    currency: char('currency', { length: 3 }).notNull(),
    registeredBy: varchar('registered_by', { length: 64 }).notNull(),
    createdAt: moment('created_at'),
  },
  (t) => [index('channel_accounts_channel_idx').on(t.channel)],
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
  (t) => [
    primaryKey({ columns: [t.statementId, t.lineNumber] }),
    index('statement_lines_ref_idx').on(t.externalRef),
    // A day's reconciliation reads the lines booked on its days, whatever statement holds them (a month's statement).
    index('statement_lines_booked_idx').on(t.valueDate),
  ],
);

export const reconciliationReports = mysqlTable(
  'reconciliation_reports',
  {
    id: varchar('id', { length: 40 }).primaryKey(),
    businessDate: date('business_date', { mode: 'string' }).notNull(),
    balanced: boolean('balanced').notNull(),
    /**
     * The discrepancies as JSON (amounts as strings), gzipped (db/report-bodies.ts): a TEXT's 64 KiB held about 250,
     * and a date with more (879 after the shard-move suite's moves, 2026-11-28) failed to store its report, so its
     * reconciliation answered an internal error on the very day an operator needed it.
     */
    discrepancies: mediumblob('discrepancies').notNull(),
    createdBy: varchar('created_by', { length: 64 }).notNull(),
    createdAt: moment('created_at'),
  },
  (t) => [index('reconciliation_reports_date_idx').on(t.businessDate, t.createdAt)],
);

/** A channel's matching rules (SetMatchingRules); a channel without a row: tolerance 0, window 0, no batches. */
export const channelMatchingRules = mysqlTable('channel_matching_rules', {
  channel: varchar('channel', { length: 64 }).primaryKey(),
  amountToleranceMinor: money('amount_tolerance_minor'),
  amountToleranceBps: int('amount_tolerance_bps').notNull().default(0),
  dateWindowDays: int('date_window_days').notNull().default(0),
  allowOneToMany: boolean('allow_one_to_many').notNull().default(false),
  updatedBy: varchar('updated_by', { length: 64 }).notNull(),
  updatedAt: moment('updated_at'),
});

export const exceptionKinds = ['MISSING_INTERNAL', 'MISSING_EXTERNAL', 'AMOUNT_MISMATCH', 'IN_TRANSIT'] as const;
export const resolutionReasons = ['BANK_FEE', 'TIMING', 'BANK_DUPLICATE', 'WRITE_OFF'] as const;

/**
 * What a channel's matching could not explain, kept until resolved and never deleted. `subject`
 * names the unexplained thing (a movement, a statement line's content, a match) so that the
 * next run finds the same row; `amount` is the signed difference, statement minus ledger
 * (credits positive), which a BANK_FEE or WRITE_OFF resolution posts against the reserve.
 */
export const reconciliationExceptions = mysqlTable(
  'reconciliation_exceptions',
  {
    id: varchar('id', { length: 40 }).primaryKey(),
    channel: varchar('channel', { length: 64 }).notNull(),
    businessDate: date('business_date', { mode: 'string' }).notNull(),
    subject: varchar('subject', { length: 191 }).notNull(),
    kind: mysqlEnum('kind', exceptionKinds).notNull(),
    externalRef: varchar('external_ref', { length: 128 }),
    movementId: varchar('movement_id', { length: 33 }),
    amount: bigint('amount', { mode: 'bigint' }).notNull(),
    currency: char('currency', { length: 3 }).notNull(),
    detail: varchar('detail', { length: 500 }).notNull(),
    status: mysqlEnum('status', ['OPEN', 'RESOLVED']).notNull(),
    resolution: mysqlEnum('resolution', resolutionReasons),
    note: varchar('note', { length: 500 }),
    resolvedBy: varchar('resolved_by', { length: 64 }),
    resolvedAt: datetime('resolved_at', { mode: 'date', fsp: 6 }),
    /** The idempotency key of the resolution that closed it: its replay answers the same. */
    resolutionKey: varchar('resolution_key', { length: 128 }),
    postingId: varchar('posting_id', { length: 33 }),
    detectedAt: moment('detected_at'),
    updatedAt: moment('updated_at'),
  },
  (t) => [
    uniqueIndex('reconciliation_exceptions_subject_uq').on(t.channel, t.subject),
    index('reconciliation_exceptions_date_idx').on(t.channel, t.businessDate),
    index('reconciliation_exceptions_status_idx').on(t.status, t.detectedAt),
  ],
);

/** The audit trail of exceptions: who (or which run) opened, changed or resolved what, appended only. */
export const reconciliationExceptionEvents = mysqlTable(
  'reconciliation_exception_events',
  {
    exceptionId: varchar('exception_id', { length: 40 }).notNull(),
    sequence: int('sequence').notNull(),
    event: mysqlEnum('event', ['OPENED', 'CHANGED', 'RESOLVED']).notNull(),
    actor: varchar('actor', { length: 64 }).notNull(),
    detail: varchar('detail', { length: 500 }).notNull(),
    at: moment('at'),
  },
  (t) => [primaryKey({ columns: [t.exceptionId, t.sequence] })],
);

/** A channel's reconciliation of a date as it was computed (matches, exceptions, adjustment table as JSON). */
export const channelReconciliations = mysqlTable(
  'channel_reconciliations',
  {
    id: varchar('id', { length: 40 }).primaryKey(),
    channel: varchar('channel', { length: 64 }).notNull(),
    businessDate: date('business_date', { mode: 'string' }).notNull(),
    // A date's whole report, gzipped (db/report-bodies.ts): a few hundred bytes a line of the day's statements, so a
    // bank's day of 60,000 lines is ≈ 28 MB of JSON, over MEDIUMTEXT's 16 MiB and the server's max_allowed_packet.
    body: mediumblob('body').notNull(),
    createdBy: varchar('created_by', { length: 64 }).notNull(),
    createdAt: moment('created_at'),
  },
  (t) => [index('channel_reconciliations_date_idx').on(t.channel, t.businessDate, t.createdAt)],
);

/**
 * A bank's file sent to POST /uploads/statements, kept for importBankStatement({ uploadId }) until expiresAt
 * (services/statement-uploads.ts), on the control shard. completedAt is null while its body is still arriving (its
 * bytes count what is stored so far); sha256 is the whole file's, set when it completes.
 */
export const statementUploads = mysqlTable(
  'statement_uploads',
  {
    id: varchar('id', { length: 40 }).primaryKey(),
    uploadedBy: varchar('uploaded_by', { length: 64 }).notNull(),
    bytes: bigint('bytes', { mode: 'number' }).notNull().default(0),
    sha256: char('sha256', { length: 64 }),
    createdAt: moment('created_at'),
    completedAt: datetime('completed_at', { mode: 'date', fsp: 6 }),
    expiresAt: datetime('expires_at', { mode: 'date', fsp: 6 }).notNull(),
  },
  (t) => [
    /** An operator's uploads (the quota, locked while counted); the purge's scan of the expired ones. */
    index('statement_uploads_operator_idx').on(t.uploadedBy, t.expiresAt),
    index('statement_uploads_expires_idx').on(t.expiresAt),
  ],
);

/**
 * One row per operator who ever uploaded: the lock that makes two requests of one operator count its uploads against
 * the quota one after the other (the shards read committed, which takes no gap locks, so locking the operator's
 * upload rows would not stop a concurrent insert).
 */
export const statementUploadOperators = mysqlTable('statement_upload_operators', {
  uploadedBy: varchar('uploaded_by', { length: 64 }).primaryKey(),
});

/**
 * One row per channel a bank file was ever imported to (made by its first import): the lock that makes two imports to
 * one channel replace its statements one after the other (replaceBankStatements). The shards read committed, which
 * takes no gap locks, so locking the statements of a day that has none yet locked nothing, and two first imports of
 * the day at once both inserted its statement (1062, an internal error).
 */
export const statementChannels = mysqlTable('statement_channels', {
  channel: varchar('channel', { length: 64 }).primaryKey(),
});

/** An upload's body in pieces of at most uploadChunkBytesMax, numbered from 0 in the order they arrived. */
export const statementUploadChunks = mysqlTable(
  'statement_upload_chunks',
  {
    uploadId: varchar('upload_id', { length: 40 }).notNull(),
    sequence: int('sequence').notNull(),
    data: mediumblob('data').notNull(),
  },
  (t) => [primaryKey({ columns: [t.uploadId, t.sequence] })],
);

export type SettlementRow = typeof settlements.$inferSelect;
export type AdvanceTermsRow = typeof advanceTerms.$inferSelect;
export type AdvanceRow = typeof advances.$inferSelect;
export type AdvancePieceRow = typeof advancePieces.$inferSelect;
export type SettlementPartRow = typeof settlementParts.$inferSelect;
export type StatementLineRow = typeof statementLines.$inferSelect;
/** A date's stored report as services read it: its discrepancies' JSON unpacked (db/report-bodies.ts). */
export type ReportRow = Omit<typeof reconciliationReports.$inferSelect, 'discrepancies'> & { discrepancies: string };
export type StatementRow = typeof statements.$inferSelect;
export type MatchingRulesRow = typeof channelMatchingRules.$inferSelect;
export type ExceptionRow = typeof reconciliationExceptions.$inferSelect;
/** A channel's stored report as services read it: its JSON unpacked (db/report-bodies.ts). */
export type ChannelReconciliationRow = Omit<typeof channelReconciliations.$inferSelect, 'body'> & { body: string };
export type ChannelAccountRow = typeof channelAccounts.$inferSelect;
export type StatementUploadRow = typeof statementUploads.$inferSelect;
