import { bigint, datetime, mysqlEnum, mysqlTable, primaryKey, uniqueIndex, varchar } from 'drizzle-orm/mysql-core';
import type { LinkEventType as DomainType } from '../../domain/link-events';
import { externalAccountStatuses } from './external-accounts';

/**
 * What happened to an owner's linked external accounts, in order: the record the
 * externalAccountChanged subscription and the externalAccountChanges query read
 * (docs/LINKED-ACCOUNTS.md "Events of an owner's links"). It lives on the owner's link shard,
 * beside the links, so a link's change and its event commit in one local transaction.
 *
 * Each owner's events are numbered 1, 2, 3… without a gap: the next number is taken from the
 * owner's head row, locked by the transaction that writes the event until it commits, so events
 * of one owner commit in their numbers' order and a reader that sees number n has seen every
 * number below it.
 */
export const linkEventTypes = ['LINKED', 'VERIFIED', 'REJECTED', 'UNLINKED', 'PAYOUT'] as const;

export const externalAccountEvents = mysqlTable(
  'external_account_events',
  {
    ownerId: varchar('owner_id', { length: 64 }).notNull(),
    sequence: bigint('sequence', { mode: 'bigint' }).notNull(),
    type: mysqlEnum('type', linkEventTypes).notNull(),
    externalAccountId: varchar('external_account_id', { length: 33 }).notNull(),
    /** The link's status right after the event (a payout's: VERIFIED, which it was paid out under). */
    status: mysqlEnum('status', externalAccountStatuses).notNull(),
    /** A payout's withdrawal (on its account's shard), told once (unique); null for a link's own change. */
    withdrawalId: varchar('withdrawal_id', { length: 33 }),
    /** When the link changed, or the withdrawal was made. */
    occurredAt: datetime('occurred_at', { mode: 'date', fsp: 6 }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.ownerId, t.sequence] }),
    uniqueIndex('external_account_events_withdrawal_uq').on(t.withdrawalId),
  ],
);

/** The last event number of each owner that has one: the row whose lock orders an owner's events. */
export const externalAccountEventHeads = mysqlTable('external_account_event_heads', {
  ownerId: varchar('owner_id', { length: 64 }).primaryKey(),
  lastSequence: bigint('last_sequence', { mode: 'bigint' }).notNull(),
});

export type LinkEventRow = typeof externalAccountEvents.$inferSelect;
export type LinkEventType = (typeof linkEventTypes)[number];
// The domain's names of the event types (domain/link-events.ts) stay these exactly.
const sameTypes: [LinkEventType, DomainType] extends [DomainType, LinkEventType] ? true : never = true;
void sameTypes;
