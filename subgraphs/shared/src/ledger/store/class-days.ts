import type { PostingTx } from '../../shards/posting-transaction';
import type { ClassDayIncrement } from '../rules/class-days';
import { ledgerClassDays } from './schema';
import { bigintOf, insertRows, rawRows, rawRowSets, rawWrite, type SqlTarget } from '../../db/raw';
import { sql } from 'drizzle-orm';
import { idSuffix } from '../../ids';
import type { Tx } from '../../shards/transaction';
import type { Shard } from '../../shards/pool';
import { heldHere } from '../../control/index';

/**
 * The books' daily sums' SQL (`ledger_class_days`, rules/class-days.ts). Rows are keyed
 * (entity, business_date, class, counterparty, currency, slot): an entity's trial balance reads a
 * range of the primary key whose size grows with days × classes × currencies, never with entries.
 */

const addToClassDay = `ON DUPLICATE KEY UPDATE ${['debits', 'credits', 'debit_postings', 'credit_postings']
  .map((c) => `${c} = ${c} + VALUES(${c})`)
  .join(', ')}`;

/**
 * Posting only: adds the increments to their rows in the posting's transaction, held to go out
 * with its next statement (no round trip of its own). Locks: those rows, exclusively, until the
 * posting commits; the batch's slot keeps two batches in flight off one row.
 */
export async function addClassDays(tx: PostingTx, increments: readonly ClassDayIncrement[]): Promise<void> {
  await insertRows(tx, ledgerClassDays, increments, { suffix: addToClassDay, hold: true });
}

export interface ClassSum {
  entity: string;
  ledgerClass: string;
  counterpartyEntity: string;
  currency: string;
  debits: bigint;
  credits: bigint;
  debitPostings: bigint;
  creditPostings: bigint;
}

type RawSum = { e: string; c: string; k: string; cur: string; d: string; cr: string; dp: string; cp: string };

function sumOf(r: RawSum): ClassSum {
  return {
    entity: r.e,
    ledgerClass: r.c,
    counterpartyEntity: r.k,
    currency: r.cur,
    debits: bigintOf(r.d),
    credits: bigintOf(r.cr),
    debitPostings: bigintOf(r.dp),
    creditPostings: bigintOf(r.cp),
  };
}

const sums = `entity AS e, ledger_class AS c, counterparty_entity AS k, currency AS cur, SUM(debits) AS d,
  SUM(credits) AS cr, SUM(debit_postings) AS dp, SUM(credit_postings) AS cp FROM ledger_class_days`;
const perKey = 'GROUP BY entity, ledger_class, counterparty_entity, currency';

/** An entity's sums per class, counterparty and currency up to and including `asOf`. Locks: none. */
export async function classSumsUpTo(db: SqlTarget, entity: string, asOf: string): Promise<ClassSum[]> {
  const rows = await rawRows<RawSum>(db, `SELECT ${sums} WHERE entity = ? AND business_date <= ? ${perKey}`, [
    entity,
    asOf,
  ]);
  return rows.map(sumOf);
}

/** An entity's sums of one business date. Locks: none. */
export async function classSumsOn(db: SqlTarget, entity: string, businessDate: string): Promise<ClassSum[]> {
  const rows = await rawRows<RawSum>(db, `SELECT ${sums} WHERE entity = ? AND business_date = ? ${perKey}`, [
    entity,
    businessDate,
  ]);
  return rows.map(sumOf);
}

/** Every entity's intercompany sums up to `asOf`. Locks: none. */
export async function intercompanySumsUpTo(db: SqlTarget, asOf: string): Promise<ClassSum[]> {
  const rows = await rawRows<RawSum>(
    db,
    `SELECT ${sums} WHERE business_date <= ? AND ledger_class IN ('INTERCOMPANY_DUE_TO', 'INTERCOMPANY_DUE_FROM') ${perKey}`,
    [asOf],
  );
  return rows.map(sumOf);
}

/** Accounts per entity, type, system kind and currency: what a trial balance line counts. Locks: none. */
export interface AccountCount {
  entity: string;
  type: 'PERSONAL' | 'MERCHANT' | 'SYSTEM';
  systemKind: string | null;
  currency: string;
  accounts: number;
}

/**
 * An entity's AccountCounts on this database, live rows only (control's heldHere, as totalsAndSubtotals): every
 * database's are added, and a shard move's copies would count an account twice. Locks: none.
 */
export async function accountCounts(db: SqlTarget, entity: string): Promise<AccountCount[]> {
  const rows = await rawRows<{ e: string; t: AccountCount['type']; k: string | null; cur: string; n: string }>(
    db,
    `SELECT entity AS e, type AS t, system_kind AS k, currency AS cur, COUNT(DISTINCT COALESCE(parent_id, id)) AS n
     FROM accounts WHERE entity = ? AND ${heldHere('id')} GROUP BY entity, type, system_kind, currency`,
    [entity],
  );
  return rows.map((r) => ({ entity: r.e, type: r.t, systemKind: r.k, currency: r.cur, accounts: Number(r.n) }));
}

const classSumsSql = `SELECT entity AS e, ledger_class AS c, currency AS cur, SUM(credits) - SUM(debits) AS n
  FROM ledger_class_days GROUP BY entity, ledger_class, currency`;
const accountSumsSql = `SELECT entity AS e, type AS t, system_kind AS k, currency AS cur, SUM(available + frozen) AS s,
  SUM(pending) AS p FROM accounts`;
const accountSumsGroup = 'GROUP BY entity, type, system_kind, currency';
type ClassSumRow = { e: string; c: string; cur: string; n: string };
type AccountSumRow = { e: string; t: AccountCount['type']; k: string | null; cur: string; s: string; p: string };

/**
 * Both sides of the total–subtotal check, read in one consistent snapshot of the shard: each
 * entity's class sums over all dates (credits − debits) and its accounts' balances per type,
 * system kind and currency, split by bucket. The accounts of logical shards a shard move took
 * away or has not switched here yet are not this database's (control's heldHere): their books'
 * sums moved with the switch (moveClassDays). Locks: none (a consistent read).
 */
export async function totalsAndSubtotals(shard: Shard): Promise<{
  totals: Array<{ entity: string; ledgerClass: string; currency: string; net: bigint }>;
  /** Σ per entity, type, system kind and currency: `settled` of available and frozen, `inPending` of pending. */
  balances: Array<{
    entity: string;
    type: AccountCount['type'];
    systemKind: string | null;
    currency: string;
    settled: bigint;
    inPending: bigint;
  }>;
}> {
  // The pools' sessions read committed (shards/pool.ts), where each statement reads the data as it is when it starts
  // and WITH CONSISTENT SNAPSHOT gives nothing: a posting committed between the two reads was a difference the check
  // reported under load. For this transaction alone, repeatable read: one snapshot for both. Drizzle's transaction
  // rolls it back if a read fails (a statement past max_statement_time), so no pooled connection is left inside it.
  const [totals, balances] = await shard.db.transaction(
    async (tx) => {
      const [sums] = (await tx.execute(sql.raw(classSumsSql))) as unknown as [ClassSumRow[]];
      const [held] = (await tx.execute(
        sql.raw(`${accountSumsSql} WHERE ${heldHere('id')} ${accountSumsGroup}`),
      )) as unknown as [AccountSumRow[]];
      return [sums, held] as const;
    },
    // No accessMode: drizzle writes 'with consistent snapshot read only' without the comma MariaDB wants.
    { isolationLevel: 'repeatable read', withConsistentSnapshot: true },
  );
  return {
    totals: totals.map((r) => ({ entity: r.e, ledgerClass: r.c, currency: r.cur, net: bigintOf(r.n) })),
    balances: balances.map((r) => ({
      entity: r.e,
      type: r.t,
      systemKind: r.k,
      currency: r.cur,
      settled: bigintOf(r.s),
      inPending: bigintOf(r.p),
    })),
  };
}

/** The SQL twin of ledgerClassOf (rules/entities.ts) over an entry `e` of an account `a`. */
const classOfEntry = `CASE WHEN a.type = 'PERSONAL' THEN 'CUSTOMER_FUNDS'
            WHEN a.type = 'MERCHANT' AND e.bucket = 'PENDING' THEN 'MERCHANT_PENDING'
            WHEN a.type = 'MERCHANT' THEN 'MERCHANT_FUNDS'
            WHEN a.system_kind = 'LOSS' THEN 'LOSSES'
            WHEN a.system_kind = 'SHARD_MOVE' THEN 'CLEARING'
            ELSE a.system_kind END`;

/** The books' columns of entries grouped per entity, date, class, counterparty and currency (slot 0). */
const entrySums = `SUM(CASE WHEN e.amount < 0 THEN -e.amount ELSE 0 END) AS debits,
       SUM(CASE WHEN e.amount > 0 THEN e.amount ELSE 0 END) AS credits,
       COUNT(DISTINCT CASE WHEN e.amount < 0 THEN e.posting_id END) AS debit_postings,
       COUNT(DISTINCT CASE WHEN e.amount > 0 THEN e.posting_id END) AS credit_postings`;

/**
 * Entries named by key as each account's block of sequences, first to last: an account's entries written after a
 * moment are one run of its sequences, and ranges of the primary key are what MySQL reads by it (a list of (account,
 * sequence) pairs took 2.3 s for a million entries).
 */
function entryBlocks(entries: readonly (readonly unknown[])[]): { sql: string; values: unknown[] } {
  const blocks = new Map<string, { first: bigint; last: bigint }>();
  for (const [account, sequence] of entries) {
    const n = BigInt(String(sequence));
    const block = blocks.get(String(account));
    if (block === undefined) blocks.set(String(account), { first: n, last: n });
    else
      blocks.set(String(account), { first: n < block.first ? n : block.first, last: n > block.last ? n : block.last });
  }
  return {
    sql: [...blocks.keys()].map(() => '(e.account_id = ? AND e.sequence BETWEEN ? AND ?)').join(' OR '),
    values: [...blocks].flatMap(([account, b]) => [account, b.first.toString(), b.last.toString()]),
  };
}

/** Runs a read on a connection of a caller's own (a shard mover's, in a consistent snapshot of the source). */
export type RowReader = <T>(text: string, values: readonly unknown[]) => Promise<T[]>;

/**
 * The books' daily sums of every entry of the accounts (and stripes) whose ids name one of the logical shards, as
 * backfillClassDays sums them: what a shard move takes from the source's books and adds to the target's. A posting
 * the database does not hold (an account moved here earlier, its older postings left where they were) counts on its
 * entry's own date. With `entries` (keys: account id, sequence; each account's entries written since some moment),
 * those entries alone: entries are never changed, and a posting's are written together, so the sums of two sets of
 * entries add up. Locks: none.
 */
export async function classDaysOfRange(
  db: SqlTarget | RowReader,
  logicalShards: readonly number[],
  entries?: readonly (readonly unknown[])[],
): Promise<ClassDayIncrement[]> {
  if (entries?.length === 0) return [];
  const suffixes = logicalShards.map(idSuffix);
  const read: RowReader = typeof db === 'function' ? db : (text, values) => rawRows(db, text, values);
  const blocks = entries === undefined ? null : entryBlocks(entries);
  const rows = await read<{
    e: string;
    d: string;
    c: string;
    k: string;
    cur: string;
    debits: string;
    credits: string;
    debit_postings: string;
    credit_postings: string;
  }>(
    // Named entries: STRAIGHT_JOIN reads the entries first, by their blocks' primary-key ranges; left to itself MySQL
    // began with the accounts and read every entry of each (7.8 s for a million, where the blocks held 18,000).
    `SELECT ${blocks === null ? '' : 'STRAIGHT_JOIN '}a.entity AS e, DATE_FORMAT(COALESCE(p.business_date, DATE(e.created_at)), '%Y-%m-%d') AS d,
       ${classOfEntry} AS c, a.counterparty_entity AS k, e.currency AS cur, ${entrySums}
     FROM ledger_entries e JOIN accounts a ON a.id = e.account_id LEFT JOIN postings p ON p.id = e.posting_id
     WHERE RIGHT(e.account_id, 2) IN (?)${blocks === null ? '' : ` AND (${blocks.sql})`}
     GROUP BY a.entity, d, c, a.counterparty_entity, e.currency`,
    blocks === null ? [suffixes] : [suffixes, ...blocks.values],
  );
  return rows.map((r) => ({
    entity: r.e,
    businessDate: r.d,
    ledgerClass: r.c,
    counterpartyEntity: r.k,
    currency: r.cur,
    slot: 0,
    debits: bigintOf(r.debits),
    credits: bigintOf(r.credits),
    debitPostings: bigintOf(r.debit_postings),
    creditPostings: bigintOf(r.credit_postings),
  }));
}

/**
 * Adds (`sign` 1) or takes away (−1) a range's books' sums in the caller's transaction: a shard move's switch, with the
 * fence rows' change that makes it happen once (control's changeFence). Locks: those sums rows, exclusively.
 */
export async function moveClassDays(tx: Tx, increments: readonly ClassDayIncrement[], sign: 1n | -1n): Promise<void> {
  if (increments.length === 0) return;
  const rows = increments.map(
    (i) =>
      sql`(${i.entity}, ${i.businessDate}, ${i.ledgerClass}, ${i.counterpartyEntity}, ${i.currency}, ${i.slot},
           ${sign * i.debits}, ${sign * i.credits}, ${sign * i.debitPostings}, ${sign * i.creditPostings})`,
  );
  await tx.execute(
    sql`INSERT INTO ledger_class_days (entity, business_date, ledger_class, counterparty_entity, currency, slot,
          debits, credits, debit_postings, credit_postings)
        VALUES ${sql.join(rows, sql`, `)} ${sql.raw(addToClassDay)}`,
  );
}

/**
 * The books' sums of the entries written before they were kept (a shard migrated to issue 49
 * with entries already on it): when the shard has entries and no sums at all, one INSERT … SELECT
 * sums every entry by its account's entity and class (the SQL twin of ledgerClassOf) and its
 * posting's business date, in slot 0. Once any sums row exists it does nothing, so it runs once.
 * Processes of an older version still posting during a rollout write no sums: the total–subtotal
 * check reports what they posted. Locks: the shard's entries read for the statement (a consistent
 * read), the new sums rows. Answers the rows it wrote.
 */
export async function backfillClassDays(db: SqlTarget): Promise<number> {
  const [[kept], [moved]] = (await rawRowSets(db, [
    { sql: 'SELECT COUNT(*) AS n FROM (SELECT 1 FROM ledger_class_days LIMIT 1) k', values: [] },
    { sql: 'SELECT COUNT(*) AS n FROM (SELECT 1 FROM ledger_entries LIMIT 1) e', values: [] },
  ])) as [[{ n: string }], [{ n: string }]];
  if (bigintOf(kept.n) > 0n || bigintOf(moved.n) === 0n) return 0;
  return rawWrite(
    db,
    `INSERT INTO ledger_class_days (entity, business_date, ledger_class, counterparty_entity, currency, slot,
       debits, credits, debit_postings, credit_postings)
     SELECT a.entity, p.business_date, ${classOfEntry} AS c, a.counterparty_entity, e.currency, 0, ${entrySums}
     FROM ledger_entries e JOIN accounts a ON a.id = e.account_id JOIN postings p ON p.id = e.posting_id
     GROUP BY a.entity, p.business_date, c, a.counterparty_entity, e.currency`,
  );
}
