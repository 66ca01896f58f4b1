import * as z from 'zod';
import { parseCutoff, type BusinessCalendar } from './business-date';
import { subgraphSecretVariable, trustedSubgraphs, type TrustedSubgraph } from './gateway-trust';
import { tokenAudienceDefault, tokenIssuerDefault } from './identity';
import { developmentKeyRing, parseKeyRing, type MacKeyRing } from './ledger/tamper';
import {
  accountPoolSizeDefault, amountMaxMinorUnitsDefault, balanceMaxMinorUnits, balancePollIntervalMsDefault,
  balanceSafetyPollIntervalMsDefault, feeBpsMax, holdExpiryIntervalMsDefault, holdExpiryIntervalMsMax, holdTtlSecondsDefault,
  holdTtlSecondsMax, idempotencyRetentionDaysDefault, idempotencyRetentionDaysMax, idempotencyRetentionDaysMin,
  jwksCacheMaxAgeMsDefault, jwksCooldownMsDefault, logicalShardCount, mergeBatchSizeDefault, mergeBatchSizeMax, mergeWaitMsDefault,
  mergeWaitMsMax, rateLimitMoneyPerMinuteDefault, rateLimitOperatorMoneyPerMinuteDefault, rateLimitOperatorReadsPerMinuteDefault,
  rateLimitReadsPerMinuteDefault, relayIntervalMsDefault, settlementDelayDaysDefault, settlementDelayDaysMax, settlementFeeBpsDefault,
  settlementPoolSizeDefault, settlementWorkerIntervalMsDefault, shardPoolSizeMax, subgraphSecretCharsMin,
  subscriptionKeepAliveMsDefault, timerDelayMsMax, transactionPoolSizeDefault,
} from './limits';
import { logLevels, type LogLevel } from './log';
import { buildTopology } from './shards/topology';

/**
 * Every setting of every paygraph process is an environment variable, and every variable is
 * declared once, here: its type and range, its default and what it means (README.md's
 * configuration table is this schema written out, and test/configuration.test.ts keeps the two
 * equal). A process's main.ts hands its environment to loadConfig, naming the process, before
 * it opens anything: every variable is parsed and checked at once, and a bad value, or a secret
 * the process needs and lacks, throws a ConfigError naming each variable at fault, so the
 * process exits before it listens. Nothing else reads the environment: each part of the system
 * receives its piece of the frozen Config by argument.
 *
 * A variable set to the empty string reads as unset (as a shell's `VAR= npm start` means).
 */
export type Environment = Readonly<Record<string, string | undefined>>;

/** The processes whose needs differ: which secrets are required, and which production rules apply. */
export type ProcessName = 'gateway' | TrustedSubgraph;

/** How the ledger posts (ledger/post.ts): POSTING_ENGINE, MERGE_WAIT_MS, MERGE_BATCH_SIZE. */
export const engineModes = ['merged', 'single', 'naive'] as const;
export type EngineMode = (typeof engineModes)[number];

export interface PostingSettings {
  engine: EngineMode;
  /** The longest a lone posting waits for others to share its transaction. */
  mergeWaitMs: number;
  /** The most postings one merged transaction holds. */
  mergeBatchSizeMax: number;
}

/** What loadConfig answers when POSTING_ENGINE, MERGE_WAIT_MS and MERGE_BATCH_SIZE are unset. */
export const postingSettingsDefault: Readonly<PostingSettings> = Object.freeze({
  engine: 'merged', mergeWaitMs: mergeWaitMsDefault, mergeBatchSizeMax: mergeBatchSizeDefault,
});

/** Points where the transaction subgraph kills itself, for crash tests (PAYGRAPH_FAILPOINT). */
export const failpoints = ['payment-after-debit', 'refund-after-reserve', 'capture-after-debit', 'sweep-after-debit'] as const;
export type Failpoint = (typeof failpoints)[number];

export const defaultMysqlShards = [0, 1, 2, 3]
  .map((i) => `mysql://root@127.0.0.1:3306/paygraph_s${i}`)
  .join(',');

/** Where the shard databases are: what openShards needs besides a pool size. */
export interface ShardLocation {
  /** MYSQL_SHARDS: comma-separated mysql:// URLs, one database each. */
  urls: string;
  /** SHARD_MAP; absent: contiguous ranges. */
  map?: string;
}

/** The gateway's per-principal budgets per minute (RATE_LIMIT_*). */
export interface RateBudgetSettings {
  moneyPerMinute: number;
  readsPerMinute: number;
  operatorMoneyPerMinute: number;
  operatorReadsPerMinute: number;
}

/** How the gateway checks client tokens (identity.ts#tokenSettings builds the keys from this). */
export interface TokenConfig {
  /** JWT_SECRET: the HS256 key; null when only JWKS tokens are accepted. */
  secret: string | null;
  /** JWKS_URL: RS256/ES256 keys by kid; null when only HS256 tokens are accepted. */
  jwksUrl: string | null;
  jwksCacheMaxAgeMs: number;
  jwksCooldownMs: number;
  issuer: string;
  audience: string;
}

export interface Config {
  /** NODE_ENV=production: no introspection, suggestions or stack traces; no development MAC key. */
  readonly production: boolean;
  readonly logLevel: LogLevel;
  /** OpenTelemetry: where spans are exported (OTLP over HTTP); null: tracing is off. */
  readonly tracing: { readonly otlpEndpoint: string | null };
  /** REDIS_URL: ledger hints between processes and shared rate budgets; null: each process alone. */
  readonly redisUrl: string | null;
  readonly shards: Readonly<ShardLocation>;
  /** MYSQL_POOL_SIZE: connections per shard for every subgraph; null: each process's own default (pool-size.ts). */
  readonly shardPoolSize: number | null;
  readonly posting: Readonly<PostingSettings>;
  /**
   * LEDGER_MAC_KEY parsed, or the development key outside production. Null only in production
   * without the variable, which every subgraph refuses at start-up (a script that seals or
   * verifies must refuse it too).
   */
  readonly ledgerKeys: MacKeyRing | null;
  readonly businessCalendar: Readonly<BusinessCalendar>;
  /** SUBGRAPH_SECRET_*: each null when unset (the gateway needs all, each subgraph its own). */
  readonly subgraphSecrets: Readonly<Record<TrustedSubgraph, string | null>>;
  readonly tokens: Readonly<TokenConfig>;
  readonly gateway: {
    readonly port: number;
    readonly host: string;
    readonly subgraphUrls: Readonly<Record<TrustedSubgraph, string>>;
    readonly rateBudgets: Readonly<RateBudgetSettings>;
    /** AUDIT_LOG_FILE; null: stdout. */
    readonly auditLogFile: string | null;
  };
  readonly subgraphs: { readonly host: string; readonly ports: Readonly<Record<TrustedSubgraph, number>> };
  readonly subscriptionKeepAliveMs: number;
  readonly account: { readonly balancePollIntervalMs: number; readonly balanceSafetyPollIntervalMs: number };
  readonly transaction: {
    readonly amountMax: bigint;
    readonly holdTtlSeconds: number;
    readonly holdExpiryEnabled: boolean;
    readonly holdExpiryIntervalMs: number;
    readonly relayEnabled: boolean;
    readonly relayIntervalMs: number;
    readonly idempotencyRetentionDays: number;
    readonly failpoint: Failpoint | null;
  };
  readonly settlement: {
    readonly feeBpsDefault: number;
    readonly delayDays: number;
    readonly workerEnabled: boolean;
    readonly workerIntervalMs: number;
  };
  /** What `npm start` and `npm test` read to find or start MySQL (scripts/lib/mysql-server.ts). */
  readonly mysqlServer: {
    /** MYSQL_SHARDS as set, or null: the scripts then look for a server themselves. */
    readonly explicitShards: string | null;
    readonly url: string;
    readonly localSocket: 'auto' | 'off';
    readonly shardCount: number;
    readonly privatePort: number;
  };
  readonly noColor: boolean;
  readonly test: { readonly databasePrefix: string; readonly seed: number | null };
}

/** A configuration refused: every problem found, each naming its variable. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
  }
}

// ---------------------------------------------------------------------------------------------
// The variables' types. Each builds a zod schema for the value as set and the words README's
// table uses for it; zod's message is prefixed with the variable's name when it is reported.

interface Variable<T> {
  /** README's type column: the type and its range. */
  readonly type: string;
  /** README's default column, as written there. */
  readonly default: string;
  /** README's meaning column. */
  readonly meaning: string;
  /** Parses a set, non-empty value; called with undefined when the variable is unset. */
  readonly schema: z.ZodType<T, string | undefined>;
}

type Doc = { default: string; meaning: string };

function inputText(input: unknown): string {
  return typeof input === 'string' ? JSON.stringify(input) : String(input);
}

function rangeText(min: number, max: number): string {
  return max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `${min}–${max}`;
}

/** A whole number in [min, max], written in decimal digits. */
function integerSchema(min: number, max: number) {
  return z.string()
    .trim()
    .regex(/^-?[0-9]+$/, { error: (issue) => `must be an integer, got ${inputText(issue.input)}` })
    .transform(Number)
    .refine((n) => n >= min && n <= max, { error: (issue) => `must be between ${min} and ${max}, got ${inputText(issue.input)}` });
}

function integer(unit: string, min: number, max: number, fallback: number, doc: Doc): Variable<number> {
  return { type: `${unit} ${rangeText(min, max)}`, ...doc, schema: integerSchema(min, max).default(fallback) };
}

function optionalInteger(unit: string, min: number, max: number, doc: Doc): Variable<number | undefined> {
  return { type: `${unit} ${rangeText(min, max)}`, ...doc, schema: integerSchema(min, max).optional() };
}

function port(fallback: number, doc: Doc, min = 0): Variable<number> {
  return integer('port', min, 65_535, fallback, doc);
}

/** Milliseconds a timer waits: at most timerDelayMsMax, past which Node's timers misfire. */
function intervalMs(fallback: number, doc: Doc, max = timerDelayMsMax): Variable<number> {
  return integer('ms', 1, max, fallback, doc);
}

function boolean(fallback: boolean, doc: Doc): Variable<boolean> {
  return {
    type: '`true`, `false`, `1`, `0`',
    ...doc,
    schema: z.stringbool({
      truthy: ['true', '1'], falsy: ['false', '0'], case: 'sensitive',
      error: (issue) => `must be true or false, got ${inputText(issue.input)}`,
    }).default(fallback),
  };
}

/** The value's type: T, or T | undefined when the variable has no default. */
type Defaulted<T, F> = F extends undefined ? T | undefined : T;

/** Applies the default, or lets the variable be unset. */
function withDefault<T, F extends T | undefined>(schema: z.ZodType<T, string>, fallback: F): z.ZodType<Defaulted<T, F>, string | undefined> {
  return (fallback === undefined ? schema.optional() : schema.default(fallback as never)) as z.ZodType<Defaulted<T, F>, string | undefined>;
}

function oneOf<const V extends readonly [string, ...string[]], F extends V[number] | undefined>(values: V, fallback: F, doc: Doc): Variable<Defaulted<V[number], F>> {
  const schema = z.enum(values, { error: (issue) => `must be one of ${values.join(', ')}, got ${inputText(issue.input)}` });
  return { type: values.map((v) => `\`${v}\``).join(', '), ...doc, schema: withDefault(schema as z.ZodType<V[number], string>, fallback) };
}

function text<F extends string | undefined>(type: string, fallback: F, doc: Doc): Variable<Defaulted<string, F>> {
  return { type, ...doc, schema: withDefault(z.string(), fallback) };
}

/** A URL whose scheme is one of `schemes`. */
function url<F extends string | undefined>(schemes: readonly string[], fallback: F, doc: Doc): Variable<Defaulted<string, F>> {
  const listed = schemes.map((s) => `${s}://`).join(' or ');
  const schema = z.url({ protocol: new RegExp(`^(${schemes.join('|')})$`), error: (issue) => `must be a ${listed} URL, got ${inputText(issue.input)}` });
  return { type: `${schemes.map((s) => `\`${s}://\``).join(' or ')} URL`, ...doc, schema: withDefault(schema, fallback) };
}

/** A value one of our own parsers reads; its error's message is the problem. The default is written as it would be set. */
function parsed<T, F extends string | undefined>(type: string, parse: (raw: string) => T, fallback: F, doc: Doc): Variable<Defaulted<T, F>> {
  const schema = z.string().transform((raw, ctx) => {
    try {
      return parse(raw);
    } catch (error) {
      ctx.issues.push({ code: 'custom', message: error instanceof Error ? error.message : String(error), input: raw });
      return z.NEVER;
    }
  });
  return { type, ...doc, schema: withDefault(schema as z.ZodType<T, string>, fallback === undefined ? undefined : parse(fallback)) as z.ZodType<Defaulted<T, F>, string | undefined> };
}

function timeZone(raw: string): string {
  try {
    // Throws RangeError for a zone the runtime does not know.
    new Intl.DateTimeFormat('en-CA', { timeZone: raw });
  } catch {
    throw new Error(`must be an IANA time zone such as UTC or America/New_York, got ${JSON.stringify(raw)}`);
  }
  return raw;
}

function minorUnits(raw: string): bigint {
  if (!/^[1-9][0-9]{0,18}$/.test(raw) || BigInt(raw) > balanceMaxMinorUnits) {
    throw new Error(`must be a whole number of minor units from 1 to ${balanceMaxMinorUnits}, got ${JSON.stringify(raw)}`);
  }
  return BigInt(raw);
}

function subgraphSecret(subgraph: TrustedSubgraph): Variable<string | undefined> {
  const schema = z.string().min(subgraphSecretCharsMin, {
    error: `must be at least ${subgraphSecretCharsMin} characters (npm start makes one per run)`,
  });
  return {
    type: `string, ${subgraphSecretCharsMin}+ characters`,
    default: 'made per run by `npm start`',
    meaning: `the ${subgraph} subgraph's secret: the gateway sends it and signs identities with it; the ${subgraph} subgraph refuses to start without it, and the gateway without any of the three`,
    schema: schema.optional(),
  };
}

const ms = 'ms';

/**
 * Every variable, in README's order. Ranges and defaults come from limits.ts, so a limit and the
 * variable that configures it cannot disagree.
 */
export const variables = {
  MYSQL_SHARDS: text('comma-separated `mysql://` URLs', defaultMysqlShards, {
    default: '`mysql://root@127.0.0.1:3306/paygraph_s0`, …`_s3`',
    meaning: 'one `mysql://` URL per shard (one database each), comma-separated',
  }),
  SHARD_MAP: text('`from-to:database`, comma-separated', undefined, {
    default: 'contiguous ranges',
    meaning: `which database holds which of the ${logicalShardCount} logical shards, e.g. \`0-31:0,32-63:1\``,
  }),
  MYSQL_URL: url(['mysql'], 'mysql://root@127.0.0.1:3306', {
    default: '`mysql://root@127.0.0.1:3306`',
    meaning: 'the server `npm start`/`npm test` look for when `MYSQL_SHARDS` is unset',
  }),
  MYSQL_LOCAL_SOCKET: oneOf(['auto', 'off'], 'auto', {
    default: '`auto`',
    meaning: 'with `auto`, a server found at `MYSQL_URL` on this machine is reached through its Unix socket (`@@socket`) when that works, which costs less CPU per statement than loopback TCP; `off` keeps TCP. Explicit `MYSQL_SHARDS` are used as given',
  }),
  MYSQL_SHARD_COUNT: integer('integer', 1, logicalShardCount, 4, {
    default: '`4`',
    meaning: 'databases created on that server',
  }),
  MYSQL_PRIVATE_PORT: port(3307, {
    default: '`3307`',
    meaning: 'port of the private server started under `.data/` when no MySQL answers',
  }, 1),
  MYSQL_POOL_SIZE: optionalInteger('integer', 1, shardPoolSizeMax, {
    default: `per process: transaction \`${transactionPoolSizeDefault}\`, account \`${accountPoolSizeDefault}\`, settlement \`${settlementPoolSizeDefault}\``,
    meaning: 'connections per shard of every subgraph process when set; see [Connection budget](#connection-budget)',
  }),
  PORT: port(4000, {
    default: '`4000`',
    meaning: "the gateway's port (`/graphql`, `/health/live`, `/health/ready`, `/metrics`); `0` takes a free one",
  }),
  GATEWAY_HOST: text('host name or address', '0.0.0.0', { default: '`0.0.0.0`', meaning: "the gateway's listen address" }),
  ACCOUNT_PORT: port(4001, { default: '`4001`', meaning: "the account subgraph's port" }),
  TRANSACTION_PORT: port(4002, { default: '`4002`', meaning: "the transaction subgraph's port" }),
  SETTLEMENT_PORT: port(4003, { default: '`4003`', meaning: "the settlement subgraph's port" }),
  HOST: text('host name or address', '127.0.0.1', { default: '`127.0.0.1`', meaning: "the subgraphs' listen address" }),
  ACCOUNT_URL: url(['http', 'https'], 'http://127.0.0.1:4001/graphql', {
    default: '`http://127.0.0.1:4001/graphql`',
    meaning: 'where the gateway finds the account subgraph',
  }),
  TRANSACTION_URL: url(['http', 'https'], 'http://127.0.0.1:4002/graphql', {
    default: '`http://127.0.0.1:4002/graphql`',
    meaning: 'where the gateway finds the transaction subgraph',
  }),
  SETTLEMENT_URL: url(['http', 'https'], 'http://127.0.0.1:4003/graphql', {
    default: '`http://127.0.0.1:4003/graphql`',
    meaning: 'where the gateway finds the settlement subgraph',
  }),
  JWT_SECRET: text('string', undefined, {
    default: 'made per run by `npm start`',
    meaning: "HS256 key for client tokens (the gateway's; optional when `JWKS_URL` is set)",
  }),
  JWKS_URL: url(['http', 'https'], undefined, {
    default: 'unset',
    meaning: 'a JWKS for RS256/ES256 client tokens, rotated by `kid` (https in production)',
  }),
  JWKS_CACHE_MAX_AGE_MS: integer(ms, 0, Number.MAX_SAFE_INTEGER, jwksCacheMaxAgeMsDefault, {
    default: `\`${jwksCacheMaxAgeMsDefault}\``,
    meaning: 'how long keys from `JWKS_URL` are cached',
  }),
  JWKS_COOLDOWN_MS: integer(ms, 0, Number.MAX_SAFE_INTEGER, jwksCooldownMsDefault, {
    default: `\`${jwksCooldownMsDefault}\``,
    meaning: 'the pause between refetches of `JWKS_URL` for an unknown `kid`',
  }),
  JWT_ISSUER: text('string', tokenIssuerDefault, { default: `\`${tokenIssuerDefault}\``, meaning: 'the `iss` claim client tokens must carry' }),
  JWT_AUDIENCE: text('string', tokenAudienceDefault, { default: `\`${tokenAudienceDefault}\``, meaning: 'the `aud` claim client tokens must carry' }),
  SUBGRAPH_SECRET_ACCOUNT: subgraphSecret('account'),
  SUBGRAPH_SECRET_TRANSACTION: subgraphSecret('transaction'),
  SUBGRAPH_SECRET_SETTLEMENT: subgraphSecret('settlement'),
  RATE_LIMIT_MONEY_PER_MINUTE: integer('integer', 1, Number.MAX_SAFE_INTEGER, rateLimitMoneyPerMinuteDefault, {
    default: `\`${rateLimitMoneyPerMinuteDefault}\``,
    meaning: 'per-principal budget for money mutations (createPayments counts each input)',
  }),
  RATE_LIMIT_READS_PER_MINUTE: integer('integer', 1, Number.MAX_SAFE_INTEGER, rateLimitReadsPerMinuteDefault, {
    default: `\`${rateLimitReadsPerMinuteDefault}\``,
    meaning: 'per-principal budget for everything else',
  }),
  RATE_LIMIT_OPERATOR_MONEY_PER_MINUTE: integer('integer', 1, Number.MAX_SAFE_INTEGER, rateLimitOperatorMoneyPerMinuteDefault, {
    default: `\`${rateLimitOperatorMoneyPerMinuteDefault}\``,
    meaning: 'the money budget of operators (back offices and the benchmark)',
  }),
  RATE_LIMIT_OPERATOR_READS_PER_MINUTE: integer('integer', 1, Number.MAX_SAFE_INTEGER, rateLimitOperatorReadsPerMinuteDefault, {
    default: `\`${rateLimitOperatorReadsPerMinuteDefault}\``,
    meaning: 'the other budget of operators',
  }),
  LOG_LEVEL: oneOf(logLevels, 'info', {
    default: '`info`',
    meaning: 'every process: pino JSON lines on stdout from this level; `debug` adds a line per GraphQL request. Each line of a request carries its `requestId` (the client\'s `x-request-id` if 1–64 of `A-Za-z0-9._:-`, else a UUID), which is echoed, sent to the subgraphs and kept in `audit_events.request_id`',
  }),
  AUDIT_LOG_FILE: text('file path', undefined, {
    default: 'unset (stdout)',
    meaning: 'where the gateway writes its JSON-line audit log; money mutations also go to the `audit_events` table',
  }),
  OTEL_EXPORTER_OTLP_ENDPOINT: url(['http', 'https'], undefined, {
    default: 'unset (no tracing)',
    meaning: 'every process: an OpenTelemetry collector\'s base URL (e.g. `http://127.0.0.1:4318`); each process then posts its traces to `<endpoint>/v1/traces` as OTLP/HTTP JSON, `service.name` its own name, and sends a W3C `traceparent` with every subgraph call (continuing a client\'s own). The exporter also honours OpenTelemetry\'s `OTEL_EXPORTER_OTLP_HEADERS`, `_TIMEOUT` and `_COMPRESSION`. Unset, nothing of OpenTelemetry is registered and no `traceparent` is sent. Spans carry SQL with placeholders only, never a bound value: [docs/ARCHITECTURE.md](docs/ARCHITECTURE.md#traces)',
  }),
  NODE_ENV: text('string', undefined, {
    default: 'unset',
    meaning: '`production` turns off introspection, field suggestions, stack traces and the development MAC key (`LEDGER_MAC_KEY` must then be set)',
  }),
  LEDGER_MAC_KEY: parsed('`id:secret[,id:secret…]`, secrets 16+ characters', parseKeyRing, undefined, {
    default: 'a development key',
    meaning: 'the first key signs account MACs, all verify (rotation). Required with `NODE_ENV=production`: without it every subgraph refuses to start',
  }),
  AMOUNT_MAX: parsed(`minor units 1–${balanceMaxMinorUnits}`, minorUnits, String(amountMaxMinorUnitsDefault), {
    default: `\`${amountMaxMinorUnitsDefault}\` (10^15)`,
    meaning: 'the most one money operation (deposit, withdrawal, payment, refund, hold, capture) may move, in minor units; above it the request is `INVALID_INPUT`. The default is ten trillion in a two-decimal currency, below 2^53 (exact in a client\'s double), and 9,223 such deposits away from the BIGINT bound of any balance',
  }),
  BUSINESS_TIMEZONE: parsed('IANA time zone', timeZone, 'UTC', { default: '`UTC`', meaning: 'the time zone of business dates' }),
  BUSINESS_DAY_CUTOFF: parsed('`HH:MM`, `00:00`–`23:59`', parseCutoff, '00:00', {
    default: '`00:00`',
    meaning: 'when the business day ends; later postings belong to the next date',
  }),
  SETTLEMENT_FEE_BPS: integer('bps', 0, feeBpsMax, settlementFeeBpsDefault, {
    default: `\`${settlementFeeBpsDefault}\``,
    meaning: "merchants' fee rate unless set per merchant (`setMerchantFeeRate`)",
  }),
  SETTLEMENT_DELAY_DAYS: integer('days', 1, settlementDelayDaysMax, settlementDelayDaysDefault, {
    default: `\`${settlementDelayDaysDefault}\``,
    meaning: 'the worker settles date D on D+N',
  }),
  SETTLEMENT_WORKER_ENABLED: boolean(true, { default: '`true`', meaning: 'run the settlement worker in the settlement subgraph' }),
  SETTLEMENT_WORKER_INTERVAL_MS: intervalMs(settlementWorkerIntervalMsDefault, {
    default: `\`${settlementWorkerIntervalMsDefault}\``,
    meaning: 'pause between worker passes',
  }),
  IDEMPOTENCY_RETENTION_DAYS: integer('days', idempotencyRetentionDaysMin, idempotencyRetentionDaysMax, idempotencyRetentionDaysDefault, {
    default: `\`${idempotencyRetentionDaysDefault}\``,
    meaning: 'how long idempotency keys are kept: within it a replay answers the original outcome; older keys are purged in batches by every transaction replica',
  }),
  RELAY_ENABLED: boolean(true, { default: '`true`', meaning: 'run the outbox relay in the transaction subgraph' }),
  RELAY_INTERVAL_MS: intervalMs(relayIntervalMsDefault, { default: `\`${relayIntervalMsDefault}\``, meaning: 'pause between relay passes' }),
  HOLD_TTL_SECONDS: integer('s', 1, holdTtlSecondsMax, holdTtlSecondsDefault, {
    default: `\`${holdTtlSecondsDefault}\` (7 days)`,
    meaning: `how long a hold lives when \`createHold\` gives no \`expiresInSeconds\`, which is bounded the same way (at most 30 days)`,
  }),
  HOLD_EXPIRY_ENABLED: boolean(true, { default: '`true`', meaning: 'run the hold expiry worker in the transaction subgraph (every replica may)' }),
  HOLD_EXPIRY_INTERVAL_MS: intervalMs(holdExpiryIntervalMsDefault, {
    default: `\`${holdExpiryIntervalMsDefault}\``,
    meaning: "pause between expiry passes: an expired hold's money is available again within about this long",
  }, holdExpiryIntervalMsMax),
  POSTING_ENGINE: oneOf(engineModes, 'merged', {
    default: '`merged`',
    meaning: '`merged` (batching), `single` (a transaction per posting) or `naive` (the benchmark\'s textbook baseline)',
  }),
  MERGE_WAIT_MS: integer(ms, 0, mergeWaitMsMax, mergeWaitMsDefault, {
    default: `\`${mergeWaitMsDefault}\``,
    meaning: 'longest a posting waits for others to share its transaction',
  }),
  MERGE_BATCH_SIZE: integer('integer', 1, mergeBatchSizeMax, mergeBatchSizeDefault, {
    default: `\`${mergeBatchSizeDefault}\``,
    meaning: 'most postings in one merged transaction',
  }),
  REDIS_URL: url(['redis', 'rediss'], undefined, {
    default: 'unset',
    meaning: 'fan-out of balance events between processes (without it each account subgraph tails the shards) and rate-limit budgets shared by gateway replicas (through ioredis, reconnecting every 500 ms; while Redis is away hints are dropped, the safety poll covers them, and each gateway counts budgets on its own). `npm test` uses it when set (it must answer), else `redis://127.0.0.1:6379`, else a private server',
  }),
  BALANCE_POLL_INTERVAL_MS: intervalMs(balancePollIntervalMsDefault, {
    default: `\`${balancePollIntervalMsDefault}\``,
    meaning: 'how often balance streams read new entries when tailing',
  }),
  BALANCE_SAFETY_POLL_INTERVAL_MS: intervalMs(balanceSafetyPollIntervalMsDefault, {
    default: `\`${balanceSafetyPollIntervalMsDefault}\``,
    meaning: 'with Redis, the slow poll that covers a lost hint',
  }),
  SUBSCRIPTION_KEEPALIVE_MS: intervalMs(subscriptionKeepAliveMsDefault, {
    default: `\`${subscriptionKeepAliveMsDefault}\``,
    meaning: 'WebSocket keep-alive pings',
  }),
  PAYGRAPH_FAILPOINT: oneOf(failpoints, undefined, {
    default: 'unset',
    meaning: 'tests only: a point where the transaction subgraph kills itself; with `NODE_ENV=production` the subgraph refuses to start',
  }),
  NO_COLOR: text('any value', undefined, { default: 'unset', meaning: 'plain log prefixes in `npm start`' }),
  TEST_DATABASE_PREFIX: parsed('`paygraph_test` then `A-Za-z0-9_`', testDatabasePrefix, 'paygraph_test', {
    default: '`paygraph_test`',
    meaning: "`npm test` only: the test databases' prefix, so two runs can share a server",
  }),
  TEST_SEED: optionalInteger('integer', 0, 2 ** 32 - 1, {
    default: 'fresh each run',
    meaning: '`npm test` only: the seed of the randomised tests (bank, concurrent postings); a failing one prints its seed, and `TEST_SEED=<seed> npm test -- <file>` replays its choices',
  }),
} satisfies Record<string, Variable<unknown>>;

function testDatabasePrefix(raw: string): string {
  if (!/^paygraph_test[A-Za-z0-9_]*$/.test(raw)) throw new Error(`must start with paygraph_test (then letters, digits, _), got ${JSON.stringify(raw)}`);
  return raw;
}

export type VariableName = keyof typeof variables;

/** Every variable's value as parsed: its default when unset. */
export type Values = { [K in VariableName]: z.output<(typeof variables)[K]['schema']> };

// ---------------------------------------------------------------------------------------------

/**
 * Parses and checks every variable, then what the process needs (its secrets, the production
 * rules), and answers the frozen configuration; throws a ConfigError listing every problem.
 * Without a process (scripts, tests) only the values are checked.
 */
export function loadConfig(env: Environment, processName?: ProcessName): Config {
  const { values, problems } = parseValues(env);
  problems.push(...processProblems(values, processName));
  if (problems.length > 0) throw new ConfigError(problems);
  return deepFreeze(toConfig(values as Values, env));
}

/**
 * The variables one at a time, so that every bad one is reported and not only the first; a bad
 * one is left out of the values.
 */
function parseValues(env: Environment): { values: Partial<Values>; problems: string[] } {
  const values: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [name, variable] of Object.entries(variables) as Array<[VariableName, Variable<unknown>]>) {
    const raw = env[name];
    const result = variable.schema.safeParse(raw === '' ? undefined : raw);
    if (result.success) values[name] = result.data;
    else problems.push(...result.error.issues.map((issue) => named(name, issue.message)));
  }
  const parsedValues = values as Partial<Values>;
  // The map names databases by their place in MYSQL_SHARDS, so the two are read together.
  if ('MYSQL_SHARDS' in values && 'SHARD_MAP' in values) {
    const problem = topologyProblem(parsedValues.MYSQL_SHARDS!, parsedValues.SHARD_MAP);
    if (problem) problems.push(problem);
  }
  return { values: parsedValues, problems };
}

/** Our own parsers name the variable already (MYSQL_SHARDS: …, LEDGER_MAC_KEY must …). */
function named(name: string, message: string): string {
  return message.startsWith(name) ? message : `${name} ${message}`;
}

function topologyProblem(urls: string, map: string | undefined): string | null {
  try {
    buildTopology(urls, map);
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/**
 * What this process needs beyond well-formed values. A variable that was refused already is
 * not reported again as missing.
 */
function processProblems(values: Partial<Values>, processName: ProcessName | undefined): string[] {
  if (processName === undefined) return [];
  const production = values.NODE_ENV === 'production';
  const problems: string[] = [];
  const secretMissing = (subgraph: TrustedSubgraph): void => {
    const variable = subgraphSecretVariable(subgraph) as VariableName;
    if (!(variable in values) || values[variable] !== undefined) return;
    problems.push(`${variable} is not set: npm start makes one for the run, or set it yourself (the gateway needs the same value)`);
  };
  if (processName === 'gateway') {
    for (const subgraph of trustedSubgraphs) secretMissing(subgraph);
    if ('JWT_SECRET' in values && 'JWKS_URL' in values && values.JWT_SECRET === undefined && values.JWKS_URL === undefined) {
      problems.push('JWT_SECRET is not set, nor JWKS_URL: npm start makes a JWT_SECRET for the run, or set one of them yourself');
    }
    // Over plain HTTP anyone on the path could hand the gateway their own signing keys.
    if (production && values.JWKS_URL !== undefined && !values.JWKS_URL.startsWith('https:')) {
      problems.push(`JWKS_URL must be https in production, got ${JSON.stringify(values.JWKS_URL)}`);
    }
    return problems;
  }
  secretMissing(processName);
  if (production && 'LEDGER_MAC_KEY' in values && values.LEDGER_MAC_KEY === undefined) {
    problems.push('LEDGER_MAC_KEY must be set with NODE_ENV=production: the development key would seal real accounts');
  }
  if (processName === 'transaction' && production && values.PAYGRAPH_FAILPOINT !== undefined) {
    problems.push(`PAYGRAPH_FAILPOINT is set ("${values.PAYGRAPH_FAILPOINT}") with NODE_ENV=production: failpoints kill the process on purpose and are for tests only; unset PAYGRAPH_FAILPOINT`);
  }
  return problems;
}

function secretsOf(v: Values): Record<TrustedSubgraph, string | null> {
  return {
    account: v.SUBGRAPH_SECRET_ACCOUNT ?? null,
    transaction: v.SUBGRAPH_SECRET_TRANSACTION ?? null,
    settlement: v.SUBGRAPH_SECRET_SETTLEMENT ?? null,
  };
}

function toConfig(v: Values, env: Environment): Config {
  const production = v.NODE_ENV === 'production';
    const explicitShards = env.MYSQL_SHARDS;
  return {
    production,
    logLevel: v.LOG_LEVEL,
    tracing: { otlpEndpoint: v.OTEL_EXPORTER_OTLP_ENDPOINT ?? null },
    redisUrl: v.REDIS_URL ?? null,
    shards: { urls: v.MYSQL_SHARDS, ...(v.SHARD_MAP === undefined ? {} : { map: v.SHARD_MAP }) },
    shardPoolSize: v.MYSQL_POOL_SIZE ?? null,
    posting: { engine: v.POSTING_ENGINE, mergeWaitMs: v.MERGE_WAIT_MS, mergeBatchSizeMax: v.MERGE_BATCH_SIZE },
    ledgerKeys: v.LEDGER_MAC_KEY ?? (production ? null : developmentKeyRing()),
    businessCalendar: { timeZone: v.BUSINESS_TIMEZONE, cutoffMinutes: v.BUSINESS_DAY_CUTOFF },
    subgraphSecrets: secretsOf(v),
    tokens: {
      secret: v.JWT_SECRET ?? null,
      jwksUrl: v.JWKS_URL ?? null,
      jwksCacheMaxAgeMs: v.JWKS_CACHE_MAX_AGE_MS,
      jwksCooldownMs: v.JWKS_COOLDOWN_MS,
      issuer: v.JWT_ISSUER,
      audience: v.JWT_AUDIENCE,
    },
    gateway: {
      port: v.PORT,
      host: v.GATEWAY_HOST,
      subgraphUrls: { account: v.ACCOUNT_URL, transaction: v.TRANSACTION_URL, settlement: v.SETTLEMENT_URL },
      rateBudgets: {
        moneyPerMinute: v.RATE_LIMIT_MONEY_PER_MINUTE,
        readsPerMinute: v.RATE_LIMIT_READS_PER_MINUTE,
        operatorMoneyPerMinute: v.RATE_LIMIT_OPERATOR_MONEY_PER_MINUTE,
        operatorReadsPerMinute: v.RATE_LIMIT_OPERATOR_READS_PER_MINUTE,
      },
      auditLogFile: v.AUDIT_LOG_FILE ?? null,
    },
    subgraphs: { host: v.HOST, ports: { account: v.ACCOUNT_PORT, transaction: v.TRANSACTION_PORT, settlement: v.SETTLEMENT_PORT } },
    subscriptionKeepAliveMs: v.SUBSCRIPTION_KEEPALIVE_MS,
    account: { balancePollIntervalMs: v.BALANCE_POLL_INTERVAL_MS, balanceSafetyPollIntervalMs: v.BALANCE_SAFETY_POLL_INTERVAL_MS },
    transaction: {
      amountMax: v.AMOUNT_MAX,
      holdTtlSeconds: v.HOLD_TTL_SECONDS,
      holdExpiryEnabled: v.HOLD_EXPIRY_ENABLED,
      holdExpiryIntervalMs: v.HOLD_EXPIRY_INTERVAL_MS,
      relayEnabled: v.RELAY_ENABLED,
      relayIntervalMs: v.RELAY_INTERVAL_MS,
      idempotencyRetentionDays: v.IDEMPOTENCY_RETENTION_DAYS,
      failpoint: v.PAYGRAPH_FAILPOINT ?? null,
    },
    settlement: {
      feeBpsDefault: v.SETTLEMENT_FEE_BPS,
      delayDays: v.SETTLEMENT_DELAY_DAYS,
      workerEnabled: v.SETTLEMENT_WORKER_ENABLED,
      workerIntervalMs: v.SETTLEMENT_WORKER_INTERVAL_MS,
    },
    mysqlServer: {
      explicitShards: explicitShards === undefined || explicitShards.trim() === '' ? null : v.MYSQL_SHARDS,
      url: v.MYSQL_URL,
      localSocket: v.MYSQL_LOCAL_SOCKET,
      shardCount: v.MYSQL_SHARD_COUNT,
      privatePort: v.MYSQL_PRIVATE_PORT,
    },
    noColor: v.NO_COLOR !== undefined,
    test: { databasePrefix: v.TEST_DATABASE_PREFIX, seed: v.TEST_SEED ?? null },
  };
}

/** Freezes plain objects and arrays all the way down; key rings (Map, Buffer) keep their own shape. */
function deepFreeze<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  const prototype = Object.getPrototypeOf(value) as unknown;
  if (prototype !== Object.prototype && !Array.isArray(value)) return value;
  for (const child of Object.values(value)) deepFreeze(child);
  return Object.freeze(value);
}
