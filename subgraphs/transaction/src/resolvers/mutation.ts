import type { Result } from '@paygraph/shared/result';
import type { TransactionContext } from '../context';
import type { MoneyError } from '../domain/errors';
import type { CaptureHoldInput, CreateHoldInput, CreatePaymentInput, ExternalTransferInput, RefundPaymentInput, VoidHoldInput } from '../domain/inputs';
import { captureHold, createHold, voidHold } from '../services/hold';
import { externalTransfer } from '../services/external-transfer';
import { createPayment, createPayments } from '../services/payment';
import { refundPayment } from '../services/refund';
import type { ClientInfo } from '../services/context';
import { toUserError } from './user-errors';

function answer<T>(typename: string, result: Result<T, MoneyError>) {
  return result.ok ? { __typename: typename, ...result.value } : toUserError(result.error);
}

/** Input wins over headers for client context: an app may relay its end user's device. */
function withClientContext(ctx: TransactionContext, given: CreatePaymentInput['clientContext']): TransactionContext {
  if (!given) return ctx;
  const client: ClientInfo = {
    deviceId: given.deviceId?.slice(0, 128) ?? ctx.client.deviceId,
    ip: given.ip?.slice(0, 64) ?? ctx.client.ip,
    userAgent: given.userAgent?.slice(0, 256) ?? ctx.client.userAgent,
  };
  return { ...ctx, client };
}

export const mutationResolvers = {
  deposit: async (_: unknown, args: { input: ExternalTransferInput }, ctx: TransactionContext) =>
    answer('Deposit', await externalTransfer(ctx, 'DEPOSIT', args.input)),
  withdraw: async (_: unknown, args: { input: ExternalTransferInput }, ctx: TransactionContext) =>
    answer('Withdrawal', await externalTransfer(ctx, 'WITHDRAWAL', args.input)),
  createPayment: async (_: unknown, args: { input: CreatePaymentInput }, ctx: TransactionContext) =>
    answer('Payment', await createPayment(withClientContext(ctx, args.input.clientContext), args.input)),
  createPayments: async (_: unknown, args: { inputs: CreatePaymentInput[] }, ctx: TransactionContext) =>
    (await createPayments(ctx, args.inputs)).map((result) => answer('Payment', result)),
  refundPayment: async (_: unknown, args: { input: RefundPaymentInput }, ctx: TransactionContext) =>
    answer('Refund', await refundPayment(ctx, args.input)),
  createHold: async (_: unknown, args: { input: CreateHoldInput }, ctx: TransactionContext) =>
    answer('Hold', await createHold(ctx, args.input)),
  captureHold: async (_: unknown, args: { input: CaptureHoldInput }, ctx: TransactionContext) => {
    const result = await captureHold(ctx, args.input);
    if (!result.ok) return toUserError(result.error);
    // The answer's `hold` is the hold as this capture left it, which no later step can change
    // (a capture is its one ending): no need to read it back.
    ctx.holdOfPayment.prime(result.value.payment.id, result.value.hold);
    return { __typename: 'Payment', ...result.value.payment };
  },
  voidHold: async (_: unknown, args: { input: VoidHoldInput }, ctx: TransactionContext) =>
    answer('Hold', await voidHold(ctx, args.input)),
};
