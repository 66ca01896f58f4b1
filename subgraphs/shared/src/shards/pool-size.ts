import { envInt } from '../config';
import { accountPoolSizeDefault, settlementPoolSizeDefault, shardPoolSizeMax, transactionPoolSizeDefault } from '../limits';

/**
 * How many connections per shard a process's pool may open: MYSQL_POOL_SIZE when it is set
 * (the same for every process, as the benchmark's knob), otherwise the process's own default,
 * sized to its work so that the stack fits MySQL's connection limit (README: "Connection budget").
 */
export type PooledSubgraph = 'account' | 'transaction' | 'settlement';

export const subgraphPoolSizeDefaults: Readonly<Record<PooledSubgraph, number>> = {
  account: accountPoolSizeDefault,
  transaction: transactionPoolSizeDefault,
  settlement: settlementPoolSizeDefault,
};

/** Read once at start-up; a value out of range stops the process, naming the variable. */
export function poolSizeFromEnv(fallback: number): number {
  const size = envInt('MYSQL_POOL_SIZE', fallback);
  if (size < 1 || size > shardPoolSizeMax) throw new Error(`MYSQL_POOL_SIZE must be between 1 and ${shardPoolSizeMax}, got ${size}`);
  return size;
}

export function subgraphPoolSize(name: PooledSubgraph): number {
  return poolSizeFromEnv(subgraphPoolSizeDefaults[name]);
}
