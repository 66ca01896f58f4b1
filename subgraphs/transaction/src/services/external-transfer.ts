import type { Forbidden } from '@paygraph/shared/authorization';
import { newId, shardOf } from '@paygraph/shared/ids';
import { postOne, systemAccountId, type Account } from '@paygraph/shared/ledger/index';
import { err, ok, type Result } from '@paygraph/shared/result';
import { isChannel } from '@paygraph/shared/channels';
import { invalidInput, depositErrorKinds, refusalOf, type DepositError, type WithdrawError } from '../domain/errors';
import { deferExternalTransfer, externalTransfersByIds } from '../db/payments';
import type { ExternalTransferRow } from '../db/schema/transactions';
import { depositSpec, withdrawalSpec } from '../domain/legs';
import { parseExternalTransfer, type ExternalTransferInput, type ParsedExternalTransfer } from '../domain/inputs';
import { businessDateOf } from '@paygraph/shared/business-date';
import { readAccounts } from './accounts';
import { earlierClaim, keyClaim, withIdempotencyKey, type KeySpec } from '@paygraph/shared/idempotency/index';
import { recordOutcome } from './record-outcome';
import { sweepForWithdrawal } from './sweep';
import type { ServiceContext } from './context';
import { callerChannel, mayDeposit, mayWithdrawFrom } from './access';
import { linkedEnd, unnamedPayoutRefusal, type LinkedEnd, type LinkRefused } from './external-accounts';
import { tellPayout } from './link-events';
import { hitFailpoint } from './failpoints';
import { deferOutbox } from '../db/outbox';
import { outboxInlineGraceMs } from '../limits';

/** A deposit: bank reserve → account. */
export async function deposit(
  ctx: ServiceContext,
  input: ExternalTransferInput,
): Promise<Result<ExternalTransferRow, DepositError | Forbidden>> {
  const result = await externalTransfer(ctx, 'DEPOSIT', input);
  if (result.ok) return result;
  const error = result.error;
  return err(error.kind === 'Forbidden' ? error : refusalOf(error, depositErrorKinds));
}

/** A withdrawal: account → bank reserve. */
export function withdraw(
  ctx: ServiceContext,
  input: ExternalTransferInput,
): Promise<Result<ExternalTransferRow, WithdrawError | Forbidden>> {
  return externalTransfer(ctx, 'WITHDRAWAL', input);
}

/**
 * Deposits (bank reserve → account) and withdrawals (account → bank reserve): one posting on
 * the account's shard, recorded with the bank's external reference for reconciliation.
 * A deposit says money arrived from outside, so only an operator or a channel records one
 * (into any client account); a withdrawal moves the holder's own money, so the owner may.
 */
async function externalTransfer(
  ctx: ServiceContext,
  kind: 'DEPOSIT' | 'WITHDRAWAL',
  input: ExternalTransferInput,
): Promise<Result<ExternalTransferRow, WithdrawError | Forbidden>> {
  const mayNotDeposit = kind === 'DEPOSIT' ? mayDeposit(ctx.identity) : null;
  if (mayNotDeposit) return err(mayNotDeposit);
  const parsed = parseExternalTransfer(input, ctx.amountMax);
  if (!parsed.ok) return parsed;
  const channel = channelOf(ctx, parsed.value.channel);
  if (!channel.ok) return channel;
  const request = { ...parsed.value, channel: channel.value };
  const { account, unnamed } = await accountBeside(ctx, kind, input.externalAccountId, request);
  if (!account || account.type === 'SYSTEM' || account.parentId !== null)
    return err({ kind: 'AccountNotFound', accountId: request.accountId });
  const notYours = kind === 'WITHDRAWAL' ? mayWithdrawFrom(ctx.identity, account) : null;
  if (notYours) return err(notYours);
  const mustName = unnamed();
  if (mustName) return madeBeforeOr(ctx, kind, request, mustName);
  const linked = await linkedEnd(ctx, kind, input.externalAccountId, account, request);
  if (!linked.ok) return madeBeforeOr(ctx, kind, request, linked.error);
  // A named link is the movement's other end: its channel is the link's.
  const movement = { ...request, ...linked.value };
  const spec = transferKeySpec(kind, movement);
  const moved = await withIdempotencyKey(ctx, spec, ({ resourceId }) =>
    moveExternally(ctx, kind, account, movement, resourceId),
  );
  // A payout to a link is told on the owner's link shard once it committed (a replay finds it told: one read).
  if (moved.ok && moved.value.kind === 'WITHDRAWAL' && moved.value.externalAccountId !== null)
    hitFailpoint('payout-before-event');
  if (moved.ok) await tellPayout(ctx.shards, moved.value);
  return moved;
}

/**
 * The transfer's account, read beside what a withdrawal naming no link is held to (unnamedPayoutRefusal: its owner's
 * links, on another database perhaps), so that read costs no round trip of its own. That read is settled, not
 * awaited: `unnamed` answers it, or throws its failure (the owner's link shard unavailable, or fenced in this
 * process's map), and the caller asks only after the account's own checks. So a request for another's account, or
 * none, is refused FORBIDDEN or ACCOUNT_NOT_FOUND whatever the link shard did, and one that passes them fails with the
 * links' read (fail closed: never paid out unchecked). The account's own read failing fails the request first.
 */
async function accountBeside(
  ctx: ServiceContext,
  kind: 'DEPOSIT' | 'WITHDRAWAL',
  rawLinkId: string | null | undefined,
  request: ParsedExternalTransfer,
): Promise<{ account: Account | undefined; unnamed: () => LinkRefused | null }> {
  const [account, unnamed] = await Promise.allSettled([
    readAccounts(ctx.shards, [request.accountId]).then((found) => found.get(request.accountId)),
    unnamedPayoutRefusal(ctx, kind, rawLinkId, request),
  ]);
  if (account.status === 'rejected') throw account.reason;
  return {
    account: account.value,
    unnamed: () => {
      if (unnamed.status === 'rejected') throw unnamed.reason;
      return unnamed.value;
    },
  };
}

/**
 * What a transfer's idempotency key guards. Anchored on the account: the transfer's record and
 * the key live on its shard. The channel and the link join the content only when named, so keys
 * claimed before channels or links existed still replay.
 */
function transferKeySpec(kind: 'DEPOSIT' | 'WITHDRAWAL', movement: ParsedExternalTransfer & LinkedEnd): KeySpec {
  const idKind = kind === 'DEPOSIT' ? 'deposit' : 'withdrawal';
  return {
    anchor: { kind: 'account' as const, id: movement.accountId },
    key: movement.idempotencyKey,
    operation: kind,
    content: {
      accountId: movement.accountId,
      amount: movement.amount,
      currency: movement.currency,
      externalRef: movement.externalRef,
      ...(movement.channel === null ? {} : { channel: movement.channel }),
      ...(movement.externalAccountId === null ? {} : { externalAccountId: movement.externalAccountId }),
    },
    newResourceId: () => newId(idKind, shardOf('account', movement.accountId)),
  };
}

/**
 * A transfer refused now because its link's status changed (unlinked or rejected since), or a
 * withdrawal naming no link refused because its owner's link was verified since, that was perhaps
 * made before, when it was allowed: a replay of that request (same key, same content) answers the
 * transfer it made, as any replay does; anything else gets the refusal. Read without claiming the
 * key, so a refused first request leaves it free.
 */
async function madeBeforeOr(
  ctx: ServiceContext,
  kind: 'DEPOSIT' | 'WITHDRAWAL',
  request: ParsedExternalTransfer,
  refused: LinkRefused,
): Promise<Result<ExternalTransferRow, WithdrawError>> {
  if (refused.earlierEnd === null) return err(refused.refusal);
  const spec = transferKeySpec(kind, { ...request, ...refused.earlierEnd });
  const made = await earlierClaim(ctx.shards, keyClaim(ctx, spec));
  if (made === null) return err(refused.refusal);
  const [existing] = await externalTransfersByIds(ctx.shards.of('account', request.accountId).db, [made]);
  return existing ? ok(existing) : err(refused.refusal);
}

/** The transfer's posting against the reserve, on the key's resource: a replay meets its dedupe key. */
async function moveExternally(
  ctx: ServiceContext,
  kind: 'DEPOSIT' | 'WITHDRAWAL',
  account: Account,
  request: ParsedExternalTransfer & { externalAccountId: string | null },
  id: string,
): Promise<Result<ExternalTransferRow, WithdrawError>> {
  const shard = ctx.shards.of('account', request.accountId);
  const idKind = kind === 'DEPOSIT' ? 'deposit' : 'withdrawal';
  if (kind === 'WITHDRAWAL') await bringHome(ctx, account, id, request);
  const reserveId = await systemAccountId(ctx.shards, shard, 'RESERVE', request.currency);
  const movement = { id, currency: request.currency, amount: request.amount };
  const postingId = newId('posting', shardOf(idKind, id));
  const spec =
    kind === 'DEPOSIT'
      ? depositSpec(movement, postingId, reserveId, request.accountId)
      : withdrawalSpec(movement, postingId, request.accountId, reserveId);
  const now = ctx.now();
  return postOne<Result<ExternalTransferRow, WithdrawError>>(
    shard,
    {
      kind: 'spec',
      spec,
      finish: (tx, outcome, _accounts, deferred) =>
        recordOutcome(outcome, {
          id,
          applied: () => {
            const row: ExternalTransferRow = {
              id,
              kind,
              accountId: request.accountId,
              amount: request.amount,
              currency: request.currency,
              status: 'SUCCEEDED',
              externalRef: request.externalRef,
              channel: request.channel,
              externalAccountId: request.externalAccountId,
              createdBy: ctx.identity.sub,
              businessDate: businessDateOf(now),
              createdAt: now,
            };
            deferExternalTransfer(deferred, row);
            // Its event goes to the owner's link shard, another database perhaps: an outbox row makes it certain.
            if (kind === 'WITHDRAWAL' && request.externalAccountId !== null)
              deferOutbox(deferred, id, 'PAYOUT_EVENT', now, new Date(now.getTime() + outboxInlineGraceMs));
            return row;
          },
          existing: async () => (await externalTransfersByIds(tx, [id]))[0],
        }),
      at: now,
    },
    { now: () => now },
  );
}

/** A channel's token moves money through its own channel only (its `sub` is the channel's name). */
function channelOf(ctx: ServiceContext, named: string | null): Result<string | null, WithdrawError> {
  const own = callerChannel(ctx.identity);
  if (own === null) return ok(named);
  if (named !== null && named !== own)
    return err(invalidInput('channel', `a channel's token records its own channel's movements (${own})`));
  return ok(isChannel(own) ? own : named);
}

/**
 * A merchant's money is spread over its stripes; a withdrawal pays out from the home row, so
 * when that row holds less than the amount, what it lacks is first swept home from the other
 * stripes (services/sweep.ts). Not for a withdrawal already made (a replay), nor one the
 * posting will refuse anyway (another currency, an account that is not active).
 */
async function bringHome(
  ctx: ServiceContext,
  account: Account,
  id: string,
  request: { amount: bigint; currency: string },
): Promise<void> {
  if (account.type !== 'MERCHANT' || account.status !== 'ACTIVE' || account.currency !== request.currency) return;
  if (account.available >= request.amount) return;
  const [done] = await externalTransfersByIds(ctx.shards.of('account', account.id).db, [id]);
  if (done) return;
  await sweepForWithdrawal(ctx.shards, account, id, request.amount - account.available, ctx.now);
}
