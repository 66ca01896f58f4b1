import { allowed } from '@paygraph/shared/graphql/errors';
import type { AccountResolvers } from '../generated/resolvers-types';
import { readableMerchantSettlements } from '../services/settlements';
import { readableAdvanceTerms } from '../services/advances';

export const accountResolvers = {
  __resolveReference: (ref) => ({ id: ref.id }),
  settlements: async (account, args, ctx) => allowed(await readableMerchantSettlements(ctx, account.id, args.first)),
  advanceTerms: async (account, _, ctx) => allowed(await readableAdvanceTerms(ctx, account.id)),
} satisfies AccountResolvers;
