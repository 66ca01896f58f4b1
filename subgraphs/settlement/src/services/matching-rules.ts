import type { ShardSet } from '@paygraph/shared/shards/pool';
import { isChannel } from '@paygraph/shared/channels';
import { parseAmount } from '@paygraph/shared/money';
import { err, ok, type Result } from '@paygraph/shared/result';
import { rulesOf, upsertRules } from '../db/reconciliation-store';
import type { MatchingRules } from '../domain/matching';
import { controlShard } from './settle';
import type { Forbidden } from '@paygraph/shared/authorization';
import type { SettlementContext } from '../context';
import { mayOperate } from './access';
import { dateWindowDaysMax, amountToleranceBpsMax } from '../limits';

export type RulesRefusal = { kind: 'InvalidInput'; field: string; message: string };

export interface ChannelRules extends MatchingRules {
  channel: string;
}

/** A channel without rules matches by reference, then by exact amount on the same date, one to one. */
export const rulesDefault: MatchingRules = {
  amountToleranceMinor: 0n,
  amountToleranceBps: 0,
  dateWindowDays: 0,
  allowOneToMany: false,
};

export async function rulesFor(shards: ShardSet, channel: string): Promise<MatchingRules> {
  const row = await rulesOf(controlShard(shards).db, channel);
  return row
    ? {
        amountToleranceMinor: row.amountToleranceMinor,
        amountToleranceBps: row.amountToleranceBps,
        dateWindowDays: row.dateWindowDays,
        allowOneToMany: row.allowOneToMany,
      }
    : rulesDefault;
}

/** Replaces the channel's rules; an absent field is 0 or false. Nothing is written when a field is refused. */
export async function setMatchingRules(
  shards: ShardSet,
  input: {
    channel: string;
    amountToleranceMinor?: string | null;
    amountToleranceBps?: number | null;
    dateWindowDays?: number | null;
    allowOneToMany?: boolean | null;
  },
  updatedBy: string,
  now: Date,
): Promise<Result<ChannelRules, RulesRefusal>> {
  if (!isChannel(input.channel))
    return err({
      kind: 'InvalidInput',
      field: 'channel',
      message: 'channel must be 1-64 characters of [A-Za-z0-9_.-]',
    });
  const minor = parseAmount(input.amountToleranceMinor ?? '0');
  if (!minor.ok || minor.value < 0n)
    return err({
      kind: 'InvalidInput',
      field: 'amountToleranceMinor',
      message: `amountToleranceMinor must be 0 or more minor units, got ${input.amountToleranceMinor}`,
    });
  const bps = input.amountToleranceBps ?? 0;
  if (bps < 0 || bps > amountToleranceBpsMax)
    return err({
      kind: 'InvalidInput',
      field: 'amountToleranceBps',
      message: `amountToleranceBps must be between 0 and ${amountToleranceBpsMax}, got ${bps}`,
    });
  const days = input.dateWindowDays ?? 0;
  if (days < 0 || days > dateWindowDaysMax)
    return err({
      kind: 'InvalidInput',
      field: 'dateWindowDays',
      message: `dateWindowDays must be between 0 and ${dateWindowDaysMax}, got ${days}`,
    });
  const rules = {
    amountToleranceMinor: minor.value,
    amountToleranceBps: bps,
    dateWindowDays: days,
    allowOneToMany: input.allowOneToMany ?? false,
  };
  await upsertRules(controlShard(shards).db, { channel: input.channel, ...rules, updatedBy, updatedAt: now });
  return ok({ channel: input.channel, ...rules });
}

/** Mutation.setMatchingRules: operators only (services/access.ts), asked before the rules are read. */
export async function setMatchingRulesFor(
  ctx: SettlementContext,
  input: Parameters<typeof setMatchingRules>[1],
): Promise<Result<ChannelRules, RulesRefusal | Forbidden>> {
  const refused = mayOperate(ctx.identity, 'set matching rules');
  if (refused) return err(refused);
  return setMatchingRules(ctx.shards, input, ctx.identity.sub, ctx.now());
}
