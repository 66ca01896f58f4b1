import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { sql } from 'drizzle-orm';
import { uploadBytesMax } from '@paygraph/shared/limits';
import type { ShardSet } from '@paygraph/shared/shards/pool';
import { testShards, token, unique } from '../../../../test/support/env';
import { startProcessStack, type ProcessStack } from '../../../../test/support/process-stack';
import { controlShard } from '../../src/services/settle';
import { uploadChunkBytesMax } from '../../src/limits';
import { generatedBytes, upload, uploadUrlOf } from '../support/uploads';

/**
 * Files of the largest size streamed through the gateway into the settlement subgraph, each a process of its own as
 * npm start runs them: what either holds stays bounded while 2 × 100 MiB pass (the files are made as they are sent,
 * and no process holds one whole), the stored file is the file sent (bytes, SHA-256, pieces), and a chunked body that
 * goes past the limit is cut off there, answered 413, with nothing kept. The tests run in order, the second's peak
 * measured over the first's baseline.
 */
let stack: ProcessStack;
let shards: ShardSet;
beforeAll(async () => {
  shards = testShards(1);
  stack = await startProcessStack({ shardUrls: shards.topology.urls.join(',') });
}, 180_000);
afterAll(async () => {
  await stack?.stop();
  await shards?.close();
});

/**
 * What each process's resident memory may grow by, over its level before the first upload, while two files of the
 * largest size pass one after the other (208 MiB): what the settlement subgraph holds of an upload is about 4 MiB
 * (limits.ts) and the gateway two streams' buffers, but every socket read is a new buffer, and V8 collects the spent
 * ones once 64 MiB of them have piled up since its last collection (its external-memory soft limit): 64 MiB of
 * garbage, the live set and some slack. Measured: 18 to 40 MiB. A process that held a file would grow by 100 MiB
 * or more.
 */
const growthBytesMax = 80 * 1024 * 1024;
/** Each process's RSS before the first upload, and its peak since (every test of the file samples into it). */
const baseline: Record<string, number> = {};
const peak: Record<string, number> = {};

function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kilobytes = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!kilobytes) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(kilobytes[1]) * 1024;
}

/** Samples each process's RSS every 25 ms into `peak` while `work` runs. */
async function sampled<T>(pids: Record<string, number>, work: () => Promise<T>): Promise<T> {
  for (const [name, pid] of Object.entries(pids)) {
    baseline[name] ??= rssBytes(pid);
    peak[name] = Math.max(peak[name] ?? 0, rssBytes(pid));
  }
  const timer = setInterval(() => {
    for (const [name, pid] of Object.entries(pids)) peak[name] = Math.max(peak[name]!, rssBytes(pid));
  }, 25);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

function expectBoundedGrowth(): void {
  const growth = Object.fromEntries(Object.keys(baseline).map((name) => [name, peak[name]! - baseline[name]!]));
  console.log(`RSS growth over the level before the first upload: ${JSON.stringify(growth)}`);
  for (const [name, bytes] of Object.entries(growth)) expect(bytes, name).toBeLessThan(growthBytesMax);
}

const pidsOf = (stack: ProcessStack) => ({
  gateway: stack.service('gateway').process.pid!,
  settlement: stack.service('settlement').process.pid!,
});

const count = async (query: ReturnType<typeof sql>) => {
  const [rows] = (await controlShard(shards).db.execute(query)) as unknown as [Array<{ n: number }>];
  return Number(rows[0]!.n);
};

describe('an upload of the largest size', () => {
  it('passes through both processes within a bounded memory, stored as sent', async () => {
    const operator = await token(unique('ops-mem'), 'operator');
    const url = uploadUrlOf(stack.gatewayUrl);
    // A first small upload, so that what either process loads once (code, connections) is not counted as growth.
    expect((await upload(url, operator, Buffer.from('warm-up'))).status).toBe(201);
    const hash = createHash('sha256');
    async function* hashed() {
      for await (const chunk of generatedBytes(uploadBytesMax, 64 * 1024, 1)) {
        hash.update(chunk);
        yield chunk;
      }
    }
    const result = await sampled(pidsOf(stack), () => upload(url, operator, hashed()));
    expect(result.status, JSON.stringify(result.body)).toBe(201);
    expect(result.body).toMatchObject({ bytes: uploadBytesMax, sha256: hash.digest('hex') });
    const uploadId = result.body.uploadId as string;
    expect(await count(sql`SELECT count(*) AS n FROM statement_upload_chunks WHERE upload_id = ${uploadId}`)).toBe(
      uploadBytesMax / uploadChunkBytesMax,
    );
    expectBoundedGrowth();
  }, 120_000);

  it('cuts a chunked body off at the limit (413) and keeps nothing of it', async () => {
    const sub = unique('ops-over');
    const operator = await token(sub, 'operator');
    const answer = await upload(
      uploadUrlOf(stack.gatewayUrl),
      operator,
      generatedBytes(uploadBytesMax + 4 * 1024 * 1024),
    );
    expect(answer).toMatchObject({ status: 413, body: { error: { code: 'UPLOAD_TOO_LARGE' } } });
    expect(await count(sql`SELECT count(*) AS n FROM statement_uploads WHERE uploaded_by = ${sub}`)).toBe(0);
    expect(
      await count(sql`SELECT count(*) AS n FROM statement_upload_chunks c
                      WHERE NOT EXISTS (SELECT 1 FROM statement_uploads u WHERE u.id = c.upload_id)`),
    ).toBe(0);
    expectBoundedGrowth();
  }, 120_000);
});
