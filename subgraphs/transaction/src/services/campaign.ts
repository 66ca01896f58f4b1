import { LRUCache } from 'lru-cache';
import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import { inTransaction } from '@paygraph/shared/shards/transaction';
import type { Forbidden, Readable } from '@paygraph/shared/authorization';
import { newId, parseId, shardOf } from '@paygraph/shared/ids';
import { err, ok, type Result } from '@paygraph/shared/result';
import {
  campaignsByIds,
  insertCampaign,
  lockedCampaignCount,
  setCampaignCount,
  type NewCampaign,
} from '../db/campaigns';
import type { CampaignRow } from '../db/schema/transactions';
import { invalidInput, type CreateCampaignError } from '../domain/errors';
import { parseCreateCampaign, type CreateCampaignInput } from '../domain/inputs';
import type { CampaignTerms } from '../domain/payment-legs';
import type { CampaignFacts } from '../domain/payment-plan';
import { readAccounts } from './accounts';
import { withIdempotencyKey } from '@paygraph/shared/idempotency/index';
import { refuseFenced } from '@paygraph/shared/control/index';
import type { ServiceContext } from './context';
import { mayFundCampaignFrom, mayReadCampaign } from './access';
import { campaignsPerFundingAccountMax, campaignTermsCachedMax } from '../limits';

const campaignTermsCache = new LRUCache<string, CampaignFacts>({ max: campaignTermsCachedMax });

/**
 * A campaign's terms and funding account, as a payment naming it weighs them: terms never
 * change once created (only its counters do, which a payment does not read here), so a campaign
 * read once is not read again. An unknown id is not remembered: the campaign may be created later.
 */
export async function campaignForPayment(shards: ShardSet, id: string): Promise<CampaignFacts | null> {
  const cached = campaignTermsCache.get(id);
  if (cached) return cached;
  const [row] = await campaignsByIds(shards.of('campaign', id).db, [id]);
  if (!row) return null;
  const facts = { terms: campaignTermsOf(row), fundingAccountId: row.fundingAccountId };
  campaignTermsCache.set(id, facts);
  return facts;
}

export function campaignTermsOf(row: CampaignRow): CampaignTerms {
  return {
    id: row.id,
    currency: row.currency,
    percentOffBps: row.percentOffBps,
    amountOff: row.amountOff,
    maxDiscountPerPayment: row.maxDiscountPerPayment,
    endsAt: row.endsAt,
    payeeAccountIds: row.payeeAccountIds === null ? null : (JSON.parse(row.payeeAccountIds) as string[]),
  };
}

/**
 * A campaign, on its funding account's shard, created by that account's owner or an operator:
 * by creating it the owner consents to every discount it pays, so a payment naming it needs no
 * other permission. Idempotent on (caller, funding account, key).
 */
export async function createCampaign(
  ctx: ServiceContext,
  input: CreateCampaignInput,
): Promise<Result<CampaignRow, CreateCampaignError | Forbidden>> {
  const parsed = parseCreateCampaign(input, ctx.amountMax);
  if (!parsed.ok) return parsed;
  const request = parsed.value;
  const funding = (await readAccounts(ctx.shards, [request.fundingAccountId])).get(request.fundingAccountId);
  if (!funding || funding.type === 'SYSTEM' || funding.parentId !== null)
    return err({ kind: 'AccountNotFound', accountId: request.fundingAccountId });
  const notYours = mayFundCampaignFrom(ctx.identity, funding);
  if (notYours) return err(notYours);
  if (funding.status !== 'ACTIVE')
    return err({ kind: 'AccountNotActive', accountId: funding.id, status: funding.status });
  if (request.endsAt !== null && request.endsAt.getTime() <= ctx.now().getTime())
    return err({ kind: 'InvalidInput', field: 'endsAt', message: 'endsAt must be in the future' });
  const payees = request.payeeAccountIds === null ? null : JSON.stringify(request.payeeAccountIds);
  const content = {
    funding: funding.id,
    bps: request.percentOffBps === null ? null : String(request.percentOffBps),
    off: request.amountOff,
    cap: request.maxDiscountPerPayment,
    payees,
    endsAt: request.endsAt?.toISOString() ?? null,
  };
  const shard = ctx.shards.of('account', funding.id);
  const spec = {
    anchor: { kind: 'account' as const, id: funding.id },
    key: request.idempotencyKey,
    operation: 'CAMPAIGN',
    content,
    newResourceId: () => newId('campaign', shardOf('account', funding.id)),
  };
  return withIdempotencyKey(ctx, spec, ({ resourceId }) =>
    writeCampaign(shard, {
      id: resourceId,
      fundingAccountId: funding.id,
      currency: funding.currency,
      percentOffBps: request.percentOffBps,
      amountOff: request.amountOff,
      maxDiscountPerPayment: request.maxDiscountPerPayment,
      payeeAccountIds: payees,
      endsAt: request.endsAt,
      createdBy: ctx.identity.sub,
      createdAt: ctx.now(),
    }),
  );
}

/**
 * The campaign under the key's id, in one transaction on its funding account's shard under that
 * account's count of campaigns (locked): the campaign the key made before (a replay, or a copy racing
 * this one), or a new one while the account has made fewer than campaignsPerFundingAccountMax, so
 * that two creations at the bound cannot both pass. CreateCampaignResult has no error of a limit: the
 * bound is the funding account's, told as its INVALID_INPUT. Under the funding account's logical shard's
 * fence where the write happens: fenced, it writes nothing and answers FencedWrite (SHARD_UNAVAILABLE, retryable).
 */
async function writeCampaign(shard: Shard, row: NewCampaign): Promise<Result<CampaignRow, CreateCampaignError>> {
  return inTransaction(shard, async (tx) => {
    // Both rows move with the funding account's logical shard, and neither write is idempotent (a count's +1): one
    // made by a process on an old map after a move's fence would differ from the copy, and the move would refuse.
    // Read first, before the count's lock, the order a posting takes them in.
    await refuseFenced(tx, shard.name, [shardOf('account', row.fundingAccountId)]);
    const count = await lockedCampaignCount(tx, row.fundingAccountId);
    const [made] = await campaignsByIds(tx, [row.id]);
    if (made) return ok(made);
    if (count >= campaignsPerFundingAccountMax)
      return err(
        invalidInput(
          'fundingAccountId',
          `an account may fund at most ${campaignsPerFundingAccountMax} campaigns (ended ones count)`,
        ),
      );
    await insertCampaign(tx, row);
    await setCampaignCount(tx, row.fundingAccountId, count + 1);
    const [written] = await campaignsByIds(tx, [row.id]);
    return ok(written!);
  });
}

/**
 * A campaign is readable by its funding account's owner and operators (Forbidden otherwise); null when there is none.
 */
export async function readableCampaign(ctx: ServiceContext, id: string): Promise<Readable<CampaignRow>> {
  const parsed = parseId('campaign', id);
  if (!parsed) return ok(null);
  const [row] = await campaignsByIds(ctx.shards.byLogical(parsed.shard).db, [id]);
  if (!row) return ok(null);
  const funding = (await readAccounts(ctx.shards, [row.fundingAccountId])).get(row.fundingAccountId);
  const notYours = mayReadCampaign(ctx.identity, id, funding);
  if (notYours) return err(notYours);
  return ok(row);
}
