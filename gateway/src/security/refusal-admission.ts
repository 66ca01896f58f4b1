import type http from 'node:http';
import { verifiedOnce, type TokenSettings } from '@paygraph/shared/identity';
import { crossSiteContentTypes, csrfPreventionHeaders, type Admission } from '@paygraph/shared/server/http';
import { tokenOutcomeOf } from '../context';
import type { RefusalThrottle } from './refusal-throttle';

/**
 * The HTTP server's admit step for /graphql (server.ts): the refusal budget per client address
 * (refusal-throttle.ts), applied to the requests it is for, and told how each request it let in was answered.
 */

/** Let in, and nothing to count when answered. */
const letInUncounted: Admission = { refusal: null, answered: () => {} };

export function admitByAddress(req: http.IncomingMessage, tokens: TokenSettings, refusals: RefusalThrottle): Admission {
  // A token that verified once and has not expired (a map lookup, no verification; the request is verified as any
  // other) names its caller, who answers for its requests under its own rate budgets: it is let in even from an
  // address the throttle refuses, so that users sharing an address with a flood (a NAT, an office, a proxy in front of
  // the gateway) keep being served for as long as their tokens last, and nothing it is refused counts.
  if (verifiedOnce(req.headers.authorization, tokens)) return letInUncounted;
  const admitted = refusals.admit(req.socket.remoteAddress);
  if (admitted.refusal !== null) return { refusal: admitted.refusal };
  return { refusal: null, answered: (status) => admitted.entry.settle(countsAsRefusal(req, status)) };
}

/**
 * Whether admit would refuse this request now, changing nothing: a client that sent `Expect: 100-continue` is then
 * not told to send its body (server.ts holdBodiesUntilAsked).
 */
export function refusedUnread(req: http.IncomingMessage, tokens: TokenSettings, refusals: RefusalThrottle): boolean {
  return !verifiedOnce(req.headers.authorization, tokens) && refusals.refusesNow(req.socket.remoteAddress);
}

/**
 * A request's answer takes a unit of its address's budget when it is a refusal (4xx) and the request had no principal:
 * its token was refused, or it never reached verification (a body that is not JSON or too large, a batch or document
 * the screen refused, a trusted-document id refused, a body Apollo Server refused as malformed). Not counted: a
 * verified token's refusals (its principal's budgets judge it), a token the gateway could not judge because it could
 * not read the JWKS (an identity provider's outage is not its callers' doing), and what a browser can be made to send.
 */
export function countsAsRefusal(req: http.IncomingMessage, status: number): boolean {
  if (status < 400 || status >= 500) return false;
  const outcome = tokenOutcomeOf(req);
  if (outcome === 'verified' || outcome === 'unjudged') return false;
  return !browserMaySendCrossSite(req);
}

/** The content types a page may POST to another site without a CORS preflight. */
const simpleContentTypes = new Set<string>(crossSiteContentTypes);

/**
 * A request a page on any site can make its visitor's browser send, from the visitor's address, without the gateway's
 * consent (a CORS preflight, which the gateway grants nobody): a GET, HEAD or POST with no content type or a simple
 * one and without Authorization or Apollo Server's CSRF headers, and the preflight (OPTIONS) itself. Apollo Server's
 * CSRF prevention refuses such requests (400) before any token is read. Were they counted, any site could spend the
 * budget of its visitors' addresses (an office's, a carrier NAT's) and lock them out; left uncounted, they cost the
 * gateway no parse and no token's verification: a POST of them is answered before its body is read (http.ts
 * refusedAsCsrf), its body then drained for a moment.
 */
function browserMaySendCrossSite(req: http.IncomingMessage): boolean {
  const method = req.method ?? 'GET';
  if (method === 'OPTIONS') return true;
  if (method !== 'GET' && method !== 'HEAD' && method !== 'POST') return false;
  const headers = req.headers;
  if (headers.authorization !== undefined) return false;
  if (csrfPreventionHeaders.some((name) => headers[name] !== undefined)) return false;
  const type = (headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  return type === '' || simpleContentTypes.has(type);
}
