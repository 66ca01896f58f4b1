import { createSecretKey, randomBytes } from 'node:crypto';
import { openShards, type ShardSet } from '@paygraph/shared/shards/pool';
import * as z from 'zod';
import { readConfig, type Environment } from '@paygraph/shared/config/env';
import { subgraphShape, type PostingSettings } from '@paygraph/shared/config/shared';
import { gatewayConfig } from '../../gateway/src/config';
import { transactionSettingsConfig, type TransactionSettings } from '@paygraph/transaction/config';
import { settlementSettingsConfig, type SettlementSettings } from '@paygraph/settlement/config';
import { securityOptions, type GatewaySecurityOptions } from '../../gateway/src/security/gateway-security';
import { mintToken, type Identity, type Role, type TokenSettings } from '@paygraph/shared/identity';
import {
  gatewayIdentityHeader,
  gatewaySecretHeader,
  mintIdentityToken,
  subgraphTrust,
  type SubgraphTrusts,
} from '@paygraph/shared/gateway-trust';
import { variablePrefixOf } from '@paygraph/shared/part';
import { subgraphNames, type SubgraphName as TrustedSubgraph } from '../../scripts/lib/parts';

/**
 * The configuration a process would load from the test run's environment (npm test points
 * MYSQL_SHARDS at paygraph_test_* and sets JWT_SECRET, AUDIT_LOG_FILE, NODE_ENV=test), with
 * `overrides` on top: what tests give the parts they start in process, as main.ts would.
 */
export function testConfig(overrides: Environment = {}): TestConfig {
  if (Object.keys(overrides).length > 0) return readConfig(testSubgraphConfig, { ...process.env, ...overrides });
  baseConfig ??= readConfig(testSubgraphConfig, process.env);
  return baseConfig;
}

/** What every subgraph reads (config/shared.ts: subgraphShape), without a subgraph's own requirements. */
const testSubgraphConfig = z.object(subgraphShape);
type TestConfig = Readonly<z.output<typeof testSubgraphConfig>>;

let baseConfig: TestConfig | undefined;

/**
 * The gateway's security settings as its main.ts would take them from this environment (with
 * the subgraph secrets the tests give it), with `overrides` on top.
 */
export function testSecurityOptions(overrides: GatewaySecurityOptions = {}): GatewaySecurityOptions {
  gatewaySettings ??= readConfig(gatewayConfig, { ...process.env, ...testSubgraphSecretVariables() });
  return { ...securityOptions(gatewaySettings), ...overrides };
}

let gatewaySettings: Readonly<z.output<typeof gatewayConfig>> | undefined;

function testSubgraphSecretVariables(): Environment {
  return {
    SUBGRAPH_SECRET_ACCOUNT: testSubgraphSecrets.account,
    SUBGRAPH_SECRET_TRANSACTION: testSubgraphSecrets.transaction,
    SUBGRAPH_SECRET_SETTLEMENT: testSubgraphSecrets.settlement,
    SUBGRAPH_SECRET_WEBHOOKS: testSubgraphSecrets.webhooks,
  };
}

/** Tests run against the shards in MYSQL_SHARDS (npm test points it at paygraph_test_*). */
export const testSecret = process.env.JWT_SECRET ?? 'paygraph-test-secret';

export function testTokens(): TokenSettings {
  return { secret: createSecretKey(Buffer.from(testSecret, 'utf8')), issuer: 'paygraph', audience: 'paygraph-api' };
}

/**
 * Each subgraph's secret (SUBGRAPH_SECRET_*), as npm start would make them: the in-process
 * stack gives them to the subgraphs and the gateway, and subgraph child processes inherit them.
 */
export const testSubgraphSecrets = Object.fromEntries(
  subgraphNames.map((name) => [
    name,
    process.env[`SUBGRAPH_SECRET_${variablePrefixOf(name)}`] || `paygraph-test-${name}-secret-not-for-production`,
  ]),
) as Record<TrustedSubgraph, string>;

export function testTrusts(): SubgraphTrusts<TrustedSubgraph> {
  return Object.fromEntries(
    subgraphNames.map((name) => [name, subgraphTrust(name, testSubgraphSecrets[name])]),
  ) as SubgraphTrusts<TrustedSubgraph>;
}

/** The headers the gateway sends a subgraph for this caller, for tests that call a subgraph directly. */
export async function asGateway(subgraph: TrustedSubgraph, sub: string, role: Role): Promise<Record<string, string>> {
  const trust = testTrusts()[subgraph];
  return {
    [gatewaySecretHeader]: trust.secret,
    [gatewayIdentityHeader]: await mintIdentityToken({ sub, role }, trust),
  };
}

/** The Redis npm test found or started for this run (scripts/lib/redis-server.ts). */
export function testRedisUrl(): string {
  const url = process.env.TEST_REDIS_URL;
  if (url === undefined || url === '')
    throw new Error('TEST_REDIS_URL is not set: run the tests with npm test, which finds or starts a Redis server');
  return url;
}

/**
 * Connections per shard of a test's pools: an in-process stack's subgraphs share one set, and
 * every test file's pools count towards npm test's share of max_connections
 * (testRunConnectionsMax), which two workers share: 4 per shard (the transaction subgraph's own
 * default, pool-size.ts), 16 on the four test shards, keeps a worker's stack within its half.
 */
export const testPoolSizeDefault = 4;

/**
 * The test shards, posting as the configuration says (POSTING_ENGINE and the merge settings),
 * or as `posting` says: a test that switches engines passes an object of its own and changes it.
 */
export function testShards(poolSize = testPoolSizeDefault, posting: PostingSettings = testConfig().posting): ShardSet {
  return openShards({ ...testConfig().shards, poolSize, posting });
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

/**
 * The transaction subgraph's request settings as its main.ts would read them from this environment (AMOUNT_MAX,
 * HOLD_TTL_SECONDS).
 */
export function testTransactionSettings(): TransactionSettings {
  return readConfig(transactionSettingsConfig, process.env);
}

/** The settlement subgraph's settings as its main.ts would read them from this environment (SETTLEMENT_FEE_BPS). */
export function testSettlementSettings(): SettlementSettings {
  return readConfig(settlementSettingsConfig, process.env);
}
