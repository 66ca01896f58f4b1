import type { ShardSet } from '../shards/pool';
import { isAssetCode, isKnownAsset, knowAsset } from '../money';
import { assetsMax } from '../limits';
import { controlShard } from './books';
import { allAssets, insertAssetIfMissing, type AssetInsert, type AssetRecord } from './store/assets';

/**
 * The platform's assets across processes (docs/ASSETS.md). The control shard's `assets` table is
 * the registry; each process holds it in money.ts, read whole where a subgraph starts
 * (`loadAssets`, from createSubgraph) and again whenever a service meets an asset-shaped code it
 * does not know (`ensureAssetKnown`). Assets are never changed or removed, so the only staleness a
 * process can have is an asset defined since its last read, and that miss is what triggers the
 * next read: a new asset is usable on every process at once, with no restart and no poll.
 */
export async function loadAssets(shards: ShardSet): Promise<AssetRecord[]> {
  const defined = await allAssets(controlShard(shards).db);
  for (const asset of defined) knowAsset(asset.code, asset.exponent);
  return defined;
}

// One reload in flight per shard set: a burst of requests naming an unknown code shares one read.
const reloads = new WeakMap<ShardSet, Promise<unknown>>();

/**
 * Makes sure this process knows `code` if it is a defined asset: an ISO code, a code not shaped
 * like an asset, or one already known costs nothing; an unknown asset-shaped code costs one read of
 * at most assetsMax rows on the control shard, shared with any reload already under way.
 */
export async function ensureAssetKnown(shards: ShardSet, code: string): Promise<void> {
  if (!isAssetCode(code) || isKnownAsset(code)) return;
  // A read already out may have begun before the asset was defined: if it brings no news of the
  // code, one more read, begun after this call, decides.
  const underWay = reloads.get(shards);
  if (underWay) {
    await underWay;
    if (isKnownAsset(code)) return;
  }
  await reloadOf(shards);
}

function reloadOf(shards: ShardSet): Promise<unknown> {
  let reload = reloads.get(shards);
  if (!reload) {
    reload = loadAssets(shards).finally(() => reloads.delete(shards));
    reloads.set(shards, reload);
  }
  return reload;
}

/**
 * Defines an asset on the control shard (unless its code is there: the stored one is answered for
 * the caller to compare) and makes it known to this process at once.
 */
export async function storeAsset(
  shards: ShardSet,
  asset: AssetRecord & { createdBy: string },
  now: Date,
): Promise<AssetInsert> {
  const stored = await insertAssetIfMissing(controlShard(shards), asset, assetsMax, now);
  if (stored.kind === 'stored') knowAsset(stored.asset.code, stored.asset.exponent);
  return stored;
}
