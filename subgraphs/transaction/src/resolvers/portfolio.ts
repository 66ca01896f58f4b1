import { authorized, badUserInput } from '@paygraph/shared/graphql/errors';
import { formatAmount } from '@paygraph/shared/money';
import type { TransactionContext } from '../context';
import type { ExternalAccountRow } from '../db/schema/external-accounts';
import type { Portfolio } from '../domain/portfolio';
import { ownerPortfolio } from '../services/portfolio';
import type { QueryResolvers } from '../generated/resolvers-types';

/** ownerPortfolio: the service authorizes and reads; here the domain's view is answered in the schema's shape. */
export const portfolioQueryResolvers = {
  ownerPortfolio: async (_: unknown, args: { ownerId: string; reportingCurrency: string }, ctx: TransactionContext) => {
    const answer = authorized(await ownerPortfolio(ctx, args.ownerId, args.reportingCurrency));
    if (!answer.ok) throw badUserInput(answer.error.message);
    return portfolioAnswer(answer.value);
  },
} satisfies QueryResolvers;

function portfolioAnswer(p: Portfolio<ExternalAccountRow>) {
  const { reportingTotal: r } = p;
  return {
    ownerId: p.ownerId,
    accounts: p.accounts.map((a) => ({
      id: a.id,
      type: a.type,
      currency: a.currency,
      balance: {
        available: formatAmount(a.available),
        frozen: formatAmount(a.frozen),
        pending: formatAmount(a.pending),
        total: formatAmount(a.available + a.frozen + a.pending),
      },
    })),
    externalAccounts: p.links,
    totals: p.totals.map((t) => ({
      currency: t.currency,
      ledger: formatAmount(t.ledger),
      external: t.external === null ? null : formatAmount(t.external),
    })),
    reportingTotal: {
      currency: r.currency,
      amount: formatAmount(r.amount),
      rates: r.rates,
      unconverted: r.unconverted.map((u) => ({ currency: u.currency, amount: formatAmount(u.amount) })),
    },
  };
}
