import { auditPoolConnectionsMax } from '../../gateway/src/limits';
import { subgraphPoolSize, type PooledSubgraph } from '../../subgraphs/shared/src/shards/pool-size';

/**
 * The most MySQL connections one stack (the processes `npm start` runs) may hold:
 * connections = Σ over processes of poolSize × shards it connects to. Each subgraph connects
 * to every shard; the gateway only writes audit rows to the control shard.
 */
export interface StackConnections {
  total: number;
  byProcess: Record<PooledSubgraph | 'gateway', number>;
}

const subgraphs: readonly PooledSubgraph[] = ['account', 'transaction', 'settlement', 'webhooks'];

/** With the pool sizes the configuration gives the subgraphs (config.shardPoolSize: MYSQL_POOL_SIZE, or null for their defaults). */
export function stackConnections(shardCount: number, configuredPoolSize: number | null): StackConnections {
  const byProcess = {
    ...Object.fromEntries(subgraphs.map((name) => [name, subgraphPoolSize(name, configuredPoolSize) * shardCount])),
    gateway: auditPoolConnectionsMax,
  } as StackConnections['byProcess'];
  return { total: Object.values(byProcess).reduce((sum, n) => sum + n, 0), byProcess };
}

export function describeStackConnections(connections: StackConnections): string {
  const parts = Object.entries(connections.byProcess).map(([name, n]) => `${name} ${n}`).join(', ');
  return `at most ${connections.total} MySQL connections (${parts})`;
}
