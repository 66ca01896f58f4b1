import type { ShardSet } from '../shards/pool';
import type { SubgraphServer } from './subgraph';

/**
 * The common life of a subgraph process: start, say where it listens, and on SIGTERM/SIGINT
 * stop taking requests, let running ones finish, close the shard pools and exit.
 */
export async function runSubgraphMain(
  name: string,
  start: () => Promise<{ port: number; shards: ShardSet; server: SubgraphServer }>,
): Promise<void> {
  const { port, shards, server } = await start();
  console.log(`${name} subgraph listening on http://127.0.0.1:${port}/graphql`);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    server.http.close();
    server.http.closeIdleConnections();
    await server.apollo.stop();
    await shards.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
}
