import type { Forbidden, Readable } from '@paygraph/shared/authorization';
import type { ShardSet } from '@paygraph/shared/shards/pool';
import { parseId } from '@paygraph/shared/ids';
import { err, ok, type Result } from '@paygraph/shared/result';
import { pageSize } from '@paygraph/shared/graphql/paging';
import { stripeShardsOf } from '@paygraph/shared/ledger/index';
import type { SettlementContext } from '../context';
import { setFeeRate, settlementsOfMerchant } from '../db/settlement-store';
import { paymentIdsOfSettlement } from '@paygraph/transaction/read-model/settlement';
import type { SettlementRow } from '../db/schema/settlement';
import { feeBpsMax } from '../domain/fees';
import { controlShard } from './settle';
import { mayOperate, mayReadSettlement, mayReadSettlementsOf } from './access';

/** The owner of a merchant's home row, or null when the id names no top-level account. */
export async function merchantOwner(ctx: SettlementContext, merchantId: string): Promise<string | null> {
  const row = await ctx.accounts.load(merchantId);
  return row && row.parentId === null ? row.ownerId : null;
}

/** A settlement with the owner of its merchant, for the caller's read check. */
export async function settlementWithOwner(
  ctx: SettlementContext,
  id: string,
): Promise<{ row: SettlementRow; ownerId: string | null } | null> {
  const row = await ctx.settlements.load(id);
  return row ? { row, ownerId: await merchantOwner(ctx, row.merchantAccountId) } : null;
}

/** A settlement the caller may read (services/access.ts), null when there is none. */
export async function readableSettlement(ctx: SettlementContext, id: string): Promise<Readable<SettlementRow>> {
  const found = await settlementWithOwner(ctx, id);
  if (!found) return ok(null);
  const refused = mayReadSettlement(ctx.identity, id, found.ownerId);
  return refused ? err(refused) : ok(found.row);
}

/** A merchant's settlements for its owner and operators; null when the id names no merchant's home row. */
export async function readableMerchantSettlements(
  ctx: SettlementContext,
  accountId: string,
  first: number | null | undefined,
): Promise<Readable<SettlementRow[]>> {
  const owner = await merchantOwner(ctx, accountId);
  if (owner === null) return ok(null);
  const refused = mayReadSettlementsOf(ctx.identity, accountId, owner);
  if (refused) return err(refused);
  return ok(await merchantSettlements(ctx.shards, accountId, first));
}

/** A merchant's settlements, newest date first, from its home shard. */
export function merchantSettlements(
  shards: ShardSet,
  merchantId: string,
  first: number | null | undefined,
): Promise<SettlementRow[]> {
  const parsed = parseId('account', merchantId);
  if (!parsed) return Promise.resolve([]);
  return settlementsOfMerchant(shards.byLogical(parsed.shard).db, merchantId, pageSize(first));
}

/**
 * The payments a settlement settled. Each lives with the stripe it credited (a stripe shares its payer's logical shard,
 * ledger/rules/stripe-directory.ts), so on the merchant's home database or one its stripe directory names: only those
 * are asked, as settlement itself asks them (settle.ts stripesOf), and a database away elsewhere fails nothing here.
 * The home row is the loader's, which the settlement's read check has loaded already.
 */
export async function settlementPaymentIds(
  ctx: SettlementContext,
  settlement: { id: string; merchantAccountId: string },
): Promise<string[]> {
  const merchant = await ctx.accounts.load(settlement.merchantAccountId);
  if (!merchant) return [];
  const home = ctx.shards.of('account', merchant.id);
  const databases = [home, ...stripeShardsOf(ctx.shards, merchant).filter((shard) => shard !== home)];
  const found = await Promise.all(
    databases.map((shard) => paymentIdsOfSettlement(shard.db, merchant.id, settlement.id)),
  );
  return found.flat();
}

export type FeeRateRefusal =
  { kind: 'FeeRateOutOfRange'; feeBpsMax: number } | { kind: 'AccountNotFound'; accountId: string };

/** Sets a merchant's own fee rate (kept on the control shard with the other platform-wide records); operators only. */
export async function setMerchantFeeRate(
  ctx: SettlementContext,
  merchantId: string,
  feeBps: number,
): Promise<Result<{ merchantAccountId: string; feeBps: number }, FeeRateRefusal | Forbidden>> {
  const refused = mayOperate(ctx.identity, 'set fee rates');
  if (refused) return err(refused);
  if (!Number.isInteger(feeBps) || feeBps < 0 || feeBps > feeBpsMax)
    return err({ kind: 'FeeRateOutOfRange', feeBpsMax });
  if ((await merchantOwner(ctx, merchantId)) === null) return err({ kind: 'AccountNotFound', accountId: merchantId });
  await setFeeRate(controlShard(ctx.shards).db, merchantId, feeBps, ctx.now());
  return ok({ merchantAccountId: merchantId, feeBps });
}
