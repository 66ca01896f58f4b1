import { readFileSync, existsSync } from 'node:fs';
import {
  activeMove,
  changeFence,
  fenceReasons,
  movesToClean,
  latestMap,
  recordStep,
  startMove,
  unfenceOn,
  moveSteps,
  type MoveRow,
  type MoveStep,
} from '../../subgraphs/shared/src/control/index';
import { type Shard } from '../../subgraphs/shared/src/shards/pool';
import { rawRows } from '../../subgraphs/shared/src/db/raw';
import {
  databaseKey,
  databaseName,
  nextMap,
  sameDatabase,
  type ShardMap,
} from '../../subgraphs/shared/src/shards/shard-map';
import { logicalShardCount, shardMoveFenceMsMax } from '../../subgraphs/shared/src/limits';
import { migrationSets } from './migration-sets';
import { outboxDueOnArrival } from '../../subgraphs/transaction/src/db/outbox';
import {
  classDaysOfRange,
  dedupeKeys,
  moveClassDays,
  settleMoveAccounts,
} from '../../subgraphs/shared/src/ledger/index';
import { inTransaction } from '../../subgraphs/shared/src/shards/transaction';
import { idSuffix, toLogicalShard } from '../../subgraphs/shared/src/ids';
import { placedTables, rangeWhere } from './move-tables';
import { checksums, deleteCopies, deleteRange, rawConnection } from './move-copy';
import { booksOfCatchUp, catchUpStep, finalCatchUp, precopy, verifyNamed } from './move-catch-up';
import {
  copyToTarget,
  describe,
  fence,
  MoveRefused,
  openMover,
  postSourceHalf,
  publishAndWait,
  rangeOf,
  shardOfEntry,
  stayingOn,
  withFence,
  type Mover,
} from './mover';

export { MoveRefused, openMover, type Mover };

/**
 * The shard mover (`npm run shards -- move FIRST-LAST DATABASE`, docs/SCALING.md). Where the source writes a ROW
 * binlog, the range is copied while it takes writes and caught up from the binlog (move-catch-up.ts), and the fence
 * stands only for the binlog's rest. Otherwise fence first, then copy and verify: the range's writes stop (a fenced map
 * version every live process acknowledges, and the range listed in the source's shard_fences, which the ledger's
 * posting transaction reads where the write happens, so a process that missed the version is refused too, and the
 * fence write waits for the postings in flight), its rows are copied to the target and checked (row count and two
 * checksums per table, both sides). Then the map switches the range to the target, and the fence lifts. The source's
 * rows stay until cleaned (listed there as `moved`, so nothing writes them). Each step is recorded in shard_moves
 * before the next starts: a killed mover is resumed by the same command (the step it died in runs again; a copy starts
 * over) or aborted (`npm run shards -- abort`) with nothing changed, up to the switch.
 */
export interface MoveRequest {
  first: number;
  last: number;
  /** The target as MYSQL_SHARDS writes one database. */
  target: string;
}

export function parseRange(text: string): { first: number; last: number } {
  const match = /^(\d+)-(\d+)$/.exec(text) ?? /^(\d+)$/.exec(text);
  if (!match) throw new MoveRefused(`"${text}" is not a range of logical shards (FIRST-LAST, e.g. 8-15)`);
  const first = Number(match[1]);
  const last = Number(match[2] ?? match[1]);
  if (first > last || last >= logicalShardCount)
    throw new MoveRefused(`"${text}": logical shards run from 0 to ${logicalShardCount - 1}, first before last`);
  return { first, last };
}

/** Moves a range, or resumes the move in progress when it is the same one; exits with the switch done. */
export async function move(mover: Mover, request: MoveRequest, stopAfter: MoveStep | null): Promise<MoveRow['id']> {
  let current = await activeMove(mover.control);
  if (current !== null && !isSameMove(current, request))
    throw new MoveRefused(
      `a move of ${current.first}-${current.last} is in progress (step ${current.step}): resume it or abort it first`,
    );
  if (current === null) {
    const source = await checkMove(mover, request);
    const id = await startMove(mover.control, { ...request, source });
    if (id === null) throw new MoveRefused('another move was started meanwhile');
    mover.log(`move ${id}: checked ${request.first}-${request.last}, nothing copied yet`);
    current = (await activeMove(mover.control))!;
    if (stopAfter === 'checked') killForTest(mover, current.id, 'checked');
  } else if (current.figures.abortingAt !== undefined)
    throw new MoveRefused(`an abort of move ${current.id} was interrupted: run npm run shards -- abort again`);
  else mover.log(`move ${current.id}: resuming after step ${current.step}`);
  // With the source's binlog (precopy), the range is copied while it takes writes and caught up until the rest is short;
  // the fence then stands for that rest. Without, the range is fenced for its whole copy.
  const caughtUp = (m: MoveRow) => m.figures.catchUp === true;
  const steps: readonly [MoveStep, (m: MoveRow) => Promise<Record<string, unknown>>][] = [
    ['precopied', (m) => precopy(mover, m)],
    ['fenced', (m) => (caughtUp(m) ? catchUpStep(mover, m) : fence(mover, m))],
    ['copied', (m) => (caughtUp(m) ? finalCatchUp(mover, m) : copy(mover, m))],
    ['verified', (m) => (caughtUp(m) ? verifyNamed(mover, m) : verify(mover, m))],
    ['switched', (m) => switchMap(mover, m)],
    ['done', (m) => lift(mover, m)],
  ];
  for (const [step, run] of steps) {
    if (stepIndex(current.step) >= stepIndex(step)) continue;
    const figures = await run(current);
    await recordStep(mover.control, current.id, step, figures);
    current = { ...current, step, figures: { ...current.figures, ...figures } };
    if (stopAfter === step) killForTest(mover, current.id, step);
  }
  return current.id;
}

/** `--kill-after STEP`: the mover dies by SIGKILL once the step is recorded, as a crash there would leave it. */
function killForTest(mover: Mover, id: number, step: MoveStep): void {
  mover.log(`move ${id}: stopping after ${step} (--kill-after)`);
  process.kill(process.pid, 'SIGKILL');
}

const stepIndex = (step: MoveStep) => moveSteps.indexOf(step);

function isSameMove(move: MoveRow, request: MoveRequest): boolean {
  return move.first === request.first && move.last === request.last && sameDatabase(move.target, request.target);
}

/** Bad input, refused before anything is written: answers the source database's entry. */
async function checkMove(mover: Mover, request: MoveRequest): Promise<string> {
  const map = mover.shards.placement.current;
  try {
    databaseKey(request.target);
  } catch (error) {
    throw new MoveRefused(`the target is not one database: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (request.first === 0)
    throw new MoveRefused('logical shard 0 holds the control tables (settlement, audit) and does not move');
  // Names are unique in a map: a process's configuration ties its entries to the map's by name (atConfiguredAddresses).
  const namesake = map.databases.find(
    (d) => databaseName(d) === databaseName(request.target) && !sameDatabase(d, request.target),
  );
  if (namesake !== undefined)
    throw new MoveRefused(`the map has another database named ${databaseName(request.target).slice(1)} (elsewhere)`);
  const sources = new Set(map.logical.slice(request.first, request.last + 1));
  if (sources.size !== 1)
    throw new MoveRefused(`logical shards ${request.first}-${request.last} are on several databases`);
  const source = map.databases[[...sources][0]!]!;
  if (sameDatabase(source, request.target)) throw new MoveRefused('the range is on that database already');
  const staying = map.logical.filter((d, l) => d === [...sources][0] && (l < request.first || l > request.last));
  if (staying.length === 0)
    throw new MoveRefused('the source would keep no logical shard (its system accounts need one to be named by)');
  await checkSystemAccounts(shardOfEntry(mover, source), request);
  await checkStripesBeside(shardOfEntry(mover, source), request);
  const target = shardOfEntry(mover, request.target);
  await checkMigrated(target);
  const held = await rowsOfRange(target, request.first, request.last);
  const first = Object.entries(held).find(([, n]) => n > 0);
  if (first) throw new MoveRefused(`the target already holds ${first[1]} rows of the range in ${first[0]}`);
  return source;
}

/**
 * The source's system accounts (reserve, clearing, fee income) belong to the database and stay; their ids name one of
 * its logical shards, which must stay with them: the fence on `accounts` would otherwise refuse them (a batched balance
 * write names no system kind), and every cross-database payment of the source with them.
 */
async function checkSystemAccounts(source: Shard, request: MoveRequest): Promise<void> {
  // A shard move's own accounts (ledger/shard-move.ts) are named by a range's first logical shard and go with it.
  const rows = await rawRows<{ id: string }>(
    source,
    "SELECT id FROM accounts WHERE system_kind IS NOT NULL AND system_kind <> 'SHARD_MOVE'",
  );
  const named = new Set(rows.map((r) => Number.parseInt(r.id.slice(-2), 16)));
  const inRange = [...named].filter((l) => l >= request.first && l <= request.last).sort((a, b) => a - b);
  if (inRange.length > 0)
    throw new MoveRefused(
      `the source's system accounts are named by logical shard ${inRange.join(', ')}, which stays with them`,
    );
}

/**
 * A merchant's payment is posted in one local transaction, its payer debited and the merchant's stripe credited, and
 * its settlement and refunds are local transactions there too. A stripe is on its payer's logical shard
 * (rules/stripe-directory.ts stripeIdOf), so a move takes them together; stripes opened before that rule (one per
 * database, migration 0014) may be on another logical shard of the payer's database. A range that would part such a
 * payment (or a merchant leg of a split payment) from its stripe is refused, naming one: the payment would be left
 * with a settlement and refunds that no one transaction can make.
 */
async function checkStripesBeside(source: Shard, request: MoveRequest): Promise<void> {
  const range = rangeOf(request).map(idSuffix);
  const [parted] = await rawRows<{ id: string; stripe: string }>(
    source,
    `SELECT id, credit_account_id AS stripe FROM payments WHERE route = 'MERCHANT_STRIPE'
       AND (RIGHT(id, 2) IN (?)) <> (RIGHT(credit_account_id, 2) IN (?))
     UNION ALL
     SELECT payment_id, posted_account_id FROM payment_legs WHERE bucket = 'PENDING'
       AND (RIGHT(payment_id, 2) IN (?)) <> (RIGHT(posted_account_id, 2) IN (?))
     LIMIT 1`,
    [range, range, range, range],
  );
  if (parted !== undefined)
    throw new MoveRefused(
      `the range would part payment ${parted.id} from the merchant stripe it credited (${parted.stripe}), opened ` +
        'before stripes were per logical shard: a range must hold both or neither',
    );
}

/** Every migration set applied to the target as to the code: a target not migrated is refused. */
async function checkMigrated(target: Shard): Promise<void> {
  for (const set of migrationSets) {
    const journal = `${set.folder}/meta/_journal.json`;
    if (!existsSync(journal)) continue;
    const expected = (JSON.parse(readFileSync(journal, 'utf8')) as { entries: unknown[] }).entries.length;
    const [row] = await rawRows<{ n: number }>(target, `SELECT COUNT(*) AS n FROM \`__migrations_${set.name}\``).catch(
      () => [{ n: -1 }],
    );
    if (Number(row!.n) !== expected)
      throw new MoveRefused(`the target is not migrated (${set.name}: run npm run migrate with it in MYSQL_SHARDS)`);
  }
}

async function rowsOfRange(shard: Shard, first: number, last: number): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const placed of placedTables) {
    const { where, values } = rangeWhere(placed, first, last);
    const [row] = await rawRows<{ n: number }>(
      shard,
      `SELECT COUNT(*) AS n FROM \`${placed.table}\` WHERE ${where}`,
      values,
    );
    counts[placed.table] = Number(row!.n);
  }
  return counts;
}

async function copy(mover: Mover, m: MoveRow): Promise<Record<string, unknown>> {
  const moved = await postSourceHalf(mover, m);
  const started = Date.now();
  const copied = await copyToTarget(mover, m, 0);
  const rowsCopied = Object.values(copied).reduce((a, b) => a + b, 0);
  const copyMs = Date.now() - started;
  mover.log(`move ${m.id}: copied ${rowsCopied} rows in ${copyMs} ms (${describe(copied)})`);
  return { copied, rowsCopied, copyMs, moved };
}

async function verify(mover: Mover, m: MoveRow): Promise<Record<string, unknown>> {
  const [sourceConnection, targetConnection] = await Promise.all([rawConnection(m.source), rawConnection(m.target)]);
  const [source, target] = await Promise.all([
    checksums(sourceConnection, m.first, m.last),
    checksums(targetConnection, m.first, m.last),
  ]).finally(() => Promise.all([sourceConnection.end(), targetConnection.end()]));
  const differ = Object.keys(source).filter((t) => source[t] !== target[t]);
  if (differ.length > 0) {
    // Back to the copy: the next run copies again.
    await recordStep(mover.control, m.id, 'fenced', { verifyFailed: differ });
    throw new Error(`move ${m.id}: checksums differ in ${differ.join(', ')}; run the move again to copy again`);
  }
  mover.log(`move ${m.id}: verified ${Object.keys(source).length} tables, checksums equal on both sides`);
  return { checksums: source };
}

async function switchMap(mover: Mover, m: MoveRow): Promise<Record<string, unknown>> {
  const source = shardOfEntry(mover, m.source);
  const target = shardOfEntry(mover, m.target);
  // The books' daily sums of the range's entries, read while nothing writes them: they leave the source's books and
  // join the target's with the switch, each side once, in the transaction that changes its fence rows.
  // With a binlog, the sums at the verify's snapshot and those of the entries since: never the whole range, fenced.
  const history = m.figures.catchUp === true ? await booksOfCatchUp(m) : await classDaysOfRange(source, rangeOf(m));
  const ackMs = await publishAndWait(
    mover,
    (map) => nextMap(map, { move: { first: m.first, last: m.last, database: m.target } }),
    `switch ${m.first}-${m.last}`,
  );
  // From here the source's rows of the range are no longer the range's: its fence refuses postings to them for good.
  await inTransaction(source, async (tx) => {
    if (await changeFence(tx, m, 'fenced', 'moved')) await moveClassDays(tx, history, -1n);
  });
  await inTransaction(target, async (tx) => {
    if (await changeFence(tx, m, 'arriving', 'open')) await moveClassDays(tx, history, 1n);
  });
  // Outbox rows whose relay met the fence were left to their leases (relay.ts): due now, where they arrived. In a
  // transaction of its own, after the fence opened: a completion locks its outbox row, then reads its fence row; the
  // fence's transaction holding the fence rows while it waited for an outbox row would be a lock cycle. Done again by
  // a mover resumed after the switch, as it may: it only brings a due time forward.
  await inTransaction(target, (tx) => outboxDueOnArrival(tx, rangeOf(m), new Date()));
  mover.log(
    `move ${m.id}: switched ${m.first}-${m.last} to the target, acknowledged in ${ackMs} ms; ` +
      `${history.length} rows of the books' daily sums moved with it`,
  );
  // The target's SHARD_MOVE posting: the move's account, copied with the range, into the target's clearing. After the
  // switch, not before: an abort deletes the target's rows of the range, which would leave this posting's clearing
  // entry alone there. Its dedupe key makes a mover resumed after the switch post it once.
  await settleMoveAccounts(target, toLogicalShard(m.first), m, dedupeKeys.shardMoveIn(m.id));
  mover.log(`move ${m.id}: SHARD_MOVE on the target, the move's account into its clearing`);
  return { switchAckMs: ackMs, booksRowsMoved: history.length };
}

async function lift(mover: Mover, m: MoveRow): Promise<Record<string, unknown>> {
  const ackMs = await publishAndWait(
    mover,
    (map) => nextMap(map, { fenced: withFence(map, m.first, m.last, false) }),
    `lift ${m.first}-${m.last}`,
  );
  const fencedAt = Number(m.figures.fencedAt ?? Date.now());
  const fenceMs = Date.now() - fencedAt;
  const over = fenceMs > shardMoveFenceMsMax ? `, over the ${shardMoveFenceMsMax} ms budget: move smaller ranges` : '';
  mover.log(`move ${m.id}: fence lifted after ${fenceMs} ms (acknowledged in ${ackMs} ms${over}); done`);
  return { liftAckMs: ackMs, fenceMs };
}

/**
 * Whether a switch began although its step is not recorded (a mover killed inside it): the newest map places the range
 * on the target, or the source lists it as moved. Such a move is finished by running it again, never aborted.
 */
async function switchBegun(mover: Mover, m: MoveRow): Promise<boolean> {
  const placed = placesAny((await latestMap(mover.control))!, m, m.target);
  return placed || (await fenceReasons(shardOfEntry(mover, m.source), m.first, m.last)).includes('moved');
}

/** Whether a map places any logical shard of the move's range on the database. */
function placesAny(map: ShardMap, m: MoveRow, database: string): boolean {
  return map.logical.slice(m.first, m.last + 1).some((d) => sameDatabase(map.databases[d]!, database));
}

/** Aborts the move in progress, before its switch: the target's copies deleted, the fence lifted. */
export async function abort(mover: Mover): Promise<MoveRow | null> {
  const m = await activeMove(mover.control);
  if (m === null) return null;
  if (stepIndex(m.step) >= stepIndex('switched') || (await switchBegun(mover, m)))
    throw new MoveRefused(`move ${m.id} has switched the map already: run the move again to finish it`);
  // Said before anything is undone: a mover killed halfway through the abort is not resumed as a move.
  await recordStep(mover.control, m.id, m.step, { abortingAt: Date.now() });
  const target = await rawConnection(m.target);
  try {
    await deleteRange(target, m.first, m.last);
  } finally {
    await target.end();
  }
  await unfenceOn(shardOfEntry(mover, m.target), m.first, m.last, 'arriving');
  // The source's SHARD_MOVE posting taken back, if the copy step had made it (nothing when it had not).
  const source = shardOfEntry(mover, m.source);
  await settleMoveAccounts(source, stayingOn(mover, source), m, dedupeKeys.shardMoveOutReversal(m.id));
  await unfenceOn(source, m.first, m.last, 'fenced');
  const map = (await latestMap(mover.control))!;
  if (map.fenced.some((l) => l >= m.first && l <= m.last))
    await publishAndWait(
      mover,
      (current) => nextMap(current, { fenced: withFence(current, m.first, m.last, false) }),
      `abort ${m.first}-${m.last}`,
    );
  await recordStep(mover.control, m.id, 'aborted', { abortedAt: Date.now() });
  mover.log(`move ${m.id}: aborted at step ${m.step}; nothing changed`);
  return m;
}

/**
 * `npm run shards -- clean`: deletes the source's copies of every range a finished move took away. Nothing reads them
 * (the map routes the range elsewhere, the relay claims only placed logical shards, the books' check leaves them out)
 * and they net to zero among themselves (the move's SHARD_MOVE account went with them), so no balance changes. A range
 * whose source fence rows are not all `moved` (it came back since) is left alone. Runs under the mover's lock, so no
 * move starts meanwhile. Answers the rows deleted per move.
 */
export async function clean(mover: Mover): Promise<Record<number, number>> {
  const deleted: Record<number, number> = {};
  for (const m of await movesToClean(mover.control)) {
    const source = shardOfEntry(mover, m.source);
    const back = (await fenceReasons(source, m.first, m.last)).some((reason) => reason !== 'moved');
    if (back || placesAny(mover.shards.placement.current, m, m.source)) {
      mover.log(`move ${m.id}: ${m.first}-${m.last} is on the source again; its rows there are not copies, kept`);
      await recordStep(mover.control, m.id, 'done', { cleanedAt: Date.now(), cleanSkipped: 'range back on source' });
      continue;
    }
    deleted[m.id] = await deleteCopies(m.source, m.first, m.last);
    await recordStep(mover.control, m.id, 'done', { cleanedAt: Date.now(), rowsCleaned: deleted[m.id] });
    mover.log(`move ${m.id}: cleaned ${deleted[m.id]} rows of ${m.first}-${m.last} from the source`);
  }
  return deleted;
}
