import type { ShardSet } from '@paygraph/shared/shards/pool';
import { parseId } from '@paygraph/shared/ids';
import { err, ok, type Result } from '@paygraph/shared/result';
import { pageSize } from '@paygraph/shared/graphql/paging';
import type { SettlementContext } from '../context';
import { setFeeRate, settlementsOfMerchant } from '../db/settlement-store';
import { paymentIdsOfSettlement } from '@paygraph/transaction/read-model/settlement';
import type { SettlementRow } from '../db/schema/settlement';
import { feeBpsMax } from '../domain/fees';
import { controlShard } from './settle';

/** The owner of a merchant's home row, or null when the id names no top-level account. */
export async function merchantOwner(ctx: SettlementContext, merchantId: string): Promise<string | null> {
  const row = await ctx.accounts.load(merchantId);
  return row && row.parentId === null ? row.ownerId : null;
}

/** A settlement with the owner of its merchant, for the caller's read check. */
export async function settlementWithOwner(ctx: SettlementContext, id: string): Promise<{ row: SettlementRow; ownerId: string | null } | null> {
  const row = await ctx.settlements.load(id);
  return row ? { row, ownerId: await merchantOwner(ctx, row.merchantAccountId) } : null;
}

/** A merchant's settlements, newest date first, from its home shard. */
export function merchantSettlements(shards: ShardSet, merchantId: string, first: number | null | undefined): Promise<SettlementRow[]> {
  const parsed = parseId('account', merchantId);
  if (!parsed) return Promise.resolve([]);
  return settlementsOfMerchant(shards.byLogical(parsed.shard).db, merchantId, pageSize(first));
}

/** The payments a settlement settled: each lives on the shard of the stripe it credited. */
export async function settlementPaymentIds(shards: ShardSet, settlement: { id: string; merchantAccountId: string }): Promise<string[]> {
  return (await Promise.all(shards.all.map((shard) => paymentIdsOfSettlement(shard.db, settlement.merchantAccountId, settlement.id)))).flat();
}

export type FeeRateRefusal = { kind: 'FeeRateOutOfRange'; feeBpsMax: number } | { kind: 'AccountNotFound'; accountId: string };

/** Sets a merchant's own fee rate (kept on the control shard with the other platform-wide records). */
export async function setMerchantFeeRate(
  ctx: SettlementContext,
  merchantId: string,
  feeBps: number,
): Promise<Result<{ merchantAccountId: string; feeBps: number }, FeeRateRefusal>> {
  if (!Number.isInteger(feeBps) || feeBps < 0 || feeBps > feeBpsMax) return err({ kind: 'FeeRateOutOfRange', feeBpsMax });
  if ((await merchantOwner(ctx, merchantId)) === null) return err({ kind: 'AccountNotFound', accountId: merchantId });
  await setFeeRate(controlShard(ctx.shards).db, merchantId, feeBps, ctx.now());
  return ok({ merchantAccountId: merchantId, feeBps });
}
