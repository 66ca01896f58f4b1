import * as z from 'zod';
import { describe, expect, it } from 'vitest';
import { ConfigError, readConfig, type ConfigSchema, type Environment } from '../../src/config/env';
import { ledgerKeyRing, postingSettingsDefault } from '../../src/config/shared';
import { amountMinorUnitsMaxDefault, balanceMinorUnitsMax } from '../../src/limits';
import { gatewayConfig } from '../../../../gateway/src/config';
import { accountConfig } from '../../../account/src/config';
import { settlementConfig } from '../../../settlement/src/config';
import { transactionConfig } from '../../../transaction/src/config';
import { webhooksConfig } from '../../../webhooks/src/config';
import { scriptConfig, startConfig } from '../../../../scripts/lib/config';
import { configurationVariables } from '../../../../scripts/lib/configuration-table';
import { testRunConfig } from '../../../../test/support/run-config';

/**
 * Every variable of every schema (each process's config.ts, the scripts' and the tests'): a
 * value it accepts lands where the process reads it, each bad value is refused with a message
 * that starts with the variable's name, and its default is the one README's table documents.
 * The cases are keyed by variable, so a variable added to a schema without one fails the first
 * test. A process's own requirements (its secrets, the production rules) are left out here,
 * where one variable is set at a time, and tested below.
 */
interface Case<C> {
  /** A value it accepts, where it lands in the configuration, and what it becomes. */
  good: [raw: string, read: (config: C) => unknown, expected: unknown];
  /** Values it refuses (none for free text). */
  bad: string[];
}

/** A schema's values, without the process's own requirements. */
function valuesOf<S extends ConfigSchema>(schema: S) {
  return z.object(schema.shape) as unknown as S;
}

interface Group<C> {
  schema: ConfigSchema;
  cases: Record<string, Case<C>>;
}

function group<S extends ConfigSchema>(schema: S, cases: Record<string, Case<z.output<S>>>): Group<z.output<S>> {
  return { schema: valuesOf(schema), cases };
}

const secret = 'a-secret-of-thirty-two-characters-at-least';

const groups = [
  group(gatewayConfig, {
    MYSQL_SHARDS: {
      good: [
        'mysql://u@db:3306/a,mysql://u@db:3306/b',
        (c) => c.shards.urls,
        'mysql://u@db:3306/a,mysql://u@db:3306/b',
      ],
      bad: ['garbage', 'http://db/a', 'mysql://db:3306/', ','],
    },
    SHARD_MAP: {
      good: ['0-31:0,32-63:1', (c) => c.shards.map, '0-31:0,32-63:1'],
      bad: ['0-63:9', '0-31:0', 'nonsense'],
    },
    PORT: { good: ['0', (c) => c.port, 0], bad: ['-1', '65536', '80a'] },
    GATEWAY_HOST: { good: ['::', (c) => c.host, '::'], bad: [] },
    ACCOUNT_URL: {
      good: ['http://account:4001/graphql', (c) => c.subgraphUrls.account, 'http://account:4001/graphql'],
      bad: ['account:4001', 'ws://account/graphql'],
    },
    TRANSACTION_URL: {
      good: ['https://tx/graphql', (c) => c.subgraphUrls.transaction, 'https://tx/graphql'],
      bad: ['tx', 'ftp://tx'],
    },
    SETTLEMENT_URL: {
      good: ['http://st:4003/graphql', (c) => c.subgraphUrls.settlement, 'http://st:4003/graphql'],
      bad: ['st', 'mysql://st'],
    },
    WEBHOOKS_URL: {
      good: ['http://wh:4004/graphql', (c) => c.subgraphUrls.webhooks, 'http://wh:4004/graphql'],
      bad: ['wh', 'mysql://wh'],
    },
    JWT_SECRET: { good: ['s3cret', (c) => c.tokens.secret, 's3cret'], bad: [] },
    JWKS_URL: {
      good: ['https://idp.example/jwks', (c) => c.tokens.jwksUrl, 'https://idp.example/jwks'],
      bad: ['idp.example/jwks', 'file:///etc/jwks'],
    },
    JWKS_CACHE_MAX_AGE_MS: { good: ['0', (c) => c.tokens.jwksCacheMaxAgeMs, 0], bad: ['-1', 'soon'] },
    JWKS_COOLDOWN_MS: { good: ['5000', (c) => c.tokens.jwksCooldownMs, 5000], bad: ['-5', '1e3'] },
    JWT_ISSUER: { good: ['https://idp.example/', (c) => c.tokens.issuer, 'https://idp.example/'], bad: [] },
    JWT_AUDIENCE: { good: ['api', (c) => c.tokens.audience, 'api'], bad: [] },
    SUBGRAPH_SECRET_ACCOUNT: { good: [secret, (c) => c.subgraphSecrets.account, secret], bad: ['short'] },
    SUBGRAPH_SECRET_TRANSACTION: { good: [secret, (c) => c.subgraphSecrets.transaction, secret], bad: ['short'] },
    SUBGRAPH_SECRET_SETTLEMENT: { good: [secret, (c) => c.subgraphSecrets.settlement, secret], bad: ['short'] },
    SUBGRAPH_SECRET_WEBHOOKS: { good: [secret, (c) => c.subgraphSecrets.webhooks, secret], bad: ['short'] },
    TRUSTED_DOCUMENTS_MODE: { good: ['log', (c) => c.trustedDocuments.mode, 'log'], bad: ['on', 'REQUIRE'] },
    TRUSTED_DOCUMENTS_ROLE_MODES: {
      good: ['customer=log,operator=off', (c) => c.trustedDocuments.roleModes, { customer: 'log', operator: 'off' }],
      bad: ['robot=off', 'customer=strict', 'customer=log,customer=off'],
    },
    TRUSTED_DOCUMENTS_MANIFESTS: {
      good: ['ios=/m/ios.json', (c) => c.trustedDocuments.manifests, [{ client: 'ios', path: '/m/ios.json' }]],
      bad: ['ios', 'ios=/a,ios=/b'],
    },
    TRUSTED_DOCUMENTS_RELOAD_MS: { good: ['5000', (c) => c.trustedDocuments.reloadMs, 5000], bad: ['0', 'x'] },
    RATE_LIMIT_MONEY_PER_MINUTE: { good: ['10', (c) => c.rateBudgets.moneyPerMinute, 10], bad: ['0', 'lots'] },
    RATE_LIMIT_READS_PER_MINUTE: { good: ['20', (c) => c.rateBudgets.readsPerMinute, 20], bad: ['0', 'lots'] },
    RATE_LIMIT_OPERATOR_MONEY_PER_MINUTE: {
      good: ['30', (c) => c.rateBudgets.operatorMoneyPerMinute, 30],
      bad: ['0', '-3'],
    },
    RATE_LIMIT_OPERATOR_READS_PER_MINUTE: {
      good: ['40', (c) => c.rateBudgets.operatorReadsPerMinute, 40],
      bad: ['0', '9007199254740993'],
    },
    // 0 turns the refusal budget per address off (security/refusal-throttle.ts).
    RATE_LIMIT_REFUSALS_PER_ADDRESS: { good: ['0', (c) => c.refusals.perAddressMax, 0], bad: ['-1', 'lots'] },
    RATE_LIMIT_REFUSAL_WINDOW_MS: { good: ['20000', (c) => c.refusals.windowMs, 20_000], bad: ['0', 'x'] },
    LOG_LEVEL: { good: ['debug', (c) => c.logLevel, 'debug'], bad: ['verbose', 'INFO'] },
    AUDIT_LOG_FILE: { good: ['/var/log/audit.jsonl', (c) => c.auditLogFile, '/var/log/audit.jsonl'], bad: [] },
    OTEL_EXPORTER_OTLP_ENDPOINT: {
      good: ['http://collector:4318', (c) => c.tracing.otlpEndpoint, 'http://collector:4318'],
      bad: ['collector:4318', 'grpc://collector'],
    },
    NODE_ENV: { good: ['production', (c) => c.production, true], bad: [] },
    REDIS_URL: {
      good: ['rediss://:pw@cache:6380', (c) => c.redisUrl, 'rediss://:pw@cache:6380'],
      bad: ['cache:6379', 'http://cache'],
    },
    SUBSCRIPTION_KEEPALIVE_MS: { good: ['5000', (c) => c.subscriptionKeepAliveMs, 5000], bad: ['0', '-1'] },
  }),
  group(accountConfig, {
    MYSQL_POOL_SIZE: { good: ['7', (c) => c.shardPoolSize, 7], bad: ['0', '-1', '101', 'ten', '1.5'] },
    ACCOUNT_PORT: { good: ['5001', (c) => c.port, 5001], bad: ['65536', 'x'] },
    HOST: { good: ['0.0.0.0', (c) => c.host, '0.0.0.0'], bad: [] },
    LEDGER_MAC_KEY: {
      good: [
        'k2:a-new-key-for-the-test,k1:an-old-key-for-the-test',
        (c) => [c.ledgerKeys?.current.id, c.ledgerKeys?.byId.size],
        ['k2', 2],
      ],
      bad: ['k1', 'k1:short', ':no-id-for-this-key'],
    },
    BUSINESS_TIMEZONE: {
      good: ['America/New_York', (c) => c.businessCalendar.timeZone, 'America/New_York'],
      bad: ['Mars/Olympus_Mons', 'EST5EDT+9'],
    },
    BUSINESS_DAY_CUTOFF: {
      good: ['22:30', (c) => c.businessCalendar.cutoffMinutes, 22 * 60 + 30],
      bad: ['24:00', '9:00', '22h'],
    },
    POSTING_ENGINE: { good: ['naive', (c) => c.posting.engine, 'naive'], bad: ['fast', 'Merged'] },
    MERGE_WAIT_MS: { good: ['0', (c) => c.posting.mergeWaitMs, 0], bad: ['3', '-1'] },
    MERGE_BATCH_SIZE: { good: ['1000', (c) => c.posting.mergeBatchSize, 1000], bad: ['0', '1001'] },
    MERGE_QUEUE_SIZE: { good: ['1000', (c) => c.posting.mergeQueueSize, 1000], bad: ['0', '100001', 'many', '10'] },
    BALANCE_POLL_INTERVAL_MS: { good: ['10', (c) => c.balancePollIntervalMs, 10], bad: ['0', 'often'] },
    RENDERED_ANSWERS: { good: ['false', (c) => c.renderedAnswers, false], bad: ['off', 'FALSE'] },
    BALANCE_SAFETY_POLL_INTERVAL_MS: {
      good: ['500', (c) => c.balanceSafetyPollIntervalMs, 500],
      bad: ['0', '2147483648'],
    },
  }),
  group(transactionConfig, {
    TRANSACTION_PORT: { good: ['5002', (c) => c.port, 5002], bad: ['65536', 'x'] },
    AMOUNT_MAX: {
      good: ['5000000', (c) => c.settings.amountMax, 5_000_000n],
      bad: ['abc', '0', '-5', '+5', '1e15', '1.5', ' 5', '05', '9223372036854775808', '1'.repeat(30)],
    },
    IDEMPOTENCY_RETENTION_DAYS: { good: ['1', (c) => c.idempotencyRetentionDays, 1], bad: ['0', '3651'] },
    RELAY_ENABLED: { good: ['0', (c) => c.relay.enabled, false], bad: ['off', 'yes'] },
    RELAY_INTERVAL_MS: { good: ['250', (c) => c.relay.intervalMs, 250], bad: ['0', 'fast'] },
    HOLD_TTL_SECONDS: { good: ['60', (c) => c.settings.holdTtlSeconds, 60], bad: ['0', '2592001'] },
    FX_QUOTE_TTL_SECONDS: { good: ['5', (c) => c.settings.fxQuoteTtlSeconds, 5], bad: ['0', '3601'] },
    HOLD_EXPIRY_ENABLED: { good: ['1', (c) => c.holdExpiry.enabled, true], bad: ['enabled'] },
    HOLD_EXPIRY_INTERVAL_MS: { good: ['30000', (c) => c.holdExpiry.intervalMs, 30_000], bad: ['0', '30001'] },
    TRANSACTION_FAILPOINT: {
      good: ['sweep-after-debit', (c) => c.failpoint, 'sweep-after-debit'],
      bad: ['payment-after-debt'],
    },
    CARD_FINGERPRINT_KEY: {
      good: [
        'a-card-fingerprint-key-of-32-chars!',
        (c) => c.settings.cardFingerprintKey,
        'a-card-fingerprint-key-of-32-chars!',
      ],
      bad: ['too-short-for-an-hmac-key'],
    },
  }),
  group(settlementConfig, {
    SETTLEMENT_PORT: { good: ['5003', (c) => c.port, 5003], bad: ['65536', 'x'] },
    SETTLEMENT_FEE_BPS: { good: ['0', (c) => c.settings.feeBpsDefault, 0], bad: ['-1', '10001', '2.5'] },
    SETTLEMENT_DELAY_DAYS: { good: ['3', (c) => c.worker.delayDays, 3], bad: ['0', '366', 'x'] },
    SETTLEMENT_WORKER_ENABLED: { good: ['false', (c) => c.worker.enabled, false], bad: ['no', 'TRUE'] },
    SETTLEMENT_WORKER_INTERVAL_MS: { good: ['1000', (c) => c.worker.intervalMs, 1000], bad: ['0', '2147483648'] },
    SETTLEMENT_FAILPOINT: {
      good: ['advance-after-piece', (c) => c.failpoint, 'advance-after-piece'],
      bad: ['advance-after-pice'],
    },
  }),
  group(webhooksConfig, {
    WEBHOOKS_PORT: { good: ['5004', (c) => c.port, 5004], bad: ['65536', 'x'] },
    WEBHOOK_SECRET_KEY: { good: [secret, (c) => c.secretKey, secret], bad: ['short'] },
    WEBHOOK_DISPATCHER_ENABLED: { good: ['false', (c) => c.dispatcherEnabled, false], bad: ['off'] },
    WEBHOOK_ALLOW_LOCAL_DESTINATIONS: { good: ['true', (c) => c.allowLocalDestinations, true], bad: ['yes'] },
    WEBHOOK_DISPATCH_INTERVAL_MS: { good: ['25', (c) => c.dispatcher.intervalMs, 25], bad: ['0', 'soon'] },
    WEBHOOK_SAFETY_DISPATCH_INTERVAL_MS: { good: ['500', (c) => c.dispatcher.safetyIntervalMs, 500], bad: ['0'] },
    WEBHOOK_ACCOUNT_DISCOVERY_INTERVAL_MS: { good: ['200', (c) => c.dispatcher.discoveryIntervalMs, 200], bad: ['0'] },
    WEBHOOK_QUEUE_METRICS_INTERVAL_MS: { good: ['200', (c) => c.dispatcher.metricsIntervalMs, 200], bad: ['0'] },
    WEBHOOK_STREAM_LEASE_MS: { good: ['2000', (c) => c.dispatcher.leaseMs, 2000], bad: ['0'] },
    WEBHOOK_ENDPOINT_REFRESH_INTERVAL_MS: {
      good: ['200', (c) => c.dispatcher.endpointRefreshIntervalMs, 200],
      bad: ['0'],
    },
    WEBHOOK_ATTEMPT_TIMEOUT_MS: { good: ['2000', (c) => c.dispatcher.attemptTimeoutMs, 2000], bad: ['0', '10001'] },
    WEBHOOK_RETRY_FIRST_DELAY_MS: { good: ['200', (c) => c.dispatcher.retry.firstDelayMs, 200], bad: ['0', '10001'] },
    WEBHOOK_RETRY_DELAY_MAX_MS: { good: ['1000', (c) => c.dispatcher.retry.delayMsMax, 1000], bad: ['0', 'x'] },
    WEBHOOK_RETRY_WINDOW_MS: { good: ['60000', (c) => c.dispatcher.retry.windowMs, 60_000], bad: ['0', '1.5'] },
    WEBHOOK_DISABLE_AFTER_FAILING_MS: {
      good: ['60000', (c) => c.dispatcher.disableAfterFailingMs, 60_000],
      bad: ['-1'],
    },
    WEBHOOK_DELIVERY_RETENTION_MS: { good: ['86400000', (c) => c.dispatcher.retentionMs, 86_400_000], bad: ['0', 'x'] },
    WEBHOOK_PURGE_INTERVAL_MS: { good: ['1000', (c) => c.dispatcher.purgeIntervalMs, 1000], bad: ['0', '2147483648'] },
  }),
  group(startConfig, {
    MYSQL_URL: {
      good: ['mysql://root:pw@db:3307', (c) => c.mysqlServer.url, 'mysql://root:pw@db:3307'],
      bad: ['http://db:3306', 'not a url'],
    },
    MYSQL_LOCAL_SOCKET: { good: ['off', (c) => c.mysqlServer.localSocket, 'off'], bad: ['on', 'OFF'] },
    MYSQL_SHARD_COUNT: { good: ['8', (c) => c.mysqlServer.shardCount, 8], bad: ['0', '65', 'four'] },
    MYSQL_PRIVATE_PORT: { good: ['3400', (c) => c.mysqlServer.privatePort, 3400], bad: ['0', '65536', 'x'] },
    NO_COLOR: { good: ['1', (c) => c.noColor, true], bad: [] },
  }),
  group(testRunConfig, {
    TEST_DATABASE_PREFIX: {
      good: ['paygraph_test_cfg', (c) => c.test.databasePrefix, 'paygraph_test_cfg'],
      bad: ['paygraph', 'paygraph_test-x', 'prod'],
    },
    TEST_SEED: { good: ['4242', (c) => c.test.seed, 4242], bad: ['-1', '4294967296', 'seed'] },
    TEST_NODE_MAJOR: { good: ['24', (c) => c.test.nodeMajor, 24], bad: ['19', 'v24', '24.1'] },
  }),
] as Array<Group<never>>;

const variables = configurationVariables();
const names = variables.map((v) => v.name);
const groupOf = (name: string): Group<never> => groups.find((g) => name in g.cases)!;

function problemsOf(schema: ConfigSchema, env: Environment): readonly string[] {
  try {
    readConfig(schema, env);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}

describe('the configuration schemas', () => {
  it('have a case here for every variable, each in one group', () => {
    const cased = groups.flatMap((g) => Object.keys(g.cases));
    expect([...cased].sort()).toEqual([...names].sort());
    expect(new Set(cased).size).toBe(cased.length);
  });

  for (const name of names) {
    const { schema, cases } = groupOf(name);
    const {
      good: [raw, read, expected],
      bad,
    } = cases[name]!;

    it(`${name}: takes ${JSON.stringify(raw)} and refuses ${bad.length > 0 ? bad.map((b) => JSON.stringify(b)).join(', ') : 'nothing (free text)'}, naming the variable`, () => {
      expect(read(readConfig(schema, { [name]: raw }) as never)).toEqual(expected);
      for (const value of bad) {
        const problems = problemsOf(schema, { [name]: value });
        expect(problems, `${name}=${value}`).toHaveLength(1);
        expect(problems[0], `${name}=${value}`).toMatch(new RegExp(`^${name}\\b`));
      }
    });
  }

  it("default to the values README's table documents", () => {
    for (const variable of variables) {
      // A literal default is written first in backticks (`4000`, `1000000000000000` (10^15)):
      // set explicitly, it must change nothing. Prose (unset, made per run by npm start) is
      // covered by the cases of the variables it describes.
      const literal = /^`([^`]*)`(?: \([^)]*\))?$/.exec(variable.default)?.[1];
      if (literal === undefined) continue;
      const { schema } = groupOf(variable.name);
      expect(readConfig(schema, { [variable.name]: literal }), variable.name).toEqual(readConfig(schema, {}));
    }
    // The defaults written as prose, one by one.
    const gateway = readConfig(valuesOf(gatewayConfig), {});
    const account = readConfig(valuesOf(accountConfig), {});
    const transaction = readConfig(valuesOf(transactionConfig), {});
    const start = readConfig(valuesOf(startConfig), {});
    const testRun = readConfig(valuesOf(testRunConfig), {});
    expect(account.shardPoolSize).toBeNull();
    expect(gateway.shards).toEqual({
      urls: [0, 1, 2, 3].map((i) => `mysql://root@127.0.0.1:3306/paygraph_s${i}`).join(','),
      map: null,
    });
    expect(ledgerKeyRing(account)?.current.id).toBe('dev');
    expect(gateway.tokens.secret).toBeNull();
    expect(gateway.tokens.jwksUrl).toBeNull();
    expect(gateway.subgraphSecrets).toEqual({ account: null, transaction: null, settlement: null, webhooks: null });
    expect(account.secret).toBeNull();
    expect(gateway.auditLogFile).toBeNull();
    expect(gateway.tracing.otlpEndpoint).toBeNull();
    expect(gateway.production).toBe(false);
    expect(gateway.redisUrl).toBeNull();
    expect(transaction.failpoint).toBeNull();
    expect(start.noColor).toBe(false);
    expect(testRun.test.seed).toBeNull();
    expect(transaction.settings.amountMax).toBe(amountMinorUnitsMaxDefault);
    expect(account.posting).toEqual(postingSettingsDefault);
  });

  it('read an empty value as unset, and take whole numbers of minor units up to BIGINT', () => {
    const transaction = valuesOf(transactionConfig);
    expect(readConfig(transaction, { TRANSACTION_PORT: '', AMOUNT_MAX: '', POSTING_ENGINE: '' })).toEqual(
      readConfig(transaction, {}),
    );
    expect(readConfig(transaction, { AMOUNT_MAX: '9223372036854775807' }).settings.amountMax).toBe(
      balanceMinorUnitsMax,
    );
    expect(readConfig(transaction, { AMOUNT_MAX: '1' }).settings.amountMax).toBe(1n);
  });

  it('report every bad variable at once, each by name, in one ConfigError', () => {
    const transaction = valuesOf(transactionConfig);
    const problems = problemsOf(transaction, {
      TRANSACTION_PORT: 'x',
      MERGE_WAIT_MS: '5',
      BUSINESS_TIMEZONE: 'Mars/Base',
      RELAY_ENABLED: 'yes',
    });
    expect(problems.map((p) => p.split(' ')[0])).toEqual([
      'MERGE_WAIT_MS',
      'BUSINESS_TIMEZONE',
      'TRANSACTION_PORT',
      'RELAY_ENABLED',
    ]);
    expect(() => readConfig(transaction, { TRANSACTION_PORT: 'x', RELAY_ENABLED: 'yes' })).toThrow(
      /^TRANSACTION_PORT must be an integer, got "x"\nRELAY_ENABLED must be true or false, got "yes"$/,
    );
  });

  it('answer a frozen configuration', () => {
    const config = readConfig(valuesOf(gatewayConfig), {});
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.tokens)).toBe(true);
    expect(Object.isFrozen(config.subgraphUrls)).toBe(true);
    expect(() => {
      (config.tokens as { issuer: string }).issuer = 'someone';
    }).toThrow(TypeError);
  });

  it('declare each variable once: two leaves of one name are refused', () => {
    expect(() => configurationVariables()).not.toThrow();
  });
});

describe("each process's own requirements", () => {
  const secrets = {
    SUBGRAPH_SECRET_ACCOUNT: secret,
    SUBGRAPH_SECRET_TRANSACTION: secret,
    SUBGRAPH_SECRET_SETTLEMENT: secret,
    SUBGRAPH_SECRET_WEBHOOKS: secret,
  };
  const schemas = {
    gateway: gatewayConfig,
    account: accountConfig,
    transaction: transactionConfig,
    settlement: settlementConfig,
    webhooks: webhooksConfig,
  };
  const refusal = (env: Environment, processName: keyof typeof schemas) => {
    try {
      readConfig(schemas[processName], env);
      return [];
    } catch (error) {
      return (error as ConfigError).problems;
    }
  };

  it('the gateway: every subgraph secret, and JWT_SECRET unless JWKS_URL, which must be https in production', () => {
    expect(refusal({ ...secrets, JWT_SECRET: 's' }, 'gateway')).toEqual([]);
    expect(refusal({ ...secrets, JWKS_URL: 'https://idp/jwks' }, 'gateway')).toEqual([]);
    expect(refusal({ JWT_SECRET: 's' }, 'gateway').map((p) => p.split(' ')[0])).toEqual([
      'SUBGRAPH_SECRET_ACCOUNT',
      'SUBGRAPH_SECRET_TRANSACTION',
      'SUBGRAPH_SECRET_SETTLEMENT',
      'SUBGRAPH_SECRET_WEBHOOKS',
    ]);
    expect(refusal({ ...secrets }, 'gateway')).toEqual([expect.stringMatching(/^JWT_SECRET is not set, nor JWKS_URL/)]);
    expect(refusal({ ...secrets, JWKS_URL: 'http://idp/jwks', NODE_ENV: 'production' }, 'gateway')).toEqual([
      expect.stringMatching(/^JWKS_URL must be https in production/),
    ]);
    // A subgraph's secret too short is reported as that, not also as missing.
    expect(refusal({ ...secrets, JWT_SECRET: 's', SUBGRAPH_SECRET_SETTLEMENT: 'short' }, 'gateway')).toEqual([
      expect.stringMatching(/^SUBGRAPH_SECRET_SETTLEMENT must be at least 32 characters/),
    ]);
  });

  it('a subgraph: its own secret only, and LEDGER_MAC_KEY in production', () => {
    for (const subgraph of ['account', 'transaction', 'settlement'] as const) {
      const own = `SUBGRAPH_SECRET_${subgraph.toUpperCase()}`;
      expect(refusal({ [own]: secret }, subgraph)).toEqual([]);
      expect(refusal({}, subgraph)).toEqual([expect.stringMatching(new RegExp(`^${own} is not set`))]);
      // The transaction subgraph also needs the key of linked cards' fingerprints.
      const cardKey = subgraph === 'transaction' ? { CARD_FINGERPRINT_KEY: secret } : {};
      expect(refusal({ [own]: secret, NODE_ENV: 'production', ...cardKey }, subgraph)).toEqual([
        expect.stringMatching(/^LEDGER_MAC_KEY must be set with NODE_ENV=production/),
      ]);
      expect(
        refusal(
          { [own]: secret, NODE_ENV: 'production', LEDGER_MAC_KEY: 'k1:a-production-key-1234', ...cardKey },
          subgraph,
        ),
      ).toEqual([]);
    }
    expect(
      refusal(
        { SUBGRAPH_SECRET_TRANSACTION: secret, NODE_ENV: 'production', LEDGER_MAC_KEY: 'k1:a-production-key-1234' },
        'transaction',
      ),
    ).toEqual([expect.stringMatching(/^CARD_FINGERPRINT_KEY is not set with NODE_ENV=production/)]);
    // The webhooks subgraph also needs the key its endpoints' secrets are sealed with.
    const webhooks = {
      SUBGRAPH_SECRET_WEBHOOKS: secret,
      NODE_ENV: 'production',
      LEDGER_MAC_KEY: 'k1:a-production-key-1234',
    };
    expect(refusal(webhooks, 'webhooks')).toEqual([
      expect.stringMatching(/^WEBHOOK_SECRET_KEY must be set with NODE_ENV=production/),
    ]);
    expect(refusal({ ...webhooks, WEBHOOK_SECRET_KEY: secret }, 'webhooks')).toEqual([]);
    // Scripts have no such requirement: only the values are checked, and the ledger has no key (configureLedger refuses
    // it).
    expect(ledgerKeyRing(readConfig(scriptConfig, { NODE_ENV: 'production' }))).toBeNull();
  });
});
