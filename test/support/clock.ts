/**
 * A clock a test moves instead of waiting: the wall clock plus an offset the test advances. Time
 * still flows (a race across a deadline still races), but a deadline seconds away is reached at
 * once. Give its `now` to a stack (StackOptions.now) and to whatever the test calls directly that
 * the stack's subgraphs would call with their clock (expireDueHolds, say).
 */
export interface MovableClock {
  now(): Date;
  /** Moves the clock forward by `ms` (never back: a stack's readers assume time does not reverse). */
  advance(ms: number): void;
  /** Moves the clock forward to `at`, if it is not there already. */
  advanceTo(at: Date): void;
}

export function movableClock(): MovableClock {
  let offsetMs = 0;
  const now = (): Date => new Date(Date.now() + offsetMs);
  return {
    now,
    advance: (ms) => {
      if (!(ms >= 0)) throw new Error(`a movable clock only moves forward, got ${ms} ms`);
      offsetMs += ms;
    },
    advanceTo: (at) => {
      offsetMs += Math.max(0, at.getTime() - now().getTime());
    },
  };
}
