import * as z from 'zod';
import { evenWithRefusedValues, integer, port, text, url } from '@paygraph/shared/config/env';
import { processShape, shardsConfig, subgraphSecretsConfig, secretMissing, subscriptionKeepAliveMs, tokensConfig } from '@paygraph/shared/config/shared';
import {
  rateLimitMoneyPerMinuteDefault, rateLimitOperatorMoneyPerMinuteDefault, rateLimitOperatorReadsPerMinuteDefault, rateLimitReadsPerMinuteDefault,
} from './limits';

/** The gateway's per-principal budgets per minute, by role (RATE_LIMIT_*). */
export const rateBudgetsConfig = z.object({
  /** Money-mutation units (createPayments: one per input) per minute, for customers, merchants, partners and channels. */
  moneyPerMinute: integer('RATE_LIMIT_MONEY_PER_MINUTE', 'integer', 1, Number.MAX_SAFE_INTEGER, rateLimitMoneyPerMinuteDefault, {
    default: `\`${rateLimitMoneyPerMinuteDefault}\``,
    meaning: 'per-principal budget for money mutations and FX quotes (`createFxQuote`; createPayments counts each input)',
  }),
  /** Other operations per minute, for customers, merchants, partners and channels. */
  readsPerMinute: integer('RATE_LIMIT_READS_PER_MINUTE', 'integer', 1, Number.MAX_SAFE_INTEGER, rateLimitReadsPerMinuteDefault, {
    default: `\`${rateLimitReadsPerMinuteDefault}\``,
    meaning: 'per-principal budget for everything else',
  }),
  operatorMoneyPerMinute: integer('RATE_LIMIT_OPERATOR_MONEY_PER_MINUTE', 'integer', 1, Number.MAX_SAFE_INTEGER, rateLimitOperatorMoneyPerMinuteDefault, {
    default: `\`${rateLimitOperatorMoneyPerMinuteDefault}\``,
    meaning: 'the money budget of operators (back offices and the benchmark)',
  }),
  operatorReadsPerMinute: integer('RATE_LIMIT_OPERATOR_READS_PER_MINUTE', 'integer', 1, Number.MAX_SAFE_INTEGER, rateLimitOperatorReadsPerMinuteDefault, {
    default: `\`${rateLimitOperatorReadsPerMinuteDefault}\``,
    meaning: 'the other budget of operators',
  }),
});

export type RateBudgets = z.output<typeof rateBudgetsConfig>;

/** The budgets with no RATE_LIMIT_* set: the schema's defaults. */
export const rateBudgetsDefault: Readonly<RateBudgets> = Object.freeze(rateBudgetsConfig.parse({}));

/**
 * The gateway's configuration: where it listens, where the subgraphs are, how it checks client
 * tokens, every subgraph's secret, its rate budgets and audit trail (audit rows go to the
 * shards' control shard). It refuses to start without every subgraph's secret and without a way
 * to check tokens.
 */
export const gatewayConfig = z.object({
  ...processShape,
  port: port('PORT', 4000, {
    default: '`4000`',
    meaning: "the gateway's port (`/graphql`, `/health/live`, `/health/ready`, `/metrics`); `0` takes a free one",
  }),
  host: text('GATEWAY_HOST', 'host name or address', '0.0.0.0', { default: '`0.0.0.0`', meaning: "the gateway's listen address" }),
  subgraphUrls: z.object({
    account: url('ACCOUNT_URL', ['http', 'https'], 'http://127.0.0.1:4001/graphql', {
      default: '`http://127.0.0.1:4001/graphql`',
      meaning: 'where the gateway finds the account subgraph',
    }),
    transaction: url('TRANSACTION_URL', ['http', 'https'], 'http://127.0.0.1:4002/graphql', {
      default: '`http://127.0.0.1:4002/graphql`',
      meaning: 'where the gateway finds the transaction subgraph',
    }),
    settlement: url('SETTLEMENT_URL', ['http', 'https'], 'http://127.0.0.1:4003/graphql', {
      default: '`http://127.0.0.1:4003/graphql`',
      meaning: 'where the gateway finds the settlement subgraph',
    }),
    webhooks: url('WEBHOOKS_URL', ['http', 'https'], 'http://127.0.0.1:4004/graphql', {
      default: '`http://127.0.0.1:4004/graphql`',
      meaning: 'where the gateway finds the webhooks subgraph',
    }),
  }),
  tokens: tokensConfig,
  subgraphSecrets: subgraphSecretsConfig,
  rateBudgets: rateBudgetsConfig,
  /** AUDIT_LOG_FILE; null: stdout. */
  auditLogFile: text('AUDIT_LOG_FILE', 'file path', undefined, {
    default: 'unset (stdout)',
    meaning: 'where the gateway writes its JSON-line audit log; money mutations also go to the `audit_events` table',
  }),
  shards: shardsConfig,
  subscriptionKeepAliveMs,
}).superRefine((config, ctx) => {
  const refuse = (message: string): void => ctx.addIssue({ code: 'custom', message, input: config });
  for (const [subgraph, secret] of Object.entries(config.subgraphSecrets)) {
    if (secret === null) refuse(secretMissing(subgraph as keyof typeof config.subgraphSecrets));
  }
  if (config.tokens.secret === null && config.tokens.jwksUrl === null) {
    refuse('JWT_SECRET is not set, nor JWKS_URL: npm start makes a JWT_SECRET for the run, or set one of them yourself');
  }
  // Over plain HTTP anyone on the path could hand the gateway their own signing keys.
  if (config.production && config.tokens.jwksUrl !== null && !config.tokens.jwksUrl.startsWith('https:')) {
    refuse(`JWKS_URL must be https in production, got ${JSON.stringify(config.tokens.jwksUrl)}`);
  }
}, evenWithRefusedValues);

export type GatewayConfig = z.output<typeof gatewayConfig>;
