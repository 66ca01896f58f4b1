import * as z from 'zod';
import { parseCutoff } from '../business-date';
import { developmentKeyRing, parseKeyRing, type MacKeyRing } from './ledger-keys';
import {
  balanceMinorUnitsMax,
  jwksCacheMaxAgeMsDefault,
  jwksCooldownMsDefault,
  logicalShardCount,
  mergeBatchSizeDefault,
  mergeBatchSizeMax,
  mergeQueueSizeDefault,
  mergeQueueSizeMax,
  mergeWaitMsDefault,
  mergeWaitMsMax,
  shardPoolSizeMax,
  subgraphSecretCharsMin,
  subscriptionKeepAliveMsDefault,
} from '../limits';
import { logLevels } from '../log';
import { buildTopology } from '../shards/topology';
import { integer, intervalMs, oneOf, parsed, text, extended, url, type VariableSchema } from './env';
import { subgraphSecretVariable } from '../part-variables';

/**
 * The pieces of configuration every process shares (shards, tokens, logging, the ledger's
 * settings), as zod schemas: each process's config.ts puts the ones it reads into its own
 * schema, so that a variable is declared here once and read the same way everywhere. Ranges and
 * defaults come from limits.ts, so a limit and the variable that configures it cannot disagree.
 */

// --- Every process ------------------------------------------------------------------------------

/** NODE_ENV=production: no introspection, suggestions or stack traces; no development MAC key. */
export const production = extended(
  text('NODE_ENV', 'string', undefined, {
    default: 'unset',
    meaning:
      '`production` turns off introspection, field suggestions, stack traces and the development MAC key (`LEDGER_MAC_KEY` must then be set)',
  }),
  (env) => env.transform((value) => value === 'production'),
);

export const logLevel = oneOf('LOG_LEVEL', logLevels, 'info', {
  default: '`info`',
  meaning:
    "every process: pino JSON lines on stdout from this level; `debug` adds a line per GraphQL request. Each line of a request carries its `requestId` (the client's `x-request-id` if 1–64 of `A-Za-z0-9._:-`, else a UUID), which is echoed, sent to the subgraphs and kept in `audit_events.request_id`",
});

/** OpenTelemetry: where spans are exported (OTLP over HTTP); null: tracing is off. */
export const tracingConfig = z.object({
  otlpEndpoint: url('OTEL_EXPORTER_OTLP_ENDPOINT', ['http', 'https'], undefined, {
    default: 'unset (no tracing)',
    meaning:
      "every process: an OpenTelemetry collector's base URL (e.g. `http://127.0.0.1:4318`); each process then posts its traces to `<endpoint>/v1/traces` as OTLP/HTTP JSON, `service.name` its own name, and sends a W3C `traceparent` with every subgraph call (continuing a client's own). The exporter also honours OpenTelemetry's `OTEL_EXPORTER_OTLP_HEADERS`, `_TIMEOUT` and `_COMPRESSION`. Unset, nothing of OpenTelemetry is registered and no `traceparent` is sent. Spans carry SQL with placeholders only, never a bound value: [docs/GATEWAY.md](docs/GATEWAY.md#traces)",
  }),
});

/** REDIS_URL: ledger hints between processes and shared rate budgets; null: each process alone. */
export const redisUrl = url('REDIS_URL', ['redis', 'rediss'], undefined, {
  default: 'unset',
  meaning:
    'fan-out of balance events between processes (without it each account subgraph tails the shards), rate-limit budgets and automatic persisted queries shared by gateway replicas (through ioredis, reconnecting every 500 ms; while Redis is away hints are dropped, the safety poll covers them, each gateway counts budgets on its own, and persisted-query lookups miss). `npm test` uses it when set (it must answer), else `redis://127.0.0.1:6379`, else a private server',
});

/** What every process reads: whether it runs in production, its log level, its traces and Redis. */
export const processShape = { production, logLevel, tracing: tracingConfig, redisUrl };

// --- Shards -------------------------------------------------------------------------------------

export const defaultMysqlShards = [0, 1, 2, 3].map((i) => `mysql://root@127.0.0.1:3306/paygraph_s${i}`).join(',');

/**
 * Where the shard databases are: MYSQL_SHARDS (one database each) and SHARD_MAP (absent:
 * contiguous ranges). The map names databases by their place in MYSQL_SHARDS, so the two are
 * checked together, by the topology's own parser (shards/topology.ts: parseShardNodes reads
 * MYSQL_SHARDS, `|` between the nodes of a shard on a Galera cluster, and is the one place to extend its syntax).
 */
export const shardsConfig = z
  .object({
    urls: text('MYSQL_SHARDS', 'comma-separated `mysql://` URLs', defaultMysqlShards, {
      default: '`mysql://root@127.0.0.1:3306/paygraph_s0`, …`_s3`',
      meaning:
        'one `mysql://` URL per shard (one database each), comma-separated; a shard on a Galera cluster lists its nodes joined by a vertical bar (docs/SHARDS.md, "A shard on a Galera cluster")',
    }),
    map: text('SHARD_MAP', '`from-to:database`, comma-separated', undefined, {
      default: 'contiguous ranges',
      meaning: `which database holds which of the ${logicalShardCount} logical shards, e.g. \`0-31:0,32-63:1\``,
    }),
  })
  .superRefine((shards, ctx) => {
    try {
      buildTopology(shards.urls, shards.map ?? undefined);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: error instanceof Error ? error.message : String(error), input: shards });
    }
  });

/** Where the shard databases are: what openShards needs besides a pool size. */
export type ShardLocation = z.output<typeof shardsConfig>;

/**
 * MYSQL_POOL_SIZE: connections per shard for every subgraph; null: each process's own default (its part's
 * poolSizeDefault).
 */
export const shardPoolSize = integer('MYSQL_POOL_SIZE', 'integer', 1, shardPoolSizeMax, undefined, {
  default: "each process's own, as its part declares it (see [Connection budget](#connection-budget))",
  meaning: 'connections per shard of every subgraph process when set; see [Connection budget](#connection-budget)',
});

// --- Posting ------------------------------------------------------------------------------------

/** How the ledger posts (ledger/engine/post.ts): POSTING_ENGINE, MERGE_WAIT_MS, MERGE_BATCH_SIZE, MERGE_QUEUE_SIZE. */
export const engineModes = ['merged', 'single', 'naive'] as const;
export type EngineMode = (typeof engineModes)[number];

export const postingConfig = z
  .object({
    engine: oneOf('POSTING_ENGINE', engineModes, 'merged', {
      default: '`merged`',
      meaning:
        "`merged` (batching), `single` (a transaction per posting) or `naive` (the benchmark's textbook baseline)",
    }),
    /** The longest a lone posting waits for others to share its transaction. */
    mergeWaitMs: integer('MERGE_WAIT_MS', 'ms', 0, mergeWaitMsMax, mergeWaitMsDefault, {
      default: `\`${mergeWaitMsDefault}\``,
      meaning: 'longest a posting waits for others to share its transaction',
    }),
    /** The most postings one merged transaction holds (a setting, at most mergeBatchSizeMax). */
    mergeBatchSize: integer('MERGE_BATCH_SIZE', 'integer', 1, mergeBatchSizeMax, mergeBatchSizeDefault, {
      default: `\`${mergeBatchSizeDefault}\``,
      meaning: 'most postings in one merged transaction',
    }),
    /** The most postings waiting per shard for a merged batch (a setting, at most mergeQueueSizeMax). */
    mergeQueueSize: integer('MERGE_QUEUE_SIZE', 'integer', 1, mergeQueueSizeMax, mergeQueueSizeDefault, {
      default: `\`${mergeQueueSizeDefault}\``,
      meaning:
        'most postings waiting per shard for a merged transaction; one more is refused at once with `SHARD_UNAVAILABLE` (retryable), nothing of it written. At least `MERGE_BATCH_SIZE`',
    }),
  })
  .superRefine((posting, ctx) => {
    // A queue shorter than a batch would never fill one: every batch would wait out MERGE_WAIT_MS.
    // Checked between accepted values only: a value its variable refused is reported once, there.
    const accepted = (value: number, max: number) => Number.isInteger(value) && value >= 1 && value <= max;
    if (
      accepted(posting.mergeQueueSize, mergeQueueSizeMax) &&
      accepted(posting.mergeBatchSize, mergeBatchSizeMax) &&
      posting.mergeQueueSize < posting.mergeBatchSize
    )
      ctx.addIssue({
        code: 'custom',
        message: `MERGE_QUEUE_SIZE (${posting.mergeQueueSize}) must be at least MERGE_BATCH_SIZE (${posting.mergeBatchSize})`,
        input: posting,
      });
  });

export type PostingSettings = z.output<typeof postingConfig>;

/** The schema's defaults (POSTING_ENGINE and the MERGE_ variables unset): for tools that never post. */
export const postingSettingsDefault: Readonly<PostingSettings> = Object.freeze(postingConfig.parse({}));

// --- The ledger ---------------------------------------------------------------------------------

function timeZone(raw: string): string {
  try {
    // Throws RangeError for a zone the runtime does not know.
    new Intl.DateTimeFormat('en-CA', { timeZone: raw });
  } catch {
    throw new Error(`must be an IANA time zone such as UTC or America/New_York, got ${JSON.stringify(raw)}`);
  }
  return raw;
}

export const businessCalendarConfig = z.object({
  timeZone: parsed('BUSINESS_TIMEZONE', 'IANA time zone', timeZone, 'UTC', {
    default: '`UTC`',
    meaning: 'the time zone of business dates',
  }),
  cutoffMinutes: parsed('BUSINESS_DAY_CUTOFF', '`HH:MM`, `00:00`–`23:59`', parseCutoff, '00:00', {
    default: '`00:00`',
    meaning: 'when the business day ends; later postings belong to the next date',
  }),
});

/** LEDGER_MAC_KEY parsed; null when unset (ledgerKeyRing then answers the development key outside production). */
export const ledgerKeys = parsed(
  'LEDGER_MAC_KEY',
  '`id:secret[,id:secret…]`, secrets 16+ characters',
  parseKeyRing,
  undefined,
  {
    default: 'a development key',
    meaning:
      'the first key signs account MACs, all verify (rotation). Required with `NODE_ENV=production`: without it every subgraph refuses to start',
  },
);

/** What a process that posts or verifies reads: its keys and calendar. */
export const ledgerShape = { ledgerKeys, businessCalendar: businessCalendarConfig };

/**
 * The keys the ledger seals and verifies with: LEDGER_MAC_KEY, or the development key outside
 * production. Null only in production without the variable, which every subgraph refuses at
 * start-up (a script that seals or verifies must refuse it too).
 */
export function ledgerKeyRing(config: {
  readonly production: boolean;
  readonly ledgerKeys: MacKeyRing | null;
}): MacKeyRing | null {
  return config.ledgerKeys ?? (config.production ? null : developmentKeyRing());
}

export const ledgerKeyMissing =
  'LEDGER_MAC_KEY must be set with NODE_ENV=production: the development key would seal real accounts';

// --- Tokens and secrets -------------------------------------------------------------------------

export const tokenIssuerDefault = 'paygraph';
export const tokenAudienceDefault = 'paygraph-api';

/** How the gateway checks client tokens (identity.ts#tokenSettings builds the keys from this). */
export const tokensConfig = z.object({
  /** JWT_SECRET: the HS256 key; null when only JWKS tokens are accepted. */
  secret: text('JWT_SECRET', 'string', undefined, {
    default: 'made per run by `npm start`',
    meaning: "HS256 key for client tokens (the gateway's; optional when `JWKS_URL` is set)",
  }),
  /** JWKS_URL: RS256/ES256 keys by kid; null when only HS256 tokens are accepted. */
  jwksUrl: url('JWKS_URL', ['http', 'https'], undefined, {
    default: 'unset',
    meaning: 'a JWKS for RS256/ES256 client tokens, rotated by `kid` (https in production)',
  }),
  jwksCacheMaxAgeMs: integer('JWKS_CACHE_MAX_AGE_MS', 'ms', 0, Number.MAX_SAFE_INTEGER, jwksCacheMaxAgeMsDefault, {
    default: `\`${jwksCacheMaxAgeMsDefault}\``,
    meaning: 'how long keys from `JWKS_URL` are cached',
  }),
  jwksCooldownMs: integer('JWKS_COOLDOWN_MS', 'ms', 0, Number.MAX_SAFE_INTEGER, jwksCooldownMsDefault, {
    default: `\`${jwksCooldownMsDefault}\``,
    meaning: 'the pause between refetches of `JWKS_URL` for an unknown `kid`',
  }),
  issuer: text('JWT_ISSUER', 'string', tokenIssuerDefault, {
    default: `\`${tokenIssuerDefault}\``,
    meaning: 'the `iss` claim client tokens must carry',
  }),
  audience: text('JWT_AUDIENCE', 'string', tokenAudienceDefault, {
    default: `\`${tokenAudienceDefault}\``,
    meaning: 'the `aud` claim client tokens must carry',
  }),
});

export type TokenConfig = z.output<typeof tokensConfig>;

/** Each subgraph's secret variable, made once: a variable is declared by one schema, which every process shares. */
const subgraphSecrets = new Map<string, VariableSchema<string | null>>();

/**
 * SUBGRAPH_SECRET_<NAME>: a subgraph's secret; null when unset (the gateway needs every one, each subgraph its own).
 */
export function subgraphSecret(subgraph: string): VariableSchema<string | null> {
  let schema = subgraphSecrets.get(subgraph);
  if (schema === undefined) {
    schema = subgraphSecretSchema(subgraph);
    subgraphSecrets.set(subgraph, schema);
  }
  return schema;
}

function subgraphSecretSchema(subgraph: string): VariableSchema<string | null> {
  return extended(
    text(subgraphSecretVariable(subgraph), `string, ${subgraphSecretCharsMin}+ characters`, undefined, {
      default: 'made per run by `npm start`',
      meaning: `the ${subgraph} subgraph's secret: the gateway sends it and signs identities with it; the ${subgraph} subgraph refuses to start without it, and the gateway without any of them`,
    }),
    (secret) =>
      secret.refine((value) => value === null || value.length >= subgraphSecretCharsMin, {
        error: `must be at least ${subgraphSecretCharsMin} characters (npm start makes one per run)`,
      }),
  );
}

/** Every named subgraph's secret, by name: what the gateway reads. */
export function subgraphSecretsConfig<const N extends string>(subgraphs: readonly N[]) {
  return z.object(
    Object.fromEntries(subgraphs.map((name) => [name, subgraphSecret(name)])) as Record<
      N,
      VariableSchema<string | null>
    >,
  );
}

/** Refused at start-up: the process needs this secret. */
export function secretMissing(subgraph: string): string {
  return `${subgraphSecretVariable(subgraph)} is not set: npm start makes one for the run, or set it yourself (the gateway needs the same value)`;
}

// --- Subgraphs ----------------------------------------------------------------------------------

export const subscriptionKeepAliveMs = intervalMs('SUBSCRIPTION_KEEPALIVE_MS', subscriptionKeepAliveMsDefault, {
  default: `\`${subscriptionKeepAliveMsDefault}\``,
  meaning: 'WebSocket keep-alive pings',
});

export const subgraphHost = text('HOST', 'host name or address', '127.0.0.1', {
  default: '`127.0.0.1`',
  meaning: "the subgraphs' listen address",
});

/**
 * What every subgraph process reads besides its own variables: it listens on HOST, opens the
 * shards with its pool size, posts, seals and verifies.
 */
export const subgraphShape = {
  ...processShape,
  host: subgraphHost,
  shards: shardsConfig,
  shardPoolSize,
  posting: postingConfig,
  ...ledgerShape,
};

/** The rules every subgraph's schema adds: its own secret, and LEDGER_MAC_KEY in production. */
export function subgraphRequirements(subgraph: string) {
  return (
    config: { production: boolean; ledgerKeys: MacKeyRing | null; secret: string | null },
    ctx: z.RefinementCtx,
  ): void => {
    if (config.secret === null) ctx.addIssue({ code: 'custom', message: secretMissing(subgraph), input: config });
    if (ledgerKeyRing(config) === null) ctx.addIssue({ code: 'custom', message: ledgerKeyMissing, input: config });
  };
}

/** A whole number of minor units from 1 to the BIGINT bound. */
export function minorUnits(raw: string): bigint {
  if (!/^[1-9][0-9]{0,18}$/.test(raw) || BigInt(raw) > balanceMinorUnitsMax) {
    throw new Error(
      `must be a whole number of minor units from 1 to ${balanceMinorUnitsMax}, got ${JSON.stringify(raw)}`,
    );
  }
  return BigInt(raw);
}
