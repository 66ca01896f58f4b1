import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, postingSettingsDefault, variables, type Config, type Environment, type VariableName } from '../../src/config';
import { amountMaxMinorUnitsDefault, balanceMaxMinorUnits } from '../../src/limits';

/**
 * Every variable of the schema (config.ts): a value it accepts lands where the system reads it,
 * each bad value is refused with a message that starts with the variable's name, and its
 * default is the one README's table documents. The cases are keyed by variable, so a variable
 * added to the schema without one fails the first test.
 */
interface Case {
  /** A value it accepts, where it lands in the Config, and what it becomes. */
  good: [raw: string, read: (config: Config) => unknown, expected: unknown];
  /** Values it refuses (none for free text). */
  bad: string[];
}

const secret = 'a-secret-of-thirty-two-characters-at-least';

const cases: Record<VariableName, Case> = {
  MYSQL_SHARDS: { good: ['mysql://u@db:3306/a,mysql://u@db:3306/b', (c) => c.shards.urls, 'mysql://u@db:3306/a,mysql://u@db:3306/b'], bad: ['garbage', 'http://db/a', 'mysql://db:3306/', ','] },
  SHARD_MAP: { good: ['0-31:0,32-63:1', (c) => c.shards.map, '0-31:0,32-63:1'], bad: ['0-63:9', '0-31:0', 'nonsense'] },
  MYSQL_URL: { good: ['mysql://root:pw@db:3307', (c) => c.mysqlServer.url, 'mysql://root:pw@db:3307'], bad: ['http://db:3306', 'not a url'] },
  MYSQL_LOCAL_SOCKET: { good: ['off', (c) => c.mysqlServer.localSocket, 'off'], bad: ['on', 'OFF'] },
  MYSQL_SHARD_COUNT: { good: ['8', (c) => c.mysqlServer.shardCount, 8], bad: ['0', '65', 'four'] },
  MYSQL_PRIVATE_PORT: { good: ['3400', (c) => c.mysqlServer.privatePort, 3400], bad: ['0', '65536', 'x'] },
  MYSQL_POOL_SIZE: { good: ['7', (c) => c.shardPoolSize, 7], bad: ['0', '-1', '101', 'ten', '1.5'] },
  PORT: { good: ['0', (c) => c.gateway.port, 0], bad: ['-1', '65536', '80a'] },
  GATEWAY_HOST: { good: ['::', (c) => c.gateway.host, '::'], bad: [] },
  ACCOUNT_PORT: { good: ['5001', (c) => c.subgraphs.ports.account, 5001], bad: ['65536', 'x'] },
  TRANSACTION_PORT: { good: ['5002', (c) => c.subgraphs.ports.transaction, 5002], bad: ['65536', 'x'] },
  SETTLEMENT_PORT: { good: ['5003', (c) => c.subgraphs.ports.settlement, 5003], bad: ['65536', 'x'] },
  HOST: { good: ['0.0.0.0', (c) => c.subgraphs.host, '0.0.0.0'], bad: [] },
  ACCOUNT_URL: { good: ['http://account:4001/graphql', (c) => c.gateway.subgraphUrls.account, 'http://account:4001/graphql'], bad: ['account:4001', 'ws://account/graphql'] },
  TRANSACTION_URL: { good: ['https://tx/graphql', (c) => c.gateway.subgraphUrls.transaction, 'https://tx/graphql'], bad: ['tx', 'ftp://tx'] },
  SETTLEMENT_URL: { good: ['http://st:4003/graphql', (c) => c.gateway.subgraphUrls.settlement, 'http://st:4003/graphql'], bad: ['st', 'mysql://st'] },
  JWT_SECRET: { good: ['s3cret', (c) => c.tokens.secret, 's3cret'], bad: [] },
  JWKS_URL: { good: ['https://idp.example/jwks', (c) => c.tokens.jwksUrl, 'https://idp.example/jwks'], bad: ['idp.example/jwks', 'file:///etc/jwks'] },
  JWKS_CACHE_MAX_AGE_MS: { good: ['0', (c) => c.tokens.jwksCacheMaxAgeMs, 0], bad: ['-1', 'soon'] },
  JWKS_COOLDOWN_MS: { good: ['5000', (c) => c.tokens.jwksCooldownMs, 5000], bad: ['-5', '1e3'] },
  JWT_ISSUER: { good: ['https://idp.example/', (c) => c.tokens.issuer, 'https://idp.example/'], bad: [] },
  JWT_AUDIENCE: { good: ['api', (c) => c.tokens.audience, 'api'], bad: [] },
  SUBGRAPH_SECRET_ACCOUNT: { good: [secret, (c) => c.subgraphSecrets.account, secret], bad: ['short'] },
  SUBGRAPH_SECRET_TRANSACTION: { good: [secret, (c) => c.subgraphSecrets.transaction, secret], bad: ['short'] },
  SUBGRAPH_SECRET_SETTLEMENT: { good: [secret, (c) => c.subgraphSecrets.settlement, secret], bad: ['short'] },
  RATE_LIMIT_MONEY_PER_MINUTE: { good: ['10', (c) => c.gateway.rateBudgets.moneyPerMinute, 10], bad: ['0', 'lots'] },
  RATE_LIMIT_READS_PER_MINUTE: { good: ['20', (c) => c.gateway.rateBudgets.readsPerMinute, 20], bad: ['0', 'lots'] },
  RATE_LIMIT_OPERATOR_MONEY_PER_MINUTE: { good: ['30', (c) => c.gateway.rateBudgets.operatorMoneyPerMinute, 30], bad: ['0', '-3'] },
  RATE_LIMIT_OPERATOR_READS_PER_MINUTE: { good: ['40', (c) => c.gateway.rateBudgets.operatorReadsPerMinute, 40], bad: ['0', '9007199254740993'] },
  LOG_LEVEL: { good: ['debug', (c) => c.logLevel, 'debug'], bad: ['verbose', 'INFO'] },
  AUDIT_LOG_FILE: { good: ['/var/log/audit.jsonl', (c) => c.gateway.auditLogFile, '/var/log/audit.jsonl'], bad: [] },
  OTEL_EXPORTER_OTLP_ENDPOINT: { good: ['http://collector:4318', (c) => c.tracing.otlpEndpoint, 'http://collector:4318'], bad: ['collector:4318', 'grpc://collector'] },
  NODE_ENV: { good: ['production', (c) => c.production, true], bad: [] },
  LEDGER_MAC_KEY: { good: ['k2:a-new-key-for-the-test,k1:an-old-key-for-the-test', (c) => [c.ledgerKeys?.current.id, c.ledgerKeys?.byId.size], ['k2', 2]], bad: ['k1', 'k1:short', ':no-id-for-this-key'] },
  AMOUNT_MAX: { good: ['5000000', (c) => c.transaction.amountMax, 5_000_000n], bad: ['abc', '0', '-5', '+5', '1e15', '1.5', ' 5', '05', '9223372036854775808', '1'.repeat(30)] },
  BUSINESS_TIMEZONE: { good: ['America/New_York', (c) => c.businessCalendar.timeZone, 'America/New_York'], bad: ['Mars/Olympus_Mons', 'EST5EDT+9'] },
  BUSINESS_DAY_CUTOFF: { good: ['22:30', (c) => c.businessCalendar.cutoffMinutes, 22 * 60 + 30], bad: ['24:00', '9:00', '22h'] },
  SETTLEMENT_FEE_BPS: { good: ['0', (c) => c.settlement.feeBpsDefault, 0], bad: ['-1', '10001', '2.5'] },
  SETTLEMENT_DELAY_DAYS: { good: ['3', (c) => c.settlement.delayDays, 3], bad: ['0', '366', 'x'] },
  SETTLEMENT_WORKER_ENABLED: { good: ['false', (c) => c.settlement.workerEnabled, false], bad: ['no', 'TRUE'] },
  SETTLEMENT_WORKER_INTERVAL_MS: { good: ['1000', (c) => c.settlement.workerIntervalMs, 1000], bad: ['0', '2147483648'] },
  IDEMPOTENCY_RETENTION_DAYS: { good: ['1', (c) => c.transaction.idempotencyRetentionDays, 1], bad: ['0', '3651'] },
  RELAY_ENABLED: { good: ['0', (c) => c.transaction.relayEnabled, false], bad: ['off', 'yes'] },
  RELAY_INTERVAL_MS: { good: ['250', (c) => c.transaction.relayIntervalMs, 250], bad: ['0', 'fast'] },
  HOLD_TTL_SECONDS: { good: ['60', (c) => c.transaction.holdTtlSeconds, 60], bad: ['0', '2592001'] },
  HOLD_EXPIRY_ENABLED: { good: ['1', (c) => c.transaction.holdExpiryEnabled, true], bad: ['enabled'] },
  HOLD_EXPIRY_INTERVAL_MS: { good: ['30000', (c) => c.transaction.holdExpiryIntervalMs, 30_000], bad: ['0', '30001'] },
  POSTING_ENGINE: { good: ['naive', (c) => c.posting.engine, 'naive'], bad: ['fast', 'Merged'] },
  MERGE_WAIT_MS: { good: ['0', (c) => c.posting.mergeWaitMs, 0], bad: ['3', '-1'] },
  MERGE_BATCH_SIZE: { good: ['1000', (c) => c.posting.mergeBatchSizeMax, 1000], bad: ['0', '1001'] },
  REDIS_URL: { good: ['rediss://:pw@cache:6380', (c) => c.redisUrl, 'rediss://:pw@cache:6380'], bad: ['cache:6379', 'http://cache'] },
  BALANCE_POLL_INTERVAL_MS: { good: ['10', (c) => c.account.balancePollIntervalMs, 10], bad: ['0', 'often'] },
  BALANCE_SAFETY_POLL_INTERVAL_MS: { good: ['500', (c) => c.account.balanceSafetyPollIntervalMs, 500], bad: ['0', '2147483648'] },
  SUBSCRIPTION_KEEPALIVE_MS: { good: ['5000', (c) => c.subscriptionKeepAliveMs, 5000], bad: ['0', '-1'] },
  PAYGRAPH_FAILPOINT: { good: ['sweep-after-debit', (c) => c.transaction.failpoint, 'sweep-after-debit'], bad: ['payment-after-debt'] },
  NO_COLOR: { good: ['1', (c) => c.noColor, true], bad: [] },
  TEST_DATABASE_PREFIX: { good: ['paygraph_test_cfg', (c) => c.test.databasePrefix, 'paygraph_test_cfg'], bad: ['paygraph', 'paygraph_test-x', 'prod'] },
  TEST_SEED: { good: ['4242', (c) => c.test.seed, 4242], bad: ['-1', '4294967296', 'seed'] },
};

const names = Object.keys(variables) as VariableName[];

function problemsOf(env: Environment): readonly string[] {
  try {
    loadConfig(env);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}

describe('the configuration schema', () => {
  it('has a case here for every variable', () => {
    expect(Object.keys(cases).sort()).toEqual([...names].sort());
  });

  for (const name of names) {
    const { good: [raw, read, expected], bad } = cases[name];

    it(`${name}: takes ${JSON.stringify(raw)} and refuses ${bad.length > 0 ? bad.map((b) => JSON.stringify(b)).join(', ') : 'nothing (free text)'}, naming the variable`, () => {
      expect(read(loadConfig({ [name]: raw }))).toEqual(expected);
      for (const value of bad) {
        const problems = problemsOf({ [name]: value });
        expect(problems, `${name}=${value}`).toHaveLength(1);
        expect(problems[0], `${name}=${value}`).toMatch(new RegExp(`^${name}\\b`));
      }
    });
  }

  it("defaults to the values README's table documents", () => {
    const defaults = loadConfig({});
    for (const name of names) {
      // A literal default is written first in backticks (`4000`, `1000000000000000` (10^15)):
      // set explicitly, it must change nothing. Prose (unset, made per run by npm start) is
      // covered by the cases of the variables it describes.
      const literal = /^`([^`]*)`(?: \([^)]*\))?$/.exec(variables[name].default)?.[1];
      if (literal === undefined) continue;
      expect(loadConfig({ [name]: literal }), name).toEqual(defaults);
    }
    // The defaults written as prose, one by one.
    expect(defaults.shardPoolSize).toBeNull();
    expect(defaults.shards).toEqual({ urls: [0, 1, 2, 3].map((i) => `mysql://root@127.0.0.1:3306/paygraph_s${i}`).join(',') });
    expect(defaults.ledgerKeys?.current.id).toBe('dev');
    expect(defaults.tokens.secret).toBeNull();
    expect(defaults.tokens.jwksUrl).toBeNull();
    expect(defaults.subgraphSecrets).toEqual({ account: null, transaction: null, settlement: null });
    expect(defaults.gateway.auditLogFile).toBeNull();
    expect(defaults.tracing.otlpEndpoint).toBeNull();
    expect(defaults.production).toBe(false);
    expect(defaults.redisUrl).toBeNull();
    expect(defaults.transaction.failpoint).toBeNull();
    expect(defaults.noColor).toBe(false);
    expect(defaults.test.seed).toBeNull();
    expect(defaults.transaction.amountMax).toBe(amountMaxMinorUnitsDefault);
    expect(defaults.posting).toEqual(postingSettingsDefault);
  });

  it('reads an empty value as unset, and takes whole numbers of minor units up to BIGINT', () => {
    expect(loadConfig({ PORT: '', AMOUNT_MAX: '', POSTING_ENGINE: '' })).toEqual(loadConfig({}));
    expect(loadConfig({ AMOUNT_MAX: '9223372036854775807' }).transaction.amountMax).toBe(balanceMaxMinorUnits);
    expect(loadConfig({ AMOUNT_MAX: '1' }).transaction.amountMax).toBe(1n);
  });

  it('reports every bad variable at once, each by name, in one ConfigError', () => {
    const problems = problemsOf({ PORT: 'x', MERGE_WAIT_MS: '5', BUSINESS_TIMEZONE: 'Mars/Base', RELAY_ENABLED: 'yes' });
    expect(problems.map((p) => p.split(' ')[0])).toEqual(['PORT', 'BUSINESS_TIMEZONE', 'RELAY_ENABLED', 'MERGE_WAIT_MS']);
    expect(() => loadConfig({ PORT: 'x', RELAY_ENABLED: 'yes' })).toThrow(/^PORT must be an integer, got "x"\nRELAY_ENABLED must be true or false, got "yes"$/);
  });

  it('answers a frozen configuration', () => {
    const config = loadConfig({});
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.posting)).toBe(true);
    expect(Object.isFrozen(config.gateway.subgraphUrls)).toBe(true);
    expect(() => {
      (config.posting as { engine: string }).engine = 'naive';
    }).toThrow(TypeError);
  });
});

describe("each process's own requirements", () => {
  const secrets = { SUBGRAPH_SECRET_ACCOUNT: secret, SUBGRAPH_SECRET_TRANSACTION: secret, SUBGRAPH_SECRET_SETTLEMENT: secret };
  const refusal = (env: Environment, processName: Parameters<typeof loadConfig>[1]) => {
    try {
      loadConfig(env, processName);
      return [];
    } catch (error) {
      return (error as ConfigError).problems;
    }
  };

  it('the gateway: every subgraph secret, and JWT_SECRET unless JWKS_URL, which must be https in production', () => {
    expect(refusal({ ...secrets, JWT_SECRET: 's' }, 'gateway')).toEqual([]);
    expect(refusal({ ...secrets, JWKS_URL: 'https://idp/jwks' }, 'gateway')).toEqual([]);
    expect(refusal({ JWT_SECRET: 's' }, 'gateway').map((p) => p.split(' ')[0])).toEqual(['SUBGRAPH_SECRET_ACCOUNT', 'SUBGRAPH_SECRET_TRANSACTION', 'SUBGRAPH_SECRET_SETTLEMENT']);
    expect(refusal({ ...secrets }, 'gateway')).toEqual([expect.stringMatching(/^JWT_SECRET is not set, nor JWKS_URL/)]);
    expect(refusal({ ...secrets, JWKS_URL: 'http://idp/jwks', NODE_ENV: 'production' }, 'gateway')).toEqual([expect.stringMatching(/^JWKS_URL must be https in production/)]);
    // A subgraph's secret too short is reported as that, not also as missing.
    expect(refusal({ ...secrets, JWT_SECRET: 's', SUBGRAPH_SECRET_SETTLEMENT: 'short' }, 'gateway')).toEqual([expect.stringMatching(/^SUBGRAPH_SECRET_SETTLEMENT must be at least 32 characters/)]);
  });

  it('a subgraph: its own secret only, and LEDGER_MAC_KEY in production', () => {
    for (const subgraph of ['account', 'transaction', 'settlement'] as const) {
      const own = `SUBGRAPH_SECRET_${subgraph.toUpperCase()}`;
      expect(refusal({ [own]: secret }, subgraph)).toEqual([]);
      expect(refusal({}, subgraph)).toEqual([expect.stringMatching(new RegExp(`^${own} is not set`))]);
      expect(refusal({ [own]: secret, NODE_ENV: 'production' }, subgraph)).toEqual([expect.stringMatching(/^LEDGER_MAC_KEY must be set with NODE_ENV=production/)]);
      expect(refusal({ [own]: secret, NODE_ENV: 'production', LEDGER_MAC_KEY: 'k1:a-production-key-1234' }, subgraph)).toEqual([]);
    }
    // Scripts and tests name no process: only the values are checked.
    expect(loadConfig({ NODE_ENV: 'production' }).ledgerKeys).toBeNull();
  });
});
