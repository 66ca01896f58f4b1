import type http from 'node:http';
import Negotiator from 'negotiator';
import { LRUCache } from 'lru-cache';
import type { ScreenedRequest } from './http';

/**
 * How Apollo Server reads a GraphQL request sent as a POST of JSON, and the content type it answers one result with
 * (its MEDIA_TYPES and how it picks one): what an express lane (the gateway's pass-through/express-lane.ts, a
 * subgraph's server/subgraph-lane.ts) needs to take only what Apollo Server would take the same way, and to write an
 * answer as Apollo Server would.
 */
export const applicationJson = 'application/json; charset=utf-8';
const graphqlResponseJson = 'application/graphql-response+json; charset=utf-8';
const callbackJson = 'application/json; callbackSpec=1.0; charset=utf-8';

/** `application/json`, with at most a UTF-8 charset: a request body type no MIME parser reads otherwise. */
const jsonContentType = /^application\/json(?:\s*;\s*charset=utf-8)?$/i;

/** A GraphQL request as Apollo Server reads a POST body. */
export interface PostedOperation {
  query: string;
  variables: Record<string, unknown> | undefined;
  operationName: string | undefined;
}

/**
 * A POST of a JSON object with the document's text, as Apollo Server reads one (runHttpQuery): its variables an object
 * and its operation name a string when present; no extensions (an automatic persisted query's registration is Apollo
 * Server's); a content type that passes its CSRF check as JSON. Null for anything else: Apollo Server's to answer.
 */
export function postedOperationOf(req: http.IncomingMessage, request: ScreenedRequest): PostedOperation | null {
  if (request.method !== 'POST' || !jsonContentType.test(req.headers['content-type'] ?? '')) return null;
  const body = request.body;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return null;
  const { query, variables, operationName, extensions } = body as Record<string, unknown>;
  if (typeof query !== 'string' || query === '' || extensions !== undefined) return null;
  if (variables !== undefined && variables !== null && (typeof variables !== 'object' || Array.isArray(variables)))
    return null;
  if (operationName !== undefined && operationName !== null && typeof operationName !== 'string') return null;
  return {
    query,
    variables: (variables ?? undefined) as Record<string, unknown> | undefined,
    operationName: operationName ?? undefined,
  };
}

/**
 * The content type Apollo Server answers a request's accept header with (chooseContentTypeForSingleResultResponse: none
 * or an empty one, JSON; else the negotiated preference among its three), kept per distinct header value, at most
 * `acceptValuesMax` of them (callers send one or two). null when a lane leaves the request to Apollo Server: nothing
 * acceptable (its 406) or the subscription callback's type.
 */
export function answerContentTypes(acceptValuesMax: number): (accept: string | undefined) => string | null {
  const known = new LRUCache<string, { type: string | null }>({ max: acceptValuesMax });
  return (accept) => {
    if (accept === undefined || accept === '') return applicationJson;
    let decided = known.get(accept);
    if (decided === undefined) {
      const preferred = new Negotiator({ headers: { accept } }).mediaType([
        applicationJson,
        graphqlResponseJson,
        callbackJson,
      ]);
      decided = { type: preferred === undefined || preferred === callbackJson ? null : preferred };
      known.set(accept, decided);
    }
    return decided.type;
  };
}
