import http from 'node:http';
import { Transform, type TransformCallback } from 'node:stream';
import { readsEveryAccount } from '@paygraph/shared/authorization';
import { describeIdentityFailure, type Identity, type TokenSettings } from '@paygraph/shared/identity';
import { gatewayIdentityHeader, gatewaySecretHeader, type SubgraphTrust } from '@paygraph/shared/gateway-trust';
import { uploadBytesMax } from '@paygraph/shared/limits';
import { requestIdHeader } from '@paygraph/shared/log';
import { drainBody, sendJson, statementUploadsPath, type RouteHandler } from '@paygraph/shared/server/http';
import { injectTraceContext } from '@paygraph/shared/tracing';
import { buildContext, type GatewayContext } from './context';
import { identityTokenFor } from './identity-tokens';
import { subgraphConnectTimeoutMs, uploadAnswerBytesMax, uploadSubgraphIdleTimeoutMs } from './limits';
import type { Metrics, UploadOutcome } from './metrics';

/**
 * `POST /uploads/statements`: an operator's bank file, too large for a GraphQL request (the contract's
 * ImportBankStatement), streamed to the settlement subgraph, which stores it (one table, one owner) and answers
 * { uploadId }. In this order, each before anything later:
 *   1. the bearer token, verified as for /graphql (context.ts), and the role: 401 or 403, with no byte of the body
 *      read (nor asked for: a client that sent `Expect: 100-continue` is never told to go on);
 *   2. the declared size: a Content-Length over uploadBytesMax is 413 at once;
 *   3. the body, piped to the subgraph with the gateway's secret and a signed identity as its GraphQL calls carry
 *      (server.ts SubgraphDataSource), at the pace the subgraph stores it (pipe: a full buffer pauses the client's
 *      socket), counted as it passes: a chunked body that passes uploadBytesMax is cut off there (the subgraph, sent
 *      one byte more, refuses it and deletes what it stored before it answers 413).
 * The gateway holds no more of a file than the streams' buffers (about 16 KiB each way), and the subgraph's answer
 * (a few hundred bytes) is relayed as it is. The GraphQL request body limit (requestBodyBytesMax) is not involved.
 */
export interface UploadTarget {
  /** The settlement subgraph's upload URL (its /graphql URL with statementUploadsPath). */
  url: string;
  trust: SubgraphTrust;
}

/** How long an upload waits for the settlement subgraph: its connection, then any byte either way (limits.ts). */
export interface UploadLimits {
  connectTimeoutMs: number;
  idleTimeoutMs: number;
}

export const defaultUploadLimits: UploadLimits = {
  connectTimeoutMs: subgraphConnectTimeoutMs,
  idleTimeoutMs: uploadSubgraphIdleTimeoutMs,
};

/** The settlement subgraph's upload URL, beside its GraphQL URL. */
export function uploadTargetOf(settlementGraphqlUrl: string, trust: SubgraphTrust): UploadTarget {
  return { url: new URL(statementUploadsPath, settlementGraphqlUrl).toString(), trust };
}

/** Who may upload statements: operators, as only they may import them (settlement's services/access.ts). */
function mayUploadStatements(identity: Identity): boolean {
  return readsEveryAccount(identity);
}

export function statementUploadRoute(
  tokens: TokenSettings,
  target: UploadTarget,
  metrics: Metrics,
  given: Partial<UploadLimits> = {},
): RouteHandler {
  const limits: UploadLimits = { ...defaultUploadLimits, ...given };
  return async (req, res) => {
    const refuse = (status: number, code: string, message: string, headers: Record<string, string> = {}) => {
      metrics.recordUpload(outcomeOf(status));
      refuseUnread(res, status, code, message, headers);
    };
    if (req.method !== 'POST') return refuse(405, 'METHOD_NOT_ALLOWED', 'POST the file', { allow: 'POST' });
    const context = await buildContext(req, tokens);
    if (!context.auth.ok)
      return refuse(401, 'UNAUTHENTICATED', describeIdentityFailure(context.auth.failure), {
        'www-authenticate': 'Bearer',
      });
    if (!mayUploadStatements(context.auth.identity))
      return refuse(403, 'FORBIDDEN', 'only operators may upload statements');
    const declaredBytes = declaredBytesOf(req);
    if (declaredBytes === 'invalid') return refuse(400, 'BAD_REQUEST', 'content-length is not a number');
    if (declaredBytes !== null && declaredBytes > uploadBytesMax)
      return refuse(413, 'UPLOAD_TOO_LARGE', `the file is larger than ${uploadBytesMax} bytes`);
    const headers = await upstreamHeaders(context, target, declaredBytes);
    // Only now may the client send its body.
    if (req.headers.expect?.toLowerCase() === '100-continue') res.writeContinue();
    const outcome = await forward(req, res, { target, headers, limits }, metrics);
    metrics.recordUpload(outcome);
  };
}

/**
 * Answers a request refused before its body was read, and closes the connection: what the client is still sending
 * is not read (Node drops what already arrived once the answer is written, and the socket goes with it).
 */
function refuseUnread(
  res: http.ServerResponse,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string>,
): void {
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.setHeader('connection', 'close');
  sendJson(res, status, { error: { code, message } });
}

function outcomeOf(status: number): UploadOutcome {
  if (status === 201) return 'stored';
  if (status === 401) return 'unauthenticated';
  if (status === 403) return 'forbidden';
  if (status === 413) return 'too_large';
  return status >= 500 ? 'unavailable' : 'refused';
}

function declaredBytesOf(req: http.IncomingMessage): number | null | 'invalid' {
  const header = req.headers['content-length'];
  if (header === undefined) return null;
  return /^\d{1,15}$/.test(header) ? Number(header) : 'invalid';
}

/** The headers of the call to the subgraph: as a GraphQL call's (server.ts SubgraphDataSource.willSendRequest). */
async function upstreamHeaders(
  context: GatewayContext,
  target: UploadTarget,
  declaredBytes: number | null,
): Promise<Record<string, string>> {
  const headers: Record<string, string> = {
    [gatewaySecretHeader]: target.trust.secret,
    'content-type': 'application/octet-stream',
    ...(declaredBytes === null ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(declaredBytes) }),
  };
  const identity = identityTokenFor(context, target.trust);
  if (identity) headers[gatewayIdentityHeader] = await identity;
  if (context.requestId) headers[requestIdHeader] = context.requestId;
  if (context.client.ip) headers['x-client-ip'] = context.client.ip;
  injectTraceContext({ set: (name, value) => void (headers[name] = value) });
  return headers;
}

/**
 * Pipes the body to the subgraph and relays its answer; answers how the upload ended. The subgraph may answer before
 * the body has all arrived (a refusal: over the limit, over the operator's quota): the client's body then stops being
 * forwarded, and what it still sends is drained for a moment (drainBody) so that it reads the answer, not a reset.
 * A subgraph that does not connect within limits.connectTimeoutMs, or goes limits.idleTimeoutMs without a byte either
 * way (hung, or a link gone silent), is answered as one that failed: 503 SUBGRAPH_UNAVAILABLE, retryable.
 */
function forward(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  call: { target: UploadTarget; headers: Record<string, string>; limits: UploadLimits },
  metrics: Metrics,
): Promise<UploadOutcome> {
  return new Promise((resolve) => {
    const { target, headers, limits } = call;
    // `timeout` counts while the connection is made; setTimeout replaces it once it is made (Node's documented order).
    const options = { method: 'POST', headers, agent: false, timeout: limits.connectTimeoutMs };
    const upstream = http.request(target.url, options);
    upstream.setTimeout(limits.idleTimeoutMs, () =>
      upstream.destroy(new Error('the settlement subgraph did not connect or answer in time')),
    );
    const counter = new ByteCounter(uploadBytesMax, (bytes) => metrics.recordUploadBytes(bytes));
    req.pipe(counter).pipe(upstream);
    // Past the limit the client's body is no longer read: its socket's buffer fills and TCP holds the sender.
    counter.once('limit', () => req.unpipe(counter));
    // The client went away mid-body: the subgraph's request is cut too, and it deletes what it stored.
    req.once('close', () => {
      if (!req.complete) upstream.destroy();
    });
    let answered = false;
    upstream.once('response', (answer) => {
      answered = true;
      const status = answer.statusCode ?? 502;
      relay(answer, res, () => {
        resolve(outcomeOf(status));
        if (!req.complete) void closeAfterDrain(req, counter, upstream);
      });
    });
    upstream.once('error', () => {
      if (answered) return;
      // The client's socket, not req: a request whose body has all been read is destroyed (Node's autoDestroy), and
      // its client, still waiting, was left without an answer.
      if (!res.headersSent && !req.socket.destroyed) {
        sendJson(res, 503, {
          error: { code: 'SUBGRAPH_UNAVAILABLE', message: 'the settlement service did not answer: retry the upload' },
        });
        if (!req.complete) void closeAfterDrain(req, counter, upstream);
      }
      resolve('unavailable');
    });
  });
}

/** The subgraph's answer, as it is (a small JSON body, read up to uploadAnswerBytesMax). */
function relay(answer: http.IncomingMessage, res: http.ServerResponse, done: () => void): void {
  const parts: Buffer[] = [];
  let bytes = 0;
  answer.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    if (bytes <= uploadAnswerBytesMax) parts.push(chunk);
  });
  answer.once('end', () => {
    const body = Buffer.concat(parts);
    const retryAfter = answer.headers['retry-after'];
    res.writeHead(answer.statusCode ?? 502, {
      'content-type': answer.headers['content-type'] ?? 'application/json; charset=utf-8',
      'content-length': body.length,
      ...(retryAfter ? { 'retry-after': retryAfter } : {}),
    });
    res.end(body, done);
  });
  answer.once('error', () => {
    if (!res.headersSent) res.destroy();
    done();
  });
}

/**
 * After an answer given before the body ended: the subgraph's request is cut, and the client's body read and dropped
 * for a moment (drainBody); a body still going after it loses its connection.
 */
async function closeAfterDrain(
  req: http.IncomingMessage,
  counter: ByteCounter,
  upstream: http.ClientRequest,
): Promise<void> {
  req.unpipe(counter);
  upstream.destroy();
  if (!(await drainBody(req))) req.destroy();
}

/**
 * Passes the body on and counts it; once it passes `bytesMax`, it passes one byte more than the limit (so that the
 * subgraph, counting too, refuses the upload and deletes it before it answers), ends, and emits 'limit'.
 */
class ByteCounter extends Transform {
  private bytes = 0;
  private ended = false;

  constructor(
    private readonly bytesMax: number,
    private readonly onBytes: (bytes: number) => void,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    if (this.ended) return done();
    this.onBytes(chunk.length);
    const before = this.bytes;
    this.bytes += chunk.length;
    if (this.bytes <= this.bytesMax) return done(null, chunk);
    this.ended = true;
    this.push(chunk.subarray(0, this.bytesMax - before + 1));
    this.push(null);
    this.emit('limit');
    done();
  }
}
