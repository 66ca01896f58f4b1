import { allowed, authorized, badUserInput } from '@paygraph/shared/graphql/errors';
import { parseId } from '@paygraph/shared/ids';
import { formatAmount } from '@paygraph/shared/money';
import type { TransactionContext } from '../context';
import type { FxQuoteRow, FxRateRow, PaymentFxRow } from '../db/schema/fx';
import type { PaymentRow } from '../db/schema/transactions';
import { createFxQuote, readQuote, type CreateFxQuoteInput } from '../services/fx-quotes';
import { currentRate, fxPositions, setFxRate, type SetFxRateInput } from '../services/fx-rates';
import { answer } from './mutation';

export const fxMutationResolvers = {
  setFxRate: async (_: unknown, args: { input: SetFxRateInput }, ctx: TransactionContext) =>
    answer('FxRate', authorized(await setFxRate(ctx, args.input))),
  createFxQuote: async (_: unknown, args: { input: CreateFxQuoteInput }, ctx: TransactionContext) =>
    answer('FxQuote', authorized(await createFxQuote(ctx, args.input))),
};

export const fxQueryResolvers = {
  fxQuote: async (_: unknown, args: { id: string }, ctx: TransactionContext) => {
    if (!parseId('fxQuote', args.id)) throw badUserInput(`"${args.id}" is not a quote id`);
    return allowed(await readQuote(ctx, args.id));
  },
  fxRate: (_: unknown, args: { baseCurrency: string; quoteCurrency: string }, ctx: TransactionContext) =>
    currentRate(ctx.shards, args.baseCurrency, args.quoteCurrency).then((row) => row ?? null),
  fxPositions: async (_: unknown, __: unknown, ctx: TransactionContext) =>
    allowed(await fxPositions(ctx)).map((p) => ({ currency: p.currency, amount: formatAmount(p.amount) })),
};

export const fxRateResolvers = {
  updatedAt: (r: FxRateRow) => r.createdAt,
};

export const fxQuoteResolvers = {
  sellAmount: (q: FxQuoteRow) => formatAmount(q.sellAmount),
  buyAmount: (q: FxQuoteRow) => formatAmount(q.buyAmount),
};

export const paymentFxResolvers = {
  sellAmount: (f: PaymentFxRow) => formatAmount(f.sellAmount),
  buyAmount: (f: PaymentFxRow) => formatAmount(f.buyAmount),
};

/** Payment.fx: whoever may read the payment may read what it exchanged. */
export function paymentFx(p: PaymentRow, _: unknown, ctx: TransactionContext) {
  return ctx.loaders.paymentFx.load(p.id);
}
