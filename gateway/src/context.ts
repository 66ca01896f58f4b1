import type http from 'node:http';
import {
  verifyAuthorization,
  type Identity,
  type IdentityFailure,
  type TokenSettings,
} from '@paygraph/shared/identity';
import { tokenClockToleranceSeconds } from '@paygraph/shared/limits';
import type { Logger } from '@paygraph/shared/log';
import { requestIdOf, requestLogOf } from '@paygraph/shared/server/http';
import { assertPrincipalComplete } from './invariants';
import type { ForwardOutcome } from './pass-through/gateway';

/**
 * What the gateway knows of a request. The token is verified here, so that a bad one is
 * refused before any subgraph is called, and never forwarded: subgraphs get the identity in
 * a short-lived token the gateway signs for each of them (identity-tokens.ts).
 */
export interface GatewayContext {
  /** The client's Authorization header as sent; it stays in the gateway. */
  authorization: string | undefined;
  /** expiresAt is the client token's exp (seconds since the epoch): a WebSocket outlives it. */
  auth: { ok: true; identity: Identity; expiresAt: number } | { ok: false; failure: IdentityFailure };
  /** Where the request came from, passed to subgraphs for risk and audit records. */
  client: { ip: string | null; userAgent: string | null; deviceId: string | null };
  /**
   * The HTTP request's id (x-request-id, the client's or made here), sent to every subgraph and
   * kept in the audit record; absent on graphql-ws, whose operations get one each.
   */
  requestId?: string;
  /** The HTTP request's logger (its lines name requestId); absent on graphql-ws, which logs with the process's. */
  log?: Logger;
  /**
   * Set on graphql-ws connections: the socket server judged the client's document against the
   * trusted documents before planning it, and the operations it then runs for it (page queries,
   * the planned document) are texts of its own, which no manifest holds.
   */
  documentJudged?: true;
  /**
   * How long the gateway waits for a subgraph's answer to this operation, when it does a file's worth of work
   * (limits.ts slowFieldTimeoutsMs, set by plugins.ts slowOperations); subgraphRequestTimeoutMs when absent.
   */
  subgraphTimeoutMs?: number;
  /**
   * Set by the express lane (pass-through/express-lane.ts) on the context it hands Apollo Server with an answer it
   * fetched: the executor shapes this answer instead of calling the subgraph again. Fields, not a WeakMap by the
   * context: Apollo Server runs each operation with a copy of the context it is given.
   */
  prefetched?: { subgraph: string; outcome: ForwardOutcome };
  /** Set with `prefetched`: the operation took its rate budgets in the lane, and the security plugin takes none. */
  rateTaken?: true;
  /**
   * Set by the express lane for its call only: the copy of a subgraph's kept answer the gateway holds for this request
   * (pass-through/rendered-copies.ts). Its tag is sent, and an answer "the same" is this text.
   */
  renderedCopy?: RenderedCopy | undefined;
}

/** A subgraph's kept answer as the gateway holds it: the tag the subgraph named it with, and its text's UTF-8 bytes. */
export interface RenderedCopy {
  tag: string;
  bytes: Buffer;
}

function header(req: http.IncomingMessage, name: string): string | null {
  const value = req.headers[name];
  return typeof value === 'string' && value !== '' ? value : null;
}

/**
 * How an HTTP request's token fared, once its context was built: verified (the request has a principal), refused (no
 * token, a bad, expired or unknown-role one), or unjudged (the gateway could not read the JWKS). The refusal budget per
 * address (security/refusal-throttle.ts) counts a refused request's 4xx, never an unjudged one's: an identity
 * provider's outage is not its callers' doing.
 */
export type TokenOutcome = 'verified' | 'refused' | 'unjudged';

const tokenOutcomes = new WeakMap<http.IncomingMessage, TokenOutcome>();

/** The request's token outcome; undefined when no context was built for it (refused before, or as CSRF by Apollo). */
export function tokenOutcomeOf(req: http.IncomingMessage): TokenOutcome | undefined {
  return tokenOutcomes.get(req);
}

export async function buildContext(req: http.IncomingMessage, tokens: TokenSettings): Promise<GatewayContext> {
  const authorization = req.headers.authorization;
  const verified = await verifyAuthorization(authorization, tokens);
  if (verified.ok) assertPrincipalComplete(verified.identity, verified.expiresAt);
  const unjudged = !verified.ok && verified.failure.kind === 'TokenInvalid' && verified.failure.keyLookupFailed;
  tokenOutcomes.set(req, verified.ok ? 'verified' : unjudged ? 'unjudged' : 'refused');
  return {
    authorization,
    auth: verified.ok
      ? { ok: true, identity: verified.identity, expiresAt: verified.expiresAt }
      : { ok: false, failure: verified.failure },
    client: {
      ip: req.socket.remoteAddress ?? null,
      userAgent: header(req, 'user-agent'),
      deviceId: header(req, 'x-device-id'),
    },
    requestId: requestIdOf(req),
    log: requestLogOf(req),
  };
}

/**
 * The last moment (seconds since the epoch) a verified token is still honoured: its exp plus
 * the clock skew verification tolerated. A connection verified once (graphql-ws) keeps its
 * context for hours; past this, its operations are refused like those of an expired token.
 */
export function honouredUntil(auth: { expiresAt: number }): number {
  return auth.expiresAt + tokenClockToleranceSeconds;
}
