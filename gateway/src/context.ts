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
  /** Where the request came from, passed to subgraphs for risk and audit records. */
  client: { ip: string | null; userAgent: string | null; deviceId: string | null };
}

function header(req: http.IncomingMessage, name: string): string | null {
  const value = req.headers[name];
  return typeof value === 'string' && value !== '' ? value : null;
}

export async function buildContext(req: http.IncomingMessage, tokens: TokenSettings): Promise<GatewayContext> {
  const authorization = req.headers.authorization;
  const verified = await verifyAuthorization(authorization, tokens);
  return {
    authorization,
    auth: verified.ok ? { ok: true, identity: verified.identity } : { ok: false, failure: verified.failure },
    client: { ip: req.socket.remoteAddress ?? null, userAgent: header(req, 'user-agent'), deviceId: header(req, 'x-device-id') },
  };
}
