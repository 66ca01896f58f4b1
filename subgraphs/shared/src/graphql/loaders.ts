import DataLoader from 'dataloader';
import type { BaseSubgraphContext } from '../server/subgraph';
import type { Shard } from '../shards/pool';
import { parseId, type IdKind } from '../ids';
import { loaderBatchSizeMax } from '../limits';
import { pushTo } from '../collections';

/** Groups ids by the shard they name (ids that do not parse as `kind` are left out). */
export function byShard(
  base: Pick<BaseSubgraphContext, 'shards'>,
  kind: IdKind,
  ids: readonly string[],
): Map<Shard, string[]> {
  const groups = new Map<Shard, string[]>();
  for (const id of ids) {
    const parsed = parseId(kind, id);
    if (!parsed) continue;
    const shard = base.shards.byLogical(parsed.shard);
    pushTo(groups, shard, id);
  }
  return groups;
}

/**
 * A per-request loader that reads the ids of each shard they name with one query on that shard (`read`), and none on
 * the others, then answers each id asked from all the rows (`match`, in the ids' order): the reads of one request touch
 * only the shards that hold their rows, at most loaderBatchSizeMax ids a query. With `cache: false` it batches and
 * remembers nothing: a stream's context lives as long as the stream, and a cache there would grow with every event and
 * answer rows as they once were.
 */
export function byShardLoader<Row, V>(
  base: Pick<BaseSubgraphContext, 'shards'>,
  kind: IdKind,
  read: (db: Shard['db'], ids: string[]) => Promise<Row[]>,
  match: (rows: Row[], ids: readonly string[]) => V[],
  options: { cache?: boolean } = {},
): DataLoader<string, V> {
  return new DataLoader(
    async (ids) => {
      const rows = await Promise.all([...byShard(base, kind, ids)].map(([shard, local]) => read(shard.db, local)));
      return match(rows.flat(), ids);
    },
    { maxBatchSize: loaderBatchSizeMax, cache: options.cache ?? true },
  );
}

/** A byShardLoader of rows by their own id: each id answers its row, or null where no shard holds one. */
export function shardedLoader<T extends { id: string }>(
  base: Pick<BaseSubgraphContext, 'shards'>,
  kind: IdKind,
  query: (db: Shard['db'], ids: string[]) => Promise<T[]>,
  options: { cache?: boolean } = {},
): DataLoader<string, T | null> {
  return byShardLoader(
    base,
    kind,
    query,
    (rows, ids) => {
      const found = new Map(rows.map((r) => [r.id, r]));
      return ids.map((id) => found.get(id) ?? null);
    },
    options,
  );
}
