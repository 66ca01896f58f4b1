import { describe, expect, test } from 'vitest';
import { benchBufferPoolBytes, bufferPoolBytes, holdBufferPool } from '../scripts/bench/buffer-pool';
import { benchBufferPoolBytesMax, bufferPoolStepBytes } from '../scripts/bench/limits';
import { parseShardUrls } from '../subgraphs/shared/src/shards/topology';

/**
 * The bench grows the database server's buffer pool for a run and gives the old size back (scripts/bench/
 * buffer-pool.ts, docs/PERFORMANCE.md "The database server"): against the test server, one step above its pool.
 */
const serverUrl = parseShardUrls(process.env.MYSQL_SHARDS!)[0]!;

const poolBytes = () => bufferPoolBytes(serverUrl);

describe("the bench's buffer pool", () => {
  test('is grown for the run and given back after it', async () => {
    const lines: string[] = [];
    const before = await poolBytes();
    const hold = await holdBufferPool(serverUrl, (line) => lines.push(line), before + bufferPoolStepBytes);
    try {
      expect(hold.before).toBe(before);
      expect(hold.during).toBe(before + bufferPoolStepBytes);
      expect(await poolBytes()).toBe(before + bufferPoolStepBytes);
      expect(lines.join('\n')).toContain('grown from');
    } finally {
      await hold.restore();
    }
    expect(await poolBytes()).toBe(before);
  });

  test('leaves a pool as large already as it is', async () => {
    const before = await poolBytes();
    const hold = await holdBufferPool(serverUrl, () => undefined, before);
    expect(hold).toMatchObject({ before, during: before });
    await hold.restore();
    expect(await poolBytes()).toBe(before);
  });

  test('takes at most a quarter of the memory, in whole steps, and at most its cap', () => {
    expect(benchBufferPoolBytes(64 * 1024 ** 3)).toBe(benchBufferPoolBytesMax);
    expect(benchBufferPoolBytes(8 * 1024 ** 3)).toBe(2 * 1024 ** 3);
    expect(benchBufferPoolBytes(1100 * 1024 ** 2)).toBe(2 * bufferPoolStepBytes);
  });
});
