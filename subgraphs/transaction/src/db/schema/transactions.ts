import { sql } from 'drizzle-orm';
import {
  bigint,
  date,
  datetime,
  index,
  int,
  mysqlEnum,
  mysqlTable,
  primaryKey,
  uniqueIndex,
  varchar,
} from 'drizzle-orm/mysql-core';

/**
 * The transaction subgraph's tables. They live in the same database as the ledger on each
 * shard, so a payment record and its ledger entries commit in one local transaction.
 * A payment, a refund and a deposit or withdrawal live on the shard of the account debited
 * first (the payer's; for a refund, its payment's).
 */
const moment = (name: string) =>
  datetime(name, { mode: 'date', fsp: 6 })
    .notNull()
    .default(sql`CURRENT_TIMESTAMP(6)`);
const money = (name: string) => bigint(name, { mode: 'bigint' }).notNull();
const businessDate = () =>
  date('business_date', { mode: 'string' })
    .notNull()
    .default(sql`'1970-01-01'`);
/** Set when a settlement has taken the record into account: each is settled exactly once. */
const settlementId = () => varchar('settlement_id', { length: 33 });

export const paymentStatuses = ['PROCESSING', 'SUCCEEDED', 'FAILED'] as const;
/**
 * How a payment moves: within one shard, into a merchant stripe, or through clearing (the
 * two-leg cases), or LEGS: a payment of more than two legs (splits, a campaign's discount),
 * each leg posted on its account's shard (services/legs.ts).
 */
export const paymentRoutes = ['SAME_SHARD', 'MERCHANT_STRIPE', 'CROSS_SHARD', 'LEGS'] as const;

export const payments = mysqlTable(
  'payments',
  {
    id: varchar('id', { length: 33 }).primaryKey(),
    payerAccountId: varchar('payer_account_id', { length: 33 }).notNull(),
    payeeAccountId: varchar('payee_account_id', { length: 33 }).notNull(),
    /** The row credited: the payee itself, or the merchant's stripe on the payer's shard. */
    creditAccountId: varchar('credit_account_id', { length: 33 }).notNull(),
    route: mysqlEnum('route', paymentRoutes).notNull(),
    amount: money('amount'),
    currency: varchar('currency', { length: 8 }).notNull(),
    refundedAmount: money('refunded_amount').default(sql`0`),
    /** What a campaign paid of `amount` (0 without one): the payer paid amount - discount. */
    discountAmount: money('discount_amount').default(sql`0`),
    campaignId: varchar('campaign_id', { length: 33 }),
    status: mysqlEnum('status', paymentStatuses).notNull(),
    failureCode: varchar('failure_code', { length: 40 }),
    description: varchar('description', { length: 500 }),
    createdBy: varchar('created_by', { length: 64 }).notNull(),
    deviceId: varchar('device_id', { length: 128 }),
    clientIp: varchar('client_ip', { length: 64 }),
    userAgent: varchar('user_agent', { length: 256 }),
    businessDate: businessDate(),
    settlementId: settlementId(),
    createdAt: moment('created_at'),
    completedAt: datetime('completed_at', { mode: 'date', fsp: 6 }),
  },
  // Every secondary index is an entry each payment writes (docs/PERFORMANCE.md, "Bulk (c)"),
  // so the table keeps only those a query needs, each named with its query:
  // payments_payer_idx: an account's payments as payer (paymentsOfAccount);
  // payments_settle_idx: a merchant's payments to settle (lockUnsettledPayments), the payments
  // of a settlement (paymentIdsOfSettlement, by merchant and settlement), and an account's
  // payments as payee (paymentsOfAccount: MySQL merges it with payments_payer_idx by its prefix).
  // payments_due_idx: the (merchant, date) pairs left to settle (dueSettlements, the settlement
  // worker's every pass): without it each pass read every payment of the shard, ever (a-70's
  // stalls of 0.2 s, docs/PERFORMANCE.md); with it, a merchant's unsettled payments alone.
  // payments_payee_idx (payee, id) and payments_settlement_idx (settlement) were dropped in
  // 0007: nothing needed them that payments_settle_idx does not serve (payments-indexes.test.ts).
  (t) => [
    index('payments_payer_idx').on(t.payerAccountId, t.id),
    index('payments_settle_idx').on(t.payeeAccountId, t.settlementId, t.businessDate),
    index('payments_due_idx').on(t.route, t.settlementId, t.businessDate, t.payeeAccountId),
  ],
);

export const refunds = mysqlTable(
  'refunds',
  {
    id: varchar('id', { length: 33 }).primaryKey(),
    paymentId: varchar('payment_id', { length: 33 }).notNull(),
    amount: money('amount'),
    currency: varchar('currency', { length: 8 }).notNull(),
    status: mysqlEnum('status', paymentStatuses).notNull(),
    failureCode: varchar('failure_code', { length: 40 }),
    reason: varchar('reason', { length: 500 }),
    createdBy: varchar('created_by', { length: 64 }).notNull(),
    /** The refunded payment's payee, so settlement finds a merchant's refunds in one query. */
    payeeAccountId: varchar('payee_account_id', { length: 33 }).notNull().default(''),
    businessDate: businessDate(),
    settlementId: settlementId(),
    createdAt: moment('created_at'),
    completedAt: datetime('completed_at', { mode: 'date', fsp: 6 }),
  },
  (t) => [
    index('refunds_payment_idx').on(t.paymentId, t.id),
    index('refunds_settle_idx').on(t.payeeAccountId, t.settlementId, t.businessDate),
    /**
     * The settlement worker's pass (read-model/settlement.ts dueSettlements): the refunds not yet settled, without a
     * scan of every refund the shard ever held, as payments_due_idx does for payments.
     */
    index('refunds_due_idx').on(t.status, t.settlementId, t.businessDate, t.payeeAccountId),
    /** The webhooks dispatcher's scan for refunds that ended FAILED (read-model/webhooks.ts). */
    index('refunds_ended_idx').on(t.status, t.completedAt),
  ],
);

export const holdStatuses = ['HELD', 'CAPTURED', 'VOIDED', 'EXPIRED'] as const;

/**
 * A hold (two-phase payment): money moved from the payer's available balance to frozen, to be
 * captured as a payment, voided or expired later, once. It lives on the payer's shard, with its
 * postings. Every ending changes status from HELD under the row's lock, so exactly one ending
 * wins; ended_by names what ended it: the capture's payment, or the releasing posting of a
 * void or an expiry (which is also what a replayed void recognises as its own).
 */
export const holds = mysqlTable(
  'holds',
  {
    id: varchar('id', { length: 33 }).primaryKey(),
    payerAccountId: varchar('payer_account_id', { length: 33 }).notNull(),
    payeeAccountId: varchar('payee_account_id', { length: 33 }).notNull(),
    amount: money('amount'),
    capturedAmount: money('captured_amount').default(sql`0`),
    currency: varchar('currency', { length: 8 }).notNull(),
    status: mysqlEnum('status', holdStatuses).notNull(),
    endedBy: varchar('ended_by', { length: 33 }),
    description: varchar('description', { length: 500 }),
    createdBy: varchar('created_by', { length: 64 }).notNull(),
    expiresAt: datetime('expires_at', { mode: 'date', fsp: 6 }).notNull(),
    createdAt: moment('created_at'),
    endedAt: datetime('ended_at', { mode: 'date', fsp: 6 }),
  },
  (t) => [
    index('holds_payer_idx').on(t.payerAccountId, t.id),
    index('holds_payee_idx').on(t.payeeAccountId, t.id),
    index('holds_due_idx').on(t.status, t.expiresAt),
    index('holds_ended_by_idx').on(t.endedBy),
  ],
);

export const externalTransferKinds = ['DEPOSIT', 'WITHDRAWAL'] as const;

/** Deposits and withdrawals: money crossing the platform's edge, matched to bank statements by external_ref. */
export const externalTransfers = mysqlTable(
  'external_transfers',
  {
    id: varchar('id', { length: 33 }).primaryKey(),
    kind: mysqlEnum('kind', externalTransferKinds).notNull(),
    accountId: varchar('account_id', { length: 33 }).notNull(),
    amount: money('amount'),
    currency: varchar('currency', { length: 8 }).notNull(),
    status: mysqlEnum('status', paymentStatuses).notNull(),
    externalRef: varchar('external_ref', { length: 128 }),
    /** The channel the money moved through (shared/channels.ts), read by the channel's reconciliation. */
    channel: varchar('channel', { length: 64 }),
    /** The owner's linked account it paid out to or came from (external_accounts), when one was named. */
    externalAccountId: varchar('external_account_id', { length: 33 }),
    createdBy: varchar('created_by', { length: 64 }).notNull(),
    businessDate: businessDate(),
    createdAt: moment('created_at'),
  },
  (t) => [
    index('external_transfers_account_idx').on(t.accountId, t.id),
    index('external_transfers_ref_idx').on(t.externalRef),
    index('external_transfers_date_idx').on(t.businessDate),
    index('external_transfers_channel_date_idx').on(t.channel, t.businessDate),
  ],
);

/**
 * PAYOUT_EVENT is not a movement's half: it tells a payout to a linked account on its owner's link shard
 * (services/link-events.ts), the withdrawal's event written after the withdrawal commits, exactly once.
 */
export const outboxSteps = [
  'PAYMENT_CREDIT',
  'REFUND_DEBIT',
  'SWEEP_CREDIT',
  'PAYMENT_LEGS',
  'REFUND_LEGS',
  'PAYOUT_EVENT',
] as const;
export const outboxStatuses = ['PENDING', 'DONE'] as const;

/**
 * The other shard's half of a cross-shard movement, written in the same transaction as the
 * first half. The inline path or, after a crash, the relay worker carries it out exactly once.
 */
export const transferOutbox = mysqlTable(
  'transfer_outbox',
  {
    id: varchar('id', { length: 33 }).primaryKey(),
    step: mysqlEnum('step', outboxSteps).notNull(),
    status: mysqlEnum('status', outboxStatuses).notNull(),
    attempts: int('attempts').notNull().default(0),
    createdAt: moment('created_at'),
    nextAttemptAt: moment('next_attempt_at'),
  },
  (t) => [index('transfer_outbox_due_idx').on(t.status, t.nextAttemptAt)],
);

/** What a sweep moves between a merchant's rows: available money, or (a refund's) pending. */
export const sweepBuckets = ['AVAILABLE', 'PENDING'] as const;

/**
 * Money moved between two rows of one merchant (services/sweep.ts), on the debited row's shard:
 * debited there into clearing with its outbox row in one transaction, credited on the other
 * row's shard, then SUCCEEDED. A withdrawal sweeps from a stripe (stripe_account_id) to the home
 * row (merchant_account_id); a refund's top-up (services/refund-top-up.ts) from another row of the
 * merchant (stripe_account_id: the debited row) to the stripe it gives back from
 * (merchant_account_id: the credited row), its refund's id in withdrawal_id. `bucket` is what
 * moves: available (a withdrawal's sweep, a top-up of available), or pending (a refund of advanced
 * money taking another stripe's pending first: migration 0013). One per (withdrawal or refund,
 * debited row, bucket), so a replay finds it.
 */
export const sweeps = mysqlTable(
  'sweeps',
  {
    id: varchar('id', { length: 33 }).primaryKey(),
    withdrawalId: varchar('withdrawal_id', { length: 33 }).notNull(),
    merchantAccountId: varchar('merchant_account_id', { length: 33 }).notNull(),
    stripeAccountId: varchar('stripe_account_id', { length: 33 }).notNull(),
    amount: money('amount'),
    currency: varchar('currency', { length: 8 }).notNull(),
    status: mysqlEnum('status', paymentStatuses).notNull(),
    bucket: mysqlEnum('bucket', sweepBuckets).notNull().default('AVAILABLE'),
    createdAt: moment('created_at'),
    completedAt: datetime('completed_at', { mode: 'date', fsp: 6 }),
  },
  (t) => [
    uniqueIndex('sweeps_withdrawal_stripe_bucket_uq').on(t.withdrawalId, t.stripeAccountId, t.bucket),
    index('sweeps_status_idx').on(t.status),
  ],
);

export const legRoles = ['PAYER', 'CAMPAIGN', 'PAYEE', 'SPLIT'] as const;

/**
 * The legs of a payment of route LEGS, on the payment's shard (a two-leg payment's legs are
 * its payer and payee and are not written here). Paying legs (PAYER, CAMPAIGN) sum to the
 * payment's amount, and so do receiving legs (PAYEE, SPLIT). posted_account_id is the row the
 * leg posts to: the account itself, or a merchant's stripe on the payment's shard.
 * refunded_amount is what the leg has given back (receiving) or received back (paying) so far,
 * refunds in flight included; settlement_id marks a MERCHANT receiving leg settled.
 */
export const paymentLegs = mysqlTable(
  'payment_legs',
  {
    paymentId: varchar('payment_id', { length: 33 }).notNull(),
    legIndex: int('leg_index').notNull(),
    role: mysqlEnum('role', legRoles).notNull(),
    accountId: varchar('account_id', { length: 33 }).notNull(),
    postedAccountId: varchar('posted_account_id', { length: 33 }).notNull(),
    /** The bucket the leg moves: a merchant receiver's stripe takes it into pending (settled later). */
    bucket: mysqlEnum('bucket', ['AVAILABLE', 'PENDING']).notNull(),
    amount: money('amount'),
    currency: varchar('currency', { length: 8 }).notNull(),
    refundedAmount: money('refunded_amount').default(sql`0`),
    businessDate: businessDate(),
    settlementId: settlementId(),
  },
  (t) => [
    primaryKey({ columns: [t.paymentId, t.legIndex] }),
    index('payment_legs_account_idx').on(t.accountId, t.settlementId, t.businessDate),
    // The pending legs left to settle (dueSettlements): without it, every leg of the shard each pass.
    index('payment_legs_due_idx').on(t.bucket, t.settlementId, t.businessDate, t.accountId),
  ],
);

/** What each leg of a LEGS payment gives back (receiving, positive) or gets back (paying) in one refund. */
export const refundLegs = mysqlTable(
  'refund_legs',
  {
    refundId: varchar('refund_id', { length: 33 }).notNull(),
    legIndex: int('leg_index').notNull(),
    /** Signed: the cumulative rule may make the payee's remainder leg receive in one refund. */
    amount: bigint('amount', { mode: 'bigint' }).notNull(),
    /** A MERCHANT leg's share is counted by one settlement: its leg's, or the next after it (settlement_id). */
    settlementId: settlementId(),
  },
  (t) => [primaryKey({ columns: [t.refundId, t.legIndex] })],
);

/**
 * A discount campaign, on its funding account's shard, so that a payment's debit of the funding
 * account and the campaign's counters commit in one local transaction. Exactly one of
 * percent_off_bps and amount_off is set. payee_account_ids: a JSON array, or null for any payee.
 */
export const campaigns = mysqlTable('campaigns', {
  id: varchar('id', { length: 33 }).primaryKey(),
  fundingAccountId: varchar('funding_account_id', { length: 33 }).notNull(),
  currency: varchar('currency', { length: 8 }).notNull(),
  percentOffBps: int('percent_off_bps'),
  amountOff: bigint('amount_off', { mode: 'bigint' }),
  maxDiscountPerPayment: bigint('max_discount_per_payment', { mode: 'bigint' }),
  payeeAccountIds: varchar('payee_account_ids', { length: 4000 }),
  endsAt: datetime('ends_at', { mode: 'date', fsp: 6 }),
  spentAmount: money('spent_amount').default(sql`0`),
  paymentsCount: int('payments_count').notNull().default(0),
  createdBy: varchar('created_by', { length: 64 }).notNull(),
  createdAt: moment('created_at'),
});

/**
 * How many campaigns each funding account has made (at most campaignsPerFundingAccountMax), beside
 * them on its shard: the row a creation locks, so that two creations at the bound cannot both pass.
 * Campaigns are kept (an ended one too), so every one counts.
 */
export const campaignCounts = mysqlTable('campaign_counts', {
  fundingAccountId: varchar('funding_account_id', { length: 33 }).primaryKey(),
  campaigns: int('campaigns', { unsigned: true }).notNull(),
});

/**
 * How many refunds each account row (a personal account, or a merchant's stripe) has given a leg's share back to,
 * beside the row on its shard, counted in the give-back's transaction (services/refund-completion.ts): a refund of legs
 * still PROCESSING that fails credits what the row gave back to it, whatever the row's status, so a close must see it
 * (read-model/account.ts givenBackInFlight). The close reads every database only for a row counted here. Counts only
 * grow: a refund ends on another database.
 */
export const giveBackCounts = mysqlTable('give_back_counts', {
  accountId: varchar('account_id', { length: 33 }).primaryKey(),
  refunds: int('refunds', { unsigned: true }).notNull(),
});

export type PaymentLegRow = typeof paymentLegs.$inferSelect;
export type RefundLegRow = typeof refundLegs.$inferSelect;
export type CampaignRow = typeof campaigns.$inferSelect;
export type SweepRow = typeof sweeps.$inferSelect;
export type PaymentRow = typeof payments.$inferSelect;
export type RefundRow = typeof refunds.$inferSelect;
export type ExternalTransferRow = typeof externalTransfers.$inferSelect;
export type OutboxRow = typeof transferOutbox.$inferSelect;
export type HoldRow = typeof holds.$inferSelect;
