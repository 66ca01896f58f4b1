import type { ShardSet } from '@paygraph/shared/shards/pool';
import { campaignUsesOnShard, legSumMismatches } from '../db/payment-legs';
import { allCampaigns } from '../db/campaigns';

export type LegFinding =
  | { kind: 'LEG_SUMS_MISMATCH'; paymentId: string; detail: string }
  | { kind: 'CAMPAIGN_COUNTERS_MISMATCH'; campaignId: string; detail: string };

/**
 * What `npm run verify` checks of payments of many legs, on a quiet system: every LEGS
 * payment's legs add up on each side (amounts and refunded amounts), and every campaign's
 * counters equal the discounts of the payments, on any shard, that did not fail. (A payment in
 * flight may be counted by one and not yet the other: run it when nothing moves.)
 */
export async function legFindings(shards: ShardSet): Promise<LegFinding[]> {
  const findings: LegFinding[] = [];
  const uses = new Map<string, { spent: bigint; count: number }>();
  for (const shard of shards.all) {
    for (const m of await legSumMismatches(shard.db)) findings.push({ kind: 'LEG_SUMS_MISMATCH', ...m });
    for (const u of await campaignUsesOnShard(shard.db)) {
      const sum = uses.get(u.campaignId) ?? { spent: 0n, count: 0 };
      uses.set(u.campaignId, { spent: sum.spent + u.spent, count: sum.count + u.count });
    }
  }
  for (const shard of shards.all) {
    for (const c of await allCampaigns(shard.db)) {
      const used = uses.get(c.id) ?? { spent: 0n, count: 0 };
      if (used.spent !== c.spentAmount || used.count !== c.paymentsCount) {
        findings.push({
          kind: 'CAMPAIGN_COUNTERS_MISMATCH',
          campaignId: c.id,
          detail: `counts ${c.paymentsCount} uses, ${c.spentAmount} spent; payments say ${used.count}, ${used.spent}`,
        });
      }
    }
  }
  return findings;
}
