import { eq } from 'drizzle-orm';
import type { Executor } from '@paygraph/shared/shards/transaction';
import { channelAccounts } from '../db/schema/settlement';

/**
 * The settlement subgraph's read model of channels, for the transaction subgraph's links: a
 * channel is known once an operator has registered a bank account of its (RegisterChannelAccount),
 * which is what lets reconciliation read its statements. Asked of the control shard, where
 * channel_accounts lives; one indexed statement.
 */
export async function isRegisteredChannel(controlDb: Executor, channel: string): Promise<boolean> {
  const rows = await controlDb
    .select({ channel: channelAccounts.channel })
    .from(channelAccounts)
    .where(eq(channelAccounts.channel, channel))
    .limit(1);
  return rows.length > 0;
}
