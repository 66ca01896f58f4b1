import { formatAmount } from '@paygraph/shared/money';
import type { QueryResolvers } from '../generated/resolvers-types';
import { ledgerHealthFor, reconciliationFor, reconciliationReportsFor } from '../services/reconcile';
import { readableSettlement } from '../services/settlements';
import { allowed } from '@paygraph/shared/graphql/errors';
import { reportFromRow } from './reconciliation';

/** Thin: each service authorizes (services/access.ts); a refusal is FORBIDDEN here. */
export const queryResolvers = {
  reconciliation: async (_, args, ctx) => allowed(await reconciliationFor(ctx, args.businessDate)),
  reconciliationReports: async (_, args, ctx) => allowed(await reconciliationReportsFor(ctx, args.businessDate, args.first)).map(reportFromRow),
  ledgerHealth: async (_, __, ctx) => {
    const { health, frozen } = allowed(await ledgerHealthFor(ctx));
    return {
      balanced: health.balanced && frozen.length === 0,
      frozenMismatches: frozen.map((m) => ({ ...m, frozen: formatAmount(m.frozen), held: formatAmount(m.held) })),
      inTransit: health.inTransit.map((t) => ({ currency: t.currency, amount: formatAmount(t.amount) })),
      shards: health.shards.map((s) => ({ ...s, debits: formatAmount(s.debits), credits: formatAmount(s.credits) })),
    };
  },
  settlement: async (_, args, ctx) => allowed(await readableSettlement(ctx, args.id)),
} satisfies QueryResolvers;
