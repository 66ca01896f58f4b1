/**
 * When a failed delivery is tried again: exponential backoff with full jitter. The n-th retry
 * (n = 1 after the first failure) waits a random time up to firstDelayMs × 2^(n−1), capped at
 * delayMsMax, so the first retry comes within firstDelayMs (≤ 10 s) and retries of many
 * deliveries failing together spread out instead of arriving at once. A delivery is retried
 * until windowMs has passed since its first attempt, then FAILED. The random draw is passed in
 * (a number in [0, 1)): no randomness here.
 */
export interface RetrySchedule {
  firstDelayMs: number;
  delayMsMax: number;
  windowMs: number;
}

export type RetryDecision = { kind: 'retry'; at: Date } | { kind: 'give-up' };

export function nextAttempt(
  schedule: RetrySchedule,
  attempts: number,
  firstAttemptAt: Date,
  now: Date,
  draw: number,
): RetryDecision {
  if (now.getTime() - firstAttemptAt.getTime() >= schedule.windowMs) return { kind: 'give-up' };
  const exponent = Math.min(Math.max(attempts - 1, 0), 30);
  const ceiling = Math.min(schedule.delayMsMax, schedule.firstDelayMs * 2 ** exponent);
  // Never sooner than a tenth of the ceiling, so that a receiver is not hammered by a draw near 0.
  const delay = Math.max(1, Math.round(ceiling * (0.1 + 0.9 * draw)));
  return { kind: 'retry', at: new Date(now.getTime() + delay) };
}

/** Whether an answer ends the delivery: 2xx succeeds; 410 Gone disables the endpoint; anything else retries. */
export type AttemptOutcome =
  | { kind: 'delivered'; statusCode: number }
  | { kind: 'gone'; statusCode: 410 }
  | { kind: 'failed'; statusCode: number | null; error: string };

export function outcomeOfStatus(statusCode: number): AttemptOutcome {
  if (statusCode >= 200 && statusCode < 300) return { kind: 'delivered', statusCode };
  if (statusCode === 410) return { kind: 'gone', statusCode: 410 };
  return { kind: 'failed', statusCode, error: `HTTP ${statusCode}` };
}

/** An endpoint failing since `since` is disabled once it has failed for disableAfterMs. */
export function failingTooLong(since: Date | null, now: Date, disableAfterMs: number): boolean {
  return since !== null && now.getTime() - since.getTime() >= disableAfterMs;
}
