import { sql } from 'drizzle-orm';
import { datetime, index, int, mysqlTable, primaryKey, text, tinyint, varchar } from 'drizzle-orm/mysql-core';

/**
 * The control module's tables (docs/SCALING.md), made on every database by its migration set and used on the
 * control database only: the first database of MYSQL_SHARDS, which every process opens anyway, which a move never
 * moves (it holds no logical shard's rows here), and which may be a Galera cluster like any other.
 */
const moment = (name: string) =>
  datetime(name, { mode: 'date', fsp: 3 })
    .notNull()
    .default(sql`CURRENT_TIMESTAMP(3)`);

/** One row per version of the live shard map; the highest is the map. Never updated: a change is a new version. */
export const shardMapVersions = mysqlTable('shard_map_versions', {
  version: int('version').primaryKey(),
  /** The map's body as JSON (shards/shard-map.ts: databases, logical, fenced). */
  placement: text('placement').notNull(),
  /** Why this version exists: `seed`, `fence 8-15`, `switch 8-15`, `lift 8-15`. */
  reason: varchar('reason', { length: 64 }).notNull(),
  createdAt: moment('created_at'),
});

/**
 * A process's acknowledgement of a map version: written once it routes by that version. `seen_at` is the process's
 * heartbeat on its current version, so a mover waits for the processes that live, not for those that died.
 */
export const shardMapAcks = mysqlTable(
  'shard_map_acks',
  {
    processId: varchar('process_id', { length: 96 }).notNull(),
    version: int('version').notNull(),
    service: varchar('service', { length: 32 }).notNull(),
    ackedAt: moment('acked_at'),
    seenAt: moment('seen_at'),
  },
  (t) => [primaryKey({ columns: [t.processId, t.version] }), index('shard_map_acks_seen_idx').on(t.seenAt)],
);

/**
 * Whether a database takes money writes for each logical shard, on each database (not only the control database):
 * the check where the write happens, which a process that missed a map version cannot route around. One row per
 * logical shard (migration 0002), `open` unless fenced; the ledger's posting transaction reads its accounts' rows in
 * share mode and refuses a posting to one that is not open, answered SHARD_UNAVAILABLE (store/fences.ts). Every
 * movement of money is a posting, so none passes. A mover fences the range on the source, and leaves it `moved` after
 * the switch: the rows left there until cleanup are no longer the range's.
 */
export const shardFences = mysqlTable('shard_fences', {
  logicalShard: int('logical_shard').primaryKey(),
  /** `open`; `fenced` while a move stands at its fence; `moved` once the range left this database. */
  reason: varchar('reason', { length: 16 }).notNull(),
  since: moment('since'),
});

/**
 * A move of a range of logical shards to another database (scripts/lib/shard-mover.ts), one row per move: its step
 * is where a killed mover resumes (or aborts from, before the switch). `active` is 1 while the move is neither done
 * nor aborted, and unique: a second move cannot start meanwhile.
 */
export const shardMoves = mysqlTable('shard_moves', {
  id: int('id').autoincrement().primaryKey(),
  firstShard: int('first_shard').notNull(),
  lastShard: int('last_shard').notNull(),
  /** The source and target databases as MYSQL_SHARDS writes them. */
  source: text('source').notNull(),
  target: text('target').notNull(),
  /** checked, fenced, copied, verified, switched, done, aborted. */
  step: varchar('step', { length: 16 }).notNull(),
  active: tinyint('active').unique(),
  /** Each step's figures as JSON (rows copied per table, checksums, fence length). */
  figures: text('figures').notNull(),
  createdAt: moment('created_at'),
  updatedAt: moment('updated_at'),
});
