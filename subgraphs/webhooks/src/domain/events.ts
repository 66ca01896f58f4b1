import { formatAmount } from '@paygraph/shared/money';
import type { AccountBalances } from '@paygraph/shared/ledger/index';
import { encodeBalanceCursor } from '@paygraph/account/index';
import type {
  FailedRefundFacts,
  HoldFacts,
  PaymentFacts,
  PaymentParties,
  PayoutFacts,
  VerifiedLinkFacts,
  RefundFacts,
} from '@paygraph/transaction/read-model/webhooks';
import type { AdvanceFacts } from '@paygraph/settlement/read-model/webhooks';
import type { EventType } from './event-types';

/**
 * Events are derived from the ledger: each entry of a followed account (stripe) is one
 * balance.changed, and the entry whose posting finished a payment, refund or hold on that
 * account also says so. The ledger entries (and the payment, refund and hold rows) are
 * committed in the same transaction as the money, so they are the record of every event;
 * nothing is written on the money path for webhooks (docs/WEBHOOKS.md).
 */
export interface EntryWithPosting {
  stripeId: string;
  sequence: bigint;
  id: string;
  postingId: string;
  bucket: 'AVAILABLE' | 'FROZEN' | 'PENDING';
  amount: bigint;
  direction: 'DEBIT' | 'CREDIT';
  balanceAfter: bigint;
  createdAt: Date;
  postingKind: string;
  /** The business record behind the posting (payment, refund, hold, deposit…). */
  refId: string | null;
}

export interface StreamEntry extends EntryWithPosting {
  /** The posting's first entry on this stripe: business events are said once per posting and account. */
  firstOfPosting: boolean;
}

/** An account's three balances, as the stream last reported them (the ledger's one shape of them). */
export type Buckets = AccountBalances;

/** What the dispatcher read about the entries' business records. */
export interface Facts {
  payments: ReadonlyMap<string, PaymentFacts>;
  refunds: ReadonlyMap<string, RefundFacts>;
  holds: ReadonlyMap<string, HoldFacts>;
  /** By the payment a capture made. */
  holdsByPayment: ReadonlyMap<string, HoldFacts>;
  advances: ReadonlyMap<string, AdvanceFacts>;
  /** Withdrawals that paid out to a linked account (the others are not here). */
  payouts: ReadonlyMap<string, PayoutFacts>;
}

export interface Event {
  type: EventType;
  sequence: bigint;
  createdAt: Date;
  data: Record<string, unknown>;
}

/** The records an entry's events need: read before deriving (services/materialize.ts). */
export function factsWanted(
  entry: Pick<StreamEntry, 'postingKind' | 'refId'>,
): { kind: 'payment' | 'refund' | 'hold' | 'capture' | 'advance' | 'withdrawal'; id: string } | null {
  if (entry.refId === null) return null;
  switch (entry.postingKind) {
    case 'PAYMENT':
    case 'PAYMENT_CREDIT':
    case 'PAYMENT_LEG':
      return { kind: 'payment', id: entry.refId };
    case 'HOLD_CAPTURE':
      return { kind: 'capture', id: entry.refId };
    case 'REFUND':
    case 'REFUND_CREDIT':
    case 'REFUND_LEG':
      return { kind: 'refund', id: entry.refId };
    case 'HOLD_RELEASE':
      return { kind: 'hold', id: entry.refId };
    case 'ADVANCE':
      return { kind: 'advance', id: entry.refId };
    case 'WITHDRAWAL':
      return { kind: 'withdrawal', id: entry.refId };
    default:
      return null;
  }
}

/**
 * Whether the stream is one of the rows a payment names: its payer, its payee, or the row it credited (the payee, or
 * the merchant's stripe). A payment's and its refunds' events (their amounts, payer and payee) are told to those
 * streams alone: a split's recipient or a campaign's funder has an entry in the payer's posting when it is on the
 * payer's shard, and may not read the payment (the transaction subgraph's mayReadBetween), so it hears its own
 * balance change and nothing more, as it does when its leg posts on a shard of its own (PAYMENT_LEG).
 */
function ofParty(entry: StreamEntry, p: PaymentParties): boolean {
  return (
    entry.stripeId === p.payerAccountId || entry.stripeId === p.payeeAccountId || entry.stripeId === p.creditAccountId
  );
}

/**
 * A leg posted on a party's row (PAYMENT_LEG, REFUND_LEG) is the party's own when it moves as the party's leg does:
 * the payee's is credited by the payment and debited by a refund. A payee funding the payment's campaign from that same
 * row has a second leg posting there, the discount, moving the other way: without this, it was told the payment twice.
 */
function isPartysLeg(entry: StreamEntry): boolean {
  if (entry.postingKind === 'PAYMENT_LEG') return entry.direction === 'CREDIT';
  if (entry.postingKind === 'REFUND_LEG') return entry.direction === 'DEBIT';
  return true;
}

function paymentData(p: PaymentFacts): Record<string, unknown> {
  return {
    id: p.id,
    amount: formatAmount(p.amount),
    currency: p.currency,
    payerAccountId: p.payerAccountId,
    payeeAccountId: p.payeeAccountId,
  };
}

/** What a payout to a link says: the link by id (its display and identifier are not the stream's to carry). */
function payoutData(p: PayoutFacts): Record<string, unknown> {
  return {
    id: p.id,
    accountId: p.accountId,
    amount: formatAmount(p.amount),
    currency: p.currency,
    channel: p.channel,
    externalAccountId: p.externalAccountId,
  };
}

function holdData(h: HoldFacts): Record<string, unknown> {
  return { id: h.id, amount: formatAmount(h.amount), capturedAmount: formatAmount(h.capturedAmount) };
}

/**
 * The business event an entry finishes, 'wait' when its record has not settled yet (a
 * cross-shard payment between its debit and its completion: the stream waits at this entry, so
 * order holds), or null.
 */
function businessEvent(
  entry: StreamEntry,
  facts: Facts,
): { type: EventType; data: Record<string, unknown> } | 'wait' | null {
  if (!entry.firstOfPosting || entry.refId === null) return null;
  switch (entry.postingKind) {
    // PAYMENT_LEG: a payment of legs whose payee (or the stripe it credits) is on another shard than the payer: that
    // leg is the payee's posting, and may yet be reversed, so its stream waits while the payment is PROCESSING.
    case 'PAYMENT':
    case 'PAYMENT_LEG': {
      const payment = facts.payments.get(entry.refId);
      if (!payment || !ofParty(entry, payment) || !isPartysLeg(entry)) return null;
      if (payment.status === 'PROCESSING') return 'wait';
      return {
        type: payment.status === 'SUCCEEDED' ? 'payment.succeeded' : 'payment.failed',
        data: paymentData(payment),
      };
    }
    case 'PAYMENT_CREDIT': {
      // The payee's half landed: the payment succeeded for the payee whatever the payer's row reads yet.
      const payment = facts.payments.get(entry.refId);
      return payment && ofParty(entry, payment) ? { type: 'payment.succeeded', data: paymentData(payment) } : null;
    }
    case 'HOLD_CAPTURE': {
      const hold = facts.holdsByPayment.get(entry.refId);
      if (!hold) return null;
      // The payer's frozen money leaves: the capture. A payee on the same shard is credited: its payment.
      if (entry.bucket === 'FROZEN') return { type: 'hold.captured', data: holdData(hold) };
      const payment = facts.payments.get(entry.refId);
      return payment &&
        entry.direction === 'CREDIT' &&
        entry.stripeId !== payment.payerAccountId &&
        ofParty(entry, payment)
        ? { type: 'payment.succeeded', data: paymentData(payment) }
        : null;
    }
    case 'HOLD_RELEASE': {
      const hold = facts.holds.get(entry.refId);
      if (!hold) return null;
      return { type: hold.status === 'EXPIRED' ? 'hold.expired' : 'hold.voided', data: holdData(hold) };
    }
    case 'REFUND':
    case 'REFUND_CREDIT':
    case 'REFUND_LEG': {
      const refund = facts.refunds.get(entry.refId);
      if (!refund || !ofParty(entry, refund) || !isPartysLeg(entry)) return null;
      // A refund's leg on another shard (of a payment of legs) may yet be reversed, as its home posting may; one that
      // was (the refund FAILED) says its balance changes, and refund.failed comes from the refund's row.
      if (entry.postingKind !== 'REFUND_CREDIT' && refund.status === 'PROCESSING') return 'wait';
      if (entry.postingKind !== 'REFUND_CREDIT' && refund.status === 'FAILED') return null;
      return { type: 'refund.succeeded', data: refundData(refund) };
    }
    case 'ADVANCE':
      return advanceEvent(entry, facts.advances.get(entry.refId));
    case 'WITHDRAWAL': {
      // Only a withdrawal that named a linked account is a payout to a link (payoutFacts reads no other).
      const payout = facts.payouts.get(entry.refId);
      return payout ? { type: 'payout.succeeded', data: payoutData(payout) } : null;
    }
    default:
      return null;
  }
}

/**
 * advance.paid, once per advance: on the stream of its first piece's stripe, when the advance
 * is PAID. A piece posted while others are still under way waits (the advance may yet be
 * reversed); a reversed advance says nothing beyond its balance changes.
 */
function advanceEvent(
  entry: StreamEntry,
  advance: AdvanceFacts | undefined,
): { type: EventType; data: Record<string, unknown> } | 'wait' | null {
  if (!advance || entry.stripeId !== advance.firstStripeId) return null;
  if (advance.status === 'PENDING') return 'wait';
  if (advance.status === 'REVERSED') return null;
  return {
    type: 'advance.paid',
    data: {
      id: advance.id,
      merchantAccountId: advance.merchantAccountId,
      amount: formatAmount(advance.amount),
      feeAmount: formatAmount(advance.feeAmount),
    },
  };
}

export interface Derived {
  events: Event[];
  /** The last entry turned into events, and the balances right after it. */
  lastSequence: bigint;
  buckets: Buckets;
}

/**
 * Turns a stream's next entries into events, in order, stopping before an entry whose record
 * has not settled. `accountId` is the account events name (the merchant of a stripe).
 */
export function deriveEvents(
  accountId: string,
  start: { lastSequence: bigint; buckets: Buckets },
  entries: readonly StreamEntry[],
  facts: Facts,
): Derived {
  const buckets = { ...start.buckets };
  let lastSequence = start.lastSequence;
  const events: Event[] = [];
  for (const entry of entries) {
    if (entry.sequence !== lastSequence + 1n) break;
    const business = businessEvent(entry, facts);
    if (business === 'wait') break;
    if (entry.bucket === 'AVAILABLE') buckets.available += entry.amount;
    else if (entry.bucket === 'FROZEN') buckets.frozen += entry.amount;
    else buckets.pending += entry.amount;
    lastSequence = entry.sequence;
    events.push({
      type: 'balance.changed',
      sequence: entry.sequence,
      createdAt: entry.createdAt,
      data: {
        accountId,
        sequence: entry.sequence.toString(),
        cursor: encodeBalanceCursor({ accountId, sequences: new Map([[entry.stripeId, entry.sequence]]) }),
        entry: {
          id: entry.id,
          amount: formatAmount(entry.amount),
          direction: entry.direction,
          balanceAfter: formatAmount(entry.balanceAfter),
        },
        balance: {
          available: formatAmount(buckets.available),
          frozen: formatAmount(buckets.frozen),
          pending: formatAmount(buckets.pending),
          total: formatAmount(buckets.available + buckets.frozen + buckets.pending),
        },
      },
    });
    if (business !== null)
      events.push({ type: business.type, sequence: entry.sequence, createdAt: entry.createdAt, data: business.data });
  }
  return { events, lastSequence, buckets };
}

function refundData(r: RefundFacts): Record<string, unknown> {
  return { id: r.id, paymentId: r.paymentId, amount: formatAmount(r.amount) };
}

/**
 * A refund that failed, told to a stream after what it has queued so far (`sequence`: its
 * cursor then), at the instant the refund ended: no entry carries it (services/record-events.ts).
 */
export function refundFailedEvent(refund: FailedRefundFacts, sequence: bigint): Event {
  return { type: 'refund.failed', sequence, createdAt: refund.endedAt, data: refundData(refund) };
}

/**
 * A link verified, told to one stream of each endpoint following its owner's accounts, after what
 * that stream has queued (`sequence`: its cursor then), at the instant it was verified: no entry
 * carries it (services/link-events.ts). The owner is not in it: the stream's account names it.
 */
export function linkVerifiedEvent(link: VerifiedLinkFacts, accountId: string, sequence: bigint): Event {
  return {
    type: 'external_account.verified',
    sequence,
    createdAt: link.verifiedAt,
    data: {
      id: link.id,
      accountId,
      kind: link.kind,
      channel: link.channel,
      currency: link.currency,
      display: link.display,
      status: 'VERIFIED',
    },
  };
}

/** The body sent, the same bytes on every attempt: { type, timestamp, data }. */
export function eventBody(event: Event): string {
  return JSON.stringify({ type: event.type, timestamp: event.createdAt.toISOString(), data: event.data });
}
