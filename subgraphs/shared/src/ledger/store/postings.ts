import { assert } from '../../result';
import { eq } from 'drizzle-orm';
import type { PostingTx, Statement } from '../../shards/posting-transaction';
import { businessDateOf } from '../../business-date';
import { accountSealIntact, sealAccount, TamperDetected } from '../rules/tamper';
import type { Account } from '../rules/account';
import type { EntryDraft, PostingRejection, PostingSpec } from '../rules/posting-rules';
import { accounts, ledgerEntries, postingRejections, postings } from './schema';
import { insertRows, rawRows, rawRowSets } from '../../db/raw';
import { addDayIncrements } from './account-days';
import { dayIncrements } from '../rules/account-days';
import { accountColumns, accountOfRaw, type RawAccount } from './rows';
import { deleteUnderFences, fenceRead, logicalShardsNamed, openHere, refuseUnlessOpen } from '../../control/index';
import type { Shard } from '../../shards/pool';

/**
 * The posting transaction's SQL (engine/): the lock of the accounts a batch moves, the earlier
 * outcomes of its dedupe keys, and its writes — postings, entries, the daily summary, balances,
 * kept refusals. Only the engine calls these ("posting only"), in its PostingTx, and only after
 * lockAndReadPrior: every write here relies on its rows being locked FOR UPDATE by then.
 */

/**
 * Locks the accounts, clients' rows first and the shared hot rows (`lastIds`, the system
 * accounts) after, each group in id order: a total order, so concurrent postings cannot
 * deadlock on each other's accounts, and a posting that waits for a client's row does not
 * hold its shard's reserve or clearing row while it waits. Locks: every row of `ids`, FOR UPDATE,
 * in that order (one statement), until the posting transaction commits or rolls back;
 * a row whose seal is broken is refused (TamperDetected) before anything is decided on it.
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
 * accounts are locked, so a concurrent twin that held the lock has committed by then. Locks: none
 * (a plain read of postings_dedupe_uq and posting_rejections' primary key).
 */
export async function priorOutcomes(tx: PostingTx, keys: readonly string[]): Promise<Map<string, PriorOutcome>> {
  const { prior } = await lockAndReadPrior(tx, [], new Set(), keys);
  return prior;
}

/**
 * lockAccounts, then priorOutcomes, as the statements of one round trip: MySQL runs them in
 * order, so the prior outcomes are still read after every lock is held. Every round trip inside
 * a posting transaction holds its locks longer and costs both processes a system call. Locks: as
 * lockAccounts (the accounts FOR UPDATE, clients' rows then system rows, each in id order, in one
 * statement), and
 * nothing more for the outcomes, read after them. `leading` statements (a prepare group's lock of
 * its business rows, engine/batch.ts) go first in the same text, so they lock before the
 * accounts, as a prepare always does; their rows are answered in `led`, in order.
 *
 * The fence where the write happens (issue 50, control/store/fences.ts): in the same text, before the accounts' lock,
 * the fence rows of the clients' accounts' logical shards, shared (LOCK IN SHARE MODE) until the transaction ends; one
 * that is not open refuses the posting with FencedWrite (SHARD_UNAVAILABLE, retryable) before anything is decided. A
 * mover's fence write then waits for this transaction, and a posting after it sees the fence. Read before the accounts
 * so that a posting waiting for a fence write holds no account a posting in flight needs (no lock cycle through the
 * mover). System accounts belong to the database and are never fenced. No round trip of its own. `written`: the logical
 * shards of rows the batch writes beyond its postings (engine/batch.ts LeadingRead), whose fence rows are read too.
 */
export async function lockAndReadPrior(
  tx: PostingTx,
  ids: readonly string[],
  lastIds: ReadonlySet<string>,
  keys: readonly string[],
  leading: readonly Statement[] = [],
  written: readonly number[] = [],
): Promise<{ states: Map<string, Account>; prior: Map<string, PriorOutcome>; led: unknown[][] }> {
  const unique = [...new Set(ids)].sort();
  // Loops, not callbacks: a closure made per call is compiled again after each major GC (docs/PERFORMANCE.md).
  const clients: string[] = [];
  const last: string[] = [];
  for (const id of unique) (lastIds.has(id) ? last : clients).push(id);
  const groups: string[][] = [];
  if (clients.length > 0) groups.push(clients);
  if (last.length > 0) groups.push(last);
  // Both groups in one statement: MySQL runs the parts of a UNION ALL in order, so the clients'
  // rows are still locked before the system rows (one statement less to parse, one result set).
  const lock: string[] = [];
  for (let g = 0; g < groups.length; g++)
    lock.push(`(SELECT ${accountColumns} FROM accounts WHERE id IN (?) ORDER BY id FOR UPDATE)`);
  const fenced = [...new Set([...clientShards(clients), ...written])];
  const statements: Statement[] = [
    ...leading,
    ...(fenced.length > 0 ? [fenceRead(fenced)] : []),
    ...(lock.length > 0 ? [{ sql: lock.join(' UNION ALL '), values: groups }] : []),
  ];
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
  const answers = await rawRowSets(tx, statements);
  const led = answers.slice(0, leading.length);
  if (fenced.length > 0) refuseUnlessOpen(tx.shardName, answers[leading.length]!);
  const results = answers.slice(leading.length + (fenced.length > 0 ? 1 : 0));
  const states = new Map<string, Account>();
  for (const raw of results.slice(0, lock.length > 0 ? 1 : 0).flat() as RawAccount[]) {
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
  return { states, prior, led };
}

/**
 * The logical shards of clients' accounts, by id: an id's last two characters, hex, as placement reads them (ids.ts
 * newId; scripts/lib/move-tables.ts).
 */
function clientShards(clients: readonly string[]): number[] {
  const logicals: number[] = [];
  for (const id of clients) logicals.push(Number.parseInt(id.slice(-2), 16));
  return logicals;
}

/**
 * A row a posting batch wrote, read to learn whether its COMMIT landed when the answer was lost
 * (posting-transaction.ts): one of its postings, else one of its rejections; null when it wrote
 * neither. A locking read, so that a COMMIT the server is still applying is waited for. Locks: that
 * one row, shared (LOCK IN SHARE MODE), for its statement on a fresh connection.
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

/**
 * Posting only: keeps refusals under their dedupe keys, so a repeat is refused the same, each with
 * the id its posting had (`postingId`, schema.ts anchor_id), by which a shard move places it where
 * the posting would have gone. Held (sent with the next statement or COMMIT). Locks: the new
 * posting_rejections rows, exclusively, until COMMIT; a key another transaction wrote first fails
 * the batch (duplicate entry), which runs again and then reads that outcome.
 */
export async function writeRejections(
  tx: PostingTx,
  rejections: ReadonlyArray<{ dedupeKey: string; postingId: string; rejection: PostingRejection }>,
  now: Date,
): Promise<void> {
  if (rejections.length === 0) return;
  await insertRows(
    tx,
    postingRejections,
    rejections.map((r) => ({
      dedupeKey: r.dedupeKey,
      anchorId: r.postingId,
      code: r.rejection.code,
      detail: encodeRejection(r.rejection),
      createdAt: now,
    })),
    { hold: true },
  );
}

/**
 * Deletes at most `limit` refusals kept before `cutoff`, oldest first, and answers how many it deleted (a pass:
 * ledger/rejections.ts). As the idempotency keys' purge (idempotency/store/keys.ts purgeKeysBefore): found without
 * locks, leaving out logical shards whose fence row here is not open, then deleted by primary key with the age checked
 * again, reading the fence rows of their anchors in share mode (deleteUnderFences: fenced since, nothing is deleted
 * and 0 answered). A refusal kept before migration 0016 has an empty anchor, which names no logical shard.
 */
export async function purgeRejectionsBefore(shard: Shard, cutoff: Date, limit: number): Promise<number> {
  const rows = await rawRows<{ dedupe_key: string; anchor_id: string }>(
    shard.db,
    `SELECT dedupe_key, anchor_id FROM posting_rejections WHERE created_at < ? AND ${openHere('anchor_id')}
     ORDER BY created_at LIMIT ?`,
    [cutoff, limit],
  );
  if (rows.length === 0) return 0;
  const deletion = {
    sql: 'DELETE FROM posting_rejections WHERE dedupe_key IN (?) AND created_at < ?',
    values: [rows.map((r) => r.dedupe_key), cutoff],
  };
  return (await deleteUnderFences(shard, deletion, logicalShardsNamed(rows.map((r) => r.anchor_id)))) ?? 0;
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
 * posting's business date. Locks: each until COMMIT, the new postings and entries rows,
 * exclusively (with their unique index entries: a dedupe key another transaction wrote first
 * fails the batch, which runs again), the touched accounts' account_days rows and the touched
 * accounts' rows, which lockAndReadPrior already holds FOR UPDATE. Every row it locks belongs to
 * an account the batch holds, so it waits on no other posting.
 */
export async function writePostings(
  tx: PostingTx,
  timed: ReadonlyArray<{ spec: PostingSpec; at: Date }>,
  entries: ReadonlyArray<EntryDraft & { prevHash: string; hash: string }>,
  touched: readonly Account[],
): Promise<void> {
  if (timed.length === 0) return;
  // Loops, not callbacks: a closure made per call is compiled again after each major GC (docs/PERFORMANCE.md).
  const atOf = new Map<string, Date>();
  const dateOf = new Map<string, string>();
  const postingRows: Array<typeof postings.$inferInsert> = [];
  let latest = timed[0]!.at;
  for (const { spec, at } of timed) {
    const businessDate = businessDateOf(at);
    atOf.set(spec.id, at);
    dateOf.set(spec.id, businessDate);
    if (at > latest) latest = at;
    postingRows.push({
      id: spec.id,
      kind: spec.kind,
      refId: spec.refId,
      dedupeKey: spec.dedupeKey,
      currency: spec.currency,
      businessDate,
      createdAt: at,
    });
  }
  await insertRows(tx, postings, postingRows, { hold: true });
  await insertRows(tx, ledgerEntries, entryRows(entries, atOf), { hold: true });
  await addDayIncrements(
    tx,
    dayIncrements(entries, (e) => dateOf.get(e.postingId)!),
    { hold: true },
  );
  await writeBalances(tx, touched, latest);
}

function entryRows(
  entries: ReadonlyArray<EntryDraft & { prevHash: string; hash: string }>,
  atOf: ReadonlyMap<string, Date>,
): Array<typeof ledgerEntries.$inferInsert> {
  const rows: Array<typeof ledgerEntries.$inferInsert> = [];
  for (const e of entries) {
    rows.push({
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
    });
  }
  return rows;
}

/**
 * Posting only, the naive engine's way: the posting, then for each entry an UPDATE of its
 * account, a single-row INSERT and the entry's addition to its daily summary row — a
 * statement per row, as textbook code does. Locks: as writePostings, row by row.
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
