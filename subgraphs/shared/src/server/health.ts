import { sql } from 'drizzle-orm';
import type { ShardSet } from '../shards/pool';
import { healthProbeTimeoutMs } from '../limits';

/** Each shard answers SELECT 1 within healthProbeTimeoutMs, or the probe names it. */
export async function probeShards(shards: ShardSet): Promise<Array<{ shard: string; ok: boolean; error?: string }>> {
  return Promise.all(
    shards.all.map(async (shard) => {
      try {
        await withTimeout(shard.db.execute(sql`SELECT 1`), healthProbeTimeoutMs);
        return { shard: shard.name, ok: true };
      } catch (error) {
        return { shard: shard.name, ok: false, error: error instanceof Error ? error.message : String(error) };
      }
    }),
  );
}

export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    promise.then(
      (value) => { clearTimeout(timer); resolve(value); },
      (error: unknown) => { clearTimeout(timer); reject(error instanceof Error ? error : new Error(String(error))); },
    );
  });
}
