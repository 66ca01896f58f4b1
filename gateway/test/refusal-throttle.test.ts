import { describe, expect, it } from 'vitest';
import { RefusalThrottle, addressKeyOf, type RefusalAdmission } from '../src/security/refusal-throttle';

/**
 * The budget of refusals per client address, without a gateway: its bound on the addresses it counts (an attacker
 * rotating addresses cannot grow it), its window, its requests in flight, and the keys addresses are counted under.
 * The gateway's answers are in address-refusals.test.ts.
 */

/** A throttle on a clock the test moves. */
function throttleAt(startMs: number, perAddressMax: number, windowMs: number, addressCountersMax?: number) {
  const clock = { ms: startMs };
  const throttle = new RefusalThrottle({
    perAddressMax,
    windowMs,
    now: () => clock.ms,
    ...(addressCountersMax === undefined ? {} : { addressCountersMax }),
  });
  return { throttle, clock };
}

/** The status admit answers: 429, or 0 for a request let in (then settled at once as `refused`, when given). */
function statusOf(admission: RefusalAdmission, refused?: boolean): number {
  if (admission.refusal !== null) return admission.refusal.status;
  if (refused !== undefined) admission.entry.settle(refused);
  return 0;
}

describe('the refusal throttle', () => {
  it('keeps at most addressCountersMax addresses, forgetting the least recently refused', () => {
    const { throttle } = throttleAt(1_000, 1, 60_000, 10);
    for (let i = 0; i < 1_000; i++) throttle.refused(`10.0.${Math.floor(i / 256)}.${i % 256}`);
    expect(throttle.size()).toBe(10);
    // The last address refused is still counted (its one refusal used); the first was forgotten and starts afresh.
    expect(statusOf(throttle.admit('10.0.3.231'))).toBe(429);
    expect(statusOf(throttle.admit('10.0.0.0'), false)).toBe(0);
  });

  it('keeps no counter for an address whose requests are served', () => {
    const { throttle } = throttleAt(1_000, 2, 60_000, 10);
    for (let i = 0; i < 100; i++) expect(statusOf(throttle.admit(`192.0.2.${i}`), false)).toBe(0);
    expect(throttle.size()).toBe(0);
    expect(throttle.inFlightAddresses()).toBe(0);
  });

  it('refuses an address once it has used its budget, says when to retry, and admits it then', () => {
    const { throttle, clock } = throttleAt(20_000, 2, 10_000);
    expect(statusOf(throttle.admit('192.0.2.1'), true)).toBe(0);
    expect(statusOf(throttle.admit('192.0.2.1'), true)).toBe(0);
    const refused = throttle.admit('192.0.2.1');
    // Both refusals in this window: the next fits once half of the next window has gone.
    expect(refused.refusal).toEqual({
      status: 429,
      headers: { 'retry-after': '15' },
      body: {
        errors: [
          {
            message: 'too many refused requests from this address: at most 2 per 10 s; retry after 15 s',
            extensions: { code: 'RATE_LIMITED', bucket: 'refusals', retryAfterSeconds: 15 },
          },
        ],
      },
    });
    expect(throttle.refusesNow('192.0.2.1')).toBe(true);
    expect(statusOf(throttle.admit('192.0.2.2'), false)).toBe(0);
    clock.ms = 34_999;
    expect(statusOf(throttle.admit('192.0.2.1'))).toBe(429);
    clock.ms = 35_000;
    expect(throttle.refusesNow('192.0.2.1')).toBe(false);
    expect(statusOf(throttle.admit('192.0.2.1'), false)).toBe(0);
  });

  it('counts requests in flight against the budget, and gives their unit back when they are served', () => {
    const { throttle } = throttleAt(1_000, 3, 60_000);
    const entries = [throttle.admit('192.0.2.1'), throttle.admit('192.0.2.1'), throttle.admit('192.0.2.1')];
    // Three in flight fill a budget of three: a fourth sent meanwhile is refused unread.
    expect(statusOf(throttle.admit('192.0.2.1'))).toBe(429);
    for (const admission of entries) expect(admission.refusal).toBeNull();
    // Served: the unit comes back; settling again changes nothing.
    statusOf(entries[0]!, false);
    statusOf(entries[0]!, true);
    expect(throttle.size()).toBe(0);
    const fourth = throttle.admit('192.0.2.1');
    expect(fourth.refusal).toBeNull();
    // Refused without a principal: the unit stays, as a refusal in the window.
    statusOf(entries[1]!, true);
    statusOf(entries[2]!, false);
    statusOf(fourth, false);
    expect(throttle.inFlightAddresses()).toBe(0);
    expect(statusOf(throttle.admit('192.0.2.1'), false)).toBe(0);
    expect(statusOf(throttle.admit('192.0.2.1'), true)).toBe(0);
    expect(statusOf(throttle.admit('192.0.2.1'), true)).toBe(0);
    expect(statusOf(throttle.admit('192.0.2.1'))).toBe(429);
  });

  it('is off with a budget of 0: admits everything and counts nothing', () => {
    const { throttle } = throttleAt(1_000, 0, 60_000);
    for (let i = 0; i < 50; i++) {
      expect(statusOf(throttle.admit('192.0.2.1'), true)).toBe(0);
      throttle.refused('192.0.2.1');
    }
    expect(throttle.refusesNow('192.0.2.1')).toBe(false);
    expect(throttle.size()).toBe(0);
    expect(throttle.inFlightAddresses()).toBe(0);
  });

  it('counts an IPv4 address as itself, IPv4-mapped or not, and an IPv6 address by its /64', () => {
    expect(addressKeyOf('127.0.0.2')).toBe('127.0.0.2');
    expect(addressKeyOf('::ffff:127.0.0.2')).toBe('127.0.0.2');
    expect(addressKeyOf('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(addressKeyOf('2001:0db8:0001:0002:bbbb:cccc:dddd:eeee')).toBe('2001:db8:1:2::/64');
    expect(addressKeyOf('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKeyOf('::1')).toBe('0:0:0:0::/64');
    expect(addressKeyOf('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(addressKeyOf(undefined)).toBeNull();
    const { throttle } = throttleAt(1_000, 1, 60_000);
    throttle.refused('2001:db8:1:2::1');
    expect(statusOf(throttle.admit('2001:db8:1:2::ffff'))).toBe(429);
    expect(statusOf(throttle.admit('2001:db8:1:3::1'), false)).toBe(0);
  });
});
