import { describe, expect, it } from 'vitest';
import { RefusalThrottle, addressKeyOf } from '../src/security/refusal-throttle';

/**
 * The budget of refusals per client address, without a gateway: its bound on the addresses it counts (an attacker
 * rotating addresses cannot grow it), its window, and the keys addresses are counted under. The gateway's answers are
 * in address-refusals.test.ts.
 */
describe('the refusal throttle', () => {
  it('keeps at most addressCountersMax addresses, forgetting the least recently refused', () => {
    const throttle = new RefusalThrottle({ perAddressMax: 1, windowMs: 60_000, addressCountersMax: 10 });
    for (let i = 0; i < 1_000; i++) throttle.refused(`10.0.${Math.floor(i / 256)}.${i % 256}`, 1_000);
    expect(throttle.size()).toBe(10);
    // The last address refused is still counted (its one refusal used); the first was forgotten and starts afresh.
    expect(throttle.admit('10.0.3.231', 1_000)?.status).toBe(429);
    expect(throttle.admit('10.0.0.0', 1_000)).toBeNull();
  });

  it('keeps no counter for an address it only admits', () => {
    const throttle = new RefusalThrottle({ perAddressMax: 2, windowMs: 60_000, addressCountersMax: 10 });
    for (let i = 0; i < 100; i++) expect(throttle.admit(`192.0.2.${i}`, 1_000)).toBeNull();
    expect(throttle.size()).toBe(0);
  });

  it('refuses an address once it has used its budget, says when to retry, and admits it then', () => {
    const throttle = new RefusalThrottle({ perAddressMax: 2, windowMs: 10_000 });
    throttle.refused('192.0.2.1', 20_000);
    expect(throttle.admit('192.0.2.1', 20_000)).toBeNull();
    throttle.refused('192.0.2.1', 20_000);
    const refusal = throttle.admit('192.0.2.1', 20_000);
    // Both refusals in this window: the next fits once half of the next window has gone.
    expect(refusal).toEqual({
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
    expect(throttle.admit('192.0.2.2', 20_000)).toBeNull();
    expect(throttle.admit('192.0.2.1', 34_999)?.status).toBe(429);
    expect(throttle.admit('192.0.2.1', 35_000)).toBeNull();
    // A refusal past the budget (of requests admitted together) is not counted: it would push the retry further.
    throttle.refused('192.0.2.1', 20_000);
    expect(throttle.admit('192.0.2.1', 35_000)).toBeNull();
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
    const throttle = new RefusalThrottle({ perAddressMax: 1, windowMs: 60_000 });
    throttle.refused('2001:db8:1:2::1', 1_000);
    expect(throttle.admit('2001:db8:1:2::ffff', 1_000)?.status).toBe(429);
    expect(throttle.admit('2001:db8:1:3::1', 1_000)).toBeNull();
  });
});
