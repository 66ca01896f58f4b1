import { authorized } from '@paygraph/shared/graphql/errors';
import type { AccountContext } from '../context';
import { defineAsset } from '../services/assets';
import { invalidInput } from './user-errors';
import type { MutationResolvers } from '../generated/resolvers-types';

/** Platform assets (docs/ASSETS.md): parse → service → the DefineAssetResult member. */
export const assetMutationResolvers = {
  defineAsset: async (
    _: unknown,
    args: { input: { code: string; exponent: number; name: string } },
    ctx: AccountContext,
  ) => {
    const defined = authorized(await defineAsset(ctx, args.input));
    if (defined.ok) return { __typename: 'Asset' as const, ...defined.value };
    return invalidInput(defined.error.field, defined.error.message);
  },
} satisfies MutationResolvers;
