import { openShards, type ShardSet } from '@paygraph/shared/shards/pool';
import { mintToken, type Identity, type Role, type TokenSettings } from '@paygraph/shared/identity';

/** Tests run against the shards in MYSQL_SHARDS (npm test points it at paygraph_test_*). */
export const testSecret = process.env.JWT_SECRET ?? 'paygraph-test-secret';

export function testTokens(): TokenSettings {
  return { secret: new TextEncoder().encode(testSecret), issuer: 'paygraph', audience: 'paygraph-api' };
}

export function testShards(poolSize = 8): ShardSet {
  return openShards({ poolSize });
}

export function token(sub: string, role: Role, lifetimeSeconds?: number): Promise<string> {
  return mintToken({ sub, role } satisfies Identity, testSecret, lifetimeSeconds);
}

/** A name no other test (or earlier run) uses, so tests never see each other's data. */
export function unique(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}
