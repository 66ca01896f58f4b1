import type http from 'node:http';
import { createHash } from 'node:crypto';
import { BREAK, getOperationAST, parse, validate, visit, type DocumentNode, type GraphQLSchema } from 'graphql';
import type { FormattedExecutionResult } from 'graphql';
import { LRUCache } from 'lru-cache';
import { handOver, type JitExecution } from '../graphql/jit-executor';
import { reportedBesideData } from '../graphql/partial';
import { laneAcceptValuesMax, laneDocumentsMax } from '../limits';
import { subgraphLaneRequests } from '../metrics';
import { answerContentTypes, postedOperationOf } from './apollo-http';
import type { ScreenedRequest } from './http';

/** What a subgraph's express lane runs with (subgraphLane). */
export interface LaneParts<C extends object> {
  schema: GraphQLSchema;
  execution: JitExecution;
  context: (req: http.IncomingMessage) => Promise<C>;
  /** Apollo Server's stringifyResult, the same function. */
  writeAnswer: (value: FormattedExecutionResult) => string;
  /** What a subgraph's own plugin does on the lane (the account subgraph's rendered answers). */
  answers?: LaneAnswers<C>;
}

/** An operation as the lane runs it: its document, its text's hash and name, its variables and its context. */
export interface LaneOperation<C> {
  schema: GraphQLSchema;
  queryHash: string;
  operationName: string | null;
  document: DocumentNode;
  variables: Record<string, unknown> | undefined;
  context: C;
  /** Told the tag of the answer's text when a plugin keeps it as it is written (the lane sends it with the text). */
  onKept?: (tag: string) => void;
}

/**
 * A subgraph plugin's two hooks the lane runs, as Apollo Server runs them (responseForOperation, willSendResponse):
 * before the operation runs, the text to answer with instead (sent as written), or what to do with the answer's data
 * once it is known to be data alone, before it is written.
 */
export interface LaneAnswers<C> {
  before(
    operation: LaneOperation<C>,
  ): Promise<{ text: string; tag?: string } | { withData: ((data: object) => Promise<void>) | null }>;
}

/**
 * The gateway's copies of rendered answers (docs/PERFORMANCE.md, "Reads"): a text the subgraph keeps as it writes it,
 * or answers again from its kept answers, carries its tag (renderedTagHeader), a name no other kept text has. The gateway keeps the text under it
 * and sends the tag with the same request again (renderedHaveHeader); when the answer would be that same text, the
 * lane answers with no body and the tag in renderedSameHeader, and the gateway writes its copy. A request that asks
 * with a tag the answer does not have is answered in full, as any other. Only the gateway reaches a subgraph (its
 * secret), and it sends these headers of its own, never a client's.
 */
export const renderedTagHeader = 'x-paygraph-rendered-tag';
export const renderedHaveHeader = 'x-paygraph-rendered-have';
export const renderedSameHeader = 'x-paygraph-rendered-same';

interface LaneDocument {
  document: DocumentNode;
  queryHash: string;
  operationName: string | null;
}

/**
 * A subgraph's express lane: an operation the gateway sends (a POST of JSON with its text) is run and answered
 * without Apollo Server's request pipeline, whose hash of the text, caches, context copy, plugin hooks and header maps
 * were 5–7% of the transaction subgraph's busy time on payments (docs/PERFORMANCE.md). What the pipeline decides
 * is decided the same way: the document parsed and validated by graphql-js's rules (kept per text, laneDocumentsMax),
 * the operation the request names, the context from the subgraph's own function, execution by the same executor
 * (graphql/jit-executor.ts), and an answer of data alone written by the same writer with Apollo Server's content type.
 *
 * Before it runs anything, the lane leaves to Apollo Server (untouched, to answer as it always did) whatever it does
 * not recognise: another method or body shape, extensions, a trace asked for, an accept header Apollo Server would
 * refuse, a document that does not parse or validate or names no single operation, introspection (Apollo Server
 * refuses it in production), a subscription, a context that cannot be made. After it ran the operation, an outcome
 * other than data alone (errors, errors reported beside the data, a throw) is handed to Apollo Server with the context
 * (jit-executor.ts handOver): the executor answers it instead of running again, and Apollo Server formats, logs and
 * writes the errors with its own code.
 */
export function subgraphLane<C extends object>(
  parts: LaneParts<C>,
): (
  req: http.IncomingMessage,
  res: http.ServerResponse,
  request: ScreenedRequest,
) => Promise<boolean | { context: C }> {
  const documents = new LRUCache<string, { lane: LaneDocument | null }>({ max: laneDocumentsMax });
  const contentTypeOf = answerContentTypes(laneAcceptValuesMax);
  const documentOf = (query: string, operationName: string | undefined): LaneDocument | null => {
    const key = `${operationName ?? ''}\u0000${query}`;
    let kept = documents.get(key);
    if (kept === undefined) {
      kept = { lane: laneDocumentOf(parts.schema, query, operationName) };
      documents.set(key, kept);
    }
    return kept.lane;
  };
  return async (req, res, request) => {
    // A trace asked for is Apollo Server's inline trace plugin's to answer.
    const traced = req.headers['apollo-federation-include-trace'] !== undefined;
    const sent = traced ? null : postedOperationOf(req, request);
    const contentType = sent && contentTypeOf(req.headers.accept);
    const lane = sent && contentType ? documentOf(sent.query, sent.operationName) : null;
    if (!sent || !contentType || !lane) {
      subgraphLaneRequests.inc({ outcome: 'declined' });
      return false;
    }
    let context: C;
    try {
      context = await parts.context(req);
    } catch {
      // Apollo Server makes it again, fails the same way, and answers that as it always did.
      subgraphLaneRequests.inc({ outcome: 'declined' });
      return false;
    }
    let keptTag: string | undefined;
    const onKept = (tag: string) => (keptTag = tag);
    const operation = { ...lane, schema: parts.schema, variables: sent.variables, context, onKept };
    const answered = await parts.answers?.before(operation);
    if (answered !== undefined && 'text' in answered) return writtenKept(req, res, contentType, answered);
    const text = await runOnLane(parts, operation, answered?.withData ?? null);
    if (text === undefined) {
      subgraphLaneRequests.inc({ outcome: 'handed' });
      return { context };
    }
    // Rendered and kept as it was written: the gateway may keep a copy of it at once.
    if (keptTag !== undefined) res.setHeader(renderedTagHeader, keptTag);
    return written(res, contentType, text);
  };
}

/** An answer of data alone, written as Apollo Server writes one: status 200, its content type, the text. */
function written(
  res: http.ServerResponse,
  contentType: string,
  text: string,
  outcome: 'answered' | 'same' = 'answered',
): true {
  res.statusCode = 200;
  res.setHeader('content-type', contentType);
  res.end(text);
  subgraphLaneRequests.inc({ outcome });
  return true;
}

/** A kept answer: with its tag when it has one, and with no body when the gateway holds it under that tag. */
function writtenKept(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  contentType: string,
  kept: { text: string; tag?: string },
): true {
  if (kept.tag === undefined) return written(res, contentType, kept.text);
  if (req.headers[renderedHaveHeader] !== kept.tag) {
    res.setHeader(renderedTagHeader, kept.tag);
    return written(res, contentType, kept.text);
  }
  res.setHeader(renderedSameHeader, kept.tag);
  return written(res, contentType, '', 'same');
}

/** The answer's text when the operation answered data alone; otherwise its outcome handed over, and undefined. */
async function runOnLane<C extends object>(
  parts: LaneParts<C>,
  operation: LaneOperation<C>,
  withData: ((data: object) => Promise<void>) | null,
): Promise<string | undefined> {
  const { context } = operation;
  let result;
  try {
    result = await parts.execution.run(operation);
  } catch (thrown) {
    handOver(context, { thrown });
    return undefined;
  }
  const dataAlone =
    (result.errors === undefined || result.errors.length === 0) &&
    result.extensions === undefined &&
    typeof result.data === 'object' &&
    result.data !== null &&
    !reportedBesideData(context);
  if (!dataAlone) {
    handOver(context, { result });
    return undefined;
  }
  await withData?.(result.data!);
  // The object Apollo Server's runHttpQuery stringifies (orderExecutionResultFields), its absent fields undefined.
  const ordered = { errors: undefined, data: result.data, extensions: undefined };
  return parts.writeAnswer(ordered as unknown as FormattedExecutionResult);
}

/** The document the lane may run: it parses, validates, names one query or mutation, and asks for no introspection. */
function laneDocumentOf(schema: GraphQLSchema, query: string, operationName: string | undefined): LaneDocument | null {
  let document: DocumentNode;
  try {
    document = parse(query);
  } catch {
    return null;
  }
  if (validate(schema, document).length > 0 || introspects(document)) return null;
  const operation = getOperationAST(document, operationName);
  if (!operation || operation.operation === 'subscription') return null;
  return {
    document,
    // Apollo Server's queryHash (its computeQueryHash): the compiled operation is shared with its executor's cache.
    queryHash: createHash('sha256').update(query).digest('hex'),
    operationName: operation.name?.value ?? null,
  };
}

function introspects(document: DocumentNode): boolean {
  let found = false;
  visit(document, {
    Field(node) {
      if (node.name.value === '__schema' || node.name.value === '__type') {
        found = true;
        return BREAK;
      }
      return undefined;
    },
  });
  return found;
}
