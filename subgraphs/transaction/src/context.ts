import DataLoader from 'dataloader';
import type http from 'node:http';
import type { BaseSubgraphContext } from '@paygraph/shared/server/subgraph';
import { byShardLoader, shardedLoader } from '@paygraph/shared/graphql/loaders';
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
import { groupBy } from '@paygraph/shared/collections';
import { clientDeviceIdCharsMax, clientIpCharsMax, clientUserAgentCharsMax } from '@paygraph/shared/limits';

export interface TransactionContext extends BaseSubgraphContext, ServiceContext {
  /** The HMAC key of linked cards' fingerprints (CARD_FINGERPRINT_KEY, read in main.ts; a development key outside production). */
  cardFingerprintKey: Buffer;
  /** The request's loaders, each made on first use (RequestLoaders). */
  loaders: RequestLoaders;
  /** The process's feed of link events, which its externalAccountChanged streams wait on. */
  linkEventFeed: LinkEventFeed;
  /** The process's payments answered before their endings committed; its reads of them wait for those. */
  endings: EndingsInFlight;
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
  const loaders = new RequestLoaders(base, endings);
  return {
    ...base,
    now,
    client,
    amountMax: settings.amountMax,
    holdTtlSeconds: settings.holdTtlSeconds,
    fxQuoteTtlSeconds: settings.fxQuoteTtlSeconds,
    cardFingerprintKey: fingerprintKeyOf(settings),
    loaders,
    linkEventFeed,
    endings,
    primeLegs: (paymentId, legs) => void loaders.legsOfPayment.prime(paymentId, [...legs]),
  };
}

/**
 * One request's loaders, each made when the request first reads through it: made all at once they were 4.3% of the
 * bytes the transaction subgraph allocated in a-max and a-70 (docs/PERFORMANCE.md), for a createPayment that reads
 * through one of them or none. A context spread into another (`{ ...ctx, client }`) shares them.
 */
export class RequestLoaders {
  private made: {
    payments?: DataLoader<string, PaymentRow | null>;
    refunds?: DataLoader<string, RefundRow | null>;
    refundsOfPayment?: DataLoader<string, RefundRow[]>;
    accountRows?: DataLoader<string, Account | null>;
    postings?: DataLoader<string, PostingRow | null>;
    holds?: DataLoader<string, HoldRow | null>;
    holdOfPayment?: DataLoader<string, HoldRow | null>;
    paymentFx?: DataLoader<string, PaymentFxRow | null>;
    buyReturned?: DataLoader<string, bigint>;
    legsOfPayment?: DataLoader<string, PaymentLegRow[]>;
    eventLinks?: DataLoader<string, ExternalAccountRow | null>;
    eventWithdrawals?: DataLoader<string, ExternalTransferRow | null>;
  } = {};

  constructor(
    private readonly base: BaseSubgraphContext,
    private readonly endings: EndingsInFlight,
  ) {}

  get payments(): DataLoader<string, PaymentRow | null> {
    return (this.made.payments ??= paymentsLoader(this.base, this.endings));
  }
  get refunds(): DataLoader<string, RefundRow | null> {
    return (this.made.refunds ??= shardedLoader(this.base, 'refund', refundsByIds));
  }
  get refundsOfPayment(): DataLoader<string, RefundRow[]> {
    return (this.made.refundsOfPayment ??= byShardLoader(this.base, 'payment', refundsOfPayments, grouped));
  }
  get accountRows(): DataLoader<string, Account | null> {
    return (this.made.accountRows ??= accountRowsLoader(this.base));
  }
  get postings(): DataLoader<string, PostingRow | null> {
    return (this.made.postings ??= shardedLoader(this.base, 'posting', postingsByIds));
  }
  get holds(): DataLoader<string, HoldRow | null> {
    return (this.made.holds ??= shardedLoader(this.base, 'hold', holdsByIds));
  }
  /** A capture's payment lives with its hold, on the payer's shard. */
  get holdOfPayment(): DataLoader<string, HoldRow | null> {
    return (this.made.holdOfPayment ??= byShardLoader(this.base, 'payment', holdsOfPayments, (rows, ids) =>
      byKey(rows, (h) => h.endedBy!, ids),
    ));
  }
  /** An FX payment's quote and payee side, beside the payment. */
  get paymentFx(): DataLoader<string, PaymentFxRow | null> {
    return (this.made.paymentFx ??= byShardLoader(this.base, 'payment', paymentFxByIds, (rows, ids) =>
      byKey(rows, (f) => f.paymentId, ids),
    ));
  }
  /** What the payee of an FX payment has given back of its buy side: Σ the shares of its refunds that did not fail. */
  get buyReturned(): DataLoader<string, bigint> {
    return (this.made.buyReturned ??= buyReturnedLoader(this.base));
  }
  /** The leg rows of LEGS payments, by payment id, on the payment's shard. */
  get legsOfPayment(): DataLoader<string, PaymentLegRow[]> {
    return (this.made.legsOfPayment ??= byShardLoader(this.base, 'payment', legsOfPayments, grouped));
  }
  /** Links and withdrawals named by link events: batched per shard, never cached (a stream's context lives long). */
  get eventLinks(): DataLoader<string, ExternalAccountRow | null> {
    return (this.made.eventLinks ??= shardedLoader(this.base, 'externalAccount', linksByIds, { cache: false }));
  }
  get eventWithdrawals(): DataLoader<string, ExternalTransferRow | null> {
    return (this.made.eventWithdrawals ??= shardedLoader(this.base, 'withdrawal', externalTransfersByIds, {
      cache: false,
    }));
  }
}

/** Each payment's rows, in the order the ids were asked. */
function grouped<Row extends { paymentId: string }>(rows: Row[], ids: readonly string[]): Row[][] {
  const byPayment = groupBy(rows, (row) => row.paymentId);
  return ids.map((id) => byPayment.get(id) ?? []);
}

function byKey<Row>(rows: Row[], key: (row: Row) => string, ids: readonly string[]): Array<Row | null> {
  const byId = new Map(rows.map((row) => [key(row), row]));
  return ids.map((id) => byId.get(id) ?? null);
}

/** Each payment's returned buy side, 0 where none: the read's map as [payment id, amount] rows. */
function buyReturnedLoader(base: BaseSubgraphContext): DataLoader<string, bigint> {
  return byShardLoader(
    base,
    'payment',
    async (db, ids) => [...(await buyReturnedOfPayments(db, ids))],
    (rows, ids) => {
      const returned = new Map(rows);
      return ids.map((id) => returned.get(id) ?? 0n);
    },
  );
}

function accountRowsLoader(base: BaseSubgraphContext): DataLoader<string, Account | null> {
  return new DataLoader(async (ids) => {
    const rows = await readAccounts(base.shards, ids);
    return ids.map((id) => rows.get(id) ?? null);
  });
}
