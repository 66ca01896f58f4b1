import { forbiddenBecause, type Forbidden } from '@paygraph/shared/authorization';
import { mayWrite } from '@paygraph/shared/identity';
import { newId, shardOf } from '@paygraph/shared/ids';
import { postOne } from '@paygraph/shared/ledger/post';
import type { Account } from '@paygraph/shared/ledger/account';
import { err, ok, type Result } from '@paygraph/shared/result';
import { countMoneyMovement } from '@paygraph/shared/metrics';
import { paymentsByIds } from '../db/payments';
import type { PaymentRow } from '../db/schema/transactions';
import { paymentDebitSpec } from '../domain/legs';
import { invalidInput, type CreatePaymentError, type MoneyErrorOf } from '../domain/errors';
import { createFxPayment } from './fx-payment';
import { hasExtraLegs, parseCreatePayment, type CreatePaymentInput, type ParsedPayment } from '../domain/inputs';
import { createLegPayment } from './leg-payment';
import { readAccounts } from './accounts';
import { claimIdempotencyKeysOf, withIdempotencyKey, type KeySpec } from './idempotency';
import { recordOutcome } from './record-outcome';
import type { ServiceContext } from './context';
import { checkPayee, clientAccount, creditAcrossShards, deferNewPayment, newPaymentRow, routeBetween, type PaymentRoute } from './payment-steps';

/** Payments one createPayments request may carry. */
export const bulkPaymentsMax = 1_000;

/**
 * A payment is one local transaction on the payer's shard: debit the payer and credit the
 * payee (same shard), the merchant's stripe on this shard (pending), or this shard's clearing
 * account plus an outbox row (cross-shard). A cross-shard payment's credit on the payee's
 * shard is tried at once, so most answer SUCCEEDED; if this process dies first, the relay
 * finishes it and the payment reads PROCESSING until then.
 */
async function attemptPayment(ctx: ServiceContext, input: CreatePaymentInput): Promise<Result<PaymentRow, CreatePaymentError | Forbidden>> {
  const parsed = parseCreatePayment(input, ctx.amountMax);
  if (!parsed.ok) return parsed;
  if (input.fxQuoteId !== null && input.fxQuoteId !== undefined) return createFxPayment(ctx, parsed.value, input.fxQuoteId);
  if (hasExtraLegs(parsed.value)) return createLegPayment(ctx, parsed.value);
  const found = await readAccounts(ctx.shards, [parsed.value.payerAccountId, parsed.value.payeeAccountId]);
  const plan = planPayment(ctx, parsed.value, found);
  if (!plan.ok) return plan;
  return withIdempotencyKey(ctx, paymentKey(plan.value), async ({ resourceId }) => executePayment(ctx, plan.value, await routeOf(ctx, plan.value), resourceId));
}

/** Every answer a payment gets is counted by outcome (metrics.ts), the status written or the error's kind. */
export async function createPayment(ctx: ServiceContext, input: CreatePaymentInput): Promise<Result<PaymentRow, CreatePaymentError | Forbidden>> {
  return countPaymentOutcome(await attemptPayment(ctx, input));
}

/** A caller refused is not a payment's outcome: it is not counted. */
function countPaymentOutcome<E extends CreatePaymentError | Forbidden>(result: Result<PaymentRow, E>): Result<PaymentRow, E> {
  if (!result.ok && result.error.kind === 'Forbidden') return result;
  countMoneyMovement('payment', result.ok ? result.value.status : result.error.kind);
  return result;
}

/** More payments in one createPayments request than bulkPaymentsMax: the request is malformed. */
export interface TooManyPayments {
  kind: 'TooManyPayments';
  max: number;
}

/**
 * Many payments in one request, one answer per input in order, each idempotent on its own
 * key. Accounts are read and keys claimed in bulk, and the debits go through merged posting,
 * so a thousand payments cost a few transactions per shard rather than a thousand. Every
 * authorization check runs before anything is written: one payer that is not the caller's
 * refuses the whole request.
 */
async function attemptPayments(
  ctx: ServiceContext,
  inputs: readonly CreatePaymentInput[],
): Promise<Result<Array<Result<PaymentRow, CreatePaymentError>>, TooManyPayments | Forbidden>> {
  if (inputs.length > bulkPaymentsMax) return err({ kind: 'TooManyPayments', max: bulkPaymentsMax });
  const parsed = inputs.map((input) => plainPayment(input, parseCreatePayment(input, ctx.amountMax)));
  const ids = parsed.flatMap((p) => (p.ok ? [p.value.payerAccountId, p.value.payeeAccountId] : []));
  const found = await readAccounts(ctx.shards, [...new Set(ids)]);
  const plans: Array<Result<PaymentPlan, CreatePaymentError>> = [];
  for (const p of parsed) {
    const plan = p.ok ? planPayment(ctx, p.value, found) : p;
    if (plan.ok) {
      plans.push(plan);
      continue;
    }
    // One payer that is not the caller's refuses the whole request, before anything is written.
    const error = plan.error;
    if (error.kind === 'Forbidden') return err(error);
    plans.push(err(error));
  }
  const planned = plans.flatMap((p) => (p.ok ? [p.value] : []));
  const claims = await claimIdempotencyKeysOf(ctx, planned.map(paymentKey));
  const claimOf = new Map(planned.map((p, i) => [p, claims[i]!]));
  const routes = new Map(await Promise.all(planned.map(async (p) => [p, await routeOf(ctx, p)] as const)));
  // Submitted in input order, with nothing awaited in between: payments from one account that
  // share a merged batch (MERGE_BATCH_SIZE) are decided in the order the client listed them
  // (60, 30, 50 from 100 refuses the 50).
  return ok(await Promise.all(plans.map((p): Promise<Result<PaymentRow, CreatePaymentError>> | Result<PaymentRow, CreatePaymentError> => {
    if (!p.ok) return p;
    const claim = claimOf.get(p.value)!;
    if (!claim.ok) return claim;
    return executePayment(ctx, p.value, routes.get(p.value)!, claim.value.resourceId);
  })));
}

/** createPayments carries two-leg payments of one currency: one with splits, a campaign or an FX quote goes through createPayment. */
function plainPayment<E>(input: CreatePaymentInput, parsed: Result<ParsedPayment, E>): Result<ParsedPayment, E | MoneyErrorOf<'InvalidInput'>> {
  if (input.fxQuoteId !== null && input.fxQuoteId !== undefined) return err(invalidInput('fxQuoteId', 'createPayments takes no FX quotes: pay with a quote through createPayment'));
  if (parsed.ok && hasExtraLegs(parsed.value)) return err(invalidInput('splits', 'createPayments takes payments without splits or campaign; send those with createPayment'));
  return parsed;
}

export async function createPayments(
  ctx: ServiceContext,
  inputs: readonly CreatePaymentInput[],
): Promise<Result<Array<Result<PaymentRow, CreatePaymentError>>, TooManyPayments | Forbidden>> {
  const results = await attemptPayments(ctx, inputs);
  if (results.ok) for (const result of results.value) countPaymentOutcome(result);
  return results;
}

interface PaymentPlan {
  request: ParsedPayment;
  payer: Account;
  payee: Account;
}

/** A payment's key is anchored on its payer: the account debited, whose shard records the payment. */
function paymentKey(plan: PaymentPlan): KeySpec {
  const { request, payer } = plan;
  return {
    anchor: { kind: 'account', id: payer.id }, key: request.idempotencyKey, operation: 'PAYMENT',
    content: { payer: request.payerAccountId, payee: request.payeeAccountId, amount: request.amount, currency: request.currency, description: request.description },
    newResourceId: () => newId('payment', shardOf('account', payer.id)),
  };
}

/** What can be decided without a lock. Forbidden, not a business failure: paying from another's account. */
function planPayment(ctx: ServiceContext, request: ParsedPayment, found: Map<string, Account>): Result<PaymentPlan, CreatePaymentError | Forbidden> {
  const payer = clientAccount(found, request.payerAccountId);
  if (!payer) return err({ kind: 'AccountNotFound', accountId: request.payerAccountId });
  if (!mayWrite(ctx.identity, payer.ownerId)) return err(forbiddenBecause(`account ${payer.id} is not yours to pay from`));
  const payee = clientAccount(found, request.payeeAccountId);
  if (!payee) return err({ kind: 'AccountNotFound', accountId: request.payeeAccountId });
  const early = checkPayee(payee, request);
  if (early) return err(early);
  return ok({ request, payer, payee });
}

async function executePayment(ctx: ServiceContext, plan: PaymentPlan, route: PaymentRoute, id: string): Promise<Result<PaymentRow, CreatePaymentError>> {
  const { request, payer, payee } = plan;
  const debited = await debitPayer(ctx, request, payer, payee, route, id);
  if (!debited.ok || debited.value.status !== 'PROCESSING') return debited;
  return ok(await creditAcrossShards(ctx, debited.value, 'payment-after-debit'));
}

function routeOf(ctx: ServiceContext, plan: PaymentPlan): Promise<PaymentRoute> {
  return routeBetween(ctx, plan.payer, plan.payee, plan.request.currency);
}

/** Submits the debit at once (no await before postOne), so callers control the order of submission. */
function debitPayer(
  ctx: ServiceContext,
  request: ParsedPayment,
  payer: Account,
  payee: Account,
  { route, creditAccountId }: PaymentRoute,
  id: string,
): Promise<Result<PaymentRow, CreatePaymentError>> {
  const shard = ctx.shards.of('account', payer.id);
  const movement = { id, currency: request.currency, amount: request.amount };
  const spec = paymentDebitSpec(movement, newId('posting', shardOf('payment', id)), payer.id, creditAccountId,
    route === 'MERCHANT_STRIPE' ? 'PENDING' : 'AVAILABLE');
  const now = ctx.now();
  // No read before the posting: a replay of a payment that was made meets its posting's
  // dedupe key under the payer's lock and answers DUPLICATE, which reads the payment back.
  return postOne<Result<PaymentRow, CreatePaymentError>>(shard, {
    spec,
    finish: (tx, outcome, _accounts, deferred) => recordOutcome(outcome, {
      id,
      applied: () => deferNewPayment(deferred, newPaymentRow(ctx, { id, payer: payer.id, payee: payee.id, route, creditAccountId,
        amount: request.amount, currency: request.currency, description: request.description }, now)),
      existing: async () => (await paymentsByIds(tx, [id]))[0],
    }),
    at: now,
  }, { now: () => now });
}
