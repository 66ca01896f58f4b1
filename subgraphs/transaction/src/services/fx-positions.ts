import { systemAccountId } from '@paygraph/shared/ledger/index';
import { assert } from '@paygraph/shared/result';
import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import type { PaymentFxRow } from '../db/schema/fx';
import type { FxPositions, FxSides } from '../domain/fx-legs';
import { readAccounts } from './accounts';

type Pair = Pick<FxSides, 'sellCurrency' | 'buyCurrency'>;

/**
 * The FX position accounts of an entity on a shard for a pair of currencies (opened on first use, like clearing).
 * The entity is the payer's, as the contract says: a payment within one entity then stays in that entity's books (no
 * intercompany leg), and one between two entities posts one pair, in the payee's currency (docs/BOOKS.md).
 */
export async function fxPositionsOn(shards: ShardSet, shard: Shard, sides: Pair, entity: string): Promise<FxPositions> {
  const [sell, buy] = await Promise.all([
    systemAccountId(shards, shard, 'FX_POSITION', sides.sellCurrency, entity),
    systemAccountId(shards, shard, 'FX_POSITION', sides.buyCurrency, entity),
  ]);
  return { sell, buy };
}

/**
 * The positions a payment's reversal or refund posts through: its payer's entity's, read from the payer's row (an
 * account's entity is fixed when it is opened, so this is the entity the payment itself used). A payment made while
 * every position was PLATFORM's is undone through its payer's entity's position too: for a payer in PLATFORM nothing
 * changes; for one in another entity the old payment's intercompany pair stays as it was booked (docs/BOOKS.md).
 */
export async function payerFxPositionsOn(
  shards: ShardSet,
  shard: Shard,
  sides: Pair,
  payerAccountId: string,
): Promise<FxPositions> {
  const payer = (await readAccounts(shards, [payerAccountId])).get(payerAccountId);
  assert(payer !== undefined, `payer ${payerAccountId} of an FX payment not found`);
  return fxPositionsOn(shards, shard, sides, payer.entity);
}

export function sidesOf(fx: Pick<PaymentFxRow, 'sellAmount' | 'sellCurrency' | 'buyAmount' | 'buyCurrency'>): FxSides {
  return {
    sellAmount: fx.sellAmount,
    sellCurrency: fx.sellCurrency,
    buyAmount: fx.buyAmount,
    buyCurrency: fx.buyCurrency,
  };
}
