import http from 'node:http';
import { listen } from '@paygraph/shared/server/http';

/**
 * An HTTP server standing in for a subgraph, for tests of what the gateway sends a subgraph and
 * how it answers what the subgraph says: every request gets the same answer, and the headers and
 * body of each request are kept.
 */
export interface StubAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface StubSubgraph {
  /** Its GraphQL URL, for the gateway's subgraph URLs. */
  url: string;
  port: number;
  /** The headers of every request it was sent, in order. */
  requests: http.IncomingHttpHeaders[];
  /** The body of every request it was sent, in order. */
  bodies: string[];
  close(): Promise<void>;
}

export async function startStubSubgraph(answer: StubAnswer): Promise<StubSubgraph> {
  const requests: http.IncomingHttpHeaders[] = [];
  const bodies: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(req.headers);
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      bodies.push(Buffer.concat(chunks).toString('utf8'));
      res.writeHead(answer.status, answer.headers);
      res.end(answer.body);
    });
  });
  const port = await listen(server, 0, '127.0.0.1');
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    port,
    requests,
    bodies,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
