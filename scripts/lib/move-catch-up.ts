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
  type FeedTable,
} from './binlog-catch-up';
import { checksums, rawConnection, rowSums } from './move-copy';
import { copyToTarget, describe, fence, postSourceHalf, type Mover } from './mover';

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
  const copied = await copyToTarget(mover, m);
  const rowsCopied = Object.values(copied).reduce((a, b) => a + b, 0);
  const copyMs = Date.now() - started;
  mover.log(
    `move ${m.id}: copied ${rowsCopied} rows in ${copyMs} ms while the range took writes ` +
      `(${describe(copied)}); catch-up from ${describePosition(from)}`,
  );
  return { catchUp: true, binlog: from, copied, rowsCopied, copyMs };
}

/** `fenced`, with a binlog: catch-up passes until one is short, a verify at a snapshot, then the fence. */
export async function catchUpStep(mover: Mover, m: MoveRow): Promise<Record<string, unknown>> {
  let rowsCaughtUp = 0;
  let passes = 0;
  const verifiedAt = await withConnections(m, async (source, target) => {
    const tables = await feedTables(source);
    let from = m.figures.binlog as BinlogPosition;
    for (let pass = 1; ; pass++) {
      passes = pass;
      const started = Date.now();
      const until = (await binlogNow(source, nodesOf(m.source))) as BinlogPosition;
      const changes = await changedKeys(m.source, m, { from, until }, tables);
      const written = await applyChanges(source, target, tables, changes, m);
      rowsCaughtUp += written;
      const passMs = Date.now() - started;
      mover.log(
        `move ${m.id}: catch-up pass ${pass}: ${describePosition(from)} to ${describePosition(until)}, ` +
          `${changes.events} events, ${keysNamed(changes)} rows named, ${written} written, in ${passMs} ms`,
      );
      from = until;
      if (passMs < passShortMs) break;
      if (pass >= passesMax) {
        mover.log(`move ${m.id}: still ${passMs} ms behind after ${pass} passes; fencing (the fence waits for it)`);
        break;
      }
    }
    return verifyAtSnapshot(mover, m, { from, tables, target });
  });
  const fenced = await fence(mover, m);
  const moved = await postSourceHalf(mover, m);
  return { ...fenced, moved, verifiedAt, catchUpPasses: passes, rowsCaughtUp };
}

/**
 * The copy against a consistent snapshot of the source: the binlog caught up to the snapshot's position with rows read
 * in the snapshot, then every table's checksums on both sides. A difference sends the move back to its copy.
 */
async function verifyAtSnapshot(
  mover: Mover,
  m: MoveRow,
  caught: { from: BinlogPosition; tables: FeedTable[]; target: Connection },
): Promise<BinlogPosition> {
  const snapshot = await rawConnection(m.source);
  try {
    await snapshot.query('START TRANSACTION WITH CONSISTENT SNAPSHOT');
    const at = await snapshotPosition(snapshot);
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
    mover.log(
      `move ${m.id}: verified ${Object.keys(source).length} tables at ${describePosition(at)}, ` +
        `the copy against the source's snapshot: checksums equal`,
    );
    return at;
  } finally {
    await snapshot.end();
  }
}

/** The binlog from the verify's snapshot to `until`: the keys of the rows it changed. */
async function sinceVerify(m: MoveRow, source: Connection, until: BinlogPosition) {
  const tables = await feedTables(source);
  const from = m.figures.verifiedAt as BinlogPosition;
  return { tables, changes: await changedKeys(m.source, m, { from, until }, tables) };
}

/** `copied`, with a binlog: fenced, the rest since the verify's snapshot caught up (the SHARD_MOVE posting with it). */
export async function finalCatchUp(mover: Mover, m: MoveRow): Promise<Record<string, unknown>> {
  return withConnections(m, async (source, target) => {
    const started = Date.now();
    const until = (await binlogNow(source, nodesOf(m.source))) as BinlogPosition;
    const { tables, changes } = await sinceVerify(m, source, until);
    const written = await applyChanges(source, target, tables, changes, m);
    mover.log(
      `move ${m.id}: caught up ${changes.events} events since the verify, ${keysNamed(changes)} rows named, ` +
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
