import { sql } from 'drizzle-orm';
import { datetime, int, mysqlTable, primaryKey, text, varchar, index } from 'drizzle-orm/mysql-core';

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
