import { Pool } from 'undici';
import { subgraphConnectionsMax, subgraphRequestTimeoutMs } from './limits';

/**
 * The gateway's HTTP client for its subgraphs: one keep-alive undici Pool per subgraph, with
 * plain request/response instead of fetch. Node's fetch (WHATWG streams, Request and Headers
 * objects, and a node-fetch Request Apollo builds beside it) was a tenth of the gateway's CPU
 * per payment (docs/PERFORMANCE.md).
 */
export interface SubgraphResponse {
  status: number;
  headers: Record<string, string>;
  text: string;
}

export class SubgraphClient {
  private readonly pool: Pool;
  private readonly path: string;

  constructor(readonly url: string) {
    const parsed = new URL(url);
    this.path = `${parsed.pathname}${parsed.search}`;
    this.pool = new Pool(parsed.origin, {
      connections: subgraphConnectionsMax,
      headersTimeout: subgraphRequestTimeoutMs,
      bodyTimeout: subgraphRequestTimeoutMs,
    });
  }

  async post(headers: Record<string, string>, body: string): Promise<SubgraphResponse> {
    const response = await this.pool.request({ path: this.path, method: 'POST', headers, body });
    const text = await response.body.text();
    const flat: Record<string, string> = {};
    for (const [name, value] of Object.entries(response.headers)) {
      if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    return { status: response.statusCode, headers: flat, text };
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
