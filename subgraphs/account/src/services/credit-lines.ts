import type { Forbidden } from '@paygraph/shared/authorization';
import { measureCreditExposure } from '@paygraph/shared/metrics';
import { parseId } from '@paygraph/shared/ids';
import { err, ok, type Result } from '@paygraph/shared/result';
import type { AccountContext } from '../context';
import { setAccountCreditLimit } from '../db/account-writes';
import { creditAccounts } from '../db/credit-lines';
import type { AccountView } from '../domain/account-view';
import {
  decideCreditLimit,
  exposureOf,
  parseCreditLimit,
  type CreditLimitRefusal,
  type ExposureLine,
} from '../domain/credit-line';
import { mayManageCredit } from './access';
import type { ShardSet } from '@paygraph/shared/shards/pool';

export interface SetCreditLimitInput {
  accountId: string;
  limit: string;
}

export type SetCreditLimitRefusal = CreditLimitRefusal | { kind: 'AccountNotFound' } | Forbidden;

/**
 * Sets a client account's credit limit: operators only (asked first), then the input, then the
 * account under its home row's lock. Every refusal writes nothing.
 */
export async function setCreditLimit(
  ctx: AccountContext,
  input: SetCreditLimitInput,
): Promise<Result<AccountView, SetCreditLimitRefusal>> {
  const refused = mayManageCredit(ctx.identity, 'set credit limits');
  if (refused) return err(refused);
  if (!parseId('account', input.accountId))
    return err({ kind: 'InvalidInput', field: 'accountId', message: `"${input.accountId}" is not an account id` });
  const limit = parseCreditLimit(input.limit);
  if (!limit.ok) return limit;
  const outcome = await setAccountCreditLimit(
    ctx.shards,
    input.accountId,
    (view) => decideCreditLimit(view, limit.value),
    ctx.now(),
  );
  return outcome ?? err({ kind: 'AccountNotFound' });
}

/** The platform's credit in use per currency over every shard: operators only. */
export async function creditExposure(ctx: AccountContext): Promise<Result<ExposureLine[], Forbidden>> {
  const refused = mayManageCredit(ctx.identity, 'read the credit exposure');
  if (refused) return err(refused);
  return ok(exposureOf(await creditAccounts(ctx.shards)).byCurrency);
}

/**
 * The exposure metric per currency and home shard, read at each scrape
 * (metrics.ts creditExposureMinorUnits); answers the undo, for the subgraph's close.
 */
export function measureExposure(shards: ShardSet): () => void {
  return measureCreditExposure(async () => exposureOf(await creditAccounts(shards)).byShard);
}
