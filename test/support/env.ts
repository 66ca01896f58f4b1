import { createSecretKey, randomBytes } from 'node:crypto';
import { openShards, type ShardSet } from '@paygraph/shared/shards/pool';
import { mintToken, type Identity, type Role, type TokenSettings } from '@paygraph/shared/identity';
import {
  gatewayIdentityHeader, gatewaySecretHeader, mintIdentityToken, subgraphTrust, type SubgraphTrusts, type TrustedSubgraph,
} from '@paygraph/shared/gateway-trust';

/** Tests run against the shards in MYSQL_SHARDS (npm test points it at paygraph_test_*). */
export const testSecret = process.env.JWT_SECRET ?? 'paygraph-test-secret';

export function testTokens(): TokenSettings {
  return { secret: createSecretKey(Buffer.from(testSecret, 'utf8')), issuer: 'paygraph', audience: 'paygraph-api' };
}

/**
 * Each subgraph's secret (SUBGRAPH_SECRET_*), as npm start would make them: the in-process
 * stack gives them to the subgraphs and the gateway, and subgraph child processes inherit them.
 */
export const testSubgraphSecrets: Record<TrustedSubgraph, string> = {
  account: process.env.SUBGRAPH_SECRET_ACCOUNT || 'paygraph-test-account-secret-not-for-production',
  transaction: process.env.SUBGRAPH_SECRET_TRANSACTION || 'paygraph-test-transaction-secret-not-for-production',
  settlement: process.env.SUBGRAPH_SECRET_SETTLEMENT || 'paygraph-test-settlement-secret-not-for-production',
};

export function testTrusts(): SubgraphTrusts {
  return {
    account: subgraphTrust('account', testSubgraphSecrets.account),
    transaction: subgraphTrust('transaction', testSubgraphSecrets.transaction),
    settlement: subgraphTrust('settlement', testSubgraphSecrets.settlement),
  };
}

/** The headers the gateway sends a subgraph for this caller, for tests that call a subgraph directly. */
export async function asGateway(subgraph: TrustedSubgraph, sub: string, role: Role): Promise<Record<string, string>> {
  const trust = testTrusts()[subgraph];
  return { [gatewaySecretHeader]: trust.secret, [gatewayIdentityHeader]: await mintIdentityToken({ sub, role }, trust) };
}

/** The Redis npm test found or started for this run (scripts/lib/redis-server.ts). */
export function testRedisUrl(): string {
  const url = process.env.TEST_REDIS_URL;
  if (url === undefined || url === '') throw new Error('TEST_REDIS_URL is not set: run the tests with npm test, which finds or starts a Redis server');
  return url;
}

/**
 * Connections per shard of a test's pools: an in-process stack's three subgraphs share one set,
 * and every test file's pools count towards npm test's share of max_connections (testRunConnectionsMax).
 */
export const testPoolSizeDefault = 8;

export function testShards(poolSize = testPoolSizeDefault): ShardSet {
  return openShards({ poolSize });
}

export function token(sub: string, role: Role, lifetimeSeconds?: number): Promise<string> {
  return mintToken({ sub, role } satisfies Identity, testSecret, lifetimeSeconds);
}

/**
 * A name no other test (or earlier run) uses, so tests never see each other's data. Its
 * randomness is deliberately not seeded (seeded-random.ts): replaying a seed must not make
 * the names of the earlier run again, and no test's outcome depends on them.
 */
export function unique(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString('hex').slice(0, 6)}`;
}
