import { sql } from 'drizzle-orm';
import {
  bigint,
  datetime,
  index,
  int,
  mysqlEnum,
  mysqlTable,
  primaryKey,
  text,
  uniqueIndex,
  varchar,
} from 'drizzle-orm/mysql-core';

/**
 * The webhooks subgraph's tables, on every shard (docs/WEBHOOKS.md):
 * - webhook_endpoints on the shard its id names (chosen from its owner, so one owner's
 *   endpoints live together);
 * - webhook_streams and webhook_deliveries on the shard of the account (stripe) they follow,
 *   beside its ledger_entries: turning entries into deliveries and moving the stream's cursor is
 *   one local transaction, and the dispatcher's claims on a shard touch that shard only.
 */
const moment = (name: string) =>
  datetime(name, { mode: 'date', fsp: 6 })
    .notNull()
    .default(sql`CURRENT_TIMESTAMP(6)`);
const optionalMoment = (name: string) => datetime(name, { mode: 'date', fsp: 6 });

export const endpointStatuses = ['ENABLED', 'DISABLED'] as const;
export const deliveryStatuses = ['PENDING', 'SUCCEEDED', 'FAILED'] as const;

export const webhookEndpoints = mysqlTable(
  'webhook_endpoints',
  {
    id: varchar('id', { length: 33 }).primaryKey(),
    /** The token's sub that registered it: it alone (and operators) may read or change it. */
    ownerId: varchar('owner_id', { length: 64 }).notNull(),
    /** The registering role: an operator's endpoint without accounts follows every account. */
    ownerRole: varchar('owner_role', { length: 16 }).notNull(),
    url: varchar('url', { length: 2048 }).notNull(),
    description: varchar('description', { length: 500 }),
    /** Comma-separated event types (domain/event-types.ts). */
    eventTypes: varchar('event_types', { length: 255 }).notNull(),
    /** JSON array of account ids; null: every account the owner may read, later ones too. */
    accountIds: text('account_ids'),
    status: mysqlEnum('status', endpointStatuses).notNull().default('ENABLED'),
    disabledReason: varchar('disabled_reason', { length: 500 }),
    /** AES-256-GCM of the whsec_ secret under WEBHOOK_SECRET_KEY (services/secrets.ts). */
    secretSealed: varchar('secret_sealed', { length: 255 }).notNull(),
    /** The secret before the last rotation, which also signs until previous_secret_until. */
    previousSecretSealed: varchar('previous_secret_sealed', { length: 255 }),
    previousSecretUntil: optionalMoment('previous_secret_until'),
    /** Since when every attempt has failed; null after a 2xx. A day of it disables the endpoint. */
    failingSince: optionalMoment('failing_since'),
    createdAt: moment('created_at'),
    updatedAt: moment('updated_at'),
  },
  (t) => [index('webhook_endpoints_owner_idx').on(t.ownerId, t.id)],
);

export const webhookStreams = mysqlTable(
  'webhook_streams',
  {
    endpointId: varchar('endpoint_id', { length: 33 }).notNull(),
    /** The ledger row followed: an account, or one stripe of a merchant. */
    stripeId: varchar('stripe_id', { length: 33 }).notNull(),
    /** The account events name (the merchant for a stripe). */
    accountId: varchar('account_id', { length: 33 }).notNull(),
    /** Entries up to this sequence have become deliveries: the durable cursor. */
    lastSequence: bigint('last_sequence', { mode: 'bigint' }).notNull(),
    /** The stripe's balances right after last_sequence, so each event carries the balance after its entry. */
    available: bigint('available', { mode: 'bigint' }).notNull(),
    frozen: bigint('frozen', { mode: 'bigint' }).notNull(),
    pending: bigint('pending', { mode: 'bigint' }).notNull(),
    /** When the oldest pending delivery is due; null when nothing waits. */
    dueAt: optionalMoment('due_at'),
    /** A dispatcher holds the stream (its head delivery in flight) until then. */
    leaseUntil: datetime('lease_until', { mode: 'date', fsp: 6 })
      .notNull()
      .default(sql`'1970-01-01 00:00:00'`),
    createdAt: moment('created_at'),
  },
  (t) => [
    primaryKey({ columns: [t.endpointId, t.stripeId] }),
    index('webhook_streams_stripe_idx').on(t.stripeId),
    index('webhook_streams_due_idx').on(t.dueAt),
  ],
);

export const webhookDeliveries = mysqlTable(
  'webhook_deliveries',
  {
    /** Also the webhook-id header: the same for every attempt and redelivery. */
    id: varchar('id', { length: 33 }).primaryKey(),
    endpointId: varchar('endpoint_id', { length: 33 }).notNull(),
    stripeId: varchar('stripe_id', { length: 33 }).notNull(),
    accountId: varchar('account_id', { length: 33 }).notNull(),
    sequence: bigint('sequence', { mode: 'bigint' }).notNull(),
    eventType: varchar('event_type', { length: 32 }).notNull(),
    /** The body as sent, byte for byte the same on every attempt. */
    body: text('body').notNull(),
    status: mysqlEnum('status', deliveryStatuses).notNull().default('PENDING'),
    attempts: int('attempts').notNull().default(0),
    lastStatusCode: int('last_status_code'),
    lastError: varchar('last_error', { length: 255 }),
    /** The first attempt of the current round (reset by a redelivery): the retry window counts from it. */
    firstAttemptAt: optionalMoment('first_attempt_at'),
    lastAttemptAt: optionalMoment('last_attempt_at'),
    nextAttemptAt: optionalMoment('next_attempt_at'),
    /** When the change it reports was committed (its entry's instant). */
    createdAt: moment('created_at'),
    /**
     * '' for an event derived from a ledger entry (its sequence names it); the record's id for an
     * event without an entry (a refund that failed before any money moved: record-events.ts).
     */
    recordId: varchar('record_id', { length: 33 }).notNull().default(''),
  },
  (t) => [
    uniqueIndex('webhook_deliveries_event_uq').on(t.endpointId, t.stripeId, t.sequence, t.eventType, t.recordId),
    index('webhook_deliveries_record_idx').on(t.recordId),
    index('webhook_deliveries_head_idx').on(t.endpointId, t.stripeId, t.status, t.sequence),
    index('webhook_deliveries_endpoint_created_idx').on(t.endpointId, t.createdAt),
    index('webhook_deliveries_status_idx').on(t.status, t.createdAt),
  ],
);

/**
 * Per shard, how far the dispatcher has scanned a kind of business record for events that no
 * ledger entry carries (record-events.ts): every such record that ended before scanned_until
 * has become deliveries.
 */
export const webhookSources = mysqlTable('webhook_sources', {
  source: varchar('source', { length: 32 }).primaryKey(),
  scannedUntil: datetime('scanned_until', { mode: 'date', fsp: 6 }).notNull(),
});

export type EndpointRow = typeof webhookEndpoints.$inferSelect;
export type StreamRow = typeof webhookStreams.$inferSelect;
export type DeliveryRow = typeof webhookDeliveries.$inferSelect;
