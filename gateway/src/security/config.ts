import type { Config } from '@paygraph/shared/config';
import {
  rateLimitMoneyPerMinuteDefault, rateLimitOperatorMoneyPerMinuteDefault, rateLimitOperatorReadsPerMinuteDefault,
  rateLimitReadsPerMinuteDefault,
} from '../limits';
import type { GatewaySecurityOptions, RateBudgets } from './gateway-security';

/** Budgets per principal and window (one minute), by role. */
export const defaultRateBudgets: RateBudgets = {
  moneyPerMinute: rateLimitMoneyPerMinuteDefault,
  readsPerMinute: rateLimitReadsPerMinuteDefault,
  operatorMoneyPerMinute: rateLimitOperatorMoneyPerMinuteDefault,
  operatorReadsPerMinute: rateLimitOperatorReadsPerMinuteDefault,
};

/** The prefix of the rate limiter's Redis keys. */
export const rateLimitKeyPrefixDefault = 'paygraph:ratelimit';

/**
 * The gateway's security settings from its configuration (config.ts, checked at start-up):
 * RATE_LIMIT_MONEY_PER_MINUTE, RATE_LIMIT_READS_PER_MINUTE, RATE_LIMIT_OPERATOR_MONEY_PER_MINUTE,
 * RATE_LIMIT_OPERATOR_READS_PER_MINUTE, REDIS_URL (shared budgets; unset: per process),
 * AUDIT_LOG_FILE (unset: stdout), and MYSQL_SHARDS, where the audit table is written.
 */
export function securityOptions(config: Config): GatewaySecurityOptions {
  return {
    budgets: { ...config.gateway.rateBudgets },
    redisUrl: config.redisUrl,
    auditLogFile: config.gateway.auditLogFile,
    auditShardsAt: config.shards,
  };
}
