import { afterAll, describe, expect, it } from 'vitest';
import mysql from 'mysql2/promise';
import { sampleConnectionPeak } from '../scripts/lib/connection-peak';
import { withServer } from '@paygraph/shared/db/server-connection';
import { startTcpProxy, targetOf, throughProxy } from './support/tcp-proxy';
import { sleep } from './support/bank';

/**
 * The run's connection sampler (scripts/lib/connection-peak.ts), which npm test runs beside vitest: it counts the
 * connections to the run's databases from SHOW PROCESSLIST (information_schema.PROCESSLIST with GROUP BY crashed
 * MariaDB 10.11.19 once, freeing the Aria table it made), and a server that goes away is kept as the moment it went,
 * not thrown as an error that hid the run's summary.
 */
const url = (process.env.MYSQL_SHARDS ?? '').split(',')[0]!;
/** A prefix of this file's own: no other file's connections count under it. */
const prefix = `paygraph_peakprobe_${process.pid}`;
const database = `${prefix}_w9_s0`;
/** Several of the sampler's 250 ms samples, with room for a worker stalled by a loaded machine. */
const samplesMs = 2_000;

const opened: mysql.Connection[] = [];
afterAll(async () => {
  await Promise.all(opened.map((c) => c.end().catch(() => undefined)));
  await withServer(url, (conn) => conn.query(`DROP DATABASE IF EXISTS \`${database}\``));
});

describe('the connection sampler npm test runs', () => {
  it("counts the connections to the run's databases by set, from SHOW PROCESSLIST", async () => {
    await withServer(url, (conn) => conn.query(`CREATE DATABASE IF NOT EXISTS \`${database}\``));
    const sampler = await sampleConnectionPeak(url, prefix);
    for (let i = 0; i < 3; i++) {
      const target = new URL(url);
      target.pathname = `/${database}`;
      opened.push(await mysql.createConnection({ uri: target.toString() }));
    }
    await sleep(samplesMs);
    const peak = await sampler.stop();
    expect(peak).toMatchObject({ connections: 3, bySet: { w9: 3 }, peakBySet: { w9: 3 }, lost: null });
  });

  it('keeps when the server stopped answering, and stops without an error', async () => {
    const proxy = await startTcpProxy(targetOf(url));
    try {
      const sampler = await sampleConnectionPeak(throughProxy(url, proxy), prefix);
      await sleep(samplesMs / 2);
      const cut = Date.now();
      proxy.setMode('reset');
      await sleep(samplesMs / 2);
      const peak = await sampler.stop();
      expect(peak.lost, 'the first sample after the cut').not.toBeNull();
      expect(Date.parse(peak.lost!.at)).toBeGreaterThanOrEqual(cut);
      expect(peak.lost!.detail).toMatch(/closed|reset|lost|ECONNRESET/i);
    } finally {
      await proxy.close();
    }
  });
});
