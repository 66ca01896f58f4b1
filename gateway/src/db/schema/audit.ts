import { bigint, datetime, index, int, mysqlTable, varchar } from 'drizzle-orm/mysql-core';

/**
 * Who asked to move money, from where, and what came of it: one row per money mutation the
 * gateway received (one per input of createPayments), refused ones included. The gateway owns
 * the table and is its only writer (db/audit-store.ts): batched, to the control shard (the one
 * holding logical shard 0). Its migrations (gateway/drizzle) apply to every shard like every
 * other set, and only the control shard's table is used.
 *
 * Values are kept as the client sent them (amounts as text, ids unchecked) because a refused
 * request is audited too; free text is masked (card-like digit runs) before it gets here, and
 * no token or secret ever does.
 */
export const auditEvents = mysqlTable(
  'audit_events',
  {
    id: bigint('id', { mode: 'bigint', unsigned: true }).autoincrement().primaryKey(),
    occurredAt: datetime('occurred_at', { mode: 'date', fsp: 6 }).notNull(),
    /**
     * Shared by every row of one request: the client's x-request-id when it sent a safe one (up
     * to requestIdCharsMax, shared/src/log.ts), a UUID otherwise; echoed to the client, and in
     * every log line of the request, the subgraphs' included.
     */
    requestId: varchar('request_id', { length: 64 }).notNull(),
    /** Null when the caller was not authenticated. */
    principalSub: varchar('principal_sub', { length: 128 }),
    principalRole: varchar('principal_role', { length: 16 }),
    operationName: varchar('operation_name', { length: 128 }),
    /** The mutation: one of moneyMutationFields (security/root-fields.ts). */
    action: varchar('action', { length: 32 }).notNull(),
    /** The input's position in createPayments; 0 for the others. */
    itemIndex: int('item_index').notNull(),
    idempotencyKey: varchar('idempotency_key', { length: 128 }),
    /** The account debited or credited (a payment's payer). */
    accountId: varchar('account_id', { length: 64 }),
    /** A payment's payee. */
    counterpartyAccountId: varchar('counterparty_account_id', { length: 64 }),
    /**
     * The payment a refund takes back, the hold a capture or void ends, or the payment or hold a create made, when its
     * answer names it (security/audit.ts madeIdOf). Not indexed: the key and request indexes find a request.
     */
    paymentId: varchar('payment_id', { length: 64 }),
    amount: varchar('amount', { length: 40 }),
    currency: varchar('currency', { length: 8 }),
    /** externalRef, description or reason, masked. */
    note: varchar('note', { length: 256 }),
    /** The result's type (Payment, InsufficientFunds, ...), else the first error code, else "ok". */
    outcome: varchar('outcome', { length: 64 }).notNull(),
    errorCodes: varchar('error_codes', { length: 255 }),
    clientIp: varchar('client_ip', { length: 64 }),
    userAgent: varchar('user_agent', { length: 256 }),
    deviceId: varchar('device_id', { length: 128 }),
  },
  (t) => [
    index('audit_events_principal_idx').on(t.principalSub, t.occurredAt),
    index('audit_events_request_idx').on(t.requestId),
    index('audit_events_key_idx').on(t.idempotencyKey),
    index('audit_events_account_idx').on(t.accountId, t.occurredAt),
  ],
);

export type AuditEventRow = typeof auditEvents.$inferInsert;
