import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { HeaderMap, type ApolloServer, type BaseContext } from '@apollo/server';
import { refusedBodyLingerBytesMax, refusedBodyLingerMs, requestBodyBytesMax } from '../limits';
import { requestIdFrom, requestIdHeader, requestLog, type Logger } from '../log';
import { inServerSpan } from '../tracing';

/**
 * A minimal Node http front for Apollo Server: no framework, one code path for the gateway
 * and every subgraph. Extra routes (/health, /metrics) are plain handlers.
 */
export type RouteHandler = (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void> | void;

export interface GraphQLHttpOptions<C extends BaseContext> {
  apollo: ApolloServer<C>;
  context: (req: http.IncomingMessage) => Promise<C>;
  routes?: Record<string, RouteHandler>;
  /** Called once per finished GraphQL request, e.g. for metrics. */
  onRequestDone?: (req: http.IncomingMessage, status: number, elapsedMs: number) => void;
  /**
   * Looks at a request once its body is read and before Apollo Server parses anything; a
   * refusal is sent as it is. The gateway refuses batches and oversized documents here.
   */
  screen?: (request: ScreenedRequest) => ScreenRefusal | null;
  /**
   * Runs first on /graphql, before the body is read or anything verified: a refusal is sent as it is, and what the
   * client still sends of its body is drained (drainBody). The gateway refuses here an address that has used its
   * budget of refused requests (security/refusal-throttle.ts), so that such requests cost it next to nothing. A
   * request let in is told its status once answered, whatever answered it (a body that does not parse, the screen,
   * resolve, the express lane, Apollo Server; 500 for an error thrown), so that every refusal can be counted.
   */
  admit?: (req: http.IncomingMessage) => Admission;
  /**
   * Runs after the screen: answers the request Apollo Server is to see (the gateway puts a
   * trusted document's text in place of its id) or a refusal, sent as it is.
   */
  resolve?: (request: ScreenedRequest) => ScreenedRequest | ScreenRefusal;
  /**
   * Runs before every path but the routes: false answers a bare 401 before the body is read,
   * so a caller that may not be here learns nothing about what is behind it.
   */
  authenticate?: (req: http.IncomingMessage) => Promise<boolean>;
  /**
   * The express lane: a request it recognises (a document it knows, sent as its callers send it) it answers itself,
   * as Apollo Server would, and resolves true; anything else it leaves to Apollo Server, untouched, and resolves false,
   * or the context Apollo Server is to run the request with (one the lane made already, which may carry what the
   * lane did). It must decide before it does anything a second execution would repeat.
   */
  express?: (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    request: ScreenedRequest,
  ) => Promise<boolean | { context: C }>;
}

export interface ScreenedRequest {
  method: string;
  /** The URL's query string, with its "?": a GET request's operation is there. */
  search: string;
  /** The parsed JSON body; undefined for a GET request. */
  body: unknown;
}

export interface ScreenRefusal {
  status: number;
  body: unknown;
  /** Headers of the answer besides its content type and length (a 429's Retry-After). */
  headers?: Readonly<Record<string, string>>;
}

/** What admit answers: a refusal sent before the body is read, or the request let in and told how it was answered. */
export type Admission = { refusal: ScreenRefusal } | { refusal: null; answered(status: number): void };

export class BodyTooLarge extends Error {}

/**
 * Where operators send a bank's file too large for a GraphQL request (the contract's ImportBankStatement): the
 * gateway's public path, and the settlement subgraph's, to which the gateway streams it.
 */
export const statementUploadsPath = '/uploads/statements';

export function readBody(req: http.IncomingMessage, limitBytes: number = requestBodyBytesMax): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes) {
        // The rest is read and dropped rather than the socket destroyed here: destroying it
        // before the 413 is written would leave the client with a reset connection instead.
        chunks.length = 0;
        req.removeAllListeners('data');
        req.resume();
        reject(new BodyTooLarge(`request body is larger than ${limitBytes} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** The request's body ended before its last byte: the sender went away. */
export class BodyCutShort extends Error {
  override name = 'BodyCutShort';
}

/**
 * A request's body as it arrives, read piece by piece at the reader's pace (a piece is what the socket delivered,
 * at most about its 16 KiB buffer and one read). Unlike the stream's own iterator, leaving it early neither destroys
 * the request (its answer is still to be written) nor keeps a listener on it, so drainBody can read on after it. A
 * sender gone mid-body fails the next read with BodyCutShort.
 */
export function bodyPieces(req: http.IncomingMessage): AsyncIterable<Buffer> {
  return { [Symbol.asyncIterator]: () => ({ next: () => nextPiece(req) }) };
}

function nextPiece(req: http.IncomingMessage): Promise<IteratorResult<Buffer, undefined>> {
  return new Promise((resolve, reject) => {
    const settle = (outcome: () => void) => {
      req.removeListener('readable', attempt);
      req.removeListener('end', attempt);
      req.removeListener('error', cutShort);
      req.removeListener('close', cutShort);
      outcome();
    };
    const cutShort = () => settle(() => reject(new BodyCutShort('the request ended before its body did')));
    function attempt(): void {
      const piece = req.read() as Buffer | null;
      if (piece !== null) settle(() => resolve({ value: piece, done: false }));
      else if (req.readableEnded || req.complete) settle(() => resolve({ value: undefined, done: true }));
      else if (req.destroyed) cutShort();
    }
    req.on('readable', attempt);
    req.on('end', attempt);
    req.on('error', cutShort);
    req.on('close', cutShort);
    attempt();
  });
}

/**
 * Reads and drops what is left of a request's body, for at most refusedBodyLingerMs and refusedBodyLingerBytesMax;
 * answers whether the body ended within them. The caller answers before or after it and closes the request when it
 * did not end.
 */
export function drainBody(req: http.IncomingMessage): Promise<boolean> {
  if (req.complete) return Promise.resolve(true);
  return new Promise((resolve) => {
    let drained = 0;
    const finish = (ended: boolean) => {
      clearTimeout(timer);
      req.removeListener('data', onData);
      resolve(ended);
    };
    const onData = (chunk: Buffer) => {
      drained += chunk.length;
      if (drained > refusedBodyLingerBytesMax) finish(false);
    };
    const timer = setTimeout(() => finish(false), refusedBodyLingerMs);
    req.on('data', onData);
    req.once('end', () => finish(true));
    req.once('close', () => finish(req.complete));
    req.resume();
  });
}

/** What a process's /metrics serves: its Prometheus registry's text. */
export interface MetricsSource {
  render(): Promise<string>;
  readonly contentType: string;
}

/**
 * The routes every process (the gateway and each subgraph) serves beside /graphql, open to
 * whatever can reach its port: /health/live, /health/ready with the process's own report (and
 * /health, the first health path, kept for scripts and orchestrators that ask it: the same status,
 * in its first format, which `ready(true)` answers), and /metrics for a Prometheus scraper. What they tell is counts and states by
 * database name, never an id, amount or client's text (SECURITY.md).
 */
export function serviceRoutes(
  service: string,
  ready: (firstFormat: boolean) => Promise<{ httpStatus: number; report: unknown }>,
  metrics: MetricsSource,
): Record<string, RouteHandler> {
  const readyRoute =
    (firstFormat: boolean): RouteHandler =>
    async (_req, res) => {
      const { httpStatus, report } = await ready(firstFormat);
      sendJson(res, httpStatus, report);
    };
  return {
    '/health/live': (_req, res) => sendJson(res, 200, { service, status: 'live' }),
    '/health/ready': readyRoute(false),
    '/health': readyRoute(true),
    '/metrics': async (_req, res) => {
      const text = await metrics.render();
      res.writeHead(200, { 'content-type': metrics.contentType });
      res.end(text);
    },
  };
}

export function sendJson(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** No body and no keep-alive: the connection closes instead of reading whatever body was sent. */
export function sendUnauthorized(res: http.ServerResponse): void {
  res.writeHead(401, { 'content-length': '0', connection: 'close' });
  res.end();
}

export function createGraphQLHttpServer<C extends BaseContext>(options: GraphQLHttpOptions<C>): http.Server {
  const server = http.createServer((req, res) => {
    res.setHeader(requestIdHeader, requestIdOf(req));
    handle(options, req, res).catch((error: unknown) => {
      requestLogOf(req).error({ err: error }, 'unhandled request error');
      if (!res.headersSent) sendJson(res, 500, { errors: [{ message: 'internal error' }] });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 65_000;
  return server;
}

const requestIds = new WeakMap<http.IncomingMessage, string>();

/**
 * The request's id: the caller's x-request-id when it is short and safe (the gateway's, for a
 * subgraph), a fresh one otherwise. Echoed in the response, written in every log line of the
 * request and, by the gateway, sent on every subgraph call and kept in its audit rows.
 */
export function requestIdOf(req: http.IncomingMessage): string {
  let id = requestIds.get(req);
  if (id === undefined) {
    id = requestIdFrom(req.headers[requestIdHeader]);
    requestIds.set(req, id);
  }
  return id;
}

const requestLogs = new WeakMap<http.IncomingMessage, Logger>();

/**
 * The request's logger: its lines name the request's id. The contexts carry it (`ctx.log`) to
 * resolvers and services, which hand it to what logs below them.
 */
export function requestLogOf(req: http.IncomingMessage): Logger {
  let logger = requestLogs.get(req);
  if (logger === undefined) {
    logger = requestLog(requestIdOf(req));
    requestLogs.set(req, logger);
  }
  return logger;
}

async function handle<C extends BaseContext>(
  options: GraphQLHttpOptions<C>,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const route = options.routes?.[url.pathname];
  if (route) return route(req, res);
  // Health and metrics are left out of traces: scraped every few seconds, they would drown them.
  return inServerSpan(req, res, requestIdOf(req), () => serve(options, req, res, url));
}

async function serve<C extends BaseContext>(
  options: GraphQLHttpOptions<C>,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  url: URL,
): Promise<void> {
  if (options.authenticate && !(await options.authenticate(req))) return sendUnauthorized(res);
  if (url.pathname !== '/graphql') return sendJson(res, 404, { error: 'not found: try /graphql' });
  const started = performance.now();
  const admission = options.admit?.(req);
  if (!admission) return answer(options, req, res, url, started);
  if (admission.refusal !== null) return refuseUnread(options, req, res, admission.refusal, started);
  try {
    await answer(options, req, res, url, started);
  } finally {
    // An error thrown before anything was sent is answered 500 by the handler (createGraphQLHttpServer).
    admission.answered(res.headersSent ? res.statusCode : 500);
  }
}

/** A /graphql request let in: its body read and parsed, screened, resolved, then answered by the lane or Apollo. */
async function answer<C extends BaseContext>(
  options: GraphQLHttpOptions<C>,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  url: URL,
  started: number,
): Promise<void> {
  if (refusedAsCsrf(req)) return answerCsrfUnread(options, req, res, url, started);
  let body: unknown;
  try {
    const text = req.method === 'POST' ? await readBody(req) : '';
    body = text === '' ? undefined : JSON.parse(text);
  } catch (error) {
    const status = error instanceof BodyTooLarge ? 413 : 400;
    const message = error instanceof Error ? error.message : 'unreadable body';
    if (error instanceof BodyTooLarge) {
      // Once the refusal is written the connection goes, and with it whatever is still being sent.
      res.setHeader('connection', 'close');
      res.once('finish', () => req.destroy());
    }
    return sendJson(res, status, { errors: [{ message, extensions: { code: 'BAD_REQUEST' } }] });
  }
  const screened: ScreenedRequest = { method: req.method ?? 'GET', search: url.search, body };
  const refused = options.screen?.(screened);
  const resolved = refused ?? options.resolve?.(screened) ?? screened;
  if ('status' in resolved) {
    sendJson(res, resolved.status, resolved.body, resolved.headers);
    options.onRequestDone?.(req, resolved.status, performance.now() - started);
    return;
  }
  const express = options.express ? await options.express(req, res, resolved) : false;
  if (express === true) return served(options, req, res.statusCode, started);
  const context = express === false ? () => options.context(req) : () => Promise.resolve(express.context);
  served(options, req, await answerByApollo(options, req, res, resolved, context), started);
}

/** Apollo Server's answer to the request, written; its status. */
async function answerByApollo<C extends BaseContext>(
  options: GraphQLHttpOptions<C>,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  request: ScreenedRequest,
  context: () => Promise<C>,
): Promise<number> {
  const headers = new HeaderMap();
  for (const [key, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
  }
  const response = await options.apollo.executeHTTPGraphQLRequest({
    httpGraphQLRequest: { method: request.method, headers, search: request.search, body: request.body },
    context,
  });
  const status = response.status ?? 200;
  res.statusCode = status;
  for (const [key, value] of response.headers) res.setHeader(key, value);
  if (response.body.kind === 'complete') {
    res.end(response.body.string);
  } else {
    for await (const chunk of response.body.asyncIterator) res.write(chunk);
    res.end();
  }
  return status;
}

/**
 * A POST whose content type a page on another site may send without a CORS preflight (none; or text/plain,
 * application/x-www-form-urlencoded, multipart/form-data, as the WHATWG MIME parse Apollo Server uses reads them) and
 * without a non-empty `x-apollo-operation-name` or `apollo-require-preflight` header: Apollo Server's CSRF prevention
 * (its default, which the gateway and every subgraph keep) refuses it from those headers alone, before it looks at
 * the body. Such a request is answered by Apollo Server with no body (answerCsrfUnread), so a page cannot make its
 * visitors' browsers spend the server's CPU on reading and parsing up to requestBodyBytesMax that will be refused
 * anyway, uncounted by the gateway's refusal budget (SECURITY.md). A content type Apollo Server could not parse, which
 * it lets through, does not match: that request is read and Apollo Server decides, as before.
 */
export function refusedAsCsrf(req: http.IncomingMessage): boolean {
  if (req.method !== 'POST') return false;
  const type = req.headers['content-type'];
  if (type !== undefined && !crossSiteContentType.test(type)) return false;
  return !csrfPreventionHeaders.some((name) => {
    const value = req.headers[name];
    return typeof value === 'string' && value.length > 0;
  });
}

/** The content types a form or fetch may send to another site without a CORS preflight (Apollo Server's list). */
export const crossSiteContentTypes = [
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data',
] as const;

/** One of crossSiteContentTypes, with what the WHATWG MIME parse lets around it (HTTP whitespace, parameters). */
const crossSiteContentType = new RegExp(
  `^[\\t\\n\\r ]*(?:${crossSiteContentTypes.join('|')})[\\t\\n\\r ]*(?:;|$)`,
  'i',
);

/** Apollo Server's recommendedCsrfPreventionRequestHeaders, the ones its csrfPrevention default requires. */
export const csrfPreventionHeaders = ['x-apollo-operation-name', 'apollo-require-preflight'] as const;

/**
 * A POST Apollo Server refuses as CSRF (refusedAsCsrf): its answer, Apollo Server's own (the request given no body;
 * its CSRF check comes before anything reads one), then the body drained unread as a refusal's (refuseUnread).
 */
async function answerCsrfUnread<C extends BaseContext>(
  options: GraphQLHttpOptions<C>,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  url: URL,
  started: number,
): Promise<void> {
  const request: ScreenedRequest = { method: 'POST', search: url.search, body: undefined };
  served(options, req, await answerByApollo(options, req, res, request, () => options.context(req)), started);
  if (!(await drainBody(req))) req.destroy();
}

/**
 * A refusal sent before the body was read (options.admit): the body still coming is read and dropped for a moment, so
 * that the client reads the answer rather than a reset, and a body still going after it loses its connection.
 */
async function refuseUnread<C extends BaseContext>(
  options: GraphQLHttpOptions<C>,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  refusal: ScreenRefusal,
  started: number,
): Promise<void> {
  sendJson(res, refusal.status, refusal.body, refusal.headers);
  options.onRequestDone?.(req, refusal.status, performance.now() - started);
  if (!(await drainBody(req))) req.destroy();
}

/** A GraphQL request answered, by Apollo Server or an express lane: counted, and its debug line written. */
function served<C extends BaseContext>(
  options: GraphQLHttpOptions<C>,
  req: http.IncomingMessage,
  status: number,
  started: number,
): void {
  const elapsedMs = performance.now() - started;
  options.onRequestDone?.(req, status, elapsedMs);
  requestLogOf(req).debug({ method: req.method, status, elapsedMs: Math.round(elapsedMs) }, 'graphql request served');
}

export function listen(server: http.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}
