import type { Forbidden } from '@paygraph/shared/authorization';
import { isChannel } from '@paygraph/shared/channels';
import { channelAccountsPerChannelMax } from '../limits';
import { parseCurrency } from '@paygraph/shared/money';
import { err, ok, type Result } from '@paygraph/shared/result';
import type { ShardSet } from '@paygraph/shared/shards/pool';
import { inTransaction, mysqlErrno } from '@paygraph/shared/shards/transaction';
import type { SettlementContext } from '../context';
import { channelAccountOf, insertChannelAccount, lockedChannelAccountCount } from '../db/channel-account-store';
import { adoptStatements, lockStatementChannels } from '../db/reconciliation-store';
import { parseAccountIdentification } from '../domain/channel-accounts';
import { mayOperate } from './access';
import { controlShard } from './settle';

export interface ChannelAccount {
  channel: string;
  accountIdentification: string;
  currency: string;
}

export type RegisterRefusal = { kind: 'InvalidInput'; field: string; message: string };

/** Mutation.registerChannelAccount: operators only, asked before anything is read. */
export async function registerChannelAccountFor(
  ctx: SettlementContext,
  input: ChannelAccount,
): Promise<Result<ChannelAccount, RegisterRefusal | Forbidden>> {
  const refused = mayOperate(ctx.identity, 'register channel accounts');
  if (refused) return err(refused);
  return registerChannelAccount(ctx.shards, input, ctx.identity.sub, ctx.now());
}

/**
 * Maps a bank account to the channel its statements belong to. An account belongs to one
 * channel: registering it to another is refused; registering it again as it is answers the
 * registration there is (a retry is harmless). A channel holds channelAccountsPerChannelMax
 * accounts at most, counted in the channel's turn (statement_channels, as its imports take it) so two registrations
 * cannot both be the last, and an import to the channel reads its accounts before or after a registration, not during.
 */
export async function registerChannelAccount(
  shards: ShardSet,
  input: ChannelAccount,
  registeredBy: string,
  now: Date,
): Promise<Result<ChannelAccount, RegisterRefusal>> {
  const invalid = (field: string, message: string) => err<RegisterRefusal>({ kind: 'InvalidInput', field, message });
  if (!isChannel(input.channel)) return invalid('channel', 'channel must be 1-64 characters of [A-Za-z0-9_.-]');
  const key = parseAccountIdentification(input.accountIdentification);
  if (!key.ok) return invalid('accountIdentification', key.error);
  if (!parseCurrency(input.currency).ok)
    return invalid('currency', `currency "${input.currency}" is not a supported ISO-4217 code`);
  const wanted: ChannelAccount = { channel: input.channel, accountIdentification: key.value, currency: input.currency };
  return inTransaction(
    controlShard(shards),
    async (tx) => {
      const existing = await channelAccountOf(tx, key.value);
      if (existing !== undefined) return sameRegistration(existing, wanted);
      // The channel's turn, which an import to it takes before it reads the channel's accounts: the count below reads a
      // range FOR UPDATE, which locks nothing under read committed where no row is, so without it an import could go on
      // as the channel of no account while this registration committed, and two registrations both be the last. The
      // account's own row read before it is not there (else the registration answered above), so it locks nothing:
      // the channel, then its accounts, the order every import takes them in (bank-statements.ts).
      await lockStatementChannels(tx, [wanted.channel]);
      if ((await lockedChannelAccountCount(tx, wanted.channel)) >= channelAccountsPerChannelMax)
        return invalid(
          'channel',
          `channel ${wanted.channel} has ${channelAccountsPerChannelMax} accounts registered, the most a channel may have`,
        );
      await insertChannelAccount(tx, { ...wanted, registeredBy, createdAt: now });
      // What the channel took as its one account's, while it had none, is this account's from now on.
      await adoptStatements(tx, wanted.channel, wanted.accountIdentification);
      return ok(wanted);
      // Two first registrations of one account at once: the loser's insert deadlocks or finds the winner's row, and its
      // second run answers as a retry does.
    },
    { retryOn: [mysqlErrno.deadlock, mysqlErrno.duplicateEntry] },
  );
}

function sameRegistration(existing: ChannelAccount, wanted: ChannelAccount): Result<ChannelAccount, RegisterRefusal> {
  if (existing.channel !== wanted.channel)
    return err({
      kind: 'InvalidInput',
      field: 'accountIdentification',
      message: `account ${wanted.accountIdentification} is registered to channel ${existing.channel}; an account belongs to one channel`,
    });
  if (existing.currency !== wanted.currency)
    return err({
      kind: 'InvalidInput',
      field: 'currency',
      message: `account ${wanted.accountIdentification} is registered to channel ${existing.channel} in ${existing.currency}`,
    });
  return ok({
    channel: existing.channel,
    accountIdentification: existing.accountIdentification,
    currency: existing.currency,
  });
}
