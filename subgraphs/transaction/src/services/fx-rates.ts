import type { Forbidden } from '@paygraph/shared/authorization';
import { newId, toLogicalShard } from '@paygraph/shared/ids';
import { parseCurrencyOrAsset } from '@paygraph/shared/money';
import { err, ok, type Result } from '@paygraph/shared/result';
import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import { ensureAssetKnown, systemTotals } from '@paygraph/shared/ledger/index';
import { Coalescer } from '@paygraph/shared/shards/coalescer';
import { insertRate, latestRate } from '../db/fx';
import type { FxRateRow } from '../db/schema/fx';
import { checkRate, pairKey } from '../domain/fx';
import { invalidInput, type SetFxRateError } from '../domain/errors';
import type { ServiceContext } from './context';
import { mayReadFxPositions, maySetFxRates } from './access';

export interface SetFxRateInput {
  baseCurrency: string;
  quoteCurrency: string;
  rate: string;
  spreadBps?: number | null;
}

/** Rates are platform-wide: they live on the control shard (the one holding logical shard 0), like fee rates. */
export function rateShard(shards: ShardSet): Shard {
  return shards.byLogical(toLogicalShard(0));
}

/**
 * Sets the rate of a pair, operators only: a new row of the pair's history, never an update,
 * so a quote issued earlier keeps the rate it copied. The pair's other direction is priced from
 * this row too (pairKey), so setting JPY/USD after USD/JPY replaces it. Audited by the gateway
 * as a money mutation (security/root-fields.ts).
 */
export async function setFxRate(
  ctx: ServiceContext,
  input: SetFxRateInput,
): Promise<Result<FxRateRow, SetFxRateError | Forbidden>> {
  const refused = maySetFxRates(ctx.identity);
  if (refused) return err(refused);
  for (const currency of [input.baseCurrency, input.quoteCurrency]) {
    await ensureAssetKnown(ctx.shards, currency);
    if (!parseCurrencyOrAsset(currency).ok) return err({ kind: 'UnsupportedCurrency', currency });
  }
  const checked = checkRate({
    base: input.baseCurrency,
    quote: input.quoteCurrency,
    rate: input.rate,
    spreadBps: input.spreadBps ?? 0,
  });
  if (!checked.ok) return err(invalidInput(checked.error.field, checked.error.message));
  const shard = rateShard(ctx.shards);
  const row: FxRateRow = {
    id: newId('fxRate', toLogicalShard(0)),
    pairKey: pairKey(input.baseCurrency, input.quoteCurrency),
    baseCurrency: input.baseCurrency,
    quoteCurrency: input.quoteCurrency,
    rate: input.rate,
    spreadBps: checked.value.spreadBps,
    createdBy: ctx.identity.sub,
    createdAt: ctx.now(),
  };
  await insertRate(shard.db, row);
  return ok(row);
}

/** The rate that prices a pair now, in whichever direction it was set; none when no operator set one. */
export async function currentRate(shards: ShardSet, a: string, b: string): Promise<FxRateRow | undefined> {
  return rateReads.load(rateShard(shards), pairKey(a, b));
}

/**
 * Concurrent quotes' reads of their pairs' rates share the statements (shards/coalescer.ts): one
 * per pair among them. A read waiting for one already out goes with the next, so it never sees
 * a rate older than its own request.
 */
const rateReads = new Coalescer<string, FxRateRow | undefined>('fx rate reads', async (shard, pairs) => {
  const distinct = [...new Set(pairs)];
  const rates = await Promise.all(distinct.map((pair) => latestRate(shard.db, pair)));
  const byPair = new Map(distinct.map((pair, i) => [pair, rates[i]]));
  return pairs.map((pair) => byPair.get(pair));
});

/**
 * The platform's net FX position per currency: Σ of every shard's FX position accounts (one
 * statement per shard). Operators only. What customers sold the platform holds (positive), what
 * they bought it owes (negative): minus the sum of the customer side of every FX posting.
 */
export async function fxPositions(
  ctx: ServiceContext,
): Promise<Result<Array<{ currency: string; amount: bigint }>, Forbidden>> {
  const refused = mayReadFxPositions(ctx.identity);
  if (refused) return err(refused);
  const perShard = await Promise.all(ctx.shards.all.map((shard) => systemTotals(shard.db, 'FX_POSITION')));
  const totals = new Map<string, bigint>();
  for (const { currency, amount } of perShard.flat()) totals.set(currency, (totals.get(currency) ?? 0n) + amount);
  return ok(
    [...totals]
      .map(([currency, amount]) => ({ currency, amount }))
      .sort((a, b) => a.currency.localeCompare(b.currency)),
  );
}
