import { err, ok, type Result } from '@paygraph/shared/result';
import type { MoneyErrorOf } from './errors';

/**
 * The pure rules of a hold's life: HELD, then exactly one of CAPTURED, VOIDED or EXPIRED.
 * Every ending is decided here against the hold row as read under its lock, with the clock
 * passed in, so a capture, a void and an expiry racing for one hold are decided one after the
 * other and only the first finds it HELD.
 */
export type HoldStatus = 'HELD' | 'CAPTURED' | 'VOIDED' | 'EXPIRED';

export interface HoldState {
  id: string;
  status: HoldStatus;
  amount: bigint;
  expiresAt: Date;
  endedBy: string | null;
}

/**
 * The status a reader sees: a HELD hold past its deadline reads EXPIRED at once, before the
 * worker has released its money, because nothing can capture or void it any more.
 */
export function holdStatusAt(hold: Pick<HoldState, 'status' | 'expiresAt'>, now: Date): HoldStatus {
  return hold.status === 'HELD' && now.getTime() >= hold.expiresAt.getTime() ? 'EXPIRED' : hold.status;
}

/** The deadline of a hold made at `now` that lives `ttlSeconds`. */
export function holdExpiresAt(now: Date, ttlSeconds: number): Date {
  return new Date(now.getTime() + ttlSeconds * 1000);
}

/**
 * What an ending request meets: its own earlier success (a replay with the same key: answer
 * it again), a hold still HELD before its deadline (go on), or anything else (HOLD_NOT_ACTIVE).
 */
export type EndingDecision =
  { kind: 'proceed' } | { kind: 'replayed' } | { kind: 'refused'; error: MoneyErrorOf<'HoldNotActive'> };

function decideEnding(hold: HoldState, endingId: string, now: Date): EndingDecision {
  if (hold.endedBy === endingId) return { kind: 'replayed' };
  const status = holdStatusAt(hold, now);
  if (status !== 'HELD') return { kind: 'refused', error: { kind: 'HoldNotActive', holdId: hold.id, status } };
  return { kind: 'proceed' };
}

/** A capture of `amount` (the whole hold when null) by the payment `paymentId`. */
export function decideCapture(
  hold: HoldState,
  paymentId: string,
  amount: bigint | null,
  now: Date,
): Result<{ decision: EndingDecision; amount: bigint }, MoneyErrorOf<'CaptureExceedsHold'>> {
  const captured = amount ?? hold.amount;
  const decision = decideEnding(hold, paymentId, now);
  if (decision.kind === 'proceed' && captured > hold.amount)
    return err({ kind: 'CaptureExceedsHold', holdId: hold.id, held: hold.amount });
  return ok({ decision, amount: captured });
}

/**
 * What a void meets: an ending's decision, or a hold still HELD past its deadline (`overdue`). That hold reads
 * EXPIRED and nothing but a release may end it, yet its money stays frozen until the expiry worker comes, which a
 * backlog of due holds can put off for long: the void releases it then as the worker would (EXPIRED, under the
 * same lock and release key, so once), and answers what a void past the deadline always answered, HOLD_NOT_ACTIVE
 * with status EXPIRED. Not the Hold: a client reads a Hold from voidHold as its void done, and the answer would
 * then hang on whether the worker came first, which the client cannot see; either way the money is back.
 */
export type VoidDecision = EndingDecision | { kind: 'overdue'; error: MoneyErrorOf<'HoldNotActive'> };

/** A void by the releasing posting `releaseId`. */
export function decideVoid(hold: HoldState, releaseId: string, now: Date): VoidDecision {
  const decision = decideEnding(hold, releaseId, now);
  if (decision.kind === 'refused' && decideExpiry(hold, now).kind === 'proceed')
    return { kind: 'overdue', error: decision.error };
  return decision;
}

/** The expiry worker releases a hold only when it is still HELD and its deadline has passed. */
export function decideExpiry(hold: HoldState, now: Date): EndingDecision {
  if (hold.status === 'HELD' && now.getTime() >= hold.expiresAt.getTime()) return { kind: 'proceed' };
  return { kind: 'refused', error: { kind: 'HoldNotActive', holdId: hold.id, status: hold.status } };
}
