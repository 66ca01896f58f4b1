import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { Agent, buildConnector } from 'undici';
import { addressRefusal, type DestinationPolicy } from './destination';

/**
 * The dispatcher's HTTP agent: every connection it opens goes to an address the destination
 * policy allows, judged on the address actually connected to. A host name is resolved by the
 * agent's own lookup, which refuses the name when any address in the answer is refused — so a
 * DNS answer that changes after registration (rebinding) cannot reach a private address — and an
 * IP literal is judged before the socket is made. Nothing is sent to a refused address: the
 * connection is never opened. Redirects are never followed (undici's request does not).
 */
export type Resolver = (hostname: string) => Promise<LookupAddress[]>;

export const systemResolver: Resolver = (hostname) =>
  new Promise((resolve, reject) => {
    dnsLookup(hostname, { all: true, verbatim: true }, (error, addresses) => (error ? reject(error) : resolve(addresses)));
  });

export class DestinationRefused extends Error {
  override name = 'DestinationRefused';
}

function guardedLookup(policy: DestinationPolicy, resolver: Resolver): LookupFunction {
  return (hostname, options, callback) => {
    resolver(hostname).then(
      (addresses) => {
        const refused = addresses.map((a) => addressRefusal(a.address, policy)).find((r) => r !== null);
        if (addresses.length === 0) return callback(new DestinationRefused(`${hostname} has no address`), '', 0);
        if (refused) return callback(new DestinationRefused(`${hostname} resolves to ${refused}`), '', 0);
        const wanted = options.family === 4 || options.family === 6 ? addresses.filter((a) => a.family === options.family) : addresses;
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
  const connect = buildConnector({ timeout: options.connectTimeoutMs, lookup: guardedLookup(options.policy, options.resolver ?? systemResolver) });
  return new Agent({
    connections: options.connectionsPerOriginMax,
    connect: (connectOptions, callback) => {
      const host = connectOptions.hostname.replace(/^\[|\]$/g, '');
      if (isIP(host) !== 0) {
        const refused = addressRefusal(host, options.policy);
        if (refused) return callback(new DestinationRefused(`${host} is refused: ${refused}`), null);
      }
      connect(connectOptions, callback);
    },
  });
}
