import { describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import mysql from 'mysql2/promise';
import { parseShardUrls } from '../subgraphs/shared/src/shards/topology';
import { findMysqlServerPid, pidFileOf } from '../scripts/bench/proc-stats';
import { measureUnitCosts } from '../scripts/bench/unit-costs';
import { testConfig } from './support/env';

/**
 * npm run bench:costs (scripts/bench/unit-costs.ts) at a fiftieth of its repetitions, on the first test shard: every
 * unit is measured and read through /proc, the row units write what they claim (redo bytes only grow with other test
 * files' writes, so their floors hold), and the scratch database is gone afterwards: its tables never stand on a test
 * shard, where table-ownership.test.ts lists every table; nor does the Unix socket of the hop's server stay in the
 * temporary directory.
 */
const smokeScale = 50;

describe('bench:costs', () => {
  it('refuses a scale under 1 before it connects', async () => {
    await expect(measureUnitCosts({ shardUrl: 'mysql://nowhere.invalid/x', mysqlPid: 1, scale: 0 })).rejects.toThrow(
      /scale must be 1 or more/,
    );
  });

  it('measures every unit, reads mysqld and the HTTP child, and leaves no database behind', async () => {
    const shardUrl = parseShardUrls(testConfig().shards.urls)[0]!;
    const mysqlPid = await findMysqlServerPid(pidFileOf(shardUrl));
    expect(mysqlPid).toBeDefined();
    const costs = await measureUnitCosts({ shardUrl, mysqlPid: mysqlPid!, scale: smokeScale });
    expect(costs.map((c) => c.unit)).toEqual([
      'MySQL round trip (SELECT 1)',
      '8 statements in one packet',
      'BEGIN; UPDATE; ROLLBACK',
      'BEGIN; UPDATE; COMMIT (durable)',
      'ledger entry row (multi-row INSERT)',
      'raw ceiling entry row',
      'HTTP hop, 16 at once',
      'HTTP hop over a Unix socket, 16 at once',
      'HTTP hop, 8 operations a request, 16 at once (per operation)',
    ]);
    for (const c of costs) {
      expect(c.count).toBeGreaterThan(0);
      expect(c.perSecond).toBeGreaterThan(0);
      for (const us of [c.clientUs, c.serverUs, c.machineUs]) {
        expect(Number.isFinite(us)).toBe(true);
        expect(us).toBeGreaterThanOrEqual(0);
      }
    }
    const redo = Object.fromEntries(costs.filter((c) => c.redoBytes !== undefined).map((c) => [c.unit, c.redoBytes!]));
    // An entry row carries three ids, two hashes and three indexes; the raw row three numbers and two.
    expect(redo['ledger entry row (multi-row INSERT)']).toBeGreaterThan(400);
    expect(redo['raw ceiling entry row']).toBeGreaterThan(50);
    expect(readdirSync(tmpdir()).filter((name) => name.startsWith(`paygraph-hop-${process.pid}-`))).toEqual([]);
    const conn = await mysql.createConnection({ uri: shardUrl });
    try {
      const [left] = await conn.query('SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE ?', [
        `paygraph\\_bench\\_costs\\_${process.pid}\\_%`,
      ]);
      expect(left).toEqual([]);
    } finally {
      await conn.end();
    }
  });
});
