import { readScriptConfig, scriptConfig } from './lib/config';
import { configureLedger } from '../subgraphs/shared/src/server/main';
import { openShards } from '../subgraphs/shared/src/shards/pool';
import { latestMap, latestMove, type MoveStep } from '../subgraphs/shared/src/control/index';
import { abort, clean, move, MoveRefused, openMover, parseRange } from './lib/shard-mover';
import { rangesOf, seedMap, type ShardMap } from '../subgraphs/shared/src/shards/shard-map';
import { parseShardNodes } from '../subgraphs/shared/src/shards/topology';
import { describeError, redactUrl } from './lib/mysql-server';

/**
 * `npm run shards -- <command>`: the live shard map and the moves of logical shards between databases
 * (docs/SCALING.md).
 *
 * - `map`: prints the map as JSON: its version, each range of logical shards with its database (as MYSQL_SHARDS writes
 *   one, passwords hidden) and whether it is fenced, and whether it was read from the control database or is the
 *   configuration's seed (no version stored yet).
 * - `move FIRST-LAST DATABASE [--keep-source]`: moves the range to DATABASE (as MYSQL_SHARDS writes one), or resumes
 *   the move in progress when it is the same; exits 0 once the map switched, the fence lifted and the source's copies
 *   were deleted (scripts/lib/shard-mover.ts); with --keep-source they stay until `clean`.
 * - `status`: the latest move as JSON (its step and figures).
 * - `abort`: aborts the move in progress, before its switch, with nothing changed.
 * - `clean`: deletes the sources' copies of the ranges finished moves took away (they change no balance).
 */
const usage = 'usage: npm run shards -- map | move FIRST-LAST DATABASE [--keep-source] | status | abort | clean';

/** The map as printed: ranges with their database's nodes, never a password. */
export function printableMap(map: ShardMap, stored: boolean): unknown {
  return {
    version: map.version,
    stored,
    ranges: rangesOf(map).map((r) => ({
      first: r.first,
      last: r.last,
      database: redactEntry(map.databases[r.database]!),
      ...(r.fenced ? { fenced: true } : {}),
    })),
  };
}

const log = (line: string) => console.log(`[shards] ${new Date().toISOString()} ${line}`);

/** move, status and abort: the mover's commands. Answers the exit status. */
async function moverCommand(urls: string, argv: readonly string[]): Promise<number | null> {
  const [command, range, target, ...flags] = argv;
  if (command === 'status') {
    const shards = openShards({ urls, poolSize: 1 });
    try {
      const row = await latestMove(shards.all[0]!);
      console.log(
        JSON.stringify(
          row === null ? null : { ...row, source: redactEntry(row.source), target: redactEntry(row.target) },
          null,
          2,
        ),
      );
      return 0;
    } finally {
      await shards.close();
    }
  }
  if (command !== 'move' && command !== 'abort' && command !== 'clean') return null;
  if (command === 'move' && (range === undefined || target === undefined)) {
    console.error(usage);
    return 2;
  }
  const mover = await openMover(urls, log);
  try {
    if (command === 'clean') {
      const cleaned = await clean(mover);
      if (Object.keys(cleaned).length === 0) log('nothing to clean');
      return 0;
    }
    if (command === 'abort') {
      const aborted = await abort(mover);
      if (aborted === null) log('no move in progress');
      return 0;
    }
    const killAt = flags.indexOf('--kill-after');
    const kill = killAt >= 0 ? ((flags[killAt + 1] ?? null) as MoveStep | null) : null;
    await move(mover, { ...parseRange(range!), target: target! }, kill);
    // The source's copies go at once unless kept: every reader that scans all databases would see them twice.
    if (!flags.includes('--keep-source')) await clean(mover);
    return 0;
  } finally {
    await mover.close();
  }
}

function redactEntry(entry: string): string {
  return parseShardNodes(entry)[0]!
    .map((node) => redactUrl(node))
    .join('|');
}

async function main(argv: readonly string[]): Promise<number> {
  const config = readScriptConfig(scriptConfig, process.env);
  // A move's SHARD_MOVE postings are sealed with the keys the subgraphs seal with (LEDGER_MAC_KEY).
  configureLedger(config);
  try {
    const moved = await moverCommand(config.shards.urls, argv);
    if (moved !== null) return moved;
  } catch (error) {
    if (!(error instanceof MoveRefused)) throw error;
    console.error(`shards: refused: ${error.message}`);
    return 3;
  }
  const shards = openShards({ ...config.shards, poolSize: 2 });
  try {
    switch (argv[0]) {
      case 'map': {
        const stored = await latestMap(shards.all[0]!);
        console.log(JSON.stringify(printableMap(stored ?? seedMap(shards.topology), stored !== null), null, 2));
        return 0;
      }
      default:
        console.error(usage);
        return 2;
    }
  } finally {
    await shards.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`shards: ${describeError(error)}`);
    process.exit(1);
  },
);
