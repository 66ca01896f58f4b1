import { authorized, badUserInput, forbidden } from '@paygraph/shared/graphql/errors';
import type { Result } from '@paygraph/shared/result';
import type { TransactionContext } from '../context';
import type { CreatePaymentError, MoneyError } from '../domain/errors';
import type { PaymentRow } from '../db/schema/transactions';
import type {
  CaptureHoldInput,
  CreateCampaignInput,
  CreateHoldInput,
  CreatePaymentInput,
  ExternalTransferInput,
  RefundPaymentInput,
  VoidHoldInput,
} from '../domain/inputs';
import { captureHold, createHold, voidHold } from '../services/hold';
import { deposit, withdraw } from '../services/external-transfer';
import { createPayment, createPayments } from '../services/payment';
import { refundPayment } from '../services/refund';
import { createCampaign } from '../services/campaign';
import type { ClientInfo } from '../services/context';
import { toUserError, type UserErrorOf } from './user-errors';
import type { MutationResolvers } from '../generated/resolvers-types';
import { clientDeviceIdCharsMax, clientIpCharsMax, clientUserAgentCharsMax } from '@paygraph/shared/limits';

/** A mutation's answer: its success type named, or the member of its union that the error is. */
export function answer<N extends string, T extends object, E extends MoneyError>(
  typename: N,
  result: Result<T, E>,
): ({ __typename: N } & T) | UserErrorOf<E> {
  return result.ok ? { __typename: typename, ...result.value } : toUserError(result.error);
}

/** createPayments' answers, one per input; too many inputs is a malformed request, another's payer a forbidden one. */
function answers(results: Awaited<ReturnType<typeof createPayments>>) {
  if (results.ok) return results.value.map(paymentAnswer);
  if (results.error.kind === 'TooManyPayments')
    throw badUserInput(`createPayments takes at most ${results.error.max} payments`);
  throw forbidden(results.error.message);
}

/**
 * One of createPayments' answers. Module-level, not a callback: a closure made per call is compiled again after each
 * major GC (docs/PERFORMANCE.md).
 */
function paymentAnswer(
  result: Result<PaymentRow, CreatePaymentError>,
): ({ __typename: 'Payment' } & PaymentRow) | UserErrorOf<CreatePaymentError> {
  return answer('Payment', result);
}

/** Input wins over headers for client context: an app may relay its end user's device. */
function withClientContext(ctx: TransactionContext, given: CreatePaymentInput['clientContext']): TransactionContext {
  if (!given) return ctx;
  const client: ClientInfo = {
    deviceId: given.deviceId?.slice(0, clientDeviceIdCharsMax) ?? ctx.client.deviceId,
    ip: given.ip?.slice(0, clientIpCharsMax) ?? ctx.client.ip,
    userAgent: given.userAgent?.slice(0, clientUserAgentCharsMax) ?? ctx.client.userAgent,
  };
  return { ...ctx, client };
}

export const mutationResolvers = {
  deposit: async (_: unknown, args: { input: ExternalTransferInput }, ctx: TransactionContext) =>
    answer('Deposit', authorized(await deposit(ctx, args.input))),
  withdraw: async (_: unknown, args: { input: ExternalTransferInput }, ctx: TransactionContext) =>
    answer('Withdrawal', authorized(await withdraw(ctx, args.input))),
  createPayment: async (_: unknown, args: { input: CreatePaymentInput }, ctx: TransactionContext) =>
    answer('Payment', authorized(await createPayment(withClientContext(ctx, args.input.clientContext), args.input))),
  createPayments: async (_: unknown, args: { inputs: CreatePaymentInput[] }, ctx: TransactionContext) =>
    answers(await createPayments(ctx, args.inputs)),
  refundPayment: async (_: unknown, args: { input: RefundPaymentInput }, ctx: TransactionContext) =>
    answer('Refund', authorized(await refundPayment(ctx, args.input))),
  createHold: async (_: unknown, args: { input: CreateHoldInput }, ctx: TransactionContext) =>
    answer('Hold', authorized(await createHold(ctx, args.input))),
  captureHold: async (_: unknown, args: { input: CaptureHoldInput }, ctx: TransactionContext) => {
    const result = authorized(await captureHold(ctx, args.input));
    if (!result.ok) return toUserError(result.error);
    // The answer's `hold` is the hold as this capture left it, which no later step can change
    // (a capture is its one ending): no need to read it back.
    ctx.loaders.holdOfPayment.prime(result.value.payment.id, result.value.hold);
    return { __typename: 'Payment' as const, ...result.value.payment };
  },
  voidHold: async (_: unknown, args: { input: VoidHoldInput }, ctx: TransactionContext) =>
    answer('Hold', authorized(await voidHold(ctx, args.input))),
  createCampaign: async (_: unknown, args: { input: CreateCampaignInput }, ctx: TransactionContext) =>
    answer('Campaign', authorized(await createCampaign(ctx, args.input))),
} satisfies MutationResolvers;
