import { accountPoolSizeDefault, settlementPoolSizeDefault, transactionPoolSizeDefault, webhooksPoolSizeDefault } from '../limits';

/**
 * How many connections per shard a process's pool may open: MYSQL_POOL_SIZE when it is set
 * (the same for every process, as the benchmark's knob), otherwise the process's own default,
 * sized to its work so that the stack fits MySQL's connection limit (README: "Connection budget").
 */
export type PooledSubgraph = 'account' | 'transaction' | 'settlement' | 'webhooks';

export const subgraphPoolSizeDefaults: Readonly<Record<PooledSubgraph, number>> = {
  account: accountPoolSizeDefault,
  transaction: transactionPoolSizeDefault,
  settlement: settlementPoolSizeDefault,
  webhooks: webhooksPoolSizeDefault,
};

/** MYSQL_POOL_SIZE when set (config.shardPoolSize, checked at start-up), else the subgraph's own default. */
export function subgraphPoolSize(name: PooledSubgraph, configured: number | null): number {
  return configured ?? subgraphPoolSizeDefaults[name];
}
