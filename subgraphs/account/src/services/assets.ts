import type { Forbidden } from '@paygraph/shared/authorization';
import { err, type Result } from '@paygraph/shared/result';
import { storeAsset, type AssetRecord } from '@paygraph/shared/ledger/index';
import type { AccountContext } from '../context';
import { decideAsset, sameAsset, type AssetRefusal } from '../domain/assets';
import { mayDefineAssets } from './access';

/**
 * Defines a platform asset (docs/ASSETS.md): operators only, asked first; then the input's shape;
 * then the control shard's registry, which answers the stored asset for a code defined before and
 * refuses a new code past assetsMax. Nothing is written for a refusal.
 */
export async function defineAsset(
  ctx: AccountContext,
  input: AssetRecord,
): Promise<Result<AssetRecord, AssetRefusal | Forbidden>> {
  const refused = mayDefineAssets(ctx.identity);
  if (refused) return err(refused);
  const decided = decideAsset(input);
  if (!decided.ok) return decided;
  const stored = await storeAsset(ctx.shards, { ...decided.value, createdBy: ctx.identity.sub }, ctx.now());
  if (stored.kind === 'full')
    return err({
      kind: 'InvalidInput',
      field: 'code',
      message: `the platform already has ${stored.assetsMax} assets, the most it may define`,
    });
  return sameAsset(decided.value, stored.asset);
}
