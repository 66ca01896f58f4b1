import type { Connection } from 'mysql2/promise';
import { recordStep, type MoveRow } from '../../subgraphs/shared/src/control/index';
import { parseShardNodes } from '../../subgraphs/shared/src/shards/topology';
import {
  applyChanges,
  binlogNow,
  changedKeys,
  describePosition,
  feedTables,
  keysNamed,
  snapshotPosition,
  type BinlogPosition,
  mergeChanges,
  type Changes,
  type FeedTable,
} from './binlog-catch-up';
import { checksums, copyNiceRatio, rawConnection, rowSums } from './move-copy';
import { copyToTarget, describe, fence, postSourceHalf, rangeOf, type Mover } from './mover';
import { classDaysOfRange, type ClassDayIncrement, type RowReader } from '../../subgraphs/shared/src/ledger/index';

/**
 * A move whose source writes a ROW binlog (issue 50, item 2): the range is copied while it still takes writes, the
 * binlog since the copy began is caught up in passes until one is short, the copy is verified against a consistent
 * snapshot of the source, and only then is the range fenced. Fenced, the mover catches up the rest (what the
 * processes wrote since that snapshot, and the SHARD_MOVE posting), verifies the rows that rest named, and switches:
 * the fence stands for a short stretch of binlog, whatever the range's size.
 *
 * Why verifying the rows named is enough: at the snapshot the copy equals the source (every table's checksums), and
 * after it a row of the range changes on the source only with an event in the binlog (ROW format), and on the target
 * only by the mover, which writes only the rows those events name.
 */

/** A catch-up pass shorter than this ends the passes before the fence: the fence's catch-up is about as long. */
const passShortMs = 250;
/** The passes before the fence, at most: a source written faster than the mover catches up is fenced after these. */
const passesMax = 20;

const nodesOf = (entry: string) => parseShardNodes(entry)[0]!.length;

/**
 * A connection reading the source in a consistent snapshot, and the binlog position of that snapshot (MariaDB's
 * binlog_snapshot_position). A catch-up streams to that position and reads the rows it names in the snapshot: what it
 * reads is exactly the source at that position. SHOW MASTER STATUS can name a transaction already in the binlog whose
 * rows other sessions cannot see yet (the binlog is written before the engine commits): a row read live then would be
 * read older than its event, and its event never streamed again.
 */
async function snapshotOf(m: MoveRow): Promise<{ connection: Connection; at: BinlogPosition }> {
  const connection = await rawConnection(m.source);
  try {
    await connection.query('START TRANSACTION WITH CONSISTENT SNAPSHOT');
    return { connection, at: await snapshotPosition(connection) };
  } catch (error) {
    await connection.end();
    throw error;
  }
}

async function withConnections<T>(m: MoveRow, run: (source: Connection, target: Connection) => Promise<T>) {
  const [source, target] = await Promise.all([rawConnection(m.source), rawConnection(m.target)]);
  try {
    return await run(source, target);
  } finally {
    await Promise.all([source.end(), target.end()]);
  }
}

/**
 * `precopied`: the binlog position first, then the copy, while the range takes writes. A source without a ROW binlog
 * copies nothing here: its range is fenced for the whole copy (shard-mover.ts's fence, then copy).
 */
export async function precopy(mover: Mover, m: MoveRow): Promise<Record<string, unknown>> {
  const from = await withConnections(m, (source) => binlogNow(source, nodesOf(m.source)));
  if ('refused' in from) {
    mover.log(`move ${m.id}: no catch-up (${from.refused}): the range stays fenced for its whole copy`);
    return { catchUp: false, catchUpRefused: from.refused };
  }
  const started = Date.now();
  const copied = await copyToTarget(mover, m, copyNiceRatio);
  const rowsCopied = Object.values(copied).reduce((a, b) => a + b, 0);
  const copyMs = Date.now() - started;
  mover.log(
    `move ${m.id}: copied ${rowsCopied} rows in ${copyMs} ms while the range took writes ` +
      `(${describe(copied)}); catch-up from ${describePosition(from)}`,
  );
  return { catchUp: true, binlog: from, copied, rowsCopied, copyMs };
}

/**
 * `fenced`, with a binlog: catch-up passes until one is short, a verify at a snapshot, passes again until one is short
 * (what was written during the verify), then the fence.
 */
export async function catchUpStep(mover: Mover, m: MoveRow): Promise<Record<string, unknown>> {
  const caught = await withConnections(m, async (source, target) => {
    const tables = await feedTables(source);
    const before = await catchUpPasses(mover, m, { target, tables }, m.figures.binlog as BinlogPosition);
    const verified = await verifyAtSnapshot(mover, m, { from: before.reached, tables, target });
    startNamed(m, verified.verifiedAt);
    const after = await catchUpPasses(mover, m, { target, tables }, verified.verifiedAt, (changes, span) =>
      addNamed(m, changes, span),
    );
    return {
      ...verified,
      caughtUpTo: after.reached,
      catchUpPasses: before.passes + after.passes,
      rowsCaughtUp: before.written + after.written,
    };
  });
  const fenced = await fence(mover, m);
  const moved = await postSourceHalf(mover, m);
  return { ...fenced, moved, ...caught };
}

/** One stretch of binlog caught up: from `from` to a new snapshot's position, the rows it names read in that snapshot. */
async function catchUpTo(
  m: MoveRow,
  from: BinlogPosition,
  on: { target: Connection; tables: FeedTable[] },
): Promise<{ until: BinlogPosition; changes: Changes; rows: number }> {
  const snapshot = await snapshotOf(m);
  try {
    const changes = await changedKeys(m.source, m, { from, until: snapshot.at }, on.tables);
    const rows = await applyChanges(snapshot.connection, on.target, on.tables, changes, m);
    return { until: snapshot.at, changes, rows };
  } finally {
    await snapshot.connection.end();
  }
}

/** Catch-up passes from a position until one takes under passShortMs (or passesMax ran); answers where they reached. */
async function catchUpPasses(
  mover: Mover,
  m: MoveRow,
  on: { target: Connection; tables: FeedTable[] },
  from: BinlogPosition,
  named?: (changes: Changes, span: { from: BinlogPosition; until: BinlogPosition }) => void,
): Promise<{ reached: BinlogPosition; passes: number; written: number }> {
  let written = 0;
  for (let pass = 1; ; pass++) {
    const started = Date.now();
    const { until, changes, rows } = await catchUpTo(m, from, on);
    named?.(changes, { from, until });
    written += rows;
    const passMs = Date.now() - started;
    mover.log(
      `move ${m.id}: catch-up pass: ${describePosition(from)} to ${describePosition(until)}, ` +
        `${changes.events} events, ${keysNamed(changes)} rows named, ${rows} written, in ${passMs} ms`,
    );
    from = until;
    if (passMs < passShortMs) return { reached: from, passes: pass, written };
    if (pass >= passesMax) {
      mover.log(`move ${m.id}: still ${passMs} ms behind after ${pass} passes; fencing (the fence waits for it)`);
      return { reached: from, passes: pass, written };
    }
  }
}

/**
 * The copy against a consistent snapshot of the source: the binlog caught up to the snapshot's position with rows read
 * in the snapshot, then every table's checksums on both sides. A difference sends the move back to its copy. Answers
 * the snapshot's position and the range's books' daily sums in it (the switch adds those of the entries written since,
 * so that the fence never sums the whole range).
 */
async function verifyAtSnapshot(
  mover: Mover,
  m: MoveRow,
  caught: { from: BinlogPosition; tables: FeedTable[]; target: Connection },
): Promise<{ verifiedAt: BinlogPosition; booksAtSnapshot: StoredClassDay[] }> {
  const { connection: snapshot, at } = await snapshotOf(m);
  try {
    const changes = await changedKeys(m.source, m, { from: caught.from, until: at }, caught.tables);
    await applyChanges(snapshot, caught.target, caught.tables, changes, m);
    const [source, copy] = await Promise.all([
      checksums(snapshot, m.first, m.last),
      checksums(caught.target, m.first, m.last),
    ]);
    const differ = Object.keys(source).filter((t) => source[t] !== copy[t]);
    if (differ.length > 0) {
      await recordStep(mover.control, m.id, 'checked', { verifyFailed: differ });
      throw new Error(`move ${m.id}: checksums differ in ${differ.join(', ')}; run the move again to copy again`);
    }
    const books = await classDaysOfRange(readerOf(snapshot), rangeOf(m));
    mover.log(
      `move ${m.id}: verified ${Object.keys(source).length} tables at ${describePosition(at)}, ` +
        `the copy against the source's snapshot: checksums equal; ${books.length} rows of the books' daily sums there`,
    );
    return { verifiedAt: at, booksAtSnapshot: books.map(storedClassDay) };
  } finally {
    await snapshot.end();
  }
}

/**
 * The binlog from the verify's snapshot to `until`: the keys of the rows it changed. What the passes after the verify
 * and the fenced catch-up named is kept as they run (namedSinceVerify), so a mover that runs the steps in turn reads
 * none of it again, fenced; a mover resumed after them streams it.
 */
async function sinceVerify(m: MoveRow, source: Connection, until: BinlogPosition) {
  const tables = await feedTables(source);
  const from = m.figures.verifiedAt as BinlogPosition;
  const kept = namedSinceVerify;
  if (kept?.move === m.id && kept.from === describePosition(from) && kept.until === describePosition(until))
    return { tables, changes: kept.changes };
  const changes = await changedKeys(m.source, m, { from, until }, tables);
  namedSinceVerify = { move: m.id, from: describePosition(from), until: describePosition(until), changes };
  return { tables, changes };
}

/** The keys named since a move's verify, and the stretch they cover (positions as text). */
let namedSinceVerify: { move: number; from: string; until: string; changes: Changes } | null = null;

function startNamed(m: MoveRow, verifiedAt: BinlogPosition): void {
  const at = describePosition(verifiedAt);
  namedSinceVerify = { move: m.id, from: at, until: at, changes: { keys: new Map(), events: 0 } };
}

/** Adds a stretch that begins where the kept one ends; any other leaves nothing kept (a resumed mover streams). */
function addNamed(m: MoveRow, changes: Changes, span: { from: BinlogPosition; until: BinlogPosition }): void {
  const kept = namedSinceVerify;
  namedSinceVerify =
    kept?.move === m.id && kept.until === describePosition(span.from)
      ? { ...kept, until: describePosition(span.until), changes: mergeChanges(kept.changes, changes) }
      : null;
}

/**
 * `copied`, with a binlog: fenced, the rest caught up: what the processes wrote since the last pass, and the SHARD_MOVE
 * posting.
 */
export async function finalCatchUp(mover: Mover, m: MoveRow): Promise<Record<string, unknown>> {
  return withConnections(m, async (source, target) => {
    const started = Date.now();
    const tables = await feedTables(source);
    // After a verify of the rows named failed, every row named since the snapshot is read again.
    const from = (m.figures.verifyFailed === undefined ? m.figures.caughtUpTo : m.figures.verifiedAt) as BinlogPosition;
    const { until, changes, rows: written } = await catchUpTo(m, from, { target, tables });
    addNamed(m, changes, { from, until });
    mover.log(
      `move ${m.id}: caught up ${changes.events} events since the last pass, ${keysNamed(changes)} rows named, ` +
        `${written} written, in ${Date.now() - started} ms (fenced)`,
    );
    return { binlog: until, caughtUpRows: keysNamed(changes) };
  });
}

/** `verified`, with a binlog: the rows the binlog named since the verify's snapshot, equal on both sides. */
export async function verifyNamed(mover: Mover, m: MoveRow): Promise<Record<string, unknown>> {
  return withConnections(m, async (source, target) => {
    const { tables, changes } = await sinceVerify(m, source, m.figures.binlog as BinlogPosition);
    const differ: string[] = [];
    for (const { placed, key } of tables) {
      const keys = changes.keys.get(placed.table) ?? [];
      if (keys.length === 0) continue;
      const [a, b] = await Promise.all([rowSums(source, placed, key, keys, m), rowSums(target, placed, key, keys, m)]);
      if (a.size !== b.size || [...a].some(([k, h]) => b.get(k) !== h)) differ.push(placed.table);
    }
    if (differ.length > 0) {
      // Back to the fenced catch-up: the next run reads those rows again.
      await recordStep(mover.control, m.id, 'fenced', { verifyFailed: differ });
      throw new Error(`move ${m.id}: rows differ in ${differ.join(', ')}; run the move again to catch up again`);
    }
    mover.log(`move ${m.id}: verified the ${keysNamed(changes)} rows named since the snapshot, equal on both sides`);
    return { rowsVerified: keysNamed(changes) };
  });
}

/**
 * The switch's books with a binlog: the range's daily sums at the verify's snapshot and those of the entries the binlog
 * wrote since (the fence stands meanwhile, so they are all there is). Added as two lists: a sums row met twice adds up.
 */
export async function booksOfCatchUp(m: MoveRow): Promise<ClassDayIncrement[]> {
  const atSnapshot = (m.figures.booksAtSnapshot as StoredClassDay[]).map(classDayOf);
  const since = await withConnections(m, async (source) => {
    const { changes } = await sinceVerify(m, source, m.figures.binlog as BinlogPosition);
    return classDaysOfRange(readerOf(source), rangeOf(m), changes.keys.get('ledger_entries') ?? []);
  });
  return [...atSnapshot, ...since];
}

function readerOf(connection: Connection): RowReader {
  return async <T>(text: string, values: readonly unknown[]) => (await connection.query(text, [...values]))[0] as T[];
}

/** A books' sums row as the move's figures keep it (JSON: its sums as text). */
type StoredClassDay = Omit<ClassDayIncrement, 'debits' | 'credits' | 'debitPostings' | 'creditPostings'> &
  Record<'debits' | 'credits' | 'debitPostings' | 'creditPostings', string>;

function storedClassDay(day: ClassDayIncrement): StoredClassDay {
  return {
    ...day,
    debits: String(day.debits),
    credits: String(day.credits),
    debitPostings: String(day.debitPostings),
    creditPostings: String(day.creditPostings),
  };
}

function classDayOf(day: StoredClassDay): ClassDayIncrement {
  return {
    ...day,
    debits: BigInt(day.debits),
    credits: BigInt(day.credits),
    debitPostings: BigInt(day.debitPostings),
    creditPostings: BigInt(day.creditPostings),
  };
}
