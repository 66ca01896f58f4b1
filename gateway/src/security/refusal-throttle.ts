import { isIPv6 } from 'node:net';
import type { ScreenRefusal } from '@paygraph/shared/server/http';
import type { RefusalBudget } from '../config';
import { refusalAddressCountersMax } from '../limits';
import { MemoryRateLimiter, type Charge } from './rate-limit';

/**
 * A budget of refusals per client address. The rate limiter (rate-limit.ts) counts per principal, so a request
 * refused before it has one (no token; a bad, expired or unknown-role one; a document not trusted to a caller without
 * a token) counted nowhere, and one address could make the gateway read, parse and verify such requests without end.
 * Each such refusal takes one unit of its address's budget, and each request let in holds one while in flight (admit,
 * the HTTP server's first step, before the body is read or the token verified; settle gives it back once the request
 * is answered, unless it was such a refusal), so that requests sent together or trickled slowly cannot all get in
 * before any is answered. Once the address's refusals and requests in flight fill the budget, the gateway answers its
 * requests 429 RATE_LIMITED with Retry-After, unread, until the sliding window frees room. Requests that are served,
 * or refused with a principal (FORBIDDEN, a rate or operation limit), take nothing, and answers of this throttle take
 * nothing either: a client that waits as told gets through. Which requests are let in regardless (a token verified
 * already) and which answers count is refusal-admission.ts's. A budget of 0 turns the throttle off.
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
  /** The clock, in ms since the epoch: a test moves it past the window instead of waiting it out. */
  now?: () => number;
}

/** The bucket name the throttle's answers carry; its limiter is its own, so its counters never meet a principal's. */
export const refusalsBucket = 'refusals';

/**
 * A request let in by the throttle. It holds one unit of its address's budget while in flight, so that requests sent
 * together, or bodies trickled slowly, cannot all get in before any is answered; settle gives the unit back, and
 * counts it as a refusal when the request was refused without a principal. Called once; later calls do nothing.
 */
export interface RefusalEntry {
  settle(refused: boolean): void;
}

/** What admit answers: the throttle's refusal, sent at once, or the request let in. */
export type RefusalAdmission = { refusal: ScreenRefusal } | { refusal: null; entry: RefusalEntry };

/** The entry of an address the throttle does not count (none known, or the throttle off). */
const uncounted: RefusalEntry = { settle: () => {} };

export class RefusalThrottle {
  private readonly limiter: MemoryRateLimiter;
  /** Requests admitted and not yet settled, per address key; a key leaves at 0, so idle addresses cost nothing. */
  private readonly inFlight = new Map<string, number>();
  private readonly now: () => number;

  constructor(private readonly budget: RefusalThrottleOptions) {
    this.limiter = new MemoryRateLimiter(budget.windowMs, budget.addressCountersMax ?? refusalAddressCountersMax);
    this.now = budget.now ?? (() => Date.now());
  }

  /**
   * The throttle's refusal (429, Retry-After) when the address's refusals in the window and its requests in flight
   * fill its budget; else the request is let in, holding one unit until settled. A budget of 0 turns the throttle off.
   */
  admit(address: string | undefined): RefusalAdmission {
    const key = addressKeyOf(address);
    if (key === null || this.budget.perAddressMax === 0) return { refusal: null, entry: uncounted };
    const held = this.inFlight.get(key) ?? 0;
    const fit = this.limiter.fitsNow(key, this.chargeOf(held + 1), this.now());
    // No retry time when the requests in flight alone fill the budget: they end within seconds.
    if (!fit.fits) return { refusal: this.refusal(fit.retryAfterMs ?? 1000) };
    this.inFlight.set(key, held + 1);
    let settled = false;
    const settle = (refused: boolean): void => {
      if (settled) return;
      settled = true;
      const left = (this.inFlight.get(key) ?? 1) - 1;
      if (left > 0) this.inFlight.set(key, left);
      else this.inFlight.delete(key);
      if (refused) this.refusedKey(key);
    };
    return { refusal: null, entry: { settle } };
  }

  /** Whether admit would refuse the address now, changing nothing (a 100 Continue withheld, server.ts). */
  refusesNow(address: string | undefined): boolean {
    const key = addressKeyOf(address);
    if (key === null || this.budget.perAddressMax === 0) return false;
    return !this.limiter.fitsNow(key, this.chargeOf((this.inFlight.get(key) ?? 0) + 1), this.now()).fits;
  }

  /** A request from this address was refused before it had a principal: one unit of the address's budget. */
  refused(address: string | null | undefined): void {
    const key = addressKeyOf(address ?? undefined);
    if (key !== null && this.budget.perAddressMax > 0) this.refusedKey(key);
  }

  /** Addresses counted now, for tests of the bound. */
  size(): number {
    return this.limiter.size();
  }

  /** Addresses with requests in flight now, for tests that every entry is settled. */
  inFlightAddresses(): number {
    return this.inFlight.size;
  }

  private refusedKey(key: string): void {
    // A unit that no longer fits (requests admitted before the budget was used) is not counted: the address is
    // refused already, and counting it would only push its retry further.
    this.limiter.takeNow(key, [this.chargeOf(1)], this.now());
  }

  private chargeOf(weight: number): Charge {
    return { bucket: 'other', weight, limit: this.budget.perAddressMax };
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
