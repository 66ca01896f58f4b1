import { formatAmount } from '@paygraph/shared/money';
import { ledgerHealth } from '@paygraph/shared/ledger/health';
import type { SettlementContext } from '../context';
import { frozenAgainstHolds, reconcileAndStore, storedReports } from '../services/reconcile';
import { readableSettlement, requireOperator } from './authorization';
import { reportFromRow } from './reconciliation';

export const queryResolvers = {
  reconciliation: async (_: unknown, args: { businessDate: string }, ctx: SettlementContext) => {
    requireOperator(ctx, 'reconcile');
    return reconcileAndStore(ctx.shards, args.businessDate, ctx.identity.sub, ctx.now());
  },
  reconciliationReports: async (_: unknown, args: { businessDate: string; first?: number | null }, ctx: SettlementContext) => {
    requireOperator(ctx, 'read reconciliation reports');
    return (await storedReports(ctx.shards, args.businessDate, args.first)).map(reportFromRow);
  },
  ledgerHealth: async (_: unknown, __: unknown, ctx: SettlementContext) => {
    requireOperator(ctx, 'read ledger health');
    const [health, frozen] = await Promise.all([ledgerHealth(ctx.shards), frozenAgainstHolds(ctx.shards)]);
    return {
      balanced: health.balanced && frozen.length === 0,
      frozenMismatches: frozen.map((m) => ({ ...m, frozen: formatAmount(m.frozen), held: formatAmount(m.held) })),
      inTransit: health.inTransit.map((t) => ({ currency: t.currency, amount: formatAmount(t.amount) })),
      shards: health.shards.map((s) => ({ ...s, debits: formatAmount(s.debits), credits: formatAmount(s.credits) })),
    };
  },
  settlement: (_: unknown, args: { id: string }, ctx: SettlementContext) => readableSettlement(ctx, args.id),
};
