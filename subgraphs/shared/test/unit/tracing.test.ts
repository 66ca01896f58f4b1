import { describe, expect, it } from 'vitest';
import { tracesUrl } from '../../src/tracing';

describe('OTEL_EXPORTER_OTLP_ENDPOINT', () => {
  it('is a base URL: traces go to its /v1/traces, below any path it has', () => {
    expect(tracesUrl('http://127.0.0.1:4318')).toBe('http://127.0.0.1:4318/v1/traces');
    expect(tracesUrl('http://collector:4318/')).toBe('http://collector:4318/v1/traces');
    expect(tracesUrl('https://otel.example/otlp')).toBe('https://otel.example/otlp/v1/traces');
  });

  it('stops the process at start-up, named, when it is not an http(s) URL', () => {
    expect(() => tracesUrl('127.0.0.1:4318')).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT must be an http\(s\) URL/);
    expect(() => tracesUrl('grpc://collector:4317')).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT/);
    expect(() => tracesUrl('not a url')).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT/);
  });
});
