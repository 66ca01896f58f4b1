import { isIPv6 } from 'node:net';
import type { ScreenRefusal } from '@paygraph/shared/server/http';
import type { RefusalBudget } from '../config';
import { refusalAddressCountersMax } from '../limits';
import { MemoryRateLimiter, type Charge } from './rate-limit';

/**
 * A budget of refusals per client address. The rate limiter (rate-limit.ts) counts per principal, so a request
 * refused before it has one (no token; a bad, expired or unknown-role one; a document not trusted to a caller without
 * a token) counted nowhere, and one address could make the gateway read, parse and verify such requests without end.
 * Each such refusal takes one unit of its address's budget (refused, once the answer is known); once the address has
 * used it, the gateway answers its requests 429 RATE_LIMITED with Retry-After before their body is read or their
 * token verified (admit, the HTTP server's first step), until the sliding window frees room. Requests that are served,
 * or refused with a principal (FORBIDDEN, a rate or operation limit), take nothing, and answers of this throttle take
 * nothing either: a client that waits as told gets through.
 *
 * The client address is the socket's remote address. The gateway has no trusted-proxy setting, so X-Forwarded-For
 * (which any client may write) is never read: behind a proxy every client shares the proxy's address, and a proxy in
 * front should throttle by address itself. IPv6 addresses count per /64, which one host commonly holds whole (an
 * address of its own per connection would otherwise be free); IPv4 addresses, IPv4-mapped ones included, one each.
 *
 * Per gateway process, in memory (MemoryRateLimiter's counters and sliding window, an lru-cache bounded to
 * addressCountersMax): these are cheap refusals, and a Redis round trip for each would cost what they save.
 */
export interface RefusalThrottleOptions extends RefusalBudget {
  /** Addresses counted at most; past it the least recently used are forgotten (refusalAddressCountersMax). */
  addressCountersMax?: number;
}

/** The bucket name the throttle's answers carry; its limiter is its own, so its counters never meet a principal's. */
export const refusalsBucket = 'refusals';

export class RefusalThrottle {
  private readonly limiter: MemoryRateLimiter;
  private readonly charge: Charge;

  constructor(private readonly budget: RefusalThrottleOptions) {
    this.limiter = new MemoryRateLimiter(budget.windowMs, budget.addressCountersMax ?? refusalAddressCountersMax);
    this.charge = { bucket: 'other', weight: 1, limit: budget.perAddressMax };
  }

  /** Null lets the request in; a refusal (429, Retry-After) when its address has used its budget of refusals. */
  admit(address: string | undefined, nowMs: number = Date.now()): ScreenRefusal | null {
    const key = addressKeyOf(address);
    if (key === null) return null;
    const fit = this.limiter.fitsNow(key, this.charge, nowMs);
    // retryAfterMs is null only for a weight over the budget, which one unit of a budget ≥ 1 never is.
    return fit.fits ? null : this.refusal(fit.retryAfterMs ?? this.budget.windowMs);
  }

  /** A request from this address was refused before it had a principal: one unit of the address's budget. */
  refused(address: string | null | undefined, nowMs: number = Date.now()): void {
    const key = addressKeyOf(address ?? undefined);
    // A unit that no longer fits (requests admitted together) is not counted: the address is refused already.
    if (key !== null) this.limiter.takeNow(key, [this.charge], nowMs);
  }

  /** Addresses counted now, for tests of the bound. */
  size(): number {
    return this.limiter.size();
  }

  /** RATE_LIMITED in the security plugin's shape (gateway-security.ts rateLimited), with bucket `refusals`. */
  private refusal(retryAfterMs: number): ScreenRefusal {
    const retryAfterSeconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
    const { perAddressMax, windowMs } = this.budget;
    const message =
      `too many refused requests from this address: at most ${perAddressMax} per ${windowMs / 1000} s; ` +
      `retry after ${retryAfterSeconds} s`;
    return {
      status: 429,
      headers: { 'retry-after': String(retryAfterSeconds) },
      body: { errors: [{ message, extensions: { code: 'RATE_LIMITED', bucket: refusalsBucket, retryAfterSeconds } }] },
    };
  }
}

/**
 * The key an address is counted under: an IPv4 address as it is (an IPv4-mapped IPv6 one as its IPv4 address), an
 * IPv6 address by its /64 prefix; null without an address (a socket already gone), which is not counted.
 */
export function addressKeyOf(address: string | undefined): string | null {
  if (address === undefined || address === '') return null;
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (!isIPv6(address)) return address;
  return `${ipv6Groups(address).slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of an IPv6 address, in hex without leading zeros (`::` expanded, a zone id dropped). */
function ipv6Groups(address: string): string[] {
  const bare = address.split('%')[0]!;
  const [head = '', tail] = bare.split('::');
  const groupsOf = (part: string): string[] =>
    part === '' ? [] : part.split(':').flatMap((group) => (group.includes('.') ? ['ipv4', 'ipv4'] : [group]));
  const left = groupsOf(head);
  const right = tail === undefined ? [] : groupsOf(tail);
  const zeros = Array.from({ length: 8 - left.length - right.length }, () => '0');
  return [...left, ...zeros, ...right].map((group) =>
    group === 'ipv4' ? group : Number.parseInt(group, 16).toString(16),
  );
}
