import WebSocket from 'ws';
import { LRUCache } from 'lru-cache';
import type { ClientOptions } from 'graphql-ws';
import {
  gatewayIdentityParam,
  gatewaySecretHeader,
  mintIdentityToken,
  type SubgraphTrust,
} from '@paygraph/shared/gateway-trust';
import { internalTokenLifetimeSeconds } from '@paygraph/shared/limits';
import { honouredUntil, type GatewayContext } from './context';
import { internalTokenRenewBeforeExpirySeconds, signedIdentityTokensMax } from './limits';

/**
 * The identity the gateway vouches for towards a subgraph: a token signed with that
 * subgraph's secret (gateway-trust.ts), never the client's own. Signing is a tenth of the
 * gateway's work if done per request, so a signed token is kept per subgraph and identity
 * (subject, role, and the end of the client token it stands for) and shared by that caller's
 * requests and graphql-ws connections, until it nears its end. No token outlives the client
 * token it stands for. The store is bounded (lru-cache): when full, the least recently used
 * entry goes, and an entry is dropped when its token ends.
 */
interface Signed {
  token: Promise<string>;
  expiresAt: number;
}

const signedByTrust = new WeakMap<SubgraphTrust, LRUCache<string, Signed>>();

/** The token for this subgraph, or null when the context has no identity (left) to vouch for. */
export function identityTokenFor(context: GatewayContext, trust: SubgraphTrust): Promise<string> | null {
  if (!context.auth.ok) return null;
  const now = Math.floor(Date.now() / 1000);
  const notAfter = honouredUntil(context.auth);
  if (notAfter <= now) return null;
  const { sub, role } = context.auth.identity;
  const key = `${sub}\u0000${role}\u0000${notAfter}`;
  const signed = signedFor(trust);
  const held = signed.get(key);
  // A token cut short by the client's own expiry would come out no longer if signed again.
  if (
    held &&
    held.expiresAt > now &&
    (held.expiresAt - now >= internalTokenRenewBeforeExpirySeconds || held.expiresAt === notAfter)
  ) {
    return held.token;
  }
  const expiresAt = Math.min(now + internalTokenLifetimeSeconds, notAfter);
  // Stored before signing finishes, so that concurrent fetches share one signature.
  const entry: Signed = { token: mintIdentityToken(context.auth.identity, trust, expiresAt, now), expiresAt };
  signed.set(key, entry, { ttl: (expiresAt - now) * 1000 });
  return entry.token;
}

function signedFor(trust: SubgraphTrust): LRUCache<string, Signed> {
  let signed = signedByTrust.get(trust);
  if (!signed) {
    signed = new LRUCache({ max: signedIdentityTokensMax });
    signedByTrust.set(trust, signed);
  }
  return signed;
}

/**
 * How the gateway's graphql-ws client reaches the account subgraph with the same trust as an
 * HTTP fetch: the secret on the upgrade request (a WebSocket constructor cannot wait, and the
 * secret never changes) and a freshly signed identity in connectionParams at each connect.
 */
export function upstreamAuth(
  trust: SubgraphTrust,
  context: GatewayContext,
): Pick<ClientOptions, 'webSocketImpl' | 'connectionParams'> {
  class GatewayWebSocket extends WebSocket {
    constructor(address: string | URL, protocols?: string | string[]) {
      super(address, protocols, { headers: { [gatewaySecretHeader]: trust.secret } });
    }
  }
  return {
    webSocketImpl: GatewayWebSocket,
    connectionParams: async () => {
      const token = identityTokenFor(context, trust);
      return token ? { [gatewayIdentityParam]: await token } : {};
    },
  };
}
