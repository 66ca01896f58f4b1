import { describe, expect, it } from 'vitest';
import { stackConnections } from '../scripts/lib/connection-budget';
import { subgraphPoolSize } from '@paygraph/shared/shards/pool-size';
import { transactionPart } from '@paygraph/transaction/part';
import { mysqlMaxConnectionsDefault } from '@paygraph/shared/limits';
import { readConfig } from '@paygraph/shared/config/env';
import { shardPoolSize } from '@paygraph/shared/config/shared';
import * as z from 'zod';
import { testRunConnectionsMax } from './support/limits';

const poolSizeConfig = z.object({ shardPoolSize });

/**
 * The connection budget (README): with the default pool sizes, one stack on the default four
 * shards, a second replica of every process, and an npm test run beside them fit in MariaDB's
 * default max_connections, with room left for a mysql client, a migration or a benchmark's probe.
 */
const defaultShardCount = 4;
/** Connections kept free for people and scripts: the mysql client, npm run migrate, monitoring. */
const headroomConnections = 20;

describe('connection budget', () => {
  it('fits two stacks and npm test in the default max_connections', () => {
    const stack = stackConnections(defaultShardCount, readConfig(poolSizeConfig, {}).shardPoolSize);
    expect(stack.byProcess).toEqual({ account: 12, transaction: 16, settlement: 8, webhooks: 4, gateway: 2 });
    expect(2 * stack.total + testRunConnectionsMax + headroomConnections).toBeLessThanOrEqual(
      mysqlMaxConnectionsDefault,
    );
  });

  it('takes MYSQL_POOL_SIZE for every subgraph, and refuses a size out of range naming the variable', () => {
    const configured = readConfig(poolSizeConfig, { MYSQL_POOL_SIZE: '7' }).shardPoolSize;
    expect(subgraphPoolSize(transactionPart, configured)).toBe(7);
    expect(stackConnections(defaultShardCount, configured).total).toBe(4 * 7 * defaultShardCount + 2);
    for (const bad of ['0', '-1', '101', 'ten']) {
      expect(() => readConfig(poolSizeConfig, { MYSQL_POOL_SIZE: bad }), bad).toThrow(/^MYSQL_POOL_SIZE must be/);
    }
  });
});
