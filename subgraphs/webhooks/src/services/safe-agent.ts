import { Resolver as DnsResolver, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { LRUCache } from 'lru-cache';
import { Agent, buildConnector } from 'undici';
import { addressRule, describeRefusal, type DestinationPolicy } from './destination';
import { dnsCacheEntriesMax, dnsFailureTtlMs, dnsTimeoutMs, dnsTriesMax, dnsTtlMsMax, dnsTtlMsMin } from '../limits';

/**
 * The dispatcher's HTTP agent: every connection it opens goes to an address the destination
 * policy allows, judged on the address actually connected to. A host name is resolved by the
 * agent's own lookup, which refuses the name when any address in the answer is refused — so a
 * DNS answer that changes after registration (rebinding) cannot reach a private address — and an
 * IP literal is judged before the socket is made. Nothing is sent to a refused address: the
 * connection is never opened. Redirects are never followed (undici's request does not).
 * A refusal names the rule that refused, never the address a name resolved to (it may be internal).
 */
export type Resolver = (hostname: string) => Promise<LookupAddress[]>;

/** 'localhost' is this machine by definition (RFC 6761): a DNS server is not asked what it means. */
const localhostAddresses: LookupAddress[] = [
  { address: '127.0.0.1', family: 4 },
  { address: '::1', family: 6 },
];

type Cached =
  { addresses: LookupAddress[]; error: null; expiresAt: number } | { addresses: null; error: Error; expiresAt: number };

/**
 * Receivers' names resolved by c-ares (node:dns's Resolver: its own sockets, not dns.lookup on
 * libuv's four shared threads, which one hostile name that never answers would hold for every
 * other connection of the process), A and AAAA together, each query bounded by dnsTimeoutMs
 * however c-ares retries; answers cached for their TTL (within [dnsTtlMsMin, dnsTtlMsMax]),
 * failures for dnsFailureTtlMs, in a cache of dnsCacheEntriesMax names. /etc/hosts is not read:
 * a receiver is on the internet, and 'localhost' is answered here.
 */
export function createDnsResolver(options: { servers?: string[]; now?: () => number } = {}): Resolver {
  const now = options.now ?? Date.now;
  const dns = new DnsResolver({ timeout: Math.floor(dnsTimeoutMs / dnsTriesMax), tries: dnsTriesMax });
  // The system's name servers (resolv.conf) unless a test names its own.
  if (options.servers) dns.setServers(options.servers);
  const cache = new LRUCache<string, Cached>({ max: dnsCacheEntriesMax });
  const query = (family: 4 | 6, hostname: string) =>
    new Promise<Array<{ address: string; ttl: number }>>((resolve, reject) => {
      const done = (error: NodeJS.ErrnoException | null, records: Array<{ address: string; ttl: number }>) =>
        error ? reject(error) : resolve(records);
      if (family === 4) dns.resolve4(hostname, { ttl: true }, done);
      else dns.resolve6(hostname, { ttl: true }, done);
    });
  const bounded = <T>(work: Promise<T>, hostname: string) => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(Object.assign(new Error(`resolving ${hostname} took over ${dnsTimeoutMs} ms`), { code: 'ETIMEOUT' })),
        dnsTimeoutMs,
      );
    });
    return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
  };
  return async (hostname) => {
    const name = hostname.toLowerCase();
    if (name === 'localhost') return localhostAddresses;
    const cached = cache.get(name);
    if (cached && cached.expiresAt > now()) {
      if (cached.error) throw cached.error;
      return cached.addresses;
    }
    const [v4, v6] = await Promise.allSettled([bounded(query(4, name), name), bounded(query(6, name), name)]);
    const records = [...(v4.status === 'fulfilled' ? v4.value : []), ...(v6.status === 'fulfilled' ? v6.value : [])];
    if (records.length === 0) {
      const reason = v4.status === 'rejected' ? v4.reason : v6.status === 'rejected' ? v6.reason : null;
      const error =
        reason instanceof Error ? reason : Object.assign(new Error(`${name} has no address`), { code: 'ENOTFOUND' });
      cache.set(name, { addresses: null, error, expiresAt: now() + dnsFailureTtlMs });
      throw error;
    }
    const ttlMs = Math.min(dnsTtlMsMax, Math.max(dnsTtlMsMin, Math.min(...records.map((r) => r.ttl)) * 1000));
    const addresses = records.map((r) => ({ address: r.address, family: isIP(r.address) }));
    cache.set(name, { addresses, error: null, expiresAt: now() + ttlMs });
    return addresses;
  };
}

export class DestinationRefused extends Error {
  override name = 'DestinationRefused';
}

function guardedLookup(policy: DestinationPolicy, resolver: Resolver): LookupFunction {
  return (hostname, options, callback) => {
    resolver(hostname).then(
      (addresses) => {
        const refused = addresses.map((a) => addressRule(a.address, policy)).find((r) => r !== null);
        if (addresses.length === 0) return callback(new DestinationRefused('destination has no address'), '', 0);
        if (refused)
          return callback(new DestinationRefused(`destination resolves to ${describeRefusal(refused)}`), '', 0);
        const wanted =
          options.family === 4 || options.family === 6
            ? addresses.filter((a) => a.family === options.family)
            : addresses;
        const usable = wanted.length > 0 ? wanted : addresses;
        if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, usable);
        return callback(null, usable[0]!.address, usable[0]!.family);
      },
      (error: unknown) => callback(error as NodeJS.ErrnoException, '', 0),
    );
  };
}

export interface SafeAgentOptions {
  policy: DestinationPolicy;
  resolver?: Resolver;
  /** Connection establishment (TCP and TLS) within the attempt's timeout. */
  connectTimeoutMs: number;
  /**
   * Keep-alive sockets per origin. Endpoints of different partners may share an origin (a
   * webhook relay service, one receiver behind paths): the bound per endpoint is the
   * dispatcher's own count of requests in flight, not the pool, so the pool is as large as the
   * dispatcher's total — a slow endpoint cannot fill the sockets its neighbours on the origin need.
   */
  connectionsPerOriginMax: number;
}

export function createSafeAgent(options: SafeAgentOptions): Agent {
  const connect = buildConnector({
    timeout: options.connectTimeoutMs,
    lookup: guardedLookup(options.policy, options.resolver ?? createDnsResolver()),
  });
  return new Agent({
    connections: options.connectionsPerOriginMax,
    connect: (connectOptions, callback) => {
      const host = connectOptions.hostname.replace(/^\[|\]$/g, '');
      if (isIP(host) !== 0) {
        const refused = addressRule(host, options.policy);
        if (refused) return callback(new DestinationRefused(`destination is ${describeRefusal(refused)}`), null);
      }
      connect(connectOptions, callback);
    },
  });
}
