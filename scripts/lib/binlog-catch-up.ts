import { randomInt } from 'node:crypto';
import ZongJi, { type BinlogEvent, type RotateEvent, type RowsEvent } from '@vlasky/zongji';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { parseShardNodes } from '../../subgraphs/shared/src/shards/topology';
import { idSuffix } from '../../subgraphs/shared/src/ids';
import { placedTables, type PlacedTable } from './move-tables';
import { primaryKey, resync, textValues } from './move-copy';

/**
 * A shard move's catch-up (issue 50, item 2; docs/SCALING.md): which rows of the moving range changed on the source
 * since a binlog position, read from MariaDB's own binlog with @vlasky/zongji, and those rows read again from the
 * source and written to the target whole.
 *
 * Why @vlasky/zongji: it is kept (released through 2026, on mysql2, the driver paygraph uses), reads MariaDB's own
 * events (its GTIDs, compressed events) and ships its types. zongji itself was last released years ago on the `mysql`
 * driver; Debezium and the Java binlog connector need a JVM; MariaDB's replication copies whole tables, not one
 * logical shard's rows of each.
 *
 * The binlog only names keys: no value decoded from it is written. A row named is read again from the source and
 * written whole (or deleted, when the source has none), so its last read is at least as new as its last change in the
 * stream. Passes run again, or from an older position, converge on the same rows.
 */
export interface BinlogPosition {
  file: string;
  position: number;
}

/**
 * The longest a pass waits for the stream's next event before it gives up (a source that stopped answering). A pass
 * may stream for minutes (a large copy's binlog); only silence ends it.
 */
const streamSilenceMsMax = 30_000;

/**
 * The source's binlog position now, or why a catch-up cannot read the source's changes: row events are needed (ROW),
 * and, on a cluster, the node read must log the writes the others replicate to it.
 */
export async function binlogNow(source: Connection, nodes: number): Promise<BinlogPosition | { refused: string }> {
  const [[settings]] = await source.query<RowDataPacket[]>(
    'SELECT @@log_bin AS logBin, @@binlog_format AS format, @@log_slave_updates AS replicated',
  );
  if (Number(settings!.logBin) !== 1) return { refused: 'the source writes no binlog (log_bin is off)' };
  if (String(settings!.format).toUpperCase() !== 'ROW')
    return { refused: `the source's binlog_format is ${String(settings!.format)}, not ROW` };
  if (nodes > 1 && Number(settings!.replicated) !== 1)
    return { refused: "the source's node does not log the writes of the cluster's others (log_slave_updates off)" };
  const [[status]] = await source.query<RowDataPacket[]>('SHOW MASTER STATUS');
  return { file: String(status!.File), position: Number(status!.Position) };
}

/** The position of the snapshot a transaction began WITH CONSISTENT SNAPSHOT reads (MariaDB's binlog_snapshot_*). */
export async function snapshotPosition(snapshot: Connection): Promise<BinlogPosition> {
  const [rows] = await snapshot.query<RowDataPacket[]>("SHOW STATUS LIKE 'binlog_snapshot_%'");
  // Named Binlog_snapshot_file and Binlog_snapshot_position.
  const of = (name: string) =>
    String(rows.find((r) => String(r.Variable_name).toLowerCase() === `binlog_snapshot_${name}`)!.Value);
  return { file: of('file'), position: Number(of('position')) };
}

/** Whether `at` is at or after `until` (files numbered .000001, .000002, …). */
export function reached(at: BinlogPosition, until: BinlogPosition): boolean {
  const number = (file: string) => Number(/\.(\d+)$/.exec(file)?.[1] ?? Number.NaN);
  const [a, b] = [number(at.file), number(until.file)];
  return a !== b ? a > b : at.position >= until.position;
}

/** A placed table with its primary key: what the feed names its rows by. */
export interface FeedTable {
  placed: PlacedTable;
  key: readonly string[];
}

export async function feedTables(connection: Connection): Promise<FeedTable[]> {
  const tables: FeedTable[] = [];
  for (const placed of placedTables) tables.push({ placed, key: await primaryKey(connection, placed.table) });
  return tables;
}

/** The keys of the rows a stretch of binlog changed, per table, each once. */
export interface Changes {
  keys: Map<string, unknown[][]>;
  events: number;
}

/**
 * Streams the source's binlog from `from` until `until` (both transaction boundaries: positions SHOW MASTER STATUS
 * or a snapshot gave) and answers the keys of the rows of the range it changed. A row whose placing column the event
 * leaves out (a minimal row image) is kept: the read again filters by the range.
 */
export function changedKeys(
  entry: string,
  range: { first: number; last: number },
  span: { from: BinlogPosition; until: BinlogPosition },
  tables: readonly FeedTable[],
): Promise<Changes> {
  const keys = new Map<string, Map<string, unknown[]>>(tables.map((t) => [t.placed.table, new Map()]));
  const collect = collector(range, tables, keys);
  const answer = (events: number): Changes => ({
    keys: new Map([...keys].map(([table, named]) => [table, [...named.values()]])),
    events,
  });
  if (reached(span.from, span.until)) return Promise.resolve(answer(0));
  const node = parseShardNodes(entry)[0]![0]!;
  const database = decodeURIComponent(new URL(node).pathname.slice(1));
  return new Promise((resolve, reject) => {
    const zongji = new ZongJi({ uri: node, ...textValues });
    let file = span.from.file;
    let events = 0;
    let done = false;
    const finish = (error?: unknown) => {
      if (done) return;
      done = true;
      clearInterval(watchdog);
      zongji.stop();
      if (error === undefined) resolve(answer(events));
      else reject(error instanceof Error ? error : new Error(String(error)));
    };
    let heardAt = Date.now();
    const watchdog = setInterval(() => {
      if (Date.now() - heardAt > streamSilenceMsMax)
        finish(new Error(`binlog: no event for ${streamSilenceMsMax} ms before ${describePosition(span.until)}`));
    }, streamSilenceMsMax / 10);
    zongji.on('error', finish);
    zongji.on('binlog', (event: BinlogEvent) => {
      if (done) return;
      heardAt = Date.now();
      events++;
      if (event.getEventName() === 'rotate') {
        file = (event as RotateEvent).binlogName;
        return;
      }
      collect(event);
      if (event.nextPosition > 0 && reached({ file, position: event.nextPosition }, span.until)) finish();
    });
    zongji.start({
      filename: span.from.file,
      position: span.from.position,
      // A replica's id, unique among those the source serves (the server's own is never this high).
      serverId: randomInt(1_000_000, 2 ** 31),
      includeSchema: { [database]: tables.map((t) => t.placed.table) },
    });
  });
}

/** Collects the keys of row events' rows in the range: inserts', deletes', and updates' before and after images. */
function collector(
  range: { first: number; last: number },
  tables: readonly FeedTable[],
  keys: Map<string, Map<string, unknown[]>>,
): (event: BinlogEvent) => void {
  const suffixes = new Set(Array.from({ length: range.last - range.first + 1 }, (_, i) => idSuffix(range.first + i)));
  const byName = new Map(tables.map((t) => [t.placed.table, t]));
  return (event) => {
    const name = event.getEventName();
    if (name !== 'writerows' && name !== 'deleterows' && name !== 'updaterows') return;
    const rows = event as RowsEvent & { rows: Record<string, unknown>[] | { before: Record<string, unknown> }[] };
    const table = byName.get(rows.tableMap[rows.tableId]!.tableName);
    if (table === undefined) return;
    const images =
      name === 'updaterows'
        ? (rows.rows as { before: Record<string, unknown>; after: Record<string, unknown> }[]).flatMap((r) => [
            r.before,
            r.after,
          ])
        : (rows.rows as Record<string, unknown>[]);
    for (const image of images) {
      const placing = image[table.placed.column];
      const outside =
        table.placed.logicalOf === undefined && typeof placing === 'string' && !suffixes.has(placing.slice(-2));
      if (outside || table.key.some((c) => image[c] === undefined)) continue;
      const key = table.key.map((c) => image[c]);
      keys.get(table.placed.table)!.set(JSON.stringify(key), key);
    }
  };
}

export function describePosition(at: BinlogPosition): string {
  return `${at.file}:${at.position}`;
}

/** Reads again from `reader` the rows the changes name and writes them to the target; answers the rows written. */
export async function applyChanges(
  reader: Connection,
  target: Connection,
  tables: readonly FeedTable[],
  changes: Changes,
  range: { first: number; last: number },
): Promise<number> {
  let written = 0;
  for (const table of tables) {
    const keys = changes.keys.get(table.placed.table) ?? [];
    if (keys.length > 0) written += await resync(reader, target, table.placed, table.key, keys, range);
  }
  return written;
}

/** The keys both name, each once: two stretches of binlog, one after the other. */
export function mergeChanges(a: Changes, b: Changes): Changes {
  const keys = new Map<string, unknown[][]>();
  for (const table of new Set([...a.keys.keys(), ...b.keys.keys()])) {
    const named = new Map<string, unknown[]>();
    for (const key of [...(a.keys.get(table) ?? []), ...(b.keys.get(table) ?? [])]) named.set(JSON.stringify(key), key);
    keys.set(table, [...named.values()]);
  }
  return { keys, events: a.events + b.events };
}

/** The number of keys the changes name. */
export function keysNamed(changes: Changes): number {
  return [...changes.keys.values()].reduce((n, keys) => n + keys.length, 0);
}
