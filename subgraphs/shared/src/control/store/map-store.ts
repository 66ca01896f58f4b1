import { rawRows, rawWrite } from '../../db/raw';
import type { Shard } from '../../shards/pool';
import { mapBody, parseMapBody, type ShardMap } from '../../shards/shard-map';

/**
 * The live map's SQL, on the control database (store/schema.ts says which). Versions are only inserted, never
 * updated, so a reader needs no lock: the highest version is the map.
 */

interface VersionRow {
  version: number;
  placement: string;
}

/** The highest version, or null before any was written. Reads one row by the primary key's end. */
export async function latestMap(control: Shard): Promise<ShardMap | null> {
  const [row] = await rawRows<VersionRow>(
    control,
    'SELECT version, placement FROM shard_map_versions ORDER BY version DESC LIMIT 1',
  );
  return row ? parseMapBody(Number(row.version), row.placement) : null;
}

/** Version 1 from a process's configuration, unless a version 1 exists (then the stored one stands). */
export async function seedMapIfAbsent(control: Shard, map: ShardMap): Promise<void> {
  await rawWrite(control, 'INSERT IGNORE INTO shard_map_versions (version, placement, reason) VALUES (1, ?, ?)', [
    mapBody(map),
    'seed',
  ]);
}

/**
 * Writes the next version; false when another writer took that version first (the primary key decides: two movers
 * never both publish version n).
 */
export async function publishMap(control: Shard, map: ShardMap, reason: string): Promise<boolean> {
  const written = await rawWrite(
    control,
    'INSERT IGNORE INTO shard_map_versions (version, placement, reason) VALUES (?, ?, ?)',
    [map.version, mapBody(map), reason.slice(0, 64)],
  );
  return written === 1;
}

/** A process follows `version`: its acknowledgement the first time, its heartbeat after. */
export async function acknowledge(control: Shard, processId: string, service: string, version: number): Promise<void> {
  await rawWrite(
    control,
    `INSERT INTO shard_map_acks (process_id, version, service) VALUES (?, ?, ?)
     ON DUPLICATE KEY UPDATE seen_at = CURRENT_TIMESTAMP(3)`,
    [processId, version, service],
  );
}

/** A live process that has not acknowledged a version yet. */
export interface Laggard {
  processId: string;
  service: string;
  version: number;
}

/**
 * The processes seen within `liveMs` whose newest acknowledgement is below `version`: those a mover waits for before
 * it counts on the version being followed everywhere.
 */
export async function laggards(control: Shard, version: number, liveMs: number): Promise<Laggard[]> {
  const rows = await rawRows<{ process_id: string; service: string; version: number }>(
    control,
    `SELECT process_id, MAX(service) AS service, MAX(version) AS version FROM shard_map_acks
     WHERE seen_at >= CURRENT_TIMESTAMP(3) - INTERVAL ? MICROSECOND
     GROUP BY process_id HAVING MAX(version) < ?`,
    [liveMs * 1_000, version],
  );
  return rows.map((r) => ({ processId: r.process_id, service: r.service, version: Number(r.version) }));
}

/** Forgets acknowledgements of processes not seen for `forgetMs`: the table stays as small as the fleet. */
export async function forgetGone(control: Shard, forgetMs: number): Promise<number> {
  return rawWrite(control, 'DELETE FROM shard_map_acks WHERE seen_at < CURRENT_TIMESTAMP(3) - INTERVAL ? MICROSECOND', [
    forgetMs * 1_000,
  ]);
}
