/**
 * A completion that cannot land now: a reversal or a refund's credit back to the payer, which
 * BALANCE_LIMIT refused because the payer's balance filled up (other credits) after the first
 * half took the money. It is not final, unlike a refused request: thrown from finish, so the
 * whole transaction rolls back — the outbox row stays PENDING and the refusal is not kept
 * under the posting's dedupe key — and the money waits in clearing, counted as in flight,
 * until the relay tries again (every relayLeaseMs) and the payer's balance has room. It cannot
 * go anywhere else: it is the payer's money (never left it, or the payee gave it back).
 */
export class CompletionWaits extends Error {
  constructor(
    readonly movementId: string,
    readonly accountId: string,
  ) {
    super(
      `${movementId}: the payer's balance (${accountId}) cannot take the money back yet (BALANCE_LIMIT); it waits in clearing`,
    );
    this.name = 'CompletionWaits';
  }
}
