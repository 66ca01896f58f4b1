import { envInt, envString } from '@paygraph/shared/config';
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
 * The gateway's security settings from the environment (documented in README.md):
 * RATE_LIMIT_MONEY_PER_MINUTE, RATE_LIMIT_READS_PER_MINUTE, RATE_LIMIT_OPERATOR_MONEY_PER_MINUTE,
 * RATE_LIMIT_OPERATOR_READS_PER_MINUTE, REDIS_URL (shared budgets; unset: per process) and
 * AUDIT_LOG_FILE (unset: stdout). The audit table is written through MYSQL_SHARDS.
 */
export function securityOptionsFromEnv(): GatewaySecurityOptions {
  const redisUrl = envString('REDIS_URL', '');
  const auditLogFile = envString('AUDIT_LOG_FILE', '');
  return {
    budgets: {
      moneyPerMinute: positive('RATE_LIMIT_MONEY_PER_MINUTE', defaultRateBudgets.moneyPerMinute),
      readsPerMinute: positive('RATE_LIMIT_READS_PER_MINUTE', defaultRateBudgets.readsPerMinute),
      operatorMoneyPerMinute: positive('RATE_LIMIT_OPERATOR_MONEY_PER_MINUTE', defaultRateBudgets.operatorMoneyPerMinute),
      operatorReadsPerMinute: positive('RATE_LIMIT_OPERATOR_READS_PER_MINUTE', defaultRateBudgets.operatorReadsPerMinute),
    },
    redisUrl: redisUrl === '' ? null : redisUrl,
    auditLogFile: auditLogFile === '' ? null : auditLogFile,
  };
}

function positive(name: string, fallback: number): number {
  const value = envInt(name, fallback);
  if (value < 1) throw new Error(`${name} must be at least 1, got ${value}`);
  return value;
}
