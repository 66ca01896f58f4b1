/**
 * The test files of vitest.config.ts's `shared` project: they run without isolation, so each
 * vitest worker runs them one after another in one process with one module cache, paying its
 * fork, set-up and imports once instead of once per file (docs/TESTING.md "Shared set-up").
 *
 * A file belongs here when no later file can meet what it leaves behind in the process: accounts
 * of its own (unique owners), no process.env or process-wide setting changed, no process
 * listener, no metric read as an absolute figure from a registry other files also count into,
 * no Redis, no replica left on a stack. A file that needs a configuration of its own, spawns
 * processes or drives a shard to a bound stays in `parallel`; so does one that fails here but
 * not there, until the state it shares is found and fixed.
 */

/** Files that need only the default stack (test/support/default-stack.ts): the worker starts it once for all of them. */
export const sharedStackFiles = [
  'gateway/test/bola.test.ts',
  'gateway/test/gateway.test.ts',
  'gateway/test/subscription-limits.test.ts',
  'subgraphs/account/test/int/account.test.ts',
  'subgraphs/account/test/int/counterparty.test.ts',
  'subgraphs/account/test/int/read-path.test.ts',
  'subgraphs/account/test/int/stripe-directory.test.ts',
  'subgraphs/shared/test/int/gateway-trust.test.ts',
  'subgraphs/transaction/test/int/bulk-payments.test.ts',
  'subgraphs/transaction/test/int/bulk-row-model.test.ts',
  'subgraphs/transaction/test/int/client-context.test.ts',
  'subgraphs/transaction/test/int/hold-endings.test.ts',
  'subgraphs/transaction/test/int/key-placement.test.ts',
  'subgraphs/transaction/test/int/legs-random.test.ts',
  'subgraphs/transaction/test/int/lock-timeout.test.ts',
  'subgraphs/transaction/test/int/money-idempotency.test.ts',
  'subgraphs/transaction/test/int/money-movement.test.ts',
  'subgraphs/transaction/test/int/money-shards.test.ts',
  'subgraphs/webhooks/test/int/endpoints.test.ts',
  'test/request-id.test.ts',
];

/** Files that start no stack and change nothing process-wide (pure functions, a shard set of their own, the source tree). */
export const sharedProcessFiles = [
  'gateway/test/identity-tokens.test.ts',
  'gateway/test/invariants.test.ts',
  'gateway/test/subscription-bridge.test.ts',
  'gateway/test/subscription-forwarding.test.ts',
  'gateway/test/subscription-operation.test.ts',
  'subgraphs/account/test/unit/balance-cursor.test.ts',
  'subgraphs/settlement/test/int/settlement-context.test.ts',
  'subgraphs/settlement/test/unit/fees.test.ts',
  'subgraphs/shared/test/int/coalescer.test.ts',
  'subgraphs/shared/test/int/merged-posting.test.ts',
  'subgraphs/shared/test/int/posting-transaction.test.ts',
  'subgraphs/shared/test/int/tamper.test.ts',
  'subgraphs/shared/test/unit/business-date.test.ts',
  'subgraphs/shared/test/unit/dedupe-keys.test.ts',
  'subgraphs/shared/test/unit/error-log.test.ts',
  'subgraphs/shared/test/unit/fair-share-cache.test.ts',
  'subgraphs/shared/test/unit/galera-timings.test.ts',
  'subgraphs/shared/test/unit/ids.test.ts',
  'subgraphs/shared/test/unit/instant.test.ts',
  'subgraphs/shared/test/unit/money.test.ts',
  'subgraphs/shared/test/unit/plan-check.test.ts',
  'subgraphs/shared/test/unit/posting-rules.test.ts',
  'subgraphs/shared/test/unit/scalars.test.ts',
  'subgraphs/shared/test/unit/stream-errors.test.ts',
  'subgraphs/shared/test/unit/stripes.test.ts',
  'subgraphs/shared/test/unit/topology.test.ts',
  'subgraphs/shared/test/unit/tracing.test.ts',
  'subgraphs/shared/test/unit/verified-cache.test.ts',
  'subgraphs/transaction/test/unit/campaign-discount.test.ts',
  'subgraphs/transaction/test/unit/fx-round-trips.test.ts',
  'subgraphs/transaction/test/unit/fx.test.ts',
  'subgraphs/transaction/test/unit/hold-rules.test.ts',
  'subgraphs/transaction/test/unit/legs.test.ts',
  'subgraphs/transaction/test/unit/refund-rules.test.ts',
  'subgraphs/webhooks/test/unit/attempt-error.test.ts',
  'subgraphs/webhooks/test/unit/busy-endpoints.test.ts',
  'subgraphs/webhooks/test/unit/destination.test.ts',
  'subgraphs/webhooks/test/unit/events.test.ts',
  'subgraphs/webhooks/test/unit/retry.test.ts',
  'subgraphs/webhooks/test/unit/signer.test.ts',
  'test/account-shape.test.ts',
  'test/bench-report.test.ts',
  'test/contract.test.ts',
  'test/import-rules.test.ts',
  'test/resolver-types.test.ts',
  'test/soak-memory.test.ts',
  'test/supergraph.test.ts',
  'test/table-ownership.test.ts',
  'test/typecheck.test.ts',
];
