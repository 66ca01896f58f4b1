import mysql from 'mysql2/promise';
import {
  fenceOn,
  laggards,
  latestMap,
  publishMap,
  seedMapIfAbsent,
  type MoveRow,
} from '../../subgraphs/shared/src/control/index';
import { openShards, type Shard, type ShardSet } from '../../subgraphs/shared/src/shards/pool';
import { databaseKey, nextMap, seedMap, type ShardMap } from '../../subgraphs/shared/src/shards/shard-map';
import { parseShardNodes } from '../../subgraphs/shared/src/shards/topology';
import { shardMapAckWaitMs, shardMapProcessLiveMs } from '../../subgraphs/shared/src/limits';
import { movedNets, postMoveOut } from '../../subgraphs/shared/src/ledger/index';
import type { LogicalShard } from '../../subgraphs/shared/src/ids';
import { copyRange, deleteRange, rawConnection } from './move-copy';

/**
 * What a shard mover holds (its databases, its lock) and the steps both ways of moving share: the fence, the copy to
 * the target, the source's SHARD_MOVE posting (shard-mover.ts runs them; move-catch-up.ts, with the source's binlog).
 */

/** A move refused before anything was copied, naming why. */
export class MoveRefused extends Error {}

/** The named lock (GET_LOCK on the control database) a mover holds while it runs: two never run at once. */
const lockName = 'paygraph_shard_mover';

/** What a mover holds: the control database, every database of the map, and its lock. */
export interface Mover {
  shards: ShardSet;
  control: Shard;
  log: (line: string) => void;
  lock: mysql.Connection;
  /** Pools on databases the map does not list (a target). */
  extra: ShardSet[];
  close(): Promise<void>;
}

/** Opens the map's databases and takes the mover's lock on the control database; refused when another mover runs. */
export async function openMover(urls: string, log: (line: string) => void): Promise<Mover> {
  const shards = openShards({ urls, poolSize: 4 });
  // No process has seeded the map yet: the configuration's is version 1, as a process would write it.
  if ((await latestMap(shards.all[0]!)) === null) await seedMapIfAbsent(shards.all[0]!, seedMap(shards.topology));
  shards.placement.apply((await latestMap(shards.all[0]!))!);
  const lock = await mysql.createConnection({ uri: parseShardNodes(urls)[0]![0]! });
  const [rows] = await lock.query<mysql.RowDataPacket[]>('SELECT GET_LOCK(?, 0) AS taken', [lockName]);
  if (Number(rows[0]!.taken) !== 1) {
    await lock.end();
    await shards.close();
    throw new MoveRefused('another mover runs (it holds the mover lock on the control database)');
  }
  const mover: Mover = {
    shards,
    control: shards.all[0]!,
    log,
    lock,
    extra: [],
    close: async () => {
      await lock.end();
      await Promise.all([shards, ...mover.extra].map((set) => set.close()));
    },
  };
  return mover;
}

/** The mover's pool on a database: one of the map's, or one opened for a target the map does not list yet. */
export function shardOfEntry(mover: Mover, entry: string): Shard {
  const key = databaseKey(entry);
  const known = [...mover.shards.all, ...mover.extra.flatMap((set) => set.all)];
  const shard = known.find((s) => databaseKey(s.pool.options.nodes.join('|')) === key);
  if (shard) return shard;
  const set = openShards({ urls: entry, poolSize: 2 });
  mover.extra.push(set);
  return set.all[0]!;
}

/** Publishes a map version built from the newest, then waits until every live process acknowledged it. */
export async function publishAndWait(
  mover: Mover,
  build: (map: ShardMap) => ShardMap,
  reason: string,
): Promise<number> {
  for (;;) {
    const map = (await latestMap(mover.control))!;
    const next = build(map);
    if (await publishMap(mover.control, next, reason)) {
      mover.shards.placement.apply(next);
      return waitForAcks(mover, next.version);
    }
  }
}

/** Waits (at most shardMapAckWaitMs) for every live process to acknowledge; answers how long it took. */
async function waitForAcks(mover: Mover, version: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    const waiting = await laggards(mover.control, version, shardMapProcessLiveMs);
    if (waiting.length === 0) return Date.now() - started;
    if (Date.now() - started > shardMapAckWaitMs) {
      mover.log(
        `map ${version}: ${waiting.length} processes did not acknowledge within ${shardMapAckWaitMs} ms ` +
          `(${waiting.map((w) => w.service).join(', ')}); the fence on the source refuses their writes`,
      );
      return Date.now() - started;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function withFence(map: ShardMap, first: number, last: number, on: boolean): number[] {
  const range = new Set(Array.from({ length: last - first + 1 }, (_, i) => first + i));
  return on ? [...new Set([...map.fenced, ...range])] : map.fenced.filter((l) => !range.has(l));
}

export async function fence(mover: Mover, m: MoveRow): Promise<Record<string, unknown>> {
  const fencedAt = Date.now();
  const ackMs = await publishAndWait(
    mover,
    (map) => nextMap(map, { fenced: withFence(map, m.first, m.last, true) }),
    `fence ${m.first}-${m.last}`,
  );
  // Then the source refuses the range's postings from any process that did not acknowledge (after the processes that
  // did, so that none of their merged batches meets the fence there). The fence write waits for every posting in
  // flight on the range (they hold its fence rows in share mode): once it returns, nothing more is written to the
  // range's accounts on the source, and what was written before is copied.
  await fenceOn(shardOfEntry(mover, m.source), m.first, m.last, 'fenced');
  mover.log(`move ${m.id}: fenced ${m.first}-${m.last}, acknowledged by every live process in ${ackMs} ms`);
  return { fencedAt, fenceAckMs: ackMs };
}

/**
 * The range's rows copied to the target, what an earlier copy left there deleted first (a copy killed midway starts
 * over). The target lists the range as arriving until the switch: its own checks leave the copy out (control's
 * heldHere), and nothing posts to it there (any reason but open refuses a posting). It may have held the range before
 * and list it as moved.
 */
export async function copyToTarget(mover: Mover, m: MoveRow, niceRatio: number): Promise<Record<string, number>> {
  const target = await rawConnection(m.target);
  try {
    await deleteRange(target, m.first, m.last);
    await fenceOn(shardOfEntry(mover, m.target), m.first, m.last, 'arriving');
    return await copyRange(m.source, target, m, niceRatio);
  } finally {
    await target.end();
  }
}

/**
 * The source's SHARD_MOVE posting (ledger/shard-move.ts), before the copy so that the copy carries the move's account:
 * the fenced range's net per entity and currency from it to the source's clearing. Its dedupe key makes a copy run
 * again post nothing more. Answers the nets, as text, for the move's figures.
 */
export async function postSourceHalf(mover: Mover, m: MoveRow): Promise<Record<string, string>> {
  const source = shardOfEntry(mover, m.source);
  const nets = await movedNets(source, rangeOf(m));
  await postMoveOut(source, stayingOn(mover, source), m, nets);
  const moved = Object.fromEntries(nets.map((n) => [`${n.entity} ${n.currency}`, n.net.toString()]));
  mover.log(`move ${m.id}: SHARD_MOVE on the source, the range's net to its clearing: ${JSON.stringify(moved)}`);
  return moved;
}

/** A logical shard the source keeps (the map's, not fenced): it names the source's clearing if it has none yet. */
export function stayingOn(mover: Mover, source: Shard): LogicalShard {
  const staying = mover.shards.logicalOn(source)[0];
  if (staying === undefined) throw new Error(`${source.name} keeps no logical shard the map does not fence`);
  return staying;
}

/** The move's logical shards, first to last. */
export function rangeOf(m: Pick<MoveRow, 'first' | 'last'>): number[] {
  return Array.from({ length: m.last - m.first + 1 }, (_, i) => m.first + i);
}

export function describe(counts: Record<string, number>): string {
  return Object.entries(counts)
    .filter(([, n]) => n > 0)
    .map(([t, n]) => `${t} ${n}`)
    .join(', ');
}
