import { allowed } from '@paygraph/shared/graphql/errors';
import { assert } from '@paygraph/shared/result';
import type { TransactionContext } from '../context';
import { postingRef } from '../domain/posting-refs';
import { readableRefund } from '../services/reads';
import { readablePayment } from './payment';
import { readableHold } from './hold';
import type { EntryResolvers } from '../generated/resolvers-types';

/**
 * Entry belongs to the account subgraph; this one adds what the entry was part of. The
 * gateway hands over the entry's id and postingId (@requires), and the posting's kind and
 * ref_id say which payment or refund it was. Both are readable by the owners of the payment's
 * accounts, which include whoever could read the entry.
 */
interface EntryRef {
  id: string;
  postingId: string;
}

async function refOf(entry: EntryRef, ctx: TransactionContext) {
  const posting = await ctx.loaders.postings.load(entry.postingId);
  return posting ? postingRef(posting) : null;
}

export const entryResolvers = {
  __resolveReference: (ref) => {
    // Each field here @requires postingId, so the gateway sends it with every entry it asks for.
    assert('postingId' in ref, `entry ${ref.id} reached the transaction subgraph without its postingId`);
    return { id: ref.id, postingId: ref.postingId };
  },
  payment: async (entry: EntryRef, _: unknown, ctx: TransactionContext) => {
    const ref = await refOf(entry, ctx);
    if (ref === null) return null;
    if (ref.kind === 'payment') return readablePayment(ctx, ref.paymentId);
    if (ref.kind === 'hold') return null;
    const refund = await ctx.loaders.refunds.load(ref.refundId);
    return refund ? readablePayment(ctx, refund.paymentId) : null;
  },
  refund: async (entry: EntryRef, _: unknown, ctx: TransactionContext) => {
    const ref = await refOf(entry, ctx);
    if (ref?.kind !== 'refund') return null;
    return allowed(await readableRefund(ctx, ref.refundId));
  },
  hold: async (entry: EntryRef, _: unknown, ctx: TransactionContext) => {
    const ref = await refOf(entry, ctx);
    if (ref?.kind === 'hold') return readableHold(ctx, ref.holdId);
    if (ref?.kind !== 'payment') return null;
    const payment = await readablePayment(ctx, ref.paymentId);
    return payment ? ctx.loaders.holdOfPayment.load(payment.id) : null;
  },
} satisfies EntryResolvers;
