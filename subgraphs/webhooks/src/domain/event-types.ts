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
] as const;
export type EventType = (typeof eventTypes)[number];

export function isEventType(value: string): value is EventType {
  return (eventTypes as readonly string[]).includes(value);
}
