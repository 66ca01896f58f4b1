import { randomUUID } from 'node:crypto';
import { forbidden } from '@paygraph/shared/graphql/errors';
import { formatAmount } from '@paygraph/shared/money';
import { parseId } from '@paygraph/shared/ids';
import { mayRead } from '@paygraph/shared/identity';
import { ledgerHealth } from '@paygraph/shared/ledger/health';
import { pageSize } from '@paygraph/shared/graphql/paging';
import { accountsAndStripes } from '@paygraph/shared/db/ledger-store';
import { unreachable } from '@paygraph/shared/result';
import type { SettlementContext } from '../context';
import { insertReport, reportsOfDate, setFeeRate, settlementsByIds, settlementsOfMerchant } from '../db/settlement-store';
import { paymentIdsOfSettlement, settlementIdsOfPayments } from '../db/settlement-sources';
import type { ReportRow, SettlementRow } from '../db/schema/settlement';
import type { Discrepancy } from '../domain/discrepancies';
import { feeBpsMax } from '../domain/fees';
import { reconcile } from '../services/reconcile';
import { controlShard, runSettlement } from '../services/settle';
import { importStatement } from '../services/statements';
import { accountNotFound, invalidInput, invalidStatement, settlementNotReady } from './user-errors';

function requireOperator(ctx: SettlementContext, what: string): void {
  if (ctx.identity.role !== 'operator') throw forbidden(`only operators may ${what}`);
}

const amountOrNull = (v: bigint | null) => (v === null ? null : formatAmount(v));

function reportView(row: ReportRow) {
  const list = JSON.parse(row.discrepancies) as Array<Record<string, unknown>>;
  return { ...row, discrepancies: list };
}

function serialize(d: Discrepancy) {
  return { ...d, expected: amountOrNull(d.expected), actual: amountOrNull(d.actual) };
}

async function merchantOwner(ctx: SettlementContext, merchantId: string): Promise<string | null> {
  const parsed = parseId('account', merchantId);
  if (!parsed) return null;
  const [row] = await accountsAndStripes(ctx.shards.byLogical(parsed.shard).db, [merchantId], []);
  return row?.ownerId ?? null;
}

async function readableSettlement(ctx: SettlementContext, id: string): Promise<SettlementRow | null> {
  const parsed = parseId('settlement', id);
  if (!parsed) return null;
  const [row] = await settlementsByIds(ctx.shards.byLogical(parsed.shard).db, [id]);
  if (!row) return null;
  const owner = await merchantOwner(ctx, row.merchantAccountId);
  if (owner === null || !mayRead(ctx.identity, owner)) throw forbidden(`settlement ${id} is not yours`);
  return row;
}

export const queryResolvers = {
  reconciliation: async (_: unknown, args: { businessDate: string }, ctx: SettlementContext) => {
    requireOperator(ctx, 'reconcile');
    const found = (await reconcile(ctx.shards, args.businessDate)).map(serialize);
    const row: ReportRow = {
      id: `rec_${randomUUID()}`, businessDate: args.businessDate, balanced: found.length === 0,
      discrepancies: JSON.stringify(found), createdBy: ctx.identity.sub, createdAt: ctx.now(),
    };
    await insertReport(controlShard(ctx.shards).db, row);
    return { ...row, discrepancies: found };
  },
  reconciliationReports: async (_: unknown, args: { businessDate: string; first?: number | null }, ctx: SettlementContext) => {
    requireOperator(ctx, 'read reconciliation reports');
    return (await reportsOfDate(controlShard(ctx.shards).db, args.businessDate, pageSize(args.first))).map(reportView);
  },
  ledgerHealth: async (_: unknown, __: unknown, ctx: SettlementContext) => {
    requireOperator(ctx, 'read ledger health');
    const health = await ledgerHealth(ctx.shards);
    return {
      balanced: health.balanced,
      inTransit: health.inTransit.map((t) => ({ currency: t.currency, amount: formatAmount(t.amount) })),
      shards: health.shards.map((s) => ({ ...s, debits: formatAmount(s.debits), credits: formatAmount(s.credits) })),
    };
  },
  settlement: (_: unknown, args: { id: string }, ctx: SettlementContext) => readableSettlement(ctx, args.id),
};

export const mutationResolvers = {
  runSettlement: async (_: unknown, args: { input: { merchantAccountId: string; businessDate: string } }, ctx: SettlementContext) => {
    requireOperator(ctx, 'run settlements');
    if (!parseId('account', args.input.merchantAccountId)) return invalidInput('merchantAccountId', `"${args.input.merchantAccountId}" is not an account id`);
    const result = await runSettlement(ctx.shards, args.input.merchantAccountId, args.input.businessDate, ctx.now);
    if (result.ok) return { __typename: 'Settlement', ...result.value };
    switch (result.error.kind) {
      case 'AccountNotFound':
        return accountNotFound(result.error.accountId);
      case 'NotAMerchant':
        return invalidInput('merchantAccountId', `account ${result.error.accountId} is not a MERCHANT account`);
      case 'SettlementNotReady':
        return settlementNotReady(result.error.businessDate, result.error.openDate);
      default:
        return unreachable(result.error);
    }
  },
  importStatement: async (_: unknown, args: { input: { channel: string; businessDate: string; csv: string } }, ctx: SettlementContext) => {
    requireOperator(ctx, 'import statements');
    const result = await importStatement(ctx.shards, args.input, ctx.identity.sub, ctx.now());
    if (result.ok) return { __typename: 'Statement', ...result.value };
    switch (result.error.kind) {
      case 'InvalidInput':
        return invalidInput(result.error.field, result.error.message);
      case 'InvalidStatement':
        return invalidStatement(result.error.line, result.error.message);
      default:
        return unreachable(result.error);
    }
  },
  setMerchantFeeRate: async (_: unknown, args: { input: { merchantAccountId: string; feeBps: number } }, ctx: SettlementContext) => {
    requireOperator(ctx, 'set fee rates');
    const { merchantAccountId, feeBps } = args.input;
    if (!Number.isInteger(feeBps) || feeBps < 0 || feeBps > feeBpsMax) return invalidInput('feeBps', `feeBps must be between 0 and ${feeBpsMax}`);
    if ((await merchantOwner(ctx, merchantAccountId)) === null) return accountNotFound(merchantAccountId);
    await setFeeRate(controlShard(ctx.shards).db, merchantAccountId, feeBps, ctx.now());
    return { __typename: 'FeeRate', merchantAccountId, feeBps };
  },
};

export const settlementResolvers = {
  __resolveReference: (ref: { id: string }, ctx: SettlementContext) => readableSettlement(ctx, ref.id),
  grossAmount: (s: SettlementRow) => formatAmount(s.grossAmount),
  refundedAmount: (s: SettlementRow) => formatAmount(s.refundedAmount),
  feeAmount: (s: SettlementRow) => formatAmount(s.feeAmount),
  netAmount: (s: SettlementRow) => formatAmount(s.netAmount),
  merchantAccount: (s: SettlementRow) => ({ __typename: 'Account', id: s.merchantAccountId }),
  payments: async (s: SettlementRow, _: unknown, ctx: SettlementContext) => {
    const ids = (await Promise.all(ctx.shards.all.map((shard) => paymentIdsOfSettlement(shard.db, s.id)))).flat();
    return ids.map((id) => ({ __typename: 'Payment', id }));
  },
};

export const accountResolvers = {
  __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
  settlements: async (account: { id: string }, args: { first?: number | null }, ctx: SettlementContext) => {
    const owner = await merchantOwner(ctx, account.id);
    if (owner === null) return null;
    if (!mayRead(ctx.identity, owner)) throw forbidden(`you may not read the settlements of account ${account.id}`);
    return settlementsOfMerchant(ctx.shards.byLogical(parseId('account', account.id)!.shard).db, account.id, pageSize(args.first));
  },
};

export const paymentResolvers = {
  __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
  settlement: async (payment: { id: string }, _: unknown, ctx: SettlementContext) => {
    const parsed = parseId('payment', payment.id);
    if (!parsed) return null;
    const [row] = await settlementIdsOfPayments(ctx.shards.byLogical(parsed.shard).db, [payment.id]);
    return row?.settlementId ? readableSettlement(ctx, row.settlementId) : null;
  },
};
