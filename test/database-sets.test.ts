import { describe, expect, it } from 'vitest';
import {
  databaseSetNames,
  databaseSetOf,
  shardUrlsOfSet,
  ownDatabaseFiles,
  testWorkersMax,
} from './support/database-sets';

describe('test databases per worker and per file that changes platform-wide state', () => {
  it('gives each worker, the isolated files and each file that changes platform-wide state a set of its own', () => {
    expect(databaseSetNames()).toEqual([
      'w1',
      'w2',
      'isolated',
      'own_balance_limit',
      'own_money_limits',
      'own_settlement_limit',
      'own_simulator',
      'own_marketplace',
      'own_advances',
    ]);
    expect(testWorkersMax).toBe(2);
    expect(databaseSetOf('gateway/test/tokens.test.ts', 1)).toBe('w1');
    expect(databaseSetOf('gateway/test/tokens.test.ts', 2)).toBe('w2');
    expect(databaseSetOf('test/start.isolated.test.ts', 2)).toBe('isolated');
    expect(ownDatabaseFiles.map((file) => databaseSetOf(file, 1))).toEqual([
      'own_balance_limit',
      'own_money_limits',
      'own_settlement_limit',
      'own_simulator',
      'own_marketplace',
      'own_advances',
    ]);
    expect(() => databaseSetOf('gateway/test/tokens.test.ts', 3)).toThrow(/VITEST_POOL_ID 3 is outside 1..2/);
  });

  it('renames each shard database after its set, on the same server with the same parameters', () => {
    const urls =
      'mysql://root@127.0.0.1:3306/paygraph_test_s0?socketPath=%2Frun%2Fmysqld.sock,mysql://root@127.0.0.1:3306/paygraph_test_s1';
    expect(shardUrlsOfSet(urls, 'w2')).toBe(
      'mysql://root@127.0.0.1:3306/paygraph_test_w2_s0?socketPath=%2Frun%2Fmysqld.sock,mysql://root@127.0.0.1:3306/paygraph_test_w2_s1',
    );
    expect(() => shardUrlsOfSet('mysql://root@127.0.0.1:3306/paygraph', 'w1')).toThrow(/does not end in _s<number>/);
  });

  it("runs this file on its worker's databases (npm test sets TEST_SHARD_SETS; setup.ts chose)", () => {
    const sets = process.env.TEST_SHARD_SETS;
    if (sets === undefined || sets === '') {
      // npm test with explicit MYSQL_SHARDS: one worker on the databases given.
      expect(process.env.VITEST_POOL_ID).toBe('1');
      return;
    }
    const mine = (JSON.parse(sets) as Record<string, string>)[`w${process.env.VITEST_POOL_ID}`];
    expect(process.env.MYSQL_SHARDS).toBe(mine);
    expect(mine).toMatch(new RegExp(`_w${process.env.VITEST_POOL_ID}_s0`));
  });
});
