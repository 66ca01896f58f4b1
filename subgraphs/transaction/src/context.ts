import DataLoader from 'dataloader';
import type http from 'node:http';
import type { BaseSubgraphContext } from '@paygraph/shared/server/subgraph';
import { byShard, shardedLoader } from '@paygraph/shared/graphql/loaders';
import type { TransactionSettings } from './config';
import { holdsByIds, holdsOfPayments } from './db/holds';
import type { PostingRow, Account } from '@paygraph/shared/ledger/index';
import { externalTransfersByIds, paymentsByIds, refundsByIds, refundsOfPayments } from './db/payments';
import { linksByIds } from './db/external-accounts';
import type { ExternalAccountRow } from './db/schema/external-accounts';
import { postingsByIds } from './db/postings';
import { buyReturnedOfPayments, paymentFxByIds } from './db/fx';
import type { PaymentFxRow } from './db/schema/fx';
import type { ExternalTransferRow, HoldRow, PaymentLegRow, PaymentRow, RefundRow } from './db/schema/transactions';
import { legsOfPayments } from './db/payment-legs';
import { readAccounts } from './services/accounts';
import type { ClientInfo, ServiceContext } from './services/context';
import type { LinkEventFeed } from './services/link-event-feed';
import type { EndingsInFlight } from './services/endings-in-flight';
import { pushTo } from '@paygraph/shared/collections';
import { clientDeviceIdCharsMax, clientIpCharsMax, clientUserAgentCharsMax } from '@paygraph/shared/limits';

export interface TransactionContext extends BaseSubgraphContext, ServiceContext {
  /** The HMAC key of linked cards' fingerprints (CARD_FINGERPRINT_KEY, read in main.ts; a development key outside production). */
  cardFingerprintKey: Buffer;
  payments: DataLoader<string, PaymentRow | null>;
  refunds: DataLoader<string, RefundRow | null>;
  refundsOfPayment: DataLoader<string, RefundRow[]>;
  accountRows: DataLoader<string, Account | null>;
  postings: DataLoader<string, PostingRow | null>;
  holds: DataLoader<string, HoldRow | null>;
  holdOfPayment: DataLoader<string, HoldRow | null>;
  /** An FX payment's quote and payee side, beside the payment. */
  paymentFx: DataLoader<string, PaymentFxRow | null>;
  /** What the payee of an FX payment has given back of its buy side: Σ the shares of its refunds that did not fail. */
  buyReturned: DataLoader<string, bigint>;
  /** The leg rows of LEGS payments, by payment id, on the payment's shard. */
  legsOfPayment: DataLoader<string, PaymentLegRow[]>;
  /** The process's feed of link events, which its externalAccountChanged streams wait on. */
  linkEventFeed: LinkEventFeed;
  /** The process's payments answered before their endings committed; its reads of them wait for those. */
  endings: EndingsInFlight;
  /** Links and withdrawals named by link events: batched per shard, never cached (a stream's context lives long). */
  eventLinks: DataLoader<string, ExternalAccountRow | null>;
  eventWithdrawals: DataLoader<string, ExternalTransferRow | null>;
}

export function clientInfo(req: http.IncomingMessage): ClientInfo {
  const header = (name: string, charsMax: number) => {
    const value = req.headers[name];
    return typeof value === 'string' && value !== '' ? value.slice(0, charsMax) : null;
  };
  return {
    deviceId: header('x-device-id', clientDeviceIdCharsMax),
    ip: header('x-client-ip', clientIpCharsMax),
    userAgent: header('x-client-user-agent', clientUserAgentCharsMax),
  };
}

/** A payment this process answered and is still ending reads as it was answered (endings-in-flight.ts). */
function paymentsLoader(base: BaseSubgraphContext, endings: EndingsInFlight): DataLoader<string, PaymentRow | null> {
  return shardedLoader(base, 'payment', async (db, ids) => {
    await endings.settled(ids);
    return paymentsByIds(db, ids);
  });
}

/**
 * The fingerprints' key outside production with CARD_FINGERPRINT_KEY unset (config.ts refuses production without one):
 * in the source, it hides nothing real. Exported for tests that stand where a claim is taken.
 */
export const developmentCardFingerprintKey = 'paygraph-development-card-fingerprint-key-not-for-production';

/** The fingerprints' key as bytes, made once per settings rather than a Buffer a request. */
const fingerprintKeys = new WeakMap<TransactionSettings, Buffer>();
function fingerprintKeyOf(settings: TransactionSettings): Buffer {
  let key = fingerprintKeys.get(settings);
  if (key === undefined) {
    key = Buffer.from(settings.cardFingerprintKey ?? developmentCardFingerprintKey, 'utf8');
    fingerprintKeys.set(settings, key);
  }
  return key;
}

export function extendContext(
  base: BaseSubgraphContext,
  client: ClientInfo,
  now: () => Date = () => new Date(),
  settings: TransactionSettings,
  linkEventFeed: LinkEventFeed,
  endings: EndingsInFlight,
): TransactionContext {
  const legsOfPayment = new DataLoader<string, PaymentLegRow[]>(async (paymentIds) => {
    const rows = await Promise.all(
      [...byShard(base, 'payment', paymentIds)].map(([shard, local]) => legsOfPayments(shard.db, local)),
    );
    const grouped = new Map<string, PaymentLegRow[]>();
    for (const row of rows.flat()) pushTo(grouped, row.paymentId, row);
    return paymentIds.map((id) => grouped.get(id) ?? []);
  });
  return {
    ...base,
    now,
    client,
    amountMax: settings.amountMax,
    holdTtlSeconds: settings.holdTtlSeconds,
    fxQuoteTtlSeconds: settings.fxQuoteTtlSeconds,
    cardFingerprintKey: fingerprintKeyOf(settings),
    holds: shardedLoader(base, 'hold', holdsByIds),
    // A capture's payment lives with its hold, on the payer's shard.
    holdOfPayment: new DataLoader(async (paymentIds) => {
      const rows = await Promise.all(
        [...byShard(base, 'payment', paymentIds)].map(([shard, local]) => holdsOfPayments(shard.db, local)),
      );
      const byPayment = new Map(rows.flat().map((h) => [h.endedBy!, h]));
      return paymentIds.map((id) => byPayment.get(id) ?? null);
    }),
    payments: paymentsLoader(base, endings),
    paymentFx: new DataLoader(async (paymentIds) => {
      const rows = await Promise.all(
        [...byShard(base, 'payment', paymentIds)].map(([shard, local]) => paymentFxByIds(shard.db, local)),
      );
      const byPayment = new Map(rows.flat().map((f) => [f.paymentId, f]));
      return paymentIds.map((id) => byPayment.get(id) ?? null);
    }),
    buyReturned: new DataLoader(async (paymentIds) => {
      const maps = await Promise.all(
        [...byShard(base, 'payment', paymentIds)].map(([shard, local]) => buyReturnedOfPayments(shard.db, local)),
      );
      return paymentIds.map((id) => maps.find((m) => m.has(id))?.get(id) ?? 0n);
    }),
    refunds: shardedLoader(base, 'refund', refundsByIds),
    postings: shardedLoader(base, 'posting', postingsByIds),
    accountRows: new DataLoader(async (ids) => {
      const rows = await readAccounts(base.shards, ids);
      return ids.map((id) => rows.get(id) ?? null);
    }),
    legsOfPayment,
    linkEventFeed,
    endings,
    eventLinks: shardedLoader(base, 'externalAccount', linksByIds, { cache: false }),
    eventWithdrawals: shardedLoader(base, 'withdrawal', externalTransfersByIds, { cache: false }),
    primeLegs: (paymentId, legs) => void legsOfPayment.prime(paymentId, [...legs]),
    refundsOfPayment: new DataLoader(async (paymentIds) => {
      const rows = await Promise.all(
        [...byShard(base, 'payment', paymentIds)].map(([shard, local]) => refundsOfPayments(shard.db, local)),
      );
      const grouped = new Map<string, RefundRow[]>();
      for (const row of rows.flat()) pushTo(grouped, row.paymentId, row);
      return paymentIds.map((id) => grouped.get(id) ?? []);
    }),
  };
}
