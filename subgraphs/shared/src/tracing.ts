import type http from 'node:http';
import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type TextMapSetter,
  type Tracer,
} from '@opentelemetry/api';
import type { SpanExporter } from '@opentelemetry/sdk-trace';
import {
  ATTR_DB_NAMESPACE,
  ATTR_DB_OPERATION_BATCH_SIZE,
  ATTR_DB_OPERATION_NAME,
  ATTR_DB_QUERY_TEXT,
  ATTR_DB_SYSTEM_NAME,
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_SERVER_PORT,
  ATTR_SERVICE_NAME,
  ATTR_URL_PATH,
  DB_SYSTEM_NAME_VALUE_MYSQL,
} from '@opentelemetry/semantic-conventions';
import {
  traceAttributeValueCharsMax,
  traceExportBatchSpansMax,
  traceExportDelayMs,
  traceQueueSpansMax,
} from './limits';

/**
 * OpenTelemetry traces: a request's path from the gateway through its subgraph calls to every
 * shard statement, one trace across processes by the W3C `traceparent` header.
 *
 * Off unless main.ts calls startTracing (OTEL_EXPORTER_OTLP_ENDPOINT set). Off, nothing is
 * registered with the OpenTelemetry API — no tracer provider, no context manager, no
 * propagator — and every helper below returns at its first line (`tracer === null`), before it
 * builds a span, an attribute object or a header. What the off path costs is in
 * docs/GATEWAY.md (Traces).
 *
 * Spans carry no bound values: a statement's text is the SQL with its `?` placeholders, as
 * written in db/ (the posting transaction hands over that text for its round trips, whose
 * values it binds itself), and a failure records its kind, never its message (mysql2's
 * messages quote the duplicate key, and its errors carry the bound statement).
 */
let tracer: Tracer | null = null;

/** Attributes paygraph adds beside OpenTelemetry's conventions. */
export const tracingAttributes = {
  requestId: 'paygraph.request_id',
  batchItems: 'paygraph.batch.items',
  /** The first convention's name, still the one most backends group databases by; db.system.name is the stable one. */
  dbSystemLegacy: 'db.system',
} as const;

/** The scope name of every span paygraph makes (Apollo's gateway makes its own, named apollo/gateway-js). */
export const tracerName = 'paygraph';

export type TracingOptions = { serviceName: string } &
  /**
   * OTEL_EXPORTER_OTLP_ENDPOINT: the collector's base URL; spans are posted to <endpoint>/v1/traces as OTLP/HTTP JSON.
   */
  (
    | { otlpEndpoint: string }
    /** Where spans go instead (tests: an InMemorySpanExporter). */
    | { exporter: SpanExporter }
  );

export interface Tracing {
  /** Exports every finished span now. */
  flush(): Promise<void>;
  /** Exports what is left and unregisters everything: the helpers are off again. */
  shutdown(): Promise<void>;
}

/**
 * Registers a tracer provider, the AsyncLocalStorage context manager and the W3C propagator; once
 * per process, before the servers are created. The SDK and the exporter are loaded here and only
 * here: a process without a collector never loads them (their import took 0.35–0.42 s of every
 * process's start-up, and of every test file's, on this VM; the API alone 0.1 s).
 */
export async function startTracing(options: TracingOptions): Promise<Tracing> {
  if (tracer !== null) throw new Error('tracing is started already');
  const [
    { AsyncLocalStorageContextManager },
    { W3CTraceContextPropagator },
    { resourceFromAttributes },
    { BatchSpanProcessor, TracerProvider },
  ] = await Promise.all([
    import('@opentelemetry/context-async-hooks'),
    import('@opentelemetry/core'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/sdk-trace'),
  ]);
  const exporter =
    'exporter' in options
      ? options.exporter
      : new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter({
          url: tracesUrl(options.otlpEndpoint),
        });
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: options.serviceName }),
    spanLimits: { attributeValueLengthLimit: traceAttributeValueCharsMax },
    spanProcessors: [
      new BatchSpanProcessor({
        exporter,
        maxQueueSize: traceQueueSpansMax,
        maxExportBatchSize: traceExportBatchSpansMax,
        scheduledDelayMillis: traceExportDelayMs,
      }),
    ],
  });
  if (!trace.setGlobalTracerProvider(provider))
    throw new Error('another OpenTelemetry tracer provider is registered in this process');
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  tracer = provider.getTracer(tracerName);
  return {
    flush: () => provider.forceFlush(),
    shutdown: async () => {
      tracer = null;
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}

/** OTEL_EXPORTER_OTLP_ENDPOINT is a base URL: the traces path is added as the OTLP specification says. */
export function tracesUrl(endpoint: string): string {
  const protocol = URL.canParse(endpoint) ? new URL(endpoint).protocol : '';
  if (protocol !== 'http:' && protocol !== 'https:')
    throw new Error(`OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s) URL, got "${endpoint}"`);
  return `${endpoint.replace(/\/$/, '')}/v1/traces`;
}

export function tracingOn(): boolean {
  return tracer !== null;
}

/**
 * Serves one HTTP request in a server span that continues the caller's `traceparent` (a
 * client's at the gateway, the gateway's at a subgraph), ended once the answer is written.
 */
export function inServerSpan(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  requestId: string,
  serve: () => Promise<void>,
): Promise<void> {
  if (tracer === null) return serve();
  const parent = propagation.extract(ROOT_CONTEXT, req.headers);
  const method = req.method ?? 'GET';
  const path = (req.url ?? '/').split('?', 1)[0]!;
  const route = path === '/graphql' ? path : undefined;
  const attributes: Attributes = {
    [ATTR_HTTP_REQUEST_METHOD]: method,
    [ATTR_URL_PATH]: path,
    [tracingAttributes.requestId]: requestId,
  };
  if (route) attributes[ATTR_HTTP_ROUTE] = route;
  if (req.socket.localPort !== undefined) attributes[ATTR_SERVER_PORT] = req.socket.localPort;
  const span = tracer.startSpan(route ? `${method} ${route}` : method, { kind: SpanKind.SERVER, attributes }, parent);
  return within(span, trace.setSpan(parent, span), async () => {
    await serve();
    span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, res.statusCode);
    if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
  });
}

const headerSetter: TextMapSetter<{ set(name: string, value: string): void }> = {
  set: (headers, name, value) => headers.set(name, value),
};

/**
 * Writes the current span as `traceparent` into an outgoing request's headers. In the gateway's
 * data source the current span is @apollo/gateway's `gateway.fetch`, one per subgraph call.
 */
export function injectTraceContext(headers: { set(name: string, value: string): void }): void {
  if (tracer === null) return;
  propagation.inject(context.active(), headers, headerSetter);
}

/**
 * Runs a call to another service in a client span of its own, the current span's child: the
 * gateway's call to the one subgraph an operation is forwarded to, named as @apollo/gateway
 * names the calls it plans (`gateway.fetch`, attribute `service`), so a trace has one shape
 * whichever path the operation took.
 */
export function inClientSpan<T>(name: string, attributes: Attributes, work: () => Promise<T>): Promise<T> {
  if (tracer === null) return work();
  const parent = context.active();
  return within(tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes }, parent), parent, work);
}

/**
 * Runs one statement, or one round trip of several, in a client span named by its operation and
 * shard database, when it runs on behalf of a traced request or batch; work outside any span
 * (the relay, the workers, the balance feed's polls) makes none. `texts` are the statements
 * with their placeholders, never with values bound.
 */
export async function inStatementSpan<T>(shard: string, texts: readonly string[], send: () => Promise<T>): Promise<T> {
  const parent = context.active();
  if (tracer === null || trace.getSpan(parent) === undefined) return send();
  const operation = texts.length === 1 ? operationOf(texts[0]!) : 'BATCH';
  const attributes: Attributes = {
    [tracingAttributes.dbSystemLegacy]: DB_SYSTEM_NAME_VALUE_MYSQL,
    [ATTR_DB_SYSTEM_NAME]: DB_SYSTEM_NAME_VALUE_MYSQL,
    [ATTR_DB_NAMESPACE]: shard,
    [ATTR_DB_OPERATION_NAME]: operation,
    [ATTR_DB_QUERY_TEXT]: texts.join(';\n'),
  };
  if (texts.length > 1) attributes[ATTR_DB_OPERATION_BATCH_SIZE] = texts.length;
  const span = tracer.startSpan(`${operation} ${shard}`, { kind: SpanKind.CLIENT, attributes }, parent);
  try {
    return await send();
  } catch (error) {
    failed(span, error);
    throw error;
  } finally {
    span.end();
  }
}

/** The statement's first keyword (SELECT, INSERT, BEGIN), as the span's operation. */
function operationOf(text: string): string {
  const keyword = /^\s*([A-Za-z]+)/.exec(text);
  return keyword ? keyword[1]!.toUpperCase() : 'QUERY';
}

/** What a caller of shared work (a merged batch, a coalesced statement) keeps: its context when it asked. */
export interface TracedCaller {
  readonly context: Context | undefined;
}

/** The caller's context, kept so that work done later for many callers can say whom it served; undefined when off. */
export function callerContext(): Context | undefined {
  return tracer === null ? undefined : context.active();
}

/**
 * Runs work done at once for several callers — a merged posting batch, a coalesced statement —
 * in a span of its own, `<what> <shard>`. Serving one request, it is that request's child.
 * Serving several, it starts a trace of its own, linked to each request's span, and each of
 * those is linked back to it: neither request owns the batch, and either trace leads to it.
 * Serving none (the relay, the workers) it runs outside any span, so it makes no spans at all.
 */
export function inBatchSpan<T>(
  what: string,
  shard: string,
  callers: readonly TracedCaller[],
  work: () => Promise<T>,
): Promise<T> {
  if (tracer === null) return work();
  const served = requestsOf(callers);
  if (served.length === 0) return context.with(ROOT_CONTEXT, work);
  const attributes: Attributes = { [ATTR_DB_NAMESPACE]: shard, [tracingAttributes.batchItems]: callers.length };
  if (served.length === 1) {
    const parent = served[0]!.context;
    return within(tracer.startSpan(`${what} ${shard}`, { attributes }, parent), parent, work);
  }
  const links = served.map((s) => ({ context: s.span.spanContext() }));
  const span = tracer.startSpan(`${what} ${shard}`, { attributes, links }, ROOT_CONTEXT);
  for (const s of served) s.span.addLink({ context: span.spanContext() });
  return within(span, ROOT_CONTEXT, work);
}

/** The distinct spans the callers were in, each with the context it was found in. */
function requestsOf(callers: readonly TracedCaller[]): Array<{ span: Span; context: Context }> {
  const found = new Map<string, { span: Span; context: Context }>();
  for (const caller of callers) {
    const span = caller.context && trace.getSpan(caller.context);
    if (span && caller.context) found.set(span.spanContext().spanId, { span, context: caller.context });
  }
  return [...found.values()];
}

/** Runs work with span current (in parent's context), and ends the span when the work settles. */
function within<T>(span: Span, parent: Context, work: () => Promise<T>): Promise<T> {
  return context.with(trace.setSpan(parent, span), work).then(
    (value) => {
      span.end();
      return value;
    },
    (error: unknown) => {
      failed(span, error);
      span.end();
      throw error;
    },
  );
}

/** The failure's kind only: messages may quote what a statement bound (a duplicate key's value). */
function failed(span: Span, error: unknown): void {
  const { code, name } = (error ?? {}) as { code?: unknown; name?: unknown };
  span.setAttribute(ATTR_ERROR_TYPE, typeof code === 'string' ? code : typeof name === 'string' ? name : 'Error');
  span.setStatus({ code: SpanStatusCode.ERROR });
}
