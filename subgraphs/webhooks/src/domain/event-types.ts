/** The event types an endpoint may ask for (the contract's "Webhooks for partner integrations"). */
export const eventTypes = [
  'balance.changed',
  'payment.succeeded',
  'payment.failed',
  'refund.succeeded',
  'refund.failed',
  'hold.captured',
  'hold.voided',
  'hold.expired',
  'advance.paid',
  // A withdrawal that paid out to the owner's verified linked account (issue 48): its entry says it.
  'payout.succeeded',
  // A link its channel verified (issue 48): no entry carries it (services/link-events.ts).
  'external_account.verified',
] as const;
export type EventType = (typeof eventTypes)[number];

/**
 * The event of an entry itself. A stream sends an entry's events in one order: this one first,
 * then what the entry finished (a payment, a refund, an advance paid), so a partner has seen the
 * balance move before it hears why. Sorting by type name alone would put `advance.paid` first.
 */
export const entryEventType = 'balance.changed' satisfies EventType;

export function isEventType(value: string): value is EventType {
  return (eventTypes as readonly string[]).includes(value);
}
