import * as z from 'zod';
import {
  boolean,
  evenWithRefusedValues,
  extended,
  integer,
  intervalMs,
  parsed,
  port,
  text,
} from '@paygraph/shared/config/env';
import {
  minorUnits,
  subgraphRequirements,
  subgraphSecret,
  subgraphShape,
  subscriptionKeepAliveMs,
} from '@paygraph/shared/config/shared';
import {
  amountMinorUnitsMaxDefault,
  balanceMinorUnitsMax,
  idempotencyRetentionDaysDefault,
  idempotencyRetentionDaysMax,
  idempotencyRetentionDaysMin,
} from '@paygraph/shared/limits';
import {
  fxQuoteTtlSecondsDefault,
  fxQuoteTtlSecondsMax,
  holdExpiryIntervalMsDefault,
  holdExpiryIntervalMsMax,
  holdTtlSecondsDefault,
  holdTtlSecondsMax,
  relayIntervalMsDefault,
  cardFingerprintKeyCharsMin,
} from './limits';

/** Where the transaction subgraph listens unless TRANSACTION_PORT says otherwise. */
export const transactionPortDefault = 4002;
/**
 * Points where the transaction subgraph kills itself, for crash tests (TRANSACTION_FAILPOINT): those
 * of a two-leg movement, then those between the legs of a payment of many legs (services/leg-payment.ts),
 * then a payout to a link committed before its event was written (services/external-transfer.ts), then a
 * cross-shard payment answered before its ending committed (services/endings-in-flight.ts).
 */
const twoLegFailpoints = [
  'payment-after-debit',
  'refund-after-reserve',
  'capture-after-debit',
  'sweep-after-debit',
  'top-up-after-debit',
] as const;
const legFailpoints = ['legs-after-paying', 'legs-after-home', 'legs-after-receiving'] as const;
const eventFailpoints = ['payout-before-event'] as const;
const answerFailpoints = ['payment-after-answer'] as const;
export const failpoints = [...twoLegFailpoints, ...legFailpoints, ...eventFailpoints, ...answerFailpoints] as const;
export type Failpoint = (typeof failpoints)[number];

function failpointOf(raw: string): Failpoint {
  const found = failpoints.find((f) => f === raw);
  if (found === undefined) {
    throw new Error(
      `must be one of ${twoLegFailpoints.join(', ')}, got "${raw}"; between the legs of a payment: ${legFailpoints.join(', ')}; before a payout's event: ${eventFailpoints.join(', ')}; after a payment's answer: ${answerFailpoints.join(', ')}`,
    );
  }
  return found;
}

/** What the subgraph's requests are checked against (context.ts). */
export const transactionSettingsConfig = z.object({
  /** AMOUNT_MAX, in minor units. */
  amountMax: parsed(
    'AMOUNT_MAX',
    `minor units 1–${balanceMinorUnitsMax}`,
    minorUnits,
    String(amountMinorUnitsMaxDefault),
    {
      default: `\`${amountMinorUnitsMaxDefault}\` (10^15)`,
      meaning:
        "the most one money operation (deposit, withdrawal, payment, refund, hold, capture) may move, in minor units; above it the request is `INVALID_INPUT`. The default is ten trillion in a two-decimal currency, below 2^53 (exact in a client's double), and 9,223 such deposits away from the BIGINT bound of any balance",
    },
  ),
  /** HOLD_TTL_SECONDS: how long a hold lives when its request does not say. */
  holdTtlSeconds: integer('HOLD_TTL_SECONDS', 's', 1, holdTtlSecondsMax, holdTtlSecondsDefault, {
    default: `\`${holdTtlSecondsDefault}\` (7 days)`,
    meaning: `how long a hold lives when \`createHold\` gives no \`expiresInSeconds\`, which is bounded the same way (at most 30 days)`,
  }),
  /** FX_QUOTE_TTL_SECONDS: how long an FX quote may pay a payment. */
  fxQuoteTtlSeconds: integer('FX_QUOTE_TTL_SECONDS', 's', 1, fxQuoteTtlSecondsMax, fxQuoteTtlSecondsDefault, {
    default: `\`${fxQuoteTtlSecondsDefault}\``,
    meaning:
      'how long an FX quote (`createFxQuote`) may pay a payment; after it the payment answers `FX_QUOTE_EXPIRED`',
  }),
  /**
   * CARD_FINGERPRINT_KEY: the HMAC key of linked cards' fingerprints (services/external-accounts.ts); outside
   * production a development key stands in when unset.
   */
  cardFingerprintKey: extended(
    text('CARD_FINGERPRINT_KEY', `string, ${cardFingerprintKeyCharsMin}+ characters`, undefined, {
      default: 'a development key outside production; required with `NODE_ENV=production`',
      meaning:
        "the key of a linked card's fingerprint (HMAC-SHA256 of its number): the same card linked by two owners is found by it, and the number is never kept. Changing it makes every card new to the platform",
    }),
    (key) =>
      key.refine((value) => value === null || value.length >= cardFingerprintKeyCharsMin, {
        error: `must be at least ${cardFingerprintKeyCharsMin} characters`,
      }),
  ),
});

export type TransactionSettings = z.output<typeof transactionSettingsConfig>;

/**
 * The transaction subgraph's configuration: the shared subgraph pieces, its port and secret,
 * its request settings, and its workers (outbox relay, hold expiry, idempotency-key retention).
 */
export const transactionConfig = z
  .object({
    ...subgraphShape,
    port: port('TRANSACTION_PORT', transactionPortDefault, {
      default: `\`${transactionPortDefault}\``,
      meaning: "the transaction subgraph's port",
    }),
    secret: subgraphSecret('transaction'),
    settings: transactionSettingsConfig,
    idempotencyRetentionDays: integer(
      'IDEMPOTENCY_RETENTION_DAYS',
      'days',
      idempotencyRetentionDaysMin,
      idempotencyRetentionDaysMax,
      idempotencyRetentionDaysDefault,
      {
        default: `\`${idempotencyRetentionDaysDefault}\``,
        meaning:
          "how long idempotency keys are kept: within it a replay answers the original outcome; older keys, and the ledger's refusals as old, are purged in batches by every transaction replica",
      },
    ),
    relay: z.object({
      enabled: boolean('RELAY_ENABLED', true, {
        default: '`true`',
        meaning: 'run the outbox relay in the transaction subgraph',
      }),
      intervalMs: intervalMs('RELAY_INTERVAL_MS', relayIntervalMsDefault, {
        default: `\`${relayIntervalMsDefault}\``,
        meaning: 'pause between relay passes',
      }),
    }),
    holdExpiry: z.object({
      enabled: boolean('HOLD_EXPIRY_ENABLED', true, {
        default: '`true`',
        meaning: 'run the hold expiry worker in the transaction subgraph (every replica may)',
      }),
      intervalMs: intervalMs(
        'HOLD_EXPIRY_INTERVAL_MS',
        holdExpiryIntervalMsDefault,
        {
          default: `\`${holdExpiryIntervalMsDefault}\``,
          meaning: "pause between expiry passes: an expired hold's money is available again within about this long",
        },
        holdExpiryIntervalMsMax,
      ),
    }),
    subscriptionKeepAliveMs,
    failpoint: parsed('TRANSACTION_FAILPOINT', failpoints.map((f) => `\`${f}\``).join(', '), failpointOf, undefined, {
      default: 'unset',
      meaning:
        'tests only: a point where the transaction subgraph kills itself; with `NODE_ENV=production` the subgraph refuses to start',
    }),
  })
  .superRefine((config, ctx) => {
    subgraphRequirements('transaction')(config, ctx);
    const cardKey = config.settings.cardFingerprintKey;
    if (config.production && cardKey === null)
      ctx.addIssue({
        code: 'custom',
        input: config,
        message: 'CARD_FINGERPRINT_KEY is not set with NODE_ENV=production: linked cards need a key of their own',
      });
    if (config.production && config.failpoint !== null && failpoints.includes(config.failpoint)) {
      ctx.addIssue({
        code: 'custom',
        input: config,
        message: `TRANSACTION_FAILPOINT is set ("${config.failpoint}") with NODE_ENV=production: failpoints kill the process on purpose and are for tests only; unset TRANSACTION_FAILPOINT`,
      });
    }
  }, evenWithRefusedValues);

export type TransactionConfig = z.output<typeof transactionConfig>;
