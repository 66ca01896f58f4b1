import { authorized } from '@paygraph/shared/graphql/errors';
import { formatAmount } from '@paygraph/shared/money';
import type { TransactionContext } from '../context';
import type { ExternalAccountRow } from '../db/schema/external-accounts';
import type { LinkExternalAccountInput } from '../domain/external-accounts';
import {
  linkExternalAccount,
  linkOfTransfer,
  reportExternalBalance,
  unlinkExternalAccount,
  verifyExternalAccount,
} from '../services/external-accounts';
import type { ExternalAccountResolvers, MutationResolvers } from '../generated/resolvers-types';
import { answer } from './mutation';

/** Linked external accounts: parse and authorize in the service, answer the union member here. */
export const externalAccountMutationResolvers = {
  linkExternalAccount: async (_: unknown, args: { input: LinkExternalAccountInput }, ctx: TransactionContext) =>
    answer('ExternalAccount', authorized(await linkExternalAccount(ctx, args.input))),
  verifyExternalAccount: async (
    _: unknown,
    args: { input: { externalAccountId: string; verified: boolean } },
    ctx: TransactionContext,
  ) => answer('ExternalAccount', authorized(await verifyExternalAccount(ctx, args.input))),
  unlinkExternalAccount: async (_: unknown, args: { id: string }, ctx: TransactionContext) =>
    answer('ExternalAccount', authorized(await unlinkExternalAccount(ctx, args.id))),
  reportExternalBalance: async (
    _: unknown,
    args: { input: { externalAccountId: string; balance: string; asOf: string } },
    ctx: TransactionContext,
  ) => answer('ExternalAccount', authorized(await reportExternalBalance(ctx, args.input))),
} satisfies MutationResolvers;

export const externalAccountResolvers = {
  reportedBalance: (link: ExternalAccountRow) =>
    link.reportedBalance === null || link.reportedAsOf === null
      ? null
      : { amount: formatAmount(link.reportedBalance), asOf: link.reportedAsOf },
} satisfies ExternalAccountResolvers;

/** Deposit.externalAccount and Withdrawal.externalAccount: the link the transfer named, as its reader sees it. */
export async function transferExternalAccount(
  transfer: { externalAccountId: string | null },
  _: unknown,
  ctx: TransactionContext,
): Promise<ExternalAccountRow | null> {
  return transfer.externalAccountId === null ? null : linkOfTransfer(ctx, transfer.externalAccountId);
}
