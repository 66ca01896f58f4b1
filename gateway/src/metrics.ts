/**
 * A small Prometheus text exposition: request counts and latency histograms per operation.
 * Operation names come from clients, so their number is capped; the rest count as "other".
 */
export const metricsOperationNamesMax = 200;
const latencyBucketsMs = [5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000] as const;

interface Series {
  count: number;
  errors: number;
  sumMs: number;
  buckets: number[];
}

export class Metrics {
  private readonly series = new Map<string, Series>();
  private readonly startedAt = Date.now();

  record(operation: string, ok: boolean, elapsedMs: number): void {
    const name = this.series.has(operation) || this.series.size < metricsOperationNamesMax ? operation : 'other';
    let s = this.series.get(name);
    if (!s) {
      s = { count: 0, errors: 0, sumMs: 0, buckets: latencyBucketsMs.map(() => 0) };
      this.series.set(name, s);
    }
    s.count += 1;
    if (!ok) s.errors += 1;
    s.sumMs += elapsedMs;
    latencyBucketsMs.forEach((bound, i) => {
      if (elapsedMs <= bound) s.buckets[i]! += 1;
    });
  }

  render(): string {
    const lines = [
      '# HELP paygraph_graphql_requests_total GraphQL operations handled, by operation name and outcome.',
      '# TYPE paygraph_graphql_requests_total counter',
    ];
    for (const [op, s] of this.series) {
      lines.push(`paygraph_graphql_requests_total{operation="${escapeLabel(op)}",outcome="ok"} ${s.count - s.errors}`);
      lines.push(`paygraph_graphql_requests_total{operation="${escapeLabel(op)}",outcome="error"} ${s.errors}`);
    }
    lines.push('# HELP paygraph_graphql_request_duration_seconds Time from request to response, by operation name.');
    lines.push('# TYPE paygraph_graphql_request_duration_seconds histogram');
    for (const [op, s] of this.series) {
      const label = `operation="${escapeLabel(op)}"`;
      latencyBucketsMs.forEach((bound, i) => {
        lines.push(`paygraph_graphql_request_duration_seconds_bucket{${label},le="${bound / 1000}"} ${s.buckets[i]}`);
      });
      lines.push(`paygraph_graphql_request_duration_seconds_bucket{${label},le="+Inf"} ${s.count}`);
      lines.push(`paygraph_graphql_request_duration_seconds_sum{${label}} ${s.sumMs / 1000}`);
      lines.push(`paygraph_graphql_request_duration_seconds_count{${label}} ${s.count}`);
    }
    const memory = process.memoryUsage();
    lines.push('# HELP process_resident_memory_bytes Resident memory size in bytes.');
    lines.push('# TYPE process_resident_memory_bytes gauge');
    lines.push(`process_resident_memory_bytes ${memory.rss}`);
    lines.push('# HELP process_uptime_seconds Seconds since the gateway started.');
    lines.push('# TYPE process_uptime_seconds gauge');
    lines.push(`process_uptime_seconds ${(Date.now() - this.startedAt) / 1000}`);
    return `${lines.join('\n')}\n`;
  }
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
