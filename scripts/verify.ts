import { readScriptConfig, scriptConfig } from './lib/config';
import { configureLedger } from '../subgraphs/shared/src/server/main';
import { shardPoolSizeDefault } from '../subgraphs/shared/src/limits';
import { openShards } from '../subgraphs/shared/src/shards/pool';
import {
  ledgerHealth,
  logicalShardsIn,
  stripeDirectoryGaps,
  totalSubtotalCheck,
  verifyShard,
} from '../subgraphs/shared/src/ledger/index';
import { legFindings } from '../subgraphs/transaction/src/services/leg-integrity';
import { counterMismatches, outstandingMismatches } from '../subgraphs/settlement/src/db/ledger-checks';

/**
 * `npm run verify`: checks every account's MAC and every entry's hash chain on every shard of
 * MYSQL_SHARDS, and that every merchant's stripe directory names each of its stripes (a stripe
 * left out would be missing from the merchant's balance and settlement; `npm run migrate`
 * fills such gaps), and that payments of many legs add up and campaigns' counters match their
 * payments (services/leg-integrity.ts), and that every stripe's outstanding settlement advance is
 * its pieces less what settlements covered and refunds repaid (issue 33), its covered counter its settlement parts'
 * advancedAmount and its moved counter its moves' offsets (a piece's reversal reads both), that each legal entity's
 * books net to zero per currency on every shard and that the books' figure of each entity, class and
 * currency equals the sum of its accounts' balances (the total–subtotal check, issue 49). Prints
 * what it finds and exits 1 if anything is wrong.
 */
const config = readScriptConfig(scriptConfig, process.env);
// MACs are checked with the keys the subgraphs seal with (LEDGER_MAC_KEY).
configureLedger(config);
const shards = openShards({ ...config.shards, poolSize: config.shardPoolSize ?? shardPoolSizeDefault });
let clean = true;
try {
  for (const shard of shards.all) {
    const result = await verifyShard(shard.db);
    console.log(
      `${shard.name}: ${result.accounts} accounts, ${result.entries} entries, ${result.findings.length} findings`,
    );
    for (const f of result.findings)
      console.log(`  ${f.kind} ${f.accountId}${'sequence' in f ? ` #${f.sequence}` : ''}`);
    if (result.findings.length > 0) clean = false;
  }
  const gaps = await stripeDirectoryGaps(shards);
  console.log(`stripe directories: ${gaps.length} findings`);
  for (const gap of gaps)
    console.log(
      `  STRIPE_NOT_IN_DIRECTORY ${gap.merchantId} (logical shards ${logicalShardsIn(gap.missing).join(', ')})`,
    );
  if (gaps.length > 0) clean = false;
  const legs = await legFindings(shards);
  console.log(`payments of many legs and campaigns: ${legs.length} findings`);
  for (const f of legs) console.log(`  ${f.kind} ${'paymentId' in f ? f.paymentId : f.campaignId}: ${f.detail}`);
  if (legs.length > 0) clean = false;
  const advances = (
    await Promise.all(
      shards.all.map(async (s) => (await outstandingMismatches(s.db)).map((m) => ({ shard: s.name, ...m }))),
    )
  ).flat();
  console.log(`settlement advances: ${advances.length} findings`);
  for (const f of advances)
    console.log(
      `  OUTSTANDING_MISMATCH ${f.shard}/${f.stripeId}: stored ${f.stored}, pieces less covered and repaid ${f.expected}`,
    );
  if (advances.length > 0) clean = false;
  const counters = (
    await Promise.all(
      shards.all.map(async (s) => (await counterMismatches(s.db)).map((m) => ({ shard: s.name, ...m }))),
    )
  ).flat();
  console.log(`settlement advances' covered and moved counters: ${counters.length} findings`);
  for (const f of counters)
    console.log(
      `  ${f.counter.toUpperCase()}_MISMATCH ${f.shard}/${f.stripeId}: stored ${f.stored}, ` +
        `${f.counter === 'covered' ? 'settlement parts' : "moves' offsets"} ${f.expected}`,
    );
  if (counters.length > 0) clean = false;
  const health = await ledgerHealth(shards);
  // A database away is left out of the health's figures: the books are not verified until it answers.
  for (const name of health.unreachableShards) console.log(`  UNREACHABLE ${name}: its books were not read`);
  if (health.unreachableShards.length > 0) clean = false;
  const unbalanced = health.entities.filter((e) => !e.balanced);
  console.log(`entities' books: ${unbalanced.length} findings`);
  for (const e of unbalanced)
    console.log(`  ENTITY_NOT_BALANCED ${e.shard}/${e.entity} ${e.currency}: nets to ${e.net}`);
  const differences = await totalSubtotalCheck(shards);
  console.log(`total–subtotal: ${differences.length} findings`);
  for (const d of differences)
    console.log(
      `  TOTAL_SUBTOTAL ${d.shard}/${d.entity} ${d.ledgerClass} ${d.currency}: books ${d.total}, accounts ${d.subtotal}`,
    );
  if (unbalanced.length > 0 || differences.length > 0) clean = false;
} finally {
  await shards.close();
}
process.exit(clean ? 0 : 1);
