import DataLoader from 'dataloader';
import type http from 'node:http';
import type { BaseSubgraphContext } from '@paygraph/shared/server/subgraph';
import { byShard, shardedLoader } from '@paygraph/shared/graphql/loaders';
import { amountMaxMinorUnitsDefault, holdTtlSecondsDefault } from '@paygraph/shared/limits';
import { holdsByIds, holdsOfPayments } from './db/holds';
import type { PostingRow } from '@paygraph/shared/db/schema/ledger';
import type { Account } from '@paygraph/shared/ledger/account';
import { paymentsByIds, refundsByIds, refundsOfPayments } from './db/payments';
import { postingsByIds } from './db/postings';
import type { HoldRow, PaymentRow, RefundRow } from './db/schema/transactions';
import { readAccounts } from './services/accounts';
import type { ClientInfo, ServiceContext } from './services/context';

export interface TransactionContext extends BaseSubgraphContext, ServiceContext {
  payments: DataLoader<string, PaymentRow | null>;
  refunds: DataLoader<string, RefundRow | null>;
  refundsOfPayment: DataLoader<string, RefundRow[]>;
  accountRows: DataLoader<string, Account | null>;
  postings: DataLoader<string, PostingRow | null>;
  holds: DataLoader<string, HoldRow | null>;
  holdOfPayment: DataLoader<string, HoldRow | null>;
}

export function clientInfo(req: http.IncomingMessage): ClientInfo {
  const header = (name: string) => {
    const value = req.headers[name];
    return typeof value === 'string' && value !== '' ? value.slice(0, 256) : null;
  };
  return { deviceId: header('x-device-id'), ip: header('x-client-ip'), userAgent: header('x-client-user-agent') };
}

/** What main.ts gives this subgraph from its configuration (config.transaction). */
export interface TransactionSettings {
  /** AMOUNT_MAX, in minor units. */
  amountMax: bigint;
  /** HOLD_TTL_SECONDS: how long a hold lives when its request does not say. */
  holdTtlSeconds: number;
}

export const defaultTransactionSettings: TransactionSettings = { amountMax: amountMaxMinorUnitsDefault, holdTtlSeconds: holdTtlSecondsDefault };

export function extendContext(
  base: BaseSubgraphContext,
  client: ClientInfo,
  now: () => Date = () => new Date(),
  settings: TransactionSettings = defaultTransactionSettings,
): TransactionContext {
  return {
    ...base,
    now,
    client,
    amountMax: settings.amountMax,
    holdTtlSeconds: settings.holdTtlSeconds,
    holds: shardedLoader(base, 'hold', holdsByIds),
    // A capture's payment lives with its hold, on the payer's shard.
    holdOfPayment: new DataLoader(async (paymentIds) => {
      const rows = await Promise.all([...byShard(base, 'payment', paymentIds)].map(([shard, local]) => holdsOfPayments(shard.db, local)));
      const byPayment = new Map(rows.flat().map((h) => [h.endedBy!, h]));
      return paymentIds.map((id) => byPayment.get(id) ?? null);
    }),
    payments: shardedLoader(base, 'payment', paymentsByIds),
    refunds: shardedLoader(base, 'refund', refundsByIds),
    postings: shardedLoader(base, 'posting', postingsByIds),
    accountRows: new DataLoader(async (ids) => {
      const rows = await readAccounts(base.shards, ids);
      return ids.map((id) => rows.get(id) ?? null);
    }),
    refundsOfPayment: new DataLoader(async (paymentIds) => {
      const rows = await Promise.all([...byShard(base, 'payment', paymentIds)].map(([shard, local]) => refundsOfPayments(shard.db, local)));
      const grouped = new Map<string, RefundRow[]>();
      for (const row of rows.flat()) grouped.set(row.paymentId, [...(grouped.get(row.paymentId) ?? []), row]);
      return paymentIds.map((id) => grouped.get(id) ?? []);
    }),
  };
}
