import { sql } from 'drizzle-orm';
import { bigint, datetime, index, int, mysqlTable, varchar } from 'drizzle-orm/mysql-core';

/**
 * FX: rates, quotes, and what an FX payment and its refunds moved on the payee's side. A rate
 * row is never changed: setting a pair appends one, and the newest row of the pair prices new
 * quotes, so a quote already issued keeps the rate it copied. Rates live on the control shard;
 * a quote on the shard its id names; a payment's and a refund's FX rows beside the payment.
 */
const moment = (name: string) =>
  datetime(name, { mode: 'date', fsp: 6 })
    .notNull()
    .default(sql`CURRENT_TIMESTAMP(6)`);
const money = (name: string) => bigint(name, { mode: 'bigint' }).notNull();

export const fxRates = mysqlTable(
  'fx_rates',
  {
    id: varchar('id', { length: 33 }).primaryKey(),
    /** Both directions of a pair share it ("JPY/USD", the codes in order; an asset's code is up to 8): the inverse is priced from the same row. */
    pairKey: varchar('pair_key', { length: 17 }).notNull(),
    baseCurrency: varchar('base_currency', { length: 8 }).notNull(),
    quoteCurrency: varchar('quote_currency', { length: 8 }).notNull(),
    /** Major units of quote_currency per one major unit of base_currency, as the operator wrote it. */
    rate: varchar('rate', { length: 32 }).notNull(),
    spreadBps: int('spread_bps').notNull(),
    createdBy: varchar('created_by', { length: 64 }).notNull(),
    createdAt: moment('created_at'),
  },
  // The newest row of a pair: one range of this index read backwards.
  (t) => [index('fx_rates_pair_idx').on(t.pairKey, t.createdAt, t.id)],
);

export const fxQuotes = mysqlTable(
  'fx_quotes',
  {
    id: varchar('id', { length: 33 }).primaryKey(),
    /** The token subject that asked for it: only it may read or pay with it. */
    createdBy: varchar('created_by', { length: 64 }).notNull(),
    sellCurrency: varchar('sell_currency', { length: 8 }).notNull(),
    buyCurrency: varchar('buy_currency', { length: 8 }).notNull(),
    sellAmount: money('sell_amount'),
    buyAmount: money('buy_amount'),
    /** The rate row it was priced from, copied: a later rate never changes it. */
    rateId: varchar('rate_id', { length: 33 }).notNull(),
    rate: varchar('rate', { length: 32 }).notNull(),
    rateBaseCurrency: varchar('rate_base_currency', { length: 8 }).notNull(),
    spreadBps: int('spread_bps').notNull(),
    expiresAt: datetime('expires_at', { mode: 'date', fsp: 6 }).notNull(),
    /** The one payment it pays, set once by a conditional update (services/fx-quote.ts claimQuote). */
    paymentId: varchar('payment_id', { length: 33 }),
    createdAt: moment('created_at'),
  },
  // The purge (services/fx-quote-purge.ts): unused quotes are one range of (NULL, expires_at);
  // used ones a range of payment ids (time-ordered ULIDs) up to the cut-off's, with expires_at
  // read from the index itself.
  (t) => [index('fx_quotes_purge_idx').on(t.paymentId, t.expiresAt)],
);

/** An FX payment's quote and payee side, on the payment's shard, written with the payment's debit. */
export const paymentFx = mysqlTable('payment_fx', {
  paymentId: varchar('payment_id', { length: 33 }).primaryKey(),
  quoteId: varchar('quote_id', { length: 33 }).notNull(),
  rate: varchar('rate', { length: 32 }).notNull(),
  rateBaseCurrency: varchar('rate_base_currency', { length: 8 }).notNull(),
  spreadBps: int('spread_bps').notNull(),
  sellAmount: money('sell_amount'),
  sellCurrency: varchar('sell_currency', { length: 8 }).notNull(),
  buyAmount: money('buy_amount'),
  buyCurrency: varchar('buy_currency', { length: 8 }).notNull(),
});

/**
 * What a refund of an FX payment takes back from the payee, in the payee's currency (the cumulative pro-rata share).
 */
export const refundFx = mysqlTable(
  'refund_fx',
  {
    refundId: varchar('refund_id', { length: 33 }).primaryKey(),
    paymentId: varchar('payment_id', { length: 33 }).notNull(),
    buyAmount: money('buy_amount'),
    buyCurrency: varchar('buy_currency', { length: 8 }).notNull(),
  },
  (t) => [index('refund_fx_payment_idx').on(t.paymentId)],
);

export type FxRateRow = typeof fxRates.$inferSelect;
export type FxQuoteRow = typeof fxQuotes.$inferSelect;
export type PaymentFxRow = typeof paymentFx.$inferSelect;
export type RefundFxRow = typeof refundFx.$inferSelect;
