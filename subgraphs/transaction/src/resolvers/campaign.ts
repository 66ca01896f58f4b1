import { formatAmount } from '@paygraph/shared/money';
import { allowed } from '@paygraph/shared/graphql/errors';
import type { TransactionContext } from '../context';
import type { CampaignRow } from '../db/schema/transactions';
import { campaignEnded } from '../domain/payment-legs';
import { campaignTermsOf, readableCampaign } from '../services/campaign';
import type { CampaignResolvers } from '../generated/resolvers-types';

const orNull = (amount: bigint | null) => (amount === null ? null : formatAmount(amount));

export const campaignResolvers = {
  __resolveReference: async (ref: { id: string }, ctx: TransactionContext) =>
    allowed(await readableCampaign(ctx, ref.id)),
  status: (c: CampaignRow, _: unknown, ctx: TransactionContext) => (campaignEnded(c, ctx.now()) ? 'ENDED' : 'ACTIVE'),
  amountOff: (c: CampaignRow) => orNull(c.amountOff),
  maxDiscountPerPayment: (c: CampaignRow) => orNull(c.maxDiscountPerPayment),
  payeeAccountIds: (c: CampaignRow) => {
    const payees = campaignTermsOf(c).payeeAccountIds;
    return payees === null ? null : [...payees];
  },
  fundingAccount: (c: CampaignRow) => ({ __typename: 'Account', id: c.fundingAccountId }),
  spentAmount: (c: CampaignRow) => formatAmount(c.spentAmount),
} satisfies CampaignResolvers;
