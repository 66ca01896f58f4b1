import { afterEach, describe, expect, it } from 'vitest';
import { stackConnections } from '../scripts/lib/connection-budget';
import { subgraphPoolSize } from '@paygraph/shared/shards/pool-size';
import { mysqlMaxConnectionsDefault, testRunConnectionsMax } from '@paygraph/shared/limits';

/**
 * The connection budget (README): with the default pool sizes, one stack on the default four
 * shards, a second replica of every process, and an npm test run beside them fit in MariaDB's
 * default max_connections, with room left for a mysql client, a migration or a benchmark's probe.
 */
const defaultShardCount = 4;
/** Connections kept free for people and scripts: the mysql client, npm run migrate, monitoring. */
const headroomConnections = 20;

describe('connection budget', () => {
  const saved = process.env.MYSQL_POOL_SIZE;
  afterEach(() => {
    if (saved === undefined) delete process.env.MYSQL_POOL_SIZE;
    else process.env.MYSQL_POOL_SIZE = saved;
  });

  it('fits two stacks and npm test in the default max_connections', () => {
    delete process.env.MYSQL_POOL_SIZE;
    const stack = stackConnections(defaultShardCount);
    expect(stack.byProcess).toEqual({ account: 12, transaction: 16, settlement: 8, gateway: 2 });
    expect(2 * stack.total + testRunConnectionsMax + headroomConnections).toBeLessThanOrEqual(mysqlMaxConnectionsDefault);
  });

  it('takes MYSQL_POOL_SIZE for every subgraph, and refuses a size out of range naming the variable', () => {
    process.env.MYSQL_POOL_SIZE = '7';
    expect(stackConnections(defaultShardCount).total).toBe(3 * 7 * defaultShardCount + 2);
    for (const bad of ['0', '-1', '101', 'ten']) {
      process.env.MYSQL_POOL_SIZE = bad;
      expect(() => subgraphPoolSize('transaction')).toThrow(/MYSQL_POOL_SIZE/);
    }
  });
});
