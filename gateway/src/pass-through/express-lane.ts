import type http from 'node:http';
import {
  getOperationAST,
  parse,
  validate,
  type DocumentNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import { LRUCache } from 'lru-cache';
import type { Identity, TokenSettings } from '@paygraph/shared/identity';
import type { ScreenedRequest } from '@paygraph/shared/server/http';
import { answerContentTypes, postedOperationOf, type PostedOperation } from '@paygraph/shared/server/apollo-http';
import { buildContext, honouredUntil, type GatewayContext } from '../context';
import { coerceVariables } from '../coerced-variables';
import type { Metrics } from '../metrics';
import { slowTimeoutMsOf } from '../plugins';
import { clientNameHeader, clientVersionHeader } from '../client-awareness';
import { expressAcceptValuesMax, expressDocumentsMax } from '../limits';
import { answeredAuditInput, takeRateBudgets, type GatewaySecurity } from '../security/gateway-security';
import type { TrustedDocument, TrustedDocumentSet } from '../security/trusted-manifests';
import type { OperationAnalysis } from '../security/document-analysis';
import { fetchForwarded, type DataSource, type ForwardOutcome } from './gateway';
import { unparsedBodyOf } from './raw-answer';
import { cacheControlOf, cacheHintOf } from './cache-control';
import { copyKeyOf, renderedCopies } from './rendered-copies';
import type { SingleFetchRoute, SingleFetchRouter } from './single-fetch';

/**
 * The express lane (docs/GATEWAY.md): a trusted document that one subgraph serves alone, sent as apps send one (a POST
 * of JSON with its text), is answered without Apollo Server's request pipeline, which cost ≈ 115 µs of CPU per
 * operation on this machine before any work of ours (a trivial query through executeHTTPGraphQLRequest, against
 * 7 µs for the same query compiled and written; docs/PERFORMANCE.md). Everything the pipeline would decide is
 * decided the same way, by the same functions, in the same order: the token (buildContext), the document (parsed and
 * validated once per manifest entry, routed by the pass-through router), the variables (coerced as the executor
 * coerces them), the operation limits and the rate budgets (the security plugin's analysis, charges and limiter), the
 * subgraph timeout of a slow mutation; then the call goes through the subgraph's own data source (fetchForwarded).
 *
 * The lane writes only what it can write exactly as Apollo Server would: an answer of data alone, which the gateway
 * writes as the subgraph wrote it (raw-answer.ts), with Apollo Server's content type for the request's accept header
 * and the cache-control header its cache-control plugin writes from the subgraph's (cache-control.ts), audited and
 * counted as the plugins would. Whatever else it meets it hands to Apollo Server, with the context it made:
 * before the call (no token, variables that do not coerce, a limit or budget exceeded: nothing taken or sent yet) the
 * request runs as if the lane were not there; after it (an answer with errors, a subgraph that did not answer), the
 * answer fetched is given to the executor to shape (the context's `prefetched`) and the budget is not taken twice
 * (`rateTaken`), so errors are formatted, audited and counted by Apollo Server's own code.
 */
export interface ExpressLaneParts {
  tokens: TokenSettings;
  apiSchema(): GraphQLSchema | null;
  router(): SingleFetchRouter | null;
  dataSources: ReadonlyMap<string, DataSource>;
  documents: TrustedDocumentSet;
  security: GatewaySecurity;
  metrics: Metrics;
}

export type ExpressLane = (
  req: http.IncomingMessage,
  res: http.ServerResponse,
  request: ScreenedRequest,
) => Promise<boolean | { context: GatewayContext }>;

/** A manifest document the lane may serve: parsed, validated, resolved and routed once. */
interface LaneDocument {
  schema: GraphQLSchema;
  trusted: TrustedDocument;
  document: DocumentNode;
  operation: OperationDefinitionNode;
  route: SingleFetchRoute;
}

export function expressLane(parts: ExpressLaneParts): ExpressLane {
  const documents = laneDocuments(parts);
  const contentTypeOf = answerContentTypes(expressAcceptValuesMax);
  const copies = renderedCopies(parts.metrics);
  return async (req, res, request) => {
    const started = performance.now();
    const at = new Date();
    const sent = postedOperationOf(req, request);
    const contentType = sent && contentTypeOf(req.headers.accept);
    const lane = sent && contentType ? documents(sent) : null;
    if (!sent || !contentType || !lane) return false;
    const context = await buildContext(req, parts.tokens);
    const admitted = await admit(parts, lane, sent, context);
    if (!admitted) return { context };
    const subgraph = parts.dataSources.get(lane.route.subgraph);
    if (!subgraph) return { context };
    parts.metrics.recordPath('forwarded');
    const copyKey = lane.operation.operation === 'query' ? copyKeyOf(lane.trusted.hash, sent) : null;
    // For this call only: the copy held is asked about (its tag sent), and is the answer if the subgraph says so.
    context.renderedCopy = copyKey === null ? undefined : copies.held(admitted.identity, copyKey);
    const outcome = await fetchForwarded(
      { variables: sent.variables, operationName: sent.operationName, http: true },
      context,
      lane.route,
      subgraph,
    );
    context.renderedCopy = undefined;
    const body = dataAloneBody(outcome);
    if (copyKey !== null) copies.after(admitted.identity, copyKey, outcome, body);
    if (body === undefined) {
      context.prefetched = { subgraph: lane.route.subgraph, outcome };
      context.rateTaken = true;
      return { context };
    }
    res.statusCode = 200;
    res.setHeader('content-type', contentType);
    res.setHeader(
      'cache-control',
      cacheControlOf(cacheHintOf(outcome.ok ? outcome.response.http?.headers.get('cache-control') : null)),
    );
    res.end(body);
    answered(parts, { req, lane, context, admitted, at, started, outcome });
    return true;
  };
}

/** The subgraph's text (a kept copy's bytes) when the call answered data alone that nothing read: written as it is. */
function dataAloneBody(outcome: ForwardOutcome): string | Buffer | undefined {
  if (!outcome.ok || (outcome.response.errors !== undefined && outcome.response.errors.length > 0)) return undefined;
  return unparsedBodyOf(outcome.response.data);
}

/**
 * The lane's documents: a manifest entry's text, parsed, validated against the API schema (graphql-js's specified
 * rules, which Apollo Server applies; the introspection it refuses in production is never routed to a subgraph) and
 * resolved to the operation the request names, kept while that schema and that manifest entry stand. An entry the
 * lane cannot serve (invalid, no such operation, a subscription, a plan of several fetches) is kept as such. Texts no
 * manifest holds are never kept: a caller cannot fill the cache.
 */
function laneDocuments(parts: ExpressLaneParts): (sent: PostedOperation) => LaneDocument | null {
  const kept = new LRUCache<string, { lane: LaneDocument | null; schema: GraphQLSchema; trusted: TrustedDocument }>({
    max: expressDocumentsMax,
  });
  return (sent) => {
    const trusted = parts.documents.byBody(sent.query);
    const schema = parts.apiSchema();
    const router = parts.router();
    if (!trusted || !schema || !router) return null;
    const key = `${sent.operationName ?? ''}\u0000${trusted.hash}`;
    const known = kept.get(key);
    if (known && known.schema === schema && known.trusted === trusted) return known.lane;
    const lane = laneDocumentOf(schema, router, trusted, sent.operationName);
    kept.set(key, { lane, schema, trusted });
    return lane;
  };
}

function laneDocumentOf(
  schema: GraphQLSchema,
  router: SingleFetchRouter,
  trusted: TrustedDocument,
  operationName: string | undefined,
): LaneDocument | null {
  let document: DocumentNode;
  try {
    document = parse(trusted.body);
  } catch {
    return null;
  }
  if (validate(schema, document).length > 0) return null;
  const operation = getOperationAST(document, operationName);
  if (!operation || operation.operation === 'subscription') return null;
  const route = router.route(document, trusted.body, operation.name?.value ?? null, trusted.hash);
  return route ? { schema, trusted, document, operation, route } : null;
}

/** What the checks made of an admitted request: its caller, its analysis, coerced variables' root fields. */
interface Admitted {
  identity: Identity;
  analysis: OperationAnalysis;
  fields: ReturnType<OperationAnalysis['rootFields']>;
}

/**
 * The checks Apollo Server's plugins make before a subgraph is called, in their order, by their functions: a valid and
 * current token (requireIdentity), variables that coerce (the executor), the operation limits and the rate budgets
 * (the security plugin), and a slow mutation's timeout (slowOperations). A trusted document needs no judgement: a
 * manifest holds it. Null when Apollo Server is to answer: nothing has been taken or sent.
 */
async function admit(
  parts: ExpressLaneParts,
  lane: LaneDocument,
  sent: PostedOperation,
  context: GatewayContext,
): Promise<Admitted | null> {
  const { auth } = context;
  if (!auth.ok || honouredUntil(auth) <= Math.floor(Date.now() / 1000)) return null;
  const variables = coerceVariables(lane.schema, lane.operation, sent.variables);
  if (!variables.ok) return null;
  const { security } = parts;
  const analysis = security.analyses.of({
    schema: lane.schema,
    document: lane.document,
    operation: lane.operation,
    queryHash: lane.trusted.hash,
    trusted: lane.trusted,
  });
  if (!analysis.check(variables.values, security.limits).ok) return null;
  const fields = analysis.rootFields(variables.values);
  const decision = await takeRateBudgets(security, auth.identity, lane.operation, fields);
  if (!decision.allowed) return null;
  const timeoutMs = slowTimeoutMsOf(analysis.selections);
  if (timeoutMs > 0) context.subgraphTimeoutMs = timeoutMs;
  return { identity: auth.identity, analysis, fields };
}

/** An answer the lane wrote: audited and counted as the security and metrics plugins would. */
function answered(
  parts: ExpressLaneParts,
  facts: {
    req: http.IncomingMessage;
    lane: LaneDocument;
    context: GatewayContext;
    admitted: Admitted;
    at: Date;
    started: number;
    outcome: ForwardOutcome;
  },
): void {
  const { req, lane, context, admitted, at, started, outcome } = facts;
  const { metrics, security } = parts;
  const client = security.clients.ofParts(
    headerOf(req, clientNameHeader),
    headerOf(req, clientVersionHeader),
    lane.trusted,
  );
  metrics.recordUnparsedAnswer();
  metrics.recordExpressAnswer();
  metrics.record(lane.operation.name?.value ?? 'anonymous', true, performance.now() - started);
  metrics.recordClient(client, true);
  const requestId = context.requestId!;
  const data = outcome.ok ? (outcome.response.data as Record<string, unknown> | null | undefined) : undefined;
  security.auditor.record(
    answeredAuditInput(
      context,
      lane.operation,
      { requestId, at, fields: admitted.fields },
      { httpStatus: 200, data, errors: undefined, client },
    ),
  );
}

/** A header as Apollo Server's HeaderMap reads it: repeated values joined by ", ". */
function headerOf(req: http.IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}
