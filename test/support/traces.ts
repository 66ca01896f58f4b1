import { randomBytes } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import http from 'node:http';
import { gunzipSync } from 'node:zlib';

/**
 * Helpers for the trace tests: a client's W3C traceparent, and what this process's HTTP servers
 * (the in-process stack's subgraphs) received, read from Node's own diagnostics channel rather
 * than through any hook of ours.
 */
export interface ClientTrace {
  traceId: string;
  /** The client's own span: the gateway's server span must name it as its parent. */
  parentId: string;
  traceparent: string;
}

export function clientTrace(): ClientTrace {
  const traceId = randomBytes(16).toString('hex');
  const parentId = randomBytes(8).toString('hex');
  return { traceId, parentId, traceparent: `00-${traceId}-${parentId}-01` };
}

export interface ReceivedRequest {
  port: number | undefined;
  path: string | undefined;
  traceparent: string | undefined;
}

/** Every request an HTTP server of this process starts serving until stop() is called. */
export function recordReceivedRequests(): { received: ReceivedRequest[]; stop(): void } {
  const received: ReceivedRequest[] = [];
  const listener = (message: unknown): void => {
    const { request } = message as { request: http.IncomingMessage };
    const header = request.headers.traceparent;
    received.push({
      port: request.socket.localPort,
      path: request.url,
      traceparent: Array.isArray(header) ? header[0] : header,
    });
  };
  subscribe('http.server.request.start', listener);
  return { received, stop: () => void unsubscribe('http.server.request.start', listener) };
}

export function portOf(url: string): number {
  return Number(new URL(url).port);
}

/** One span as OTLP/HTTP JSON carries it (ids in hex), with its process's service.name. */
export interface ExportedSpan {
  service: string;
  scope: string;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  /** OTLP's numbering: 2 server, 3 client. */
  kind: number;
  attributes: Record<string, unknown>;
}

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  doubleValue?: number;
}
interface OtlpKeyValue {
  key: string;
  value: OtlpValue;
}
interface OtlpExport {
  resourceSpans?: Array<{
    resource?: { attributes?: OtlpKeyValue[] };
    scopeSpans?: Array<{
      scope?: { name?: string };
      spans?: Array<{
        traceId: string;
        spanId: string;
        parentSpanId?: string;
        name: string;
        kind: number;
        attributes?: OtlpKeyValue[];
      }>;
    }>;
  }>;
}

export interface OtlpReceiver {
  /** What OTEL_EXPORTER_OTLP_ENDPOINT should say: the exporters post to <url>/v1/traces. */
  url: string;
  spans(): ExportedSpan[];
  /** Every request body received, as sent. */
  bodies(): string[];
  close(): Promise<void>;
}

/** A collector's OTLP/HTTP JSON trace endpoint, in this process: keeps what it is sent. */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const bodies: string[] = [];
  const spans: ExportedSpan[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const text = (req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8');
      if (req.url === '/v1/traces') {
        bodies.push(text);
        spans.push(...spansOf(JSON.parse(text) as OtlpExport));
      }
      res.writeHead(req.url === '/v1/traces' ? 200 : 404, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    spans: () => [...spans],
    bodies: () => [...bodies],
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function spansOf(body: OtlpExport): ExportedSpan[] {
  return (body.resourceSpans ?? []).flatMap((resourceSpans) => {
    const service = String(valueOf(resourceSpans.resource?.attributes?.find((a) => a.key === 'service.name')?.value));
    return (resourceSpans.scopeSpans ?? []).flatMap((scopeSpans) =>
      (scopeSpans.spans ?? []).map((span) => ({
        service,
        scope: scopeSpans.scope?.name ?? '',
        traceId: span.traceId,
        spanId: span.spanId,
        parentSpanId: span.parentSpanId || undefined,
        name: span.name,
        kind: span.kind,
        attributes: Object.fromEntries((span.attributes ?? []).map((a) => [a.key, valueOf(a.value)])),
      })),
    );
  });
}

function valueOf(value: OtlpValue | undefined): unknown {
  if (value === undefined) return undefined;
  if (value.intValue !== undefined) return Number(value.intValue);
  return value.stringValue ?? value.boolValue ?? value.doubleValue;
}
