import type { GraphQLDataSourceProcessOptions, RemoteGraphQLDataSource } from '@apollo/gateway';
import type { GatewayGraphQLResponse } from '@apollo/server-gateway-interface';
import type { FetcherResponse } from '@apollo/utils.fetcher';
import type { GatewayContext } from '../context';
import { PlainHeaders } from '../subgraph-client';

/**
 * The express lane's call to a subgraph (express-lane.ts): what RemoteGraphQLDataSource's `process` does for it, by the
 * data source's own hooks in the same order and with the same arguments, without the node-fetch `Headers` it fills and
 * the node-fetch `Request` it builds per call only to hand to parseBody and didEncounterError (which ours do not read):
 * that Request parses the URL with Node's legacy url.parse, and the two were 9% of the gateway's busy time in a-max and
 * f-gateway (`--profile gateway`, docs/PERFORMANCE.md).
 *
 * What process does, and this in turn: the headers with `content-type: application/json` (names lower-cased, as
 * node-fetch's are); `request.http` set to them, POST and the data source's URL; willSendRequest; "Missing query" when
 * there is none; the body `JSON.stringify({ query, variables, operationName })` as the request holds them; the
 * fetcher; errorFromResponse's error thrown for a non-2xx answer; parseBody; an answer that is not an object refused
 * as process refuses it; the answer with `http` the fetcher's response; didEncounterError for anything thrown.
 * What it leaves out the lane never needs: automatic persisted queries (off), the cache policy (the lane's request has
 * none: it writes the cache-control header itself, cache-control.ts), didReceiveResponse (not defined).
 * gateway.test holds the subgraph's view of a call (headers, body) and the answers the same with the lane on and off.
 */
export async function laneCall(
  source: RemoteGraphQLDataSource<GatewayContext>,
  options: GraphQLDataSourceProcessOptions<GatewayContext>,
): Promise<GatewayGraphQLResponse> {
  const { request } = options;
  // An incoming operation's call (isLaneCall): the request's context, as @apollo/gateway types that kind's.
  const context = options.context as GatewayContext;
  const headers = new PlainHeaders();
  for (const [name, value] of request.http?.headers ?? []) headers.append(name, value);
  headers.set('Content-Type', 'application/json');
  request.http = { method: 'POST', url: source.url, headers };
  await source.willSendRequest?.(options);
  if (!request.query) throw new Error('Missing query');
  const { http, query, ...rest } = request;
  const init = { method: http.method, headers: headers.record(), body: JSON.stringify({ query, ...rest }) };
  let response: FetcherResponse | undefined;
  try {
    response = await source.fetcher(http.url, init);
    if (!response.ok) throw await source.errorFromResponse(response);
    const body = await source.parseBody(response, undefined, context);
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw new Error(`Expected JSON response body, but received: ${String(body)}`);
    return { ...body, http: response };
  } catch (error) {
    // No node-fetch Request was made: the hook's second argument, which ours ignores, is absent.
    source.didEncounterError(error as Error, undefined as never, response, context, request);
    throw error;
  }
}
