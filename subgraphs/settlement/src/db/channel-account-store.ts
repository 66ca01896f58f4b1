import { count, eq, inArray } from 'drizzle-orm';
import type { Executor } from '@paygraph/shared/shards/transaction';
import { channelAccounts, type ChannelAccountRow } from './schema/settlement';

/**
 * The SQL of channel_accounts (control shard): which channel each bank account's statements
 * belong to. An import reads the accounts it routes by FOR UPDATE (MariaDB 10.11 has no FOR SHARE,
 * which drizzle writes), so none registered is moved while the import's transaction stands. A
 * channel's range read FOR UPDATE locks nothing under read committed where no row is: registering
 * and an import to a channel both take the channel's turn first (statement_channels,
 * reconciliation-store.ts lockStatementChannels), which orders them, not these reads.
 */
export async function channelAccountOf(tx: Executor, accountKey: string): Promise<ChannelAccountRow | undefined> {
  const rows = await tx
    .select()
    .from(channelAccounts)
    .where(eq(channelAccounts.accountIdentification, accountKey))
    .for('update');
  return rows[0];
}

/** The channel's registered accounts, counted; the caller holds the channel's turn (a range locks no row not there). */
export async function lockedChannelAccountCount(tx: Executor, channel: string): Promise<number> {
  const rows = await tx
    .select({ accountIdentification: channelAccounts.accountIdentification })
    .from(channelAccounts)
    .where(eq(channelAccounts.channel, channel))
    .for('update');
  return rows.length;
}

export async function insertChannelAccount(tx: Executor, row: typeof channelAccounts.$inferInsert): Promise<void> {
  await tx.insert(channelAccounts).values(row);
}

/** The registrations of these accounts, locked until the import's transaction ends. */
export async function channelAccountsOf(tx: Executor, accountKeys: readonly string[]): Promise<ChannelAccountRow[]> {
  const found: ChannelAccountRow[] = [];
  for (let i = 0; i < accountKeys.length; i += 1_000) {
    found.push(
      ...(await tx
        .select()
        .from(channelAccounts)
        .where(inArray(channelAccounts.accountIdentification, accountKeys.slice(i, i + 1_000)))
        .for('update')),
    );
  }
  return found;
}

/**
 * The channels these accounts are registered to, read without a lock: an import of no channel takes those channels'
 * turns before it locks the registrations (channelAccountsOf), in the order every import and registration takes them
 * (the channel, then its accounts), so that none waits in a circle with another.
 */
export async function registeredChannelsOf(tx: Executor, accountKeys: readonly string[]): Promise<string[]> {
  const found = new Set<string>();
  for (let i = 0; i < accountKeys.length; i += 1_000) {
    const rows = await tx
      .selectDistinct({ channel: channelAccounts.channel })
      .from(channelAccounts)
      .where(inArray(channelAccounts.accountIdentification, accountKeys.slice(i, i + 1_000)));
    for (const row of rows) found.add(row.channel);
  }
  return [...found];
}

/** Whether any account is registered to the channel; the caller holds the channel's turn, as above. */
export async function channelHasAccounts(tx: Executor, channel: string): Promise<boolean> {
  const rows = await tx
    .select({ n: count() })
    .from(channelAccounts)
    .where(eq(channelAccounts.channel, channel))
    .for('update');
  return Number(rows[0]?.n ?? 0) > 0;
}
