import type { AddressInfo } from 'node:net';
import { createAccountSubgraph } from '@paygraph/account/server';
import { createTransactionSubgraph } from '@paygraph/transaction/server';
import { createSettlementSubgraph } from '@paygraph/settlement/server';
import { createGateway } from '../../gateway/src/server';
import type { SubgraphServer } from '@paygraph/shared/server/subgraph';
import type { ShardSet } from '@paygraph/shared/shards/pool';
import { listen } from '@paygraph/shared/server/http';
import { testShards, testTokens } from './env';

/**
 * The whole system in this process, each server on its own ephemeral port over real HTTP:
 * three subgraphs and the gateway in front of them.
 */
export interface Stack {
  gatewayUrl: string;
  subgraphUrls: { account: string; transaction: string; settlement: string };
  shards: ShardSet;
  stop(): Promise<void>;
}

export interface StackOptions {
  /** The clock every subgraph reads (business dates, settlement readiness); tests move it. */
  now?: () => Date;
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const shards = testShards();
  const tokens = testTokens();
  const subgraphs: Record<'account' | 'transaction' | 'settlement', SubgraphServer> = {
    account: await createAccountSubgraph(shards, tokens, options.now),
    transaction: await createTransactionSubgraph(shards, tokens, options.now),
    settlement: await createSettlementSubgraph(shards, tokens, options.now),
  };
  const urls = {
    account: await urlOf(subgraphs.account),
    transaction: await urlOf(subgraphs.transaction),
    settlement: await urlOf(subgraphs.settlement),
  };
  const gateway = await createGateway(tokens, urls);
  const gatewayPort = await listen(gateway.http, 0, '127.0.0.1');
  return {
    gatewayUrl: `http://127.0.0.1:${gatewayPort}/graphql`,
    subgraphUrls: urls,
    shards,
    stop: async () => {
      gateway.http.closeAllConnections();
      gateway.http.close();
      await gateway.apollo.stop();
      for (const s of Object.values(subgraphs)) {
        s.http.closeAllConnections();
        s.http.close();
        await s.apollo.stop();
      }
      await shards.close();
    },
  };
}

async function urlOf(server: SubgraphServer): Promise<string> {
  await listen(server.http, 0, '127.0.0.1');
  return `http://127.0.0.1:${(server.http.address() as AddressInfo).port}/graphql`;
}
