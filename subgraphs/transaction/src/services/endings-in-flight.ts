import { assert } from '@paygraph/shared/result';
import type { Logger } from '@paygraph/shared/log';

/**
 * The endings this process is still writing for cross-shard payments it has already answered
 * (docs/PAYMENTS.md, "Answered once the credit lands"). A two-leg cross-shard payment is decided
 * when its credit posts on the payee's shard: its ending on the payer's shard (status SUCCEEDED,
 * the outbox row taken) follows and cannot change the outcome, so the request answers without
 * waiting for it, one merged step sooner. Until the ending commits, the payment's row still
 * reads PROCESSING; this process's own reads of it (a payment by id, an account's payments, a
 * refund of it) wait here for its ending first, so a client that reads back what it was
 * answered sees it. An ending that fails is left to the relay (outboxInlineGraceMs), as a
 * request's inline completion always was.
 *
 * Bounded (endingsInFlightMax): when full, the next ending is awaited by its request, as before.
 */
export class EndingsInFlight {
  private readonly pending = new Map<string, Promise<void>>();

  constructor(
    private readonly max: number,
    private readonly log: Logger,
  ) {
    assert(max > 0, 'endingsInFlightMax is positive');
  }

  /** Whether one more ending may be left running after its request answers. */
  hasRoom(): boolean {
    return this.pending.size < this.max;
  }

  /** Runs the ending of `paymentId` and keeps it until it settles; its failure is logged, never thrown to a reader. */
  run(paymentId: string, end: () => Promise<unknown>): void {
    assert(this.hasRoom(), 'an ending was left running past endingsInFlightMax');
    const settled = this.started(end).then(
      () => undefined,
      (error: unknown) => {
        this.log.error(
          { err: error },
          `payment ${paymentId}: its ending failed after its answer, the relay will end it`,
        );
      },
    );
    // A second ending of one payment (a replay beside its request) is kept with the first: readers and the drain wait
    // for both, and whichever took the outbox row has committed by then.
    const earlier = this.pending.get(paymentId);
    const both = earlier ? Promise.all([earlier, settled]).then(() => undefined) : settled;
    const kept = both.finally(() => {
      if (this.pending.get(paymentId) === kept) this.pending.delete(paymentId);
    });
    this.pending.set(paymentId, kept);
  }

  /** How an ending starts: at once. A test holds it here to read and refund a payment whose ending has not run. */
  protected started(end: () => Promise<unknown>): Promise<unknown> {
    return end();
  }

  /** Whether this process is still ending any of these payments. */
  anyOf(paymentIds: readonly string[]): boolean {
    return paymentIds.some((id) => this.pending.has(id));
  }

  /** Resolves once none of these payments' endings is still running here. */
  async settled(paymentIds: readonly string[]): Promise<void> {
    const running = paymentIds.flatMap((id) => {
      const ending = this.pending.get(id);
      return ending ? [ending] : [];
    });
    if (running.length > 0) await Promise.all(running);
  }

  /** Shutdown: every ending still running, before the shard pools close. */
  async drain(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending.values()]);
  }

  get size(): number {
    return this.pending.size;
  }
}
