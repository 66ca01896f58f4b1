import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { collectProcessDefaults, processRegistry } from '@paygraph/shared/metrics';
import type { OperationPath } from './pass-through/gateway';
import type { ClientLabel } from './client-awareness';
import { metricsOperationNamesMax } from './limits';

/**
 * The gateway's metrics on prom-client: GraphQL operations by name and outcome, their latency,
 * and open subscriptions, in a registry of this gateway's own (a test process runs several
 * gateways), served merged with the process's registry (Node's defaults among them).
 * Operation names come from clients, so their number is capped (metricsOperationNamesMax, limits.ts); the rest
 * count as "other".
 */
const latencyBucketsSeconds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** How a statement upload ended (statement-uploads.ts). */
export type UploadOutcome = 'stored' | 'unauthenticated' | 'forbidden' | 'too_large' | 'refused' | 'unavailable';

export class Metrics {
  readonly registry = new Registry();
  private readonly operationNames = new Set<string>();
  private readonly requests = new Counter({
    name: 'paygraph_graphql_requests_total',
    help: 'GraphQL operations handled, by operation name and outcome.',
    labelNames: ['operation', 'outcome'] as const,
    registers: [this.registry],
  });
  private readonly duration = new Histogram({
    name: 'paygraph_graphql_request_duration_seconds',
    help: 'Time from request to response, by operation name.',
    labelNames: ['operation'] as const,
    buckets: latencyBucketsSeconds,
    registers: [this.registry],
  });

  /**
   * By client and version (client-awareness.ts bounds them), not by operation too: that product would be too many
   * series.
   */
  private readonly clientRequests = new Counter({
    name: 'paygraph_graphql_client_requests_total',
    help: "GraphQL operations handled, by client name and version (apollographql-client-name/-version, or the trusted document's manifest) and outcome.",
    labelNames: ['client', 'version', 'outcome'] as const,
    registers: [this.registry],
  });

  private readonly paths = new Counter({
    name: 'paygraph_gateway_operation_paths_total',
    help: 'Operations executed, by path: forwarded to the one subgraph that serves them, or planned by the query planner.',
    labelNames: ['path'] as const,
    registers: [this.registry],
  });
  private readonly pathCounts: Record<OperationPath, number> = { forwarded: 0, planned: 0 };
  private readonly unparsed = new Counter({
    name: 'paygraph_gateway_unparsed_answers_total',
    help: "Forwarded operations answered with the subgraph's own text, neither parsed nor serialised again.",
    registers: [this.registry],
  });
  private unparsedCount = 0;
  private readonly express = new Counter({
    name: 'paygraph_gateway_express_answers_total',
    help: "Operations the express lane answered itself, without Apollo Server's request pipeline (pass-through/express-lane.ts).",
    registers: [this.registry],
  });
  private expressCount = 0;
  private readonly renderedCopies = new Counter({
    name: 'paygraph_gateway_rendered_copies_total',
    help: "Copies of subgraphs' kept answers the express lane kept (kept) and wrote when the subgraph answered that its answer was the same (same): pass-through/rendered-copies.ts.",
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  private readonly uploads = new Counter({
    name: 'paygraph_gateway_statement_uploads_total',
    help: 'Statement uploads (POST /uploads/statements), by outcome.',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  /** Read from clients' bodies and passed on: a refused upload's body is never read, so it adds nothing here. */
  private readonly uploadBytes = new Counter({
    name: 'paygraph_gateway_statement_upload_bytes_total',
    help: "Bytes of statement uploads' bodies the gateway read and streamed to the settlement subgraph.",
    registers: [this.registry],
  });

  /** openSubscriptions: how many subscriptions this gateway serves now, read at scrape time. */
  constructor(openSubscriptions: () => number = () => 0) {
    collectProcessDefaults();
    new Gauge({
      name: 'paygraph_gateway_subscriptions_open',
      help: 'GraphQL subscriptions this gateway is serving now.',
      registers: [this.registry],
      collect() {
        this.set(openSubscriptions());
      },
    });
  }

  record(operation: string, ok: boolean, elapsedMs: number): void {
    const name =
      this.operationNames.has(operation) || this.operationNames.size < metricsOperationNamesMax ? operation : 'other';
    this.operationNames.add(name);
    this.requests.inc({ operation: name, outcome: ok ? 'ok' : 'error' });
    this.duration.observe({ operation: name }, elapsedMs / 1000);
  }

  recordClient(client: ClientLabel, ok: boolean): void {
    this.clientRequests.inc({ client: client.name, version: client.version, outcome: ok ? 'ok' : 'error' });
  }

  recordPath(path: OperationPath): void {
    this.paths.inc({ path });
    this.pathCounts[path] += 1;
  }

  recordUpload(outcome: UploadOutcome): void {
    this.uploads.inc({ outcome });
  }

  recordUploadBytes(bytes: number): void {
    this.uploadBytes.inc(bytes);
  }

  recordUnparsedAnswer(): void {
    this.unparsed.inc();
    this.unparsedCount += 1;
  }

  recordExpressAnswer(): void {
    this.express.inc();
    this.expressCount += 1;
  }

  recordRenderedCopy(outcome: 'kept' | 'same'): void {
    this.renderedCopies.inc({ outcome });
  }

  /** Operations the express lane answered so far. */
  expressAnswers(): number {
    return this.expressCount;
  }

  /** Forwarded operations answered so far with the subgraph's own text (pass-through/raw-answer.ts). */
  unparsedAnswers(): number {
    return this.unparsedCount;
  }

  /** Operations executed so far by each path. */
  operationPaths(): Readonly<Record<OperationPath, number>> {
    return { ...this.pathCounts };
  }

  /** Prometheus text: this gateway's series, then the process's. */
  async render(): Promise<string> {
    return Registry.merge([this.registry, processRegistry]).metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
