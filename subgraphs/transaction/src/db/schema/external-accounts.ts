import { sql } from 'drizzle-orm';
import type {
  ExternalAccountKind as DomainKind,
  ExternalAccountStatus as DomainStatus,
} from '../../domain/external-accounts';
import { bigint, datetime, index, mysqlEnum, mysqlTable, uniqueIndex, varchar } from 'drizzle-orm/mysql-core';

/**
 * Accounts an owner holds outside paygraph (a bank account, a card, a wallet at a channel),
 * linked so that payouts go only where the owner said and a channel verified. A link lives on
 * its owner's link shard (domain/external-accounts.ts `ownerLinkShard`), so an owner's links are
 * one statement on one database. A card is never kept whole: its channel token, its last four
 * digits and a keyed fingerprint (HMAC, CARD_FINGERPRINT_KEY).
 */
export const externalAccountKinds = ['BANK_ACCOUNT', 'CARD', 'WALLET'] as const;
export const externalAccountStatuses = ['PENDING', 'VERIFIED', 'REJECTED', 'UNLINKED'] as const;

const moment = (name: string) =>
  datetime(name, { mode: 'date', fsp: 6 })
    .notNull()
    .default(sql`CURRENT_TIMESTAMP(6)`);

export const externalAccounts = mysqlTable(
  'external_accounts',
  {
    id: varchar('id', { length: 33 }).primaryKey(),
    ownerId: varchar('owner_id', { length: 64 }).notNull(),
    kind: mysqlEnum('kind', externalAccountKinds).notNull(),
    channel: varchar('channel', { length: 64 }).notNull(),
    /** An ISO 4217 code, or a platform asset's code (3-8 letters). */
    currency: varchar('currency', { length: 8 }).notNull(),
    /**
     * What names the account at its channel, as compared: the IBAN without spaces, the card's
     * fingerprint (hex HMAC-SHA256), the wallet id. Never a card number.
     */
    identityKey: varchar('identity_key', { length: 128 }).notNull(),
    /** What may be shown: "DE89 •••• 3000", "•••• 4242", the wallet id. */
    display: varchar('display', { length: 80 }).notNull(),
    holderName: varchar('holder_name', { length: 140 }),
    /** A card's token at its channel (what a payout to it carries); null for other kinds. */
    channelToken: varchar('channel_token', { length: 80 }),
    status: mysqlEnum('status', externalAccountStatuses).notNull(),
    /** Who verified or rejected it (the channel, an operator), and when. */
    decidedBy: varchar('decided_by', { length: 64 }),
    decidedAt: datetime('decided_at', { mode: 'date', fsp: 6 }),
    /**
     * When it last became VERIFIED; null if it never was. Never cleared (an unlink, a rejection after a relink and a
     * relink keep it): whether an owner ever had a link verified, which decided_at cannot tell (a rejection sets it
     * too, and a relink clears it). What an owner's own withdrawal naming no link is held to (db/external-accounts.ts
     * `hasEverVerifiedLink`).
     */
    verifiedAt: datetime('verified_at', { mode: 'date', fsp: 6 }),
    /** The balance the channel last reported holding for it, as of reportedAsOf (newest wins). */
    reportedBalance: bigint('reported_balance', { mode: 'bigint' }),
    reportedAsOf: datetime('reported_as_of', { mode: 'date', fsp: 6 }),
    createdBy: varchar('created_by', { length: 64 }).notNull(),
    createdAt: moment('created_at'),
  },
  (t) => [
    index('external_accounts_owner_idx').on(t.ownerId, t.id),
    // The webhooks dispatcher's scan of links verified since its cursor (read-model/webhooks.ts verifiedLinksBetween).
    index('external_accounts_decided_idx').on(t.status, t.decidedAt),
    uniqueIndex('external_accounts_identity_uq').on(t.ownerId, t.kind, t.channel, t.identityKey, t.currency),
  ],
);

/**
 * Which owner a card (by its fingerprint) belongs to, on the fingerprint's shard: the first
 * owner to link a card keeps it; a second owner's link is EXTERNAL_ACCOUNT_IN_USE. Kept after
 * an unlink: a card that was one person's is not silently another's (an operator may free it).
 * Released when its owner's link is refused for the owner's bound and no other link of the
 * owner's names the card (services/external-accounts.ts linkCard).
 */
export const externalAccountClaims = mysqlTable('external_account_claims', {
  identityKey: varchar('identity_key', { length: 128 }).primaryKey(),
  ownerId: varchar('owner_id', { length: 64 }).notNull(),
  createdAt: moment('created_at'),
});

export type ExternalAccountRow = typeof externalAccounts.$inferSelect;
export type ExternalAccountKind = (typeof externalAccountKinds)[number];
export type ExternalAccountStatus = (typeof externalAccountStatuses)[number];
// The domain's names of the same kinds and states (domain/external-accounts.ts) stay these exactly.
const sameKinds: [ExternalAccountKind, DomainKind] extends [DomainKind, ExternalAccountKind] ? true : never = true;
const sameStatuses: [ExternalAccountStatus, DomainStatus] extends [DomainStatus, ExternalAccountStatus] ? true : never =
  true;
void sameKinds;
void sameStatuses;
