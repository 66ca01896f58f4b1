import http from 'node:http';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { loadavg, tmpdir } from 'node:os';
import { mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { mintToken } from '../../subgraphs/shared/src/identity';
import { uploadBytesMax } from '../../subgraphs/shared/src/limits';
import type { ShardSet } from '../../subgraphs/shared/src/shards/pool';
import { controlShard } from '../../subgraphs/settlement/src/services/settle';
import { contractOperation } from '../lib/contract';
import { ensureMysql } from '../lib/mysql-server';
import { readScriptConfig, scriptConfig } from '../lib/config';
import { benchDatabasePrefix, benchShards, recreateDatabases, startProcessStack } from './bench-stack';
import { jwtSecretBytes } from './limits';
import { repoRoot } from './processes';
import { writeResults } from './report';
import { generatedCamt053, generatedMt940, type GeneratedFile } from './statement-files';

/**
 * `npm run bench:statements`: bank files of a payment company's size through POST /uploads/statements and
 * importBankStatement({ uploadId }), on the system as npm start runs it (each service a process of its own, databases
 * <prefix>_s0..3 recreated):
 *   - a camt.053 near the 100 MB upload limit (--camt-entries, 60,000 entries of about 1,700 bytes);
 *   - an MT940 of --mt940-entries (250,000) over --mt940-days (10) statements.
 * Each is uploaded through the gateway (chunked, 64 KiB at a time, made before the clock starts), then imported
 * through the gateway. The import's time is until its statements are committed (read on the control shard), which
 * is also when an import the gateway gave up waiting for (SUBGRAPH_UNAVAILABLE after subgraphRequestTimeoutMs)
 * finishes. The peak resident memory of the gateway and the settlement subgraph is sampled every 20 ms per stage,
 * and /proc's VmHWM (the high-water mark since start) read at the end. It prints and writes
 * bench/results/statements/<ISO date>.json. Run it through the heavy lock when `uptime` shows a load under 1.5.
 */
const { values: args } = parseArgs({
  options: {
    'camt-entries': { type: 'string' },
    'mt940-entries': { type: 'string' },
    'mt940-days': { type: 'string' },
    seed: { type: 'string' },
    databases: { type: 'string' },
  },
  strict: true,
});
const camtEntries = Number(args['camt-entries'] ?? 60_000);
const mt940Entries = Number(args['mt940-entries'] ?? 250_000);
const mt940Days = Number(args['mt940-days'] ?? 10);
const seed = Number(args.seed ?? 1);
/** How long an import may take before the benchmark stops waiting for its statements. */
const importWaitMsMax = 15 * 60_000;
const sampleIntervalMs = 20;
const say = (line: string) => console.log(`[bench:statements ${new Date().toISOString().slice(11, 19)}] ${line}`);
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

/** A process's resident memory now (VmRSS) or its high-water mark since it started (VmHWM); NaN once it is gone. */
function memoryOf(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Runs `work` while sampling each process's RSS; answers its result, its wall time and each peak RSS. */
async function measured<T>(
  pids: Record<string, number>,
  work: () => Promise<T>,
): Promise<{ value: T; ms: number; peakRssBytes: Record<string, number>; startRssBytes: Record<string, number> }> {
  const startRssBytes = Object.fromEntries(Object.entries(pids).map(([n, pid]) => [n, memoryOf(pid, 'VmRSS')]));
  const peakRssBytes = { ...startRssBytes };
  const timer = setInterval(() => {
    for (const [name, pid] of Object.entries(pids)) {
      const rss = memoryOf(pid, 'VmRSS');
      if (rss > peakRssBytes[name]!) peakRssBytes[name] = rss;
    }
  }, sampleIntervalMs);
  const started = performance.now();
  try {
    const value = await work();
    return { value, ms: Math.round(performance.now() - started), peakRssBytes, startRssBytes };
  } finally {
    clearInterval(timer);
  }
}

/** POSTs the file chunked, 64 KiB at a time with backpressure; answers the JSON answer. */
function uploadFile(url: string, token: string, file: Buffer): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, {
      method: 'POST',
      agent: false,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
    });
    request.once('response', (response) => {
      const parts: Buffer[] = [];
      response.on('data', (chunk: Buffer) => parts.push(chunk));
      response.once('end', () =>
        resolve({ status: response.statusCode ?? 0, body: JSON.parse(Buffer.concat(parts).toString() || '{}') }),
      );
    });
    request.once('error', reject);
    void (async () => {
      for (let offset = 0; offset < file.length; offset += 65_536) {
        if (!request.write(file.subarray(offset, offset + 65_536)))
          await new Promise((drained) => request.once('drain', drained));
      }
      request.end();
    })();
  });
}

async function importThroughGateway(
  gatewayUrl: string,
  token: string,
  input: Record<string, unknown>,
): Promise<{ answer: string; answerMs: number }> {
  const started = performance.now();
  const response = await fetch(gatewayUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: contractOperation('ImportBankStatement'), variables: { input } }),
  });
  const body = (await response.json()) as { data?: { importBankStatement?: any }; errors?: any[] };
  const result = body.data?.importBankStatement;
  const answer = result
    ? `${result.__typename}${result.code ? ` ${result.code}: ${result.message}` : ''}`
    : `error ${body.errors?.[0]?.extensions?.code ?? ''}: ${body.errors?.[0]?.message ?? JSON.stringify(body)}`;
  return { answer, answerMs: Math.round(performance.now() - started) };
}

/** Waits until the channel's statements hold every entry of the file (the import committed). */
async function committed(shards: ShardSet, channel: string, file: GeneratedFile, alive: () => boolean): Promise<void> {
  const deadline = Date.now() + importWaitMsMax;
  for (;;) {
    const [rows] = (await controlShard(shards).db.execute(
      sql`SELECT COUNT(*) AS statements, COALESCE(SUM(line_count), 0) AS entries FROM statements WHERE channel = ${channel}`,
    )) as unknown as [Array<{ statements: number | string; entries: number | string }>];
    if (Number(rows[0]!.statements) === file.statements && Number(rows[0]!.entries) === file.entries) return;
    if (!alive()) throw new Error('the settlement subgraph exited during the import (see its log)');
    if (Date.now() > deadline) throw new Error(`the import did not commit within ${importWaitMsMax} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

interface FileFigures {
  format: string;
  bytes: number;
  entries: number;
  statements: number;
  uploadMs: number;
  uploadPeakRssBytes: Record<string, number>;
  uploadStartRssBytes: Record<string, number>;
  importMs: number;
  /** Why the import did not commit (the subgraph's exit, a refusal, the wait ran out); null when it did. */
  importError: string | null;
  importAnswer: string;
  importAnswerMs: number;
  importPeakRssBytes: Record<string, number>;
  /** VmHWM after the file: each process's most since it started. */
  highWaterRssBytes: Record<string, number>;
  loadBefore: string;
  loadAfter: string;
}

interface BenchContext {
  gatewayUrl: string;
  token: string;
  shards: ShardSet;
  pids: Record<string, number>;
}

async function benchFile(file: GeneratedFile, context: BenchContext): Promise<FileFigures> {
  const loadBefore = load();
  const channel = `bench-${file.format.toLowerCase()}`;
  say(`${file.format}: ${file.entries} entries, ${file.statements} statements, ${file.text.length} bytes`);
  const uploadUrl = new URL('/uploads/statements', context.gatewayUrl).toString();
  const uploaded = await measured(context.pids, () => uploadFile(uploadUrl, context.token, file.text));
  if (uploaded.value.status !== 201) throw new Error(`upload refused: ${JSON.stringify(uploaded.value.body)}`);
  say(`  upload: ${uploaded.ms} ms, peak RSS ${JSON.stringify(mibs(uploaded.peakRssBytes))}`);
  const alive = () => Number.isFinite(memoryOf(context.pids.settlement!, 'VmRSS'));
  let answered = { answer: 'none', answerMs: -1 };
  const imported = await measured(context.pids, async () => {
    const call = importThroughGateway(context.gatewayUrl, context.token, {
      channel,
      format: file.format,
      uploadId: uploaded.value.body.uploadId,
    })
      .then((a) => (answered = a))
      .catch((error: unknown) => (answered = { answer: `no answer: ${String(error)}`, answerMs: -1 }));
    // An import that fails (the settlement subgraph out of memory, say) is a figure too, not the end of the run.
    const failure = await committed(context.shards, channel, file, alive).then(
      () => null,
      (error: unknown) => String(error),
    );
    await call;
    return failure;
  });
  say(
    `  import: ${imported.value ?? `${imported.ms} ms to commit`}; the gateway answered ${answered.answer} after ${answered.answerMs} ms`,
  );
  say(`  import peak RSS ${JSON.stringify(mibs(imported.peakRssBytes))}`);
  return {
    format: file.format,
    bytes: file.text.length,
    entries: file.entries,
    statements: file.statements,
    uploadMs: uploaded.ms,
    uploadPeakRssBytes: uploaded.peakRssBytes,
    uploadStartRssBytes: uploaded.startRssBytes,
    importMs: imported.ms,
    importError: imported.value,
    importAnswer: answered.answer,
    importAnswerMs: answered.answerMs,
    importPeakRssBytes: imported.peakRssBytes,
    highWaterRssBytes: Object.fromEntries(Object.entries(context.pids).map(([n, pid]) => [n, memoryOf(pid, 'VmHWM')])),
    loadBefore,
    loadAfter: load(),
  };
}

const mibs = (byName: Record<string, number>) =>
  Object.fromEntries(Object.entries(byName).map(([n, b]) => [n, mib(b)]));

async function main(): Promise<void> {
  const config = readScriptConfig(scriptConfig, process.env);
  const server = await ensureMysql({
    databasePrefix: benchDatabasePrefix(args.databases, 'paygraph_bench_stmt'),
    log: say,
    server: config.mysqlServer,
  });
  await recreateDatabases(server.shardUrls);
  const secret = randomBytes(jwtSecretBytes).toString('base64url');
  const token = await mintToken({ sub: 'bench-operator', role: 'operator' }, secret);
  const logDir = mkdtempSync(join(tmpdir(), 'paygraph-bench-statements-'));
  const startedAt = new Date();
  say(`load before: ${load()}; generating the files`);
  const files = [generatedCamt053(camtEntries, seed), generatedMt940(mt940Entries, mt940Days, seed)];
  for (const f of files) {
    if (f.text.length > uploadBytesMax)
      throw new Error(`${f.format} is ${f.text.length} bytes, over ${uploadBytesMax}`);
  }
  const stack = await startProcessStack({ shardUrls: server.shardUrls, jwtSecret: secret, logDir, engine: 'merged' });
  const shards = benchShards(server.shardUrls);
  const figures: FileFigures[] = [];
  try {
    for (const file of files) {
      const pids = { gateway: stack.pids().get('gateway')!, settlement: stack.pids().get('settlement')! };
      const figure = await benchFile(file, { gatewayUrl: stack.gatewayUrl, token, shards, pids });
      figures.push(figure);
      say(`  VmHWM (since each process started): ${JSON.stringify(mibs(figure.highWaterRssBytes))}`);
      if (!Number.isFinite(memoryOf(pids.settlement, 'VmRSS'))) {
        say('  the settlement subgraph is gone: starting the subgraphs again for the next file');
        await stack.restartSubgraphs('merged');
      }
    }
    const file = writeResults(join(repoRoot, 'bench/results/statements'), startedAt, {
      startedAt,
      seed,
      figures,
      logDir,
    });
    say(`wrote ${file}`);
  } finally {
    await shards.close();
    await stack.stop();
  }
}

await main();
