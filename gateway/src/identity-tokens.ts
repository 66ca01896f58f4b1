import WebSocket from 'ws';
import type { ClientOptions } from 'graphql-ws';
import { gatewayIdentityParam, gatewaySecretHeader, mintIdentityToken, type SubgraphTrust } from '@paygraph/shared/gateway-trust';
import { internalTokenLifetimeSeconds, internalTokenRenewBeforeExpirySeconds } from '@paygraph/shared/limits';
import { honouredUntil, type GatewayContext } from './context';

/**
 * The identity the gateway vouches for towards a subgraph: a token signed with that
 * subgraph's secret (gateway-trust.ts), never the client's own. One request may call a subgraph
 * many times and one graphql-ws connection runs operations for hours, so each context keeps the
 * token it signed per subgraph and signs a new one only when that one nears its end. No token
 * outlives the client token it stands for.
 */
interface Signed {
  token: Promise<string>;
  expiresAt: number;
}

const signedByContext = new WeakMap<GatewayContext, Map<string, Signed>>();

/** The token for this subgraph, or null when the context has no identity (left) to vouch for. */
export function identityTokenFor(context: GatewayContext, trust: SubgraphTrust): Promise<string> | null {
  if (!context.auth.ok) return null;
  const now = Math.floor(Date.now() / 1000);
  const notAfter = honouredUntil(context.auth);
  if (notAfter <= now) return null;
  let signed = signedByContext.get(context);
  if (!signed) {
    signed = new Map();
    signedByContext.set(context, signed);
  }
  const held = signed.get(trust.subgraph);
  // A token cut short by the client's own expiry would come out no longer if signed again.
  if (held && held.expiresAt > now && (held.expiresAt - now >= internalTokenRenewBeforeExpirySeconds || held.expiresAt === notAfter)) {
    return held.token;
  }
  const expiresAt = Math.min(now + internalTokenLifetimeSeconds, notAfter);
  // Stored before signing finishes, so that concurrent fetches share one signature.
  const entry: Signed = { token: mintIdentityToken(context.auth.identity, trust, expiresAt), expiresAt };
  signed.set(trust.subgraph, entry);
  return entry.token;
}

/**
 * How the gateway's graphql-ws client reaches the account subgraph with the same trust as an
 * HTTP fetch: the secret on the upgrade request (a WebSocket constructor cannot wait, and the
 * secret never changes) and a freshly signed identity in connectionParams at each connect.
 */
export function upstreamAuth(trust: SubgraphTrust, context: GatewayContext): Pick<ClientOptions, 'webSocketImpl' | 'connectionParams'> {
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
