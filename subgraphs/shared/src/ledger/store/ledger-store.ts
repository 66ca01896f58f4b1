import { assert } from '../../result';
import { and, eq, or, sql } from 'drizzle-orm';
import type { Executor, Tx } from '../../shards/transaction';
import type { PostingTx, Statement } from '../../shards/posting-transaction';
import { businessDateOf } from '../../business-date';
import { accountSealIntact, sealAccount, TamperDetected } from '../rules/tamper';
import type { Account, AccountStatus, SystemKind } from '../rules/account';
import type { EntryDraft, PostingRejection, PostingSpec } from '../rules/posting-rules';
import { accounts, ledgerEntries, postingRejections, postings, type AccountRow, type EntryRow } from './schema';
import { bigintOf, insertRows, rawRows, rawRowSets, rawWrite, type SqlTarget } from '../../db/raw';
import { addDayIncrements } from './account-days';
import { dayIncrements } from '../rules/account-days';

/**
 * The ledger's SQL. Only the posting engine (engine/) writes balances, through the functions marked
 * "posting only"; everything else here reads or creates accounts.
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

/**
 * Locks the accounts, clients' rows first and the shared hot rows (`lastIds`, the system
 * accounts) after, each group in id order: a total order, so concurrent postings cannot
 * deadlock on each other's accounts, and a posting that waits for a client's row does not
 * hold its shard's reserve or clearing row while it waits.
 */
export async function lockAccounts(
  tx: PostingTx,
  ids: readonly string[],
  lastIds: ReadonlySet<string> = new Set(),
): Promise<Map<string, Account>> {
  const { states } = await lockAndReadPrior(tx, ids, lastIds, []);
  return states;
}

export type PriorOutcome = { kind: 'posted'; postingId: string } | { kind: 'rejected'; rejection: PostingRejection };

/**
 * What became of earlier postings with these dedupe keys: posted, or refused. Read after the
 * accounts are locked, so a concurrent twin that held the lock has committed by then.
 */
export async function priorOutcomes(tx: PostingTx, keys: readonly string[]): Promise<Map<string, PriorOutcome>> {
  const { prior } = await lockAndReadPrior(tx, [], new Set(), keys);
  return prior;
}

/**
 * lockAccounts, then priorOutcomes, as the statements of one round trip: MySQL runs them in
 * order, so the prior outcomes are still read after every lock is held. Every round trip inside
 * a posting transaction holds its locks longer and costs both processes a system call.
 */
export async function lockAndReadPrior(
  tx: PostingTx,
  ids: readonly string[],
  lastIds: ReadonlySet<string>,
  keys: readonly string[],
): Promise<{ states: Map<string, Account>; prior: Map<string, PriorOutcome> }> {
  const unique = [...new Set(ids)].sort();
  const groups = [unique.filter((id) => !lastIds.has(id)), unique.filter((id) => lastIds.has(id))].filter(
    (g) => g.length > 0,
  );
  const statements: Array<{ sql: string; values: readonly unknown[] }> = groups.map((group) => ({
    sql: `SELECT ${accountColumns} FROM accounts WHERE id IN (?) ORDER BY id FOR UPDATE`,
    values: [group],
  }));
  if (keys.length > 0) {
    // One statement for both tables.
    statements.push({
      sql: `
      SELECT dedupe_key AS k, id AS p, NULL AS d FROM postings WHERE dedupe_key IN (?)
      UNION ALL
      SELECT dedupe_key AS k, NULL AS p, detail AS d FROM posting_rejections WHERE dedupe_key IN (?)`,
      values: [keys, keys],
    });
  }
  const results = await rawRowSets(tx, statements);
  const states = new Map<string, Account>();
  for (const raw of results.slice(0, groups.length).flat() as RawAccount[]) {
    const account = accountOfRaw(raw);
    // The write path never builds on a row that was changed outside the ledger.
    if (!accountSealIntact(account, { mac: raw.mac, macKeyId: raw.mac_key_id })) throw new TamperDetected(account.id);
    states.set(account.id, account);
  }
  const prior = new Map<string, PriorOutcome>();
  for (const row of (keys.length > 0 ? results.at(-1)! : []) as Array<{
    k: string;
    p: string | null;
    d: string | null;
  }>) {
    if (row.p !== null) prior.set(row.k, { kind: 'posted', postingId: row.p });
    else if (row.d !== null) prior.set(row.k, { kind: 'rejected', rejection: decodeRejection(row.d) });
  }
  return { states, prior };
}

/**
 * A row a posting batch wrote, read to learn whether its COMMIT landed when the answer was lost
 * (posting-transaction.ts): one of its postings, else one of its rejections; null when it wrote
 * neither. A locking read, so that a COMMIT the server is still applying is waited for.
 */
export function batchWitness(postingId: string | undefined, rejectedKey: string | undefined): Statement | null {
  if (postingId !== undefined)
    return { sql: 'SELECT id FROM postings WHERE id = ? LOCK IN SHARE MODE', values: [postingId] };
  if (rejectedKey !== undefined)
    return {
      sql: 'SELECT dedupe_key FROM posting_rejections WHERE dedupe_key = ? LOCK IN SHARE MODE',
      values: [rejectedKey],
    };
  return null;
}

export async function writeRejections(
  tx: PostingTx,
  rejections: ReadonlyArray<{ dedupeKey: string; rejection: PostingRejection }>,
  now: Date,
): Promise<void> {
  if (rejections.length === 0) return;
  await insertRows(
    tx,
    postingRejections,
    rejections.map((r) => ({
      dedupeKey: r.dedupeKey,
      code: r.rejection.code,
      detail: encodeRejection(r.rejection),
      createdAt: now,
    })),
    { hold: true },
  );
}

function encodeRejection(rejection: PostingRejection): string {
  return JSON.stringify(rejection, (_k, v: unknown) => (typeof v === 'bigint' ? { bigint: v.toString() } : v));
}

function decodeRejection(detail: string): PostingRejection {
  return JSON.parse(detail, (_k, v: unknown) =>
    v !== null && typeof v === 'object' && 'bigint' in v && typeof v.bigint === 'string' ? BigInt(v.bigint) : v,
  ) as PostingRejection;
}

/**
 * Posting only: the postings, their entries, the daily summary of the accounts they touch
 * (store/account-days.ts) and the new balances, in four statements, held to go out with the
 * transaction's next statement (db/raw.ts rawHold). Each posting keeps its own instant
 * (created_at, business date), also when merged into a batch, and each entry counts on its
 * posting's business date.
 */
export async function writePostings(
  tx: PostingTx,
  timed: ReadonlyArray<{ spec: PostingSpec; at: Date }>,
  entries: ReadonlyArray<EntryDraft & { prevHash: string; hash: string }>,
  touched: readonly Account[],
): Promise<void> {
  if (timed.length === 0) return;
  const atOf = new Map(timed.map((t) => [t.spec.id, t.at]));
  const dateOf = new Map(timed.map((t) => [t.spec.id, businessDateOf(t.at)]));
  await insertRows(
    tx,
    postings,
    timed.map(({ spec, at }) => ({
      id: spec.id,
      kind: spec.kind,
      refId: spec.refId,
      dedupeKey: spec.dedupeKey,
      currency: spec.currency,
      businessDate: dateOf.get(spec.id)!,
      createdAt: at,
    })),
    { hold: true },
  );
  await insertRows(
    tx,
    ledgerEntries,
    entries.map((e) => ({
      accountId: e.accountId,
      sequence: e.sequence,
      id: e.id,
      postingId: e.postingId,
      bucket: e.bucket,
      amount: e.amount,
      direction: e.direction,
      balanceAfter: e.balanceAfter,
      currency: e.currency,
      prevHash: e.prevHash,
      hash: e.hash,
      createdAt: atOf.get(e.postingId)!,
    })),
    { hold: true },
  );
  await addDayIncrements(
    tx,
    dayIncrements(entries, (e) => dateOf.get(e.postingId)!),
    { hold: true },
  );
  const latest = timed.reduce((a, t) => (t.at > a ? t.at : a), timed[0]!.at);
  await writeBalances(tx, touched, latest);
}

/**
 * Posting only, the naive engine's way: the posting, then for each entry an UPDATE of its
 * account, a single-row INSERT and the entry's addition to its daily summary row — a
 * statement per row, as textbook code does.
 */
export async function writePostingRowByRow(
  tx: PostingTx,
  spec: PostingSpec,
  at: Date,
  entries: ReadonlyArray<EntryDraft & { prevHash: string; hash: string }>,
  states: ReadonlyMap<string, Account>,
): Promise<void> {
  const businessDate = businessDateOf(at);
  await tx.insert(postings).values({
    id: spec.id,
    kind: spec.kind,
    refId: spec.refId,
    dedupeKey: spec.dedupeKey,
    currency: spec.currency,
    businessDate,
    createdAt: at,
  });
  for (const entry of entries) {
    const state = states.get(entry.accountId)!;
    const next = { ...state, version: state.version + 1n };
    const [updated] = await tx
      .update(accounts)
      .set({
        available: state.available,
        frozen: state.frozen,
        pending: state.pending,
        lastSequence: state.lastSequence,
        lastEntryHash: state.lastEntryHash,
        version: next.version,
        ...sealAccount(next),
        updatedAt: at,
      })
      .where(eq(accounts.id, entry.accountId));
    // The row was locked and read: the write that was planned for it is the one that happened.
    assert(
      updated.affectedRows === 1,
      `the balance update of ${entry.accountId} wrote ${updated.affectedRows} rows, not 1`,
    );
    await tx.insert(ledgerEntries).values({ ...entry, createdAt: at });
    await addDayIncrements(
      tx,
      dayIncrements([entry], () => businessDate),
      { hold: false },
    );
  }
}

/**
 * One multi-row statement for every touched account. The rows are locked and exist, so the
 * insert part never inserts: it is MySQL's way of updating many rows to different values.
 */
async function writeBalances(tx: PostingTx, touched: readonly Account[], now: Date): Promise<void> {
  await insertRows(
    tx,
    accounts,
    touched.map((s) => {
      const next = { ...s, version: s.version + 1n };
      return {
        id: s.id,
        ownerId: s.ownerId,
        type: s.type,
        currency: s.currency,
        status: s.status,
        available: s.available,
        frozen: s.frozen,
        pending: s.pending,
        lastSequence: s.lastSequence,
        lastEntryHash: s.lastEntryHash,
        version: next.version,
        ...sealAccount(next),
        updatedAt: now,
      };
    }),
    { suffix: balanceUpdate, hold: true },
  );
  for (const s of touched) s.version += 1n;
}

const balanceUpdate = `ON DUPLICATE KEY UPDATE ${[
  'available',
  'frozen',
  'pending',
  'last_sequence',
  'last_entry_hash',
  'version',
  'mac',
  'mac_key_id',
  'updated_at',
]
  .map((c) => `${c} = VALUES(${c})`)
  .join(', ')}`;

/** A new account row, sealed: zero balances, no entries, version 0 unless given. */
function sealed(row: typeof accounts.$inferInsert): typeof accounts.$inferInsert {
  const full = {
    id: row.id,
    currency: row.currency,
    status: row.status ?? 'ACTIVE',
    available: row.available ?? 0n,
    frozen: row.frozen ?? 0n,
    pending: row.pending ?? 0n,
    lastSequence: row.lastSequence ?? 0n,
    lastEntryHash: row.lastEntryHash ?? '',
    version: row.version ?? 0n,
    creditLimit: row.creditLimit ?? null,
  };
  return { ...row, ...full, ...sealAccount(full) };
}

export async function insertAccount(db: Executor, row: typeof accounts.$inferInsert): Promise<void> {
  await db.insert(accounts).values(sealed(row));
}

/**
 * The accounts with these ids on this shard, plus every stripe whose parent is one of them, in
 * one statement: a primary-key read, a parent_id read (unique index), or both.
 */
export async function accountsAndStripes(
  db: SqlTarget,
  localIds: readonly string[],
  parentIds: readonly string[],
): Promise<Account[]> {
  const where = [...(localIds.length > 0 ? ['id IN (?)'] : []), ...(parentIds.length > 0 ? ['parent_id IN (?)'] : [])];
  if (where.length === 0) return [];
  const values = [...(localIds.length > 0 ? [localIds] : []), ...(parentIds.length > 0 ? [parentIds] : [])];
  const rows = await rawRows<RawAccount>(
    db,
    `SELECT ${accountColumns} FROM accounts WHERE ${where.join(' OR ')}`,
    values,
  );
  return rows.map(accountOfRaw);
}

/** An accounts row as mysql2 sends it for the hand-written reads (db/raw.ts): BIGINT as a string. */
interface RawAccount {
  id: string;
  owner_id: string;
  type: AccountRow['type'];
  system_kind: AccountRow['systemKind'];
  parent_id: string | null;
  stripe_shards: string;
  currency: string;
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

const accountColumns =
  'id, owner_id, type, system_kind, parent_id, stripe_shards, currency, status, available, frozen, pending, credit_limit, ' +
  'last_sequence, last_entry_hash, version, mac, mac_key_id, created_at, updated_at';

/**
 * A hand-written read's row as an Account, mapped by hand for the posting path's sake
 * (docs/PERFORMANCE.md). The posting path checks the seal on the raw row (lockAndReadPrior).
 */
function accountOfRaw(r: RawAccount): Account {
  return {
    id: r.id,
    ownerId: r.owner_id,
    type: r.type,
    systemKind: r.system_kind,
    parentId: r.parent_id,
    stripeShards: bigintOf(r.stripe_shards),
    currency: r.currency,
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

/**
 * Adds logical shards to a merchant's stripe directory (stripe_shards |= mask) on its home
 * row; idempotent, never lowers a bit. Autocommitted on its own: the bit must be visible before
 * the stripe it announces is opened. The MAC does not cover the directory (routing, not money),
 * so the row is neither re-sealed nor versioned.
 */
export async function addStripeShards(db: SqlTarget, merchantId: string, mask: bigint): Promise<void> {
  await rawWrite(
    db,
    'UPDATE accounts SET stripe_shards = stripe_shards | CAST(? AS UNSIGNED) WHERE id = ? AND parent_id IS NULL',
    [mask.toString(), merchantId],
  );
}

/**
 * Stripes on this shard (id and parent) with a parent after `afterParentId`, in parent order, from the parent_id index
 * alone.
 */
export async function stripeParentsPage(
  db: SqlTarget,
  afterParentId: string,
  limit: number,
): Promise<Array<{ id: string; parentId: string }>> {
  const rows = await rawRows<{ id: string; parent_id: string }>(
    db,
    'SELECT id, parent_id FROM accounts WHERE parent_id > ? ORDER BY parent_id LIMIT ?',
    [afterParentId, limit],
  );
  return rows.map((r) => ({ id: r.id, parentId: r.parent_id }));
}

/** The stripe directories of these home rows on this shard. */
export async function stripeDirectories(db: SqlTarget, ids: readonly string[]): Promise<Map<string, bigint>> {
  if (ids.length === 0) return new Map();
  const rows = await rawRows<{ id: string; stripe_shards: string }>(
    db,
    'SELECT id, stripe_shards FROM accounts WHERE id IN (?) AND parent_id IS NULL',
    [ids],
  );
  return new Map(rows.map((r) => [r.id, bigintOf(r.stripe_shards)]));
}

/**
 * One statement per shard for an owner's page: the owner's accounts after the cursor (stripes
 * excluded) in id order, at most `limit`, and all of the owner's stripes on this shard so that
 * merchant balances need no second query. Hand-written like accountsAndStripes: drizzle's
 * builder (a union of two selects, built per call) and its row mapping, with entriesPage's,
 * were 21% of the account subgraph's CPU on the read benchmark (docs/PERFORMANCE.md, "Reads").
 */
export async function accountsByOwner(
  db: SqlTarget,
  ownerId: string,
  afterId: string | null,
  limit: number,
): Promise<Account[]> {
  const after = afterId === null ? '' : ' AND id > ?';
  const rows = await rawRows<RawAccount>(
    db,
    `(SELECT ${accountColumns} FROM accounts WHERE owner_id = ? AND parent_id IS NULL${after} ORDER BY id LIMIT ?) ` +
      `UNION ALL (SELECT ${accountColumns} FROM accounts WHERE owner_id = ? AND parent_id IS NOT NULL)`,
    afterId === null ? [ownerId, limit, ownerId] : [ownerId, afterId, limit, ownerId],
  );
  return rows.map(accountOfRaw);
}

export async function systemAccount(db: Executor, kind: SystemKind, currency: string): Promise<Account | undefined> {
  const rows = await db
    .select()
    .from(accounts)
    .where(and(eq(accounts.systemKind, kind), eq(accounts.currency, currency)))
    .limit(1);
  return rows[0] && accountOfRow(rows[0]);
}

/** Inserts the system account unless another process got there first (unique kind+currency). */
export async function insertSystemAccountIfMissing(db: Executor, row: typeof accounts.$inferInsert): Promise<void> {
  await db
    .insert(accounts)
    .values(sealed(row))
    .onDuplicateKeyUpdate({ set: { id: sql`${sql.identifier('id')}` } });
}

export async function stripeOf(db: Executor, parentId: string): Promise<Account | undefined> {
  const rows = await db.select().from(accounts).where(eq(accounts.parentId, parentId)).limit(1);
  return rows[0] && accountOfRow(rows[0]);
}

/** Opens a merchant's stripe unless a concurrent first payment did (unique parent_id). */
export async function insertStripeIfMissing(db: Executor, row: typeof accounts.$inferInsert): Promise<void> {
  await db.insert(accounts).ignore().values(sealed(row));
}

/** The newest `limit` entries of one account row, asked for beside the account's own read. */
export interface HeadPageRequest {
  accountId: string;
  limit: number;
}

/**
 * Accounts by id (as accountsAndStripes reads them) and, in the same round trip, the newest
 * entries of some of them (as entriesPage reads them): a PERSONAL account and its first page of
 * entries in one round trip instead of two, which was a quarter of the account subgraph's CPU
 * per GetAccount (docs/PERFORMANCE.md, "Reads").
 */
export async function accountsWithHeadPages(
  db: SqlTarget,
  ids: readonly string[],
  pages: readonly HeadPageRequest[],
): Promise<{ accounts: Account[]; headPages: Map<string, EntryRow[]> }> {
  if (ids.length === 0) return { accounts: [], headPages: new Map() };
  const [accountRows, ...pageRows] = await rawRowSets(db, [
    { sql: `SELECT ${accountColumns} FROM accounts WHERE id IN (?)`, values: [ids] },
    ...pages.map((p) => ({ sql: newestEntriesSql, values: [p.accountId, p.limit] })),
  ]);
  const headPages = new Map(pages.map((p, i) => [p.accountId, (pageRows[i] as RawEntry[]).map(entryOf)]));
  return { accounts: (accountRows as RawAccount[]).map(accountOfRaw), headPages };
}

const entryColumns =
  'account_id, sequence, id, posting_id, bucket, amount, direction, balance_after, currency, prev_hash, hash, created_at';
const newestEntriesSql = `SELECT ${entryColumns} FROM ledger_entries WHERE account_id = ? ORDER BY sequence DESC LIMIT ?`;

/**
 * Newest first: an account's entries below `beforeSequence` (all when null), newest first, at most `limit`:
 * a range read of the primary key. Hand-written (see accountsByOwner): a GetAccount page of
 * 100 entries spent more CPU in drizzle's query building and row mapping than in mysql2.
 */
export async function entriesPage(
  db: SqlTarget,
  accountId: string,
  beforeSequence: bigint | null,
  limit: number,
): Promise<EntryRow[]> {
  const rows =
    beforeSequence === null
      ? await rawRows<RawEntry>(db, newestEntriesSql, [accountId, limit])
      : await rawRows<RawEntry>(
          db,
          `SELECT ${entryColumns} FROM ledger_entries WHERE account_id = ? AND sequence < ? ORDER BY sequence DESC LIMIT ?`,
          [accountId, beforeSequence.toString(), limit],
        );
  return rows.map(entryOf);
}

/** A ledger_entries row as mysql2 sends it for the hand-written reads (db/raw.ts). */
interface RawEntry {
  account_id: string;
  sequence: string;
  id: string;
  posting_id: string;
  bucket: EntryRow['bucket'];
  amount: string;
  direction: EntryRow['direction'];
  balance_after: string;
  currency: string;
  prev_hash: string;
  hash: string;
  created_at: Date;
}

function entryOf(r: RawEntry): EntryRow {
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
    prevHash: r.prev_hash,
    hash: r.hash,
    createdAt: r.created_at,
  };
}

/** Sets the status of an account and of its stripe on this shard, if it has one, resealing each row. */
export async function setAccountStatus(tx: Tx, id: string, status: AccountStatus, now: Date): Promise<void> {
  const rows = await tx
    .select()
    .from(accounts)
    .where(or(eq(accounts.id, id), eq(accounts.parentId, id)))
    .for('update');
  for (const row of rows) {
    if (!accountSealIntact(row, row)) throw new TamperDetected(row.id);
    const next = { ...row, status, version: row.version + 1n };
    await tx
      .update(accounts)
      .set({ status, version: next.version, ...sealAccount(next), updatedAt: now })
      .where(eq(accounts.id, row.id));
  }
}

/**
 * Sets a home row's credit limit under its lock, resealing it (the MAC covers the limit) and
 * bumping its version. The balances are not touched: a limit below the debt leaves the debt.
 */
export async function setCreditLimitRow(tx: Tx, id: string, limit: bigint, now: Date): Promise<Account | undefined> {
  const [row] = await tx.select().from(accounts).where(eq(accounts.id, id)).for('update');
  if (!row) return undefined;
  if (!accountSealIntact(row, row)) throw new TamperDetected(row.id);
  const next = { ...row, creditLimit: limit, version: row.version + 1n };
  await tx
    .update(accounts)
    .set({ creditLimit: limit, version: next.version, ...sealAccount(next), updatedAt: now })
    .where(eq(accounts.id, row.id));
  return accountOfRow({ ...next, updatedAt: now });
}

/**
 * The home rows on this shard that have, or once had, a credit line (credit_limit not NULL),
 * through accounts_credit_idx: only they can be below zero. The exposure read.
 */
export async function creditLineRows(db: SqlTarget): Promise<Account[]> {
  const rows = await rawRows<RawAccount>(
    db,
    `SELECT ${accountColumns} FROM accounts WHERE credit_limit IS NOT NULL`,
    [],
  );
  return rows.map(accountOfRaw);
}

export async function lockAccount(tx: Tx, id: string): Promise<Account | undefined> {
  const rows = await tx.select().from(accounts).where(eq(accounts.id, id)).for('update');
  return rows[0] && accountOfRow(rows[0]);
}

/** Per currency: Σ of this shard's clearing balances (credit-positive: owed to other shards). */
export function clearingTotals(db: Executor): Promise<Array<{ currency: string; amount: bigint }>> {
  return systemTotals(db, 'CLEARING');
}

/** Per currency: Σ of this shard's system accounts of one kind (clearing, FX positions…), credit-positive. */
export async function systemTotals(
  db: Executor,
  kind: SystemKind,
): Promise<Array<{ currency: string; amount: bigint }>> {
  const rows = await db
    .select({
      currency: accounts.currency,
      amount: sql<string>`COALESCE(SUM(${accounts.available} + ${accounts.frozen} + ${accounts.pending}), 0)`,
    })
    .from(accounts)
    .where(eq(accounts.systemKind, kind))
    .groupBy(accounts.currency);
  return rows.map((r) => ({ currency: r.currency, amount: BigInt(r.amount) }));
}

/** Per currency on this shard: Σ debits, Σ credits of every entry (they must cancel). */
export async function entryTotals(db: Executor): Promise<Array<{ currency: string; debits: bigint; credits: bigint }>> {
  const rows = await db
    .select({
      currency: ledgerEntries.currency,
      debits: sql<string>`COALESCE(SUM(CASE WHEN ${ledgerEntries.amount} < 0 THEN -${ledgerEntries.amount} ELSE 0 END), 0)`,
      credits: sql<string>`COALESCE(SUM(CASE WHEN ${ledgerEntries.amount} > 0 THEN ${ledgerEntries.amount} ELSE 0 END), 0)`,
    })
    .from(ledgerEntries)
    .groupBy(ledgerEntries.currency);
  return rows.map((r) => ({ currency: r.currency, debits: BigInt(r.debits), credits: BigInt(r.credits) }));
}

/**
 * Accounts whose stored balances differ from Σ of their entries (per bucket), or whose
 * entry sequence has a gap or disagrees with last_sequence.
 */
export async function balanceMismatches(
  db: Executor,
): Promise<Array<{ accountId: string; stored: bigint; entries: bigint }>> {
  const rows = await db.execute(sql`
    SELECT a.id AS account_id, a.available + a.frozen + a.pending AS stored, COALESCE(e.total, 0) AS entries
    FROM accounts a
    LEFT JOIN (SELECT account_id, SUM(amount) AS total, COUNT(*) AS n, MAX(sequence) AS top,
                      SUM(CASE WHEN bucket = 'AVAILABLE' THEN amount ELSE 0 END) AS available,
                      SUM(CASE WHEN bucket = 'FROZEN' THEN amount ELSE 0 END) AS frozen,
                      SUM(CASE WHEN bucket = 'PENDING' THEN amount ELSE 0 END) AS pending
               FROM ledger_entries GROUP BY account_id) e ON e.account_id = a.id
    WHERE a.available <> COALESCE(e.available, 0) OR a.frozen <> COALESCE(e.frozen, 0)
       OR a.pending <> COALESCE(e.pending, 0)
       OR a.last_sequence <> COALESCE(e.top, 0) OR COALESCE(e.n, 0) <> COALESCE(e.top, 0)`);
  const list = (rows as unknown as [Array<{ account_id: string; stored: string; entries: string }>])[0];
  return list.map((r) => ({ accountId: r.account_id, stored: BigInt(r.stored), entries: BigInt(r.entries) }));
}
