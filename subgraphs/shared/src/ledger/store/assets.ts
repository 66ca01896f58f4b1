import { eq } from 'drizzle-orm';
import type { Executor } from '../../shards/transaction';
import { inTransaction } from '../../shards/transaction';
import type { Shard } from '../../shards/pool';
import { assets } from './schema';

/**
 * The platform's assets (docs/ASSETS.md): rows of the control shard only. Locks: as each
 * function says.
 */
export interface AssetRecord {
  code: string;
  exponent: number;
  name: string;
}

/** Every asset, in code order (at most assetsMax rows). Locks: none. */
export async function allAssets(db: Executor): Promise<AssetRecord[]> {
  const rows = await db
    .select({ code: assets.code, exponent: assets.exponent, name: assets.name })
    .from(assets)
    .orderBy(assets.code);
  return rows;
}

/** An asset by code. Locks: none. */
export async function assetByCode(db: Executor, code: string): Promise<AssetRecord | null> {
  const [row] = await db
    .select({ code: assets.code, exponent: assets.exponent, name: assets.name })
    .from(assets)
    .where(eq(assets.code, code))
    .limit(1);
  return row ?? null;
}

export type AssetInsert = { kind: 'stored'; asset: AssetRecord } | { kind: 'full'; assetsMax: number };

/**
 * Inserts the asset unless one with its code is there, and answers the row now stored (this one,
 * or the earlier one the caller compares); a new code when assetsMax are defined is `full`, nothing
 * written. Locks: every row of `assets` (and the gaps between), for the transaction, so that two
 * definitions racing are counted one after the other and the bound holds; defining is rare.
 */
export async function insertAssetIfMissing(
  shard: Shard,
  asset: AssetRecord & { createdBy: string },
  assetsMax: number,
  now: Date,
): Promise<AssetInsert> {
  return inTransaction(shard, async (tx) => {
    const held = await tx.select({ code: assets.code }).from(assets).for('update');
    const stored = await assetByCode(tx, asset.code);
    if (stored) return { kind: 'stored', asset: stored };
    if (held.length >= assetsMax) return { kind: 'full', assetsMax };
    await tx.insert(assets).values({ ...asset, createdAt: now });
    return { kind: 'stored', asset: { code: asset.code, exponent: asset.exponent, name: asset.name } };
  });
}
