import { systemAccountId } from '@paygraph/shared/ledger/index';
import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import type { PaymentFxRow } from '../db/schema/fx';
import type { FxPositions, FxSides } from '../domain/fx-legs';

/** The FX position accounts of a shard for a pair of currencies (opened on first use, like clearing). */
export async function fxPositionsOn(
  shards: ShardSet,
  shard: Shard,
  sides: Pick<FxSides, 'sellCurrency' | 'buyCurrency'>,
): Promise<FxPositions> {
  const [sell, buy] = await Promise.all([
    systemAccountId(shards, shard, 'FX_POSITION', sides.sellCurrency),
    systemAccountId(shards, shard, 'FX_POSITION', sides.buyCurrency),
  ]);
  return { sell, buy };
}

export function sidesOf(fx: Pick<PaymentFxRow, 'sellAmount' | 'sellCurrency' | 'buyAmount' | 'buyCurrency'>): FxSides {
  return {
    sellAmount: fx.sellAmount,
    sellCurrency: fx.sellCurrency,
    buyAmount: fx.buyAmount,
    buyCurrency: fx.buyCurrency,
  };
}
