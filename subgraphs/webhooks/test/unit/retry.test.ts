import { describe, expect, it } from 'vitest';
import { failingTooLong, nextAttempt, outcomeOfStatus } from '../../src/domain/retry';
import { dispatcherSettingsDefault } from '../../src/config';

/**
 * The retry schedule with the contract's defaults: first retry within 10 s, growing, for at least a day, then FAILED.
 */
describe('webhook retries', () => {
  const schedule = dispatcherSettingsDefault.retry;
  const start = new Date('2026-11-22T00:00:00Z');

  it('retry first within 10 s, then exponentially (with jitter) up to the cap', () => {
    for (const draw of [0, 0.5, 0.999]) {
      const first = nextAttempt(schedule, 1, start, start, draw);
      expect(first.kind).toBe('retry');
      const delay = (first as { at: Date }).at.getTime() - start.getTime();
      expect(delay).toBeGreaterThan(0);
      expect(delay).toBeLessThanOrEqual(10_000);
    }
    const ceilings = [1, 2, 3, 4, 5, 20].map(
      (n) => (nextAttempt(schedule, n, start, start, 0.999) as { at: Date }).at.getTime() - start.getTime(),
    );
    expect(ceilings.slice(0, 5)).toEqual([...ceilings.slice(0, 5)].sort((a, b) => a - b));
    expect(ceilings[4]!).toBeGreaterThan(ceilings[0]! * 10);
    expect(ceilings[5]!).toBeLessThanOrEqual(schedule.delayMsMax);
  });

  it('keep retrying for at least 24 hours, then give up', () => {
    // The longest a schedule can take: every draw at its ceiling, attempts one after another.
    let now = start;
    let attempts = 1;
    for (;;) {
      const decision = nextAttempt(schedule, attempts, start, now, 0.999);
      if (decision.kind === 'give-up') break;
      now = decision.at;
      attempts += 1;
    }
    expect(now.getTime() - start.getTime()).toBeGreaterThanOrEqual(24 * 3_600_000);
    expect(nextAttempt(schedule, attempts, start, new Date(start.getTime() + schedule.windowMs), 0).kind).toBe(
      'give-up',
    );
  });

  it('treat 2xx as delivered, 410 as gone, anything else as a failure', () => {
    expect(outcomeOfStatus(200).kind).toBe('delivered');
    expect(outcomeOfStatus(299).kind).toBe('delivered');
    expect(outcomeOfStatus(410).kind).toBe('gone');
    for (const status of [301, 302, 400, 404, 429, 500, 503])
      expect(outcomeOfStatus(status).kind, String(status)).toBe('failed');
  });

  it('disable an endpoint failing for a day', () => {
    const day = 24 * 3_600_000;
    expect(failingTooLong(null, start, day)).toBe(false);
    expect(failingTooLong(start, new Date(start.getTime() + day - 1), day)).toBe(false);
    expect(failingTooLong(start, new Date(start.getTime() + day), day)).toBe(true);
  });
});
