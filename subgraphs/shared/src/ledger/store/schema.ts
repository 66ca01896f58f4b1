import { sql } from 'drizzle-orm';
import {
  bigint,
  char,
  date,
  datetime,
  decimal,
  index,
  int,
  mediumtext,
  mysqlEnum,
  mysqlTable,
  primaryKey,
  tinyint,
  uniqueIndex,
  varchar,
} from 'drizzle-orm/mysql-core';
import { accountStatuses, accountTypes, systemKinds } from '../rules/account';

/**
 * The ledger's tables, on every shard. Balances are credit-positive: a customer's deposit is
 * a credit (+) on the customer and a debit (−) on the bank-reserve asset account, whose
 * balance therefore reads negative — the money the bank holds for the platform.
 */
const money = (name: string) =>
  bigint(name, { mode: 'bigint' })
    .notNull()
    .default(sql`0`);
const moment = (name: string) =>
  datetime(name, { mode: 'date', fsp: 6 })
    .notNull()
    .default(sql`CURRENT_TIMESTAMP(6)`);
/** An ISO 4217 currency or a platform asset's code (3-8 capital letters, issue 48). */
const currencyCode = (name: string) => varchar(name, { length: 8 }).notNull();

export const buckets = ['AVAILABLE', 'FROZEN', 'PENDING'] as const;
export const directions = ['DEBIT', 'CREDIT'] as const;

export const accounts = mysqlTable(
  'accounts',
  {
    id: varchar('id', { length: 33 }).primaryKey(),
    ownerId: varchar('owner_id', { length: 64 }).notNull(),
    type: mysqlEnum('type', accountTypes).notNull(),
    /** Set on the platform's own accounts: one of each kind per shard and currency. */
    systemKind: mysqlEnum('system_kind', systemKinds),
    /** Set on a merchant's stripe (a row of another logical shard than its home row's): the merchant's id. */
    parentId: varchar('parent_id', { length: 33 }),
    /**
     * On a merchant's home row: the stripe directory, bit n set when the merchant may have a
     * stripe whose id names logical shard n (rules/stripe-directory.ts). Set before the stripe is
     * opened, so a reader that asks only the shards named here misses no stripe. Routing, not
     * money: not under the MAC, and never lowered.
     */
    stripeShards: bigint('stripe_shards', { mode: 'bigint', unsigned: true })
      .notNull()
      .default(sql`0`),
    currency: currencyCode('currency'),
    /**
     * The legal entity whose books hold the account (rules/entities.ts): PLATFORM unless opened
     * in another. A stripe is its merchant's; a system account is one entity's.
     */
    entity: varchar('entity', { length: 16 }).notNull().default('PLATFORM'),
    /** On an intercompany system account only: the entity the balance is due to or from; '' elsewhere. */
    counterpartyEntity: varchar('counterparty_entity', { length: 16 }).notNull().default(''),
    status: mysqlEnum('status', accountStatuses).notNull().default('ACTIVE'),
    available: money('available'),
    frozen: money('frozen'),
    pending: money('pending'),
    /**
     * A client's credit line, on its home row only: available may go down to −creditLimit
     * (rules/posting-rules.ts). NULL on an account that never had one; 0 once removed, so that
     * an account that may still owe is found through accounts_credit_idx (the exposure read).
     * Under the MAC when not NULL (rules/tamper.ts). Stripes and system accounts keep NULL.
     */
    creditLimit: bigint('credit_limit', { mode: 'bigint' }),
    /** The sequence of the account's newest entry: entries are numbered 1, 2, 3… with no gap. */
    lastSequence: bigint('last_sequence', { mode: 'bigint' })
      .notNull()
      .default(sql`0`),
    /** The hash of the newest entry: the head of the account's hash chain (empty before the first). */
    lastEntryHash: char('last_entry_hash', { length: 64 }).notNull().default(''),
    version: bigint('version', { mode: 'bigint' })
      .notNull()
      .default(sql`0`),
    /** HMAC-SHA256 over id, currency, status, balances, chain head and version (rules/tamper.ts). */
    mac: char('mac', { length: 64 }).notNull().default(''),
    /** Which LEDGER_MAC_KEY signed the MAC, so keys can rotate. */
    macKeyId: varchar('mac_key_id', { length: 32 }).notNull().default(''),
    createdAt: moment('created_at'),
    updatedAt: moment('updated_at'),
  },
  (t) => [
    index('accounts_owner_idx').on(t.ownerId, t.id),
    uniqueIndex('accounts_system_entity_uq').on(t.entity, t.systemKind, t.currency, t.counterpartyEntity),
    // The books' count of accounts per class (store/class-days.ts accountCounts) reads an entity's
    // accounts by it. Postings never write these columns, so it costs them nothing.
    index('accounts_entity_idx').on(t.entity, t.type, t.systemKind, t.currency),
    // A merchant's stripes, one per logical shard it is paid from (rules/stripe-directory.ts stripeIdOf): several on a
    // database, so not unique (migration 0014; the id, the same for every process, keeps first payments to one row).
    index('accounts_parent_idx').on(t.parentId),
    // Postings never write credit_limit (postings.ts balanceUpdate), so this index costs
    // them nothing; it holds only the accounts that ever had a credit line.
    index('accounts_credit_idx').on(t.creditLimit),
  ],
);

export const postings = mysqlTable(
  'postings',
  {
    id: varchar('id', { length: 33 }).primaryKey(),
    kind: varchar('kind', { length: 24 }).notNull(),
    /** The business record that caused the posting: a payment, refund, deposit… */
    refId: varchar('ref_id', { length: 33 }),
    /** Makes a posting apply at most once: a repeat with the same key is a no-op. */
    dedupeKey: varchar('dedupe_key', { length: 191 }),
    currency: currencyCode('currency'),
    /** The business date the posting belongs to (see business-date.ts): day-cut and reconciliation go by it. */
    businessDate: date('business_date', { mode: 'string' })
      .notNull()
      .default(sql`'1970-01-01'`),
    createdAt: moment('created_at'),
  },
  (t) => [
    // No index on ref_id: no query reads postings by it, and each index is an entry every
    // posting writes (docs/PERFORMANCE.md, "Bulk (c)"); postings_ref_idx was dropped in 0006.
    uniqueIndex('postings_dedupe_uq').on(t.dedupeKey),
    index('postings_business_date_idx').on(t.businessDate),
  ],
);

export const ledgerEntries = mysqlTable(
  'ledger_entries',
  {
    accountId: varchar('account_id', { length: 33 }).notNull(),
    sequence: bigint('sequence', { mode: 'bigint' }).notNull(),
    id: varchar('id', { length: 33 }).notNull(),
    postingId: varchar('posting_id', { length: 33 }).notNull(),
    bucket: mysqlEnum('bucket', buckets).notNull(),
    /** Signed effect on the account: credits positive, debits negative. */
    amount: bigint('amount', { mode: 'bigint' }).notNull(),
    direction: mysqlEnum('direction', directions).notNull(),
    /** The account's total (available + frozen + pending) after this entry. */
    balanceAfter: bigint('balance_after', { mode: 'bigint' }).notNull(),
    currency: currencyCode('currency'),
    /** The previous entry's hash and this one's: each account's entries form a hash chain. */
    prevHash: char('prev_hash', { length: 64 }).notNull().default(''),
    hash: char('hash', { length: 64 }).notNull().default(''),
    createdAt: moment('created_at'),
  },
  (t) => [
    primaryKey({ columns: [t.accountId, t.sequence] }),
    uniqueIndex('ledger_entries_id_uq').on(t.id),
    index('ledger_entries_posting_idx').on(t.postingId),
  ],
);

/**
 * An accounts row as drizzle reads it, seal and all. It stays in store/: what store/ reads is mapped
 * once into the domain's Account (rules/account.ts, rows.ts accountOfRow).
 */
export type AccountRow = typeof accounts.$inferSelect;
export type PostingRow = typeof postings.$inferSelect;
export type EntryRow = typeof ledgerEntries.$inferSelect;
/**
 * An entry as a page of an account's history shows it (store/entries.ts entriesPage): the row without its hash chain,
 * which no answer shows and the tamper checks read for themselves. 128 of a row's bytes that a GetAccount page of 100
 * entries decoded into 200 strings only to drop them.
 */
export type EntryLine = Omit<EntryRow, 'prevHash' | 'hash'>;

/**
 * A posting that was refused, kept under its dedupe key in the same transaction that decided
 * it: a repeat of the request then gets the same refusal instead of a second chance, so
 * "applied once" also holds for "refused once".
 */
export const postingRejections = mysqlTable(
  'posting_rejections',
  {
    dedupeKey: varchar('dedupe_key', { length: 191 }).primaryKey(),
    /**
     * An id on the logical shard where the posting was refused, by which a shard move places the row
     * (scripts/lib/move-tables.ts): the refused posting's id (never written), so a refusal goes where
     * its posting would have gone and a replay after a move meets it there. The key cannot place it
     * (`<payment>:credit` is decided on the payee's logical shard). A refusal kept before the column
     * holds '' and is not moved (migration 0016 guesses no anchor: a refusal an earlier move left on
     * its source would then count as a row of a range that database no longer holds, and a move of
     * that range back there would be refused).
     */
    anchorId: varchar('anchor_id', { length: 33 }).notNull().default(''),
    code: varchar('code', { length: 40 }).notNull(),
    /** The rejection as JSON (bigints as strings), to answer a replay exactly. */
    detail: varchar('detail', { length: 1000 }).notNull(),
    createdAt: moment('created_at'),
  },
  // The refusals' purge (postings.ts purgeRejectionsBefore) finds the oldest by it; only a refusal writes it.
  (t) => [index('posting_rejections_created_idx').on(t.createdAt)],
);

const daySum = (name: string) =>
  decimal(name, { precision: 38, scale: 0, mode: 'bigint' })
    .notNull()
    .default(sql`0`);

/**
 * One row per account and business date the account moved on: what its entries of that date
 * add up to. The posting transaction writes it with the entries (postings.ts), so it can
 * never disagree with them; statements and balances at an instant read it instead of summing
 * years of entries. For a merchant it is per stripe, like the entries.
 */
export const accountDays = mysqlTable(
  'account_days',
  {
    accountId: varchar('account_id', { length: 33 }).notNull(),
    businessDate: date('business_date', { mode: 'string' }).notNull(),
    /**
     * Σ of the date's positive entries, and Σ of its negative entries as a positive number. They
     * are sums of many amounts, not balances: a balance swinging across its BIGINT range several
     * times a day would overflow a BIGINT sum, so these are DECIMAL(38,0), read as strings.
     */
    credits: daySum('credits'),
    debits: daySum('debits'),
    entryCount: bigint('entry_count', { mode: 'bigint' })
      .notNull()
      .default(sql`0`),
    /** Σ of the date's entries per bucket: the balance at an instant adds whole earlier dates. */
    availableNet: daySum('available_net'),
    frozenNet: daySum('frozen_net'),
    pendingNet: daySum('pending_net'),
    /**
     * The lowest and highest sequence among the date's entries: the entries of a date lie in
     * that range (with, at most, a few of a neighbouring date merged into the same batches).
     */
    firstSequence: bigint('first_sequence', { mode: 'bigint' }).notNull(),
    lastSequence: bigint('last_sequence', { mode: 'bigint' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.accountId, t.businessDate] })],
);

export type AccountDayRow = typeof accountDays.$inferSelect;

/**
 * The legal entities the platform operates through (docs/BOOKS.md). Read and written on the
 * control shard only; PLATFORM is made by the migration and always exists.
 */
export const entities = mysqlTable('entities', {
  code: varchar('code', { length: 16 }).primaryKey(),
  name: varchar('name', { length: 200 }).notNull(),
  country: char('country', { length: 2 }).notNull(),
  functionalCurrency: char('functional_currency', { length: 3 }).notNull(),
  createdAt: moment('created_at'),
});

/**
 * The platform's assets (points, coins: docs/ASSETS.md), defined by operators: a code that is not
 * an ISO 4217 code and its exponent, never changed or removed once defined. Control shard only;
 * every process holds them in memory (money.ts's registry).
 */
export const assets = mysqlTable('assets', {
  code: varchar('code', { length: 8 }).primaryKey(),
  exponent: tinyint('exponent').notNull(),
  name: varchar('name', { length: 200 }).notNull(),
  createdBy: varchar('created_by', { length: 64 }).notNull(),
  createdAt: moment('created_at'),
});

export type AssetRow = typeof assets.$inferSelect;

/** The GL code an operator mapped to an entity's ledger class (SetGlCode); control shard only. */
export const glCodes = mysqlTable(
  'gl_codes',
  {
    entity: varchar('entity', { length: 16 }).notNull(),
    ledgerClass: varchar('ledger_class', { length: 32 }).notNull(),
    glCode: varchar('gl_code', { length: 32 }).notNull(),
    updatedAt: moment('updated_at'),
  },
  (t) => [primaryKey({ columns: [t.entity, t.ledgerClass] })],
);

/**
 * A closed date's general-ledger export as first answered, kept so that every later answer is
 * the same bytes (a GL code changed afterwards does not rewrite a journal already handed over).
 */
export const glExports = mysqlTable(
  'gl_exports',
  {
    entity: varchar('entity', { length: 16 }).notNull(),
    businessDate: date('business_date', { mode: 'string' }).notNull(),
    /** The lines as JSON (amounts as strings) and the CSV made from them. */
    linesJson: mediumtext('lines_json').notNull(),
    csv: mediumtext('csv').notNull(),
    createdAt: moment('created_at'),
  },
  (t) => [primaryKey({ columns: [t.entity, t.businessDate] })],
);

/**
 * The books' daily sums, kept as the ledger posts (store/class-days.ts), like account_days one
 * level up: per entity, ledger class, counterparty entity (intercompany classes only, '' else),
 * currency and business date, Σ debits and Σ credits and how many postings made each. `slot`
 * spreads one key over a few rows so that two batches in flight on a shard do not queue on one
 * row (rules/class-days.ts); readers sum the slots. The trial balance, the intercompany position
 * and the day's journal read these rows, never the entries.
 */
export const ledgerClassDays = mysqlTable(
  'ledger_class_days',
  {
    entity: varchar('entity', { length: 16 }).notNull(),
    businessDate: date('business_date', { mode: 'string' }).notNull(),
    ledgerClass: varchar('ledger_class', { length: 32 }).notNull(),
    counterpartyEntity: varchar('counterparty_entity', { length: 16 }).notNull().default(''),
    currency: currencyCode('currency'),
    slot: tinyint('slot').notNull(),
    debits: daySum('debits'),
    credits: daySum('credits'),
    debitPostings: bigint('debit_postings', { mode: 'bigint' })
      .notNull()
      .default(sql`0`),
    creditPostings: bigint('credit_postings', { mode: 'bigint' })
      .notNull()
      .default(sql`0`),
  },
  (t) => [
    primaryKey({
      columns: [t.entity, t.businessDate, t.ledgerClass, t.counterpartyEntity, t.currency, t.slot],
    }),
  ],
);

/**
 * The owner directory (rules/owner-directory.ts): one row per owner on its home shard (a hash of
 * the owner id), naming as a bitmask over the logical shards those where the owner may have an
 * account, so that reading an owner's accounts asks those shards only. Set before an account is
 * opened; bits are never cleared. Routing, not money. It also counts the accounts the owner opened
 * (accounts_opened, under accountsPerOwnerMax): its row is the one place every opening of the owner
 * passes, on one database, so its lock is what keeps two openings at the bound from both passing.
 * NULL on a row written before the count (by the directory's backfill, or a process that did not
 * count yet): the owner's accounts are counted at its next opening (owners.ts reserveOwnerAccount).
 */
export const ownerShards = mysqlTable('owner_shards', {
  ownerId: varchar('owner_id', { length: 64 }).primaryKey(),
  shards: bigint('shards', { mode: 'bigint', unsigned: true }).notNull(),
  accountsOpened: int('accounts_opened', { unsigned: true }),
  updatedAt: moment('updated_at'),
});
