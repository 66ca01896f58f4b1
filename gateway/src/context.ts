import type http from 'node:http';
import { verifyAuthorization, type Identity, type IdentityFailure, type TokenSettings } from '@paygraph/shared/identity';

/**
 * What the gateway knows of a request. The token is verified here (so that a bad one is
 * refused before any subgraph is called) and forwarded unchanged: each subgraph verifies
 * it again instead of trusting a header a client could forge.
 */
export interface GatewayContext {
  authorization: string | undefined;
  auth: { ok: true; identity: Identity } | { ok: false; failure: IdentityFailure };
}

export async function buildContext(req: http.IncomingMessage, tokens: TokenSettings): Promise<GatewayContext> {
  const authorization = req.headers.authorization;
  const verified = await verifyAuthorization(authorization, tokens);
  return {
    authorization,
    auth: verified.ok ? { ok: true, identity: verified.identity } : { ok: false, failure: verified.failure },
  };
}
