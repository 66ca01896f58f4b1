import { subgraphPoolSize } from '../../subgraphs/shared/src/shards/pool-size';
import { parts, type PartName } from './parts';

/**
 * The most MySQL connections one stack (the processes `npm start` runs) may hold:
 * connections = Σ over processes of poolSize × shards it connects to. Each subgraph connects
 * to every shard; the gateway only writes audit rows to the control shard (its part declares
 * the most its pool holds).
 */
export interface StackConnections {
  total: number;
  byProcess: Record<PartName, number>;
}

/**
 * With the pool sizes the configuration gives the subgraphs (config.shardPoolSize: MYSQL_POOL_SIZE, or null for their
 * defaults).
 */
export function stackConnections(shardCount: number, configuredPoolSize: number | null): StackConnections {
  const byProcess = Object.fromEntries(
    parts.map((part) => [
      part.name,
      part.poolSizeDefault === null
        ? (part.connectionsMax ?? 0)
        : subgraphPoolSize(part, configuredPoolSize) * shardCount,
    ]),
  ) as StackConnections['byProcess'];
  return { total: Object.values(byProcess).reduce((sum, n) => sum + n, 0), byProcess };
}

export function describeStackConnections(connections: StackConnections): string {
  const parts = Object.entries(connections.byProcess)
    .map(([name, n]) => `${name} ${n}`)
    .join(', ');
  return `at most ${connections.total} MySQL connections (${parts})`;
}
