import { openShards } from '../../subgraphs/shared/src/shards/pool';
import { runEngineScenario } from './engine';
const urls = [0,1,2,3].map((i) => `mysql://root@127.0.0.1:3306/paygraph_bench_s${i}`).join(',');
const shards = openShards({ urls, poolSize: 2 });
const accounts: string[] = []; let merchant = '';
for (const s of shards.all) {
  const [rows] = await s.pool.query("SELECT id, type FROM accounts WHERE type <> 'SYSTEM' AND parent_id IS NULL");
  for (const r of rows as Array<{ id: string; type: string }>) if (r.type === 'MERCHANT') merchant = r.id; else accounts.push(r.id);
}
const ctx = { token: '', fixtures: { accounts, shardOfAccount: accounts.map(() => 0), merchant }, shards, runId: `p${Date.now()}`, seconds: 8, log: console.log, pids: () => new Map([['bench', process.pid]]) };
await runEngineScenario({ ctx: ctx as never, shardUrls: urls, engine: (process.argv[2] ?? 'merged') as never, concurrency: 64 });
await shards.close();
