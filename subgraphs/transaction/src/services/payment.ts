import { badUserInput, forbidden } from '@paygraph/shared/graphql/errors';
import { mayWrite } from '@paygraph/shared/identity';
import { newId, parseId } from '@paygraph/shared/ids';
import { postOne } from '@paygraph/shared/ledger/post';
import { systemAccountId } from '@paygraph/shared/ledger/system-accounts';
import type { Account } from '@paygraph/shared/ledger/account';
import { err, ok, type Result } from '@paygraph/shared/result';
import { countMoneyMovement } from '@paygraph/shared/metrics';
import { deferPayment, paymentsByIds } from '../db/payments';
import { deferOutbox } from '../db/outbox';
import type { PaymentRow } from '../db/schema/transactions';
import { paymentDebitSpec } from '../domain/legs';
import type { MoneyError } from '../domain/errors';
import { parseCreatePayment, type CreatePaymentInput, type ParsedPayment } from '../domain/inputs';
import { requestHash } from '../domain/request-hash';
import { businessDateOf } from '@paygraph/shared/business-date';
import { readAccounts, shardOfAccount, stripeFor } from './accounts';
import { claimKey, claimKeys, type ClaimRequest } from './idempotency';
import { recordOutcome } from './record-outcome';
import { CompletionWaits, completePayment } from './relay';
import { hitFailpoint, type Failpoint } from './failpoints';
import type { DeferredInserts } from '@paygraph/shared/db/deferred';
import type { ServiceContext } from './context';
import { outboxInlineGraceMs } from '@paygraph/shared/limits';

/** Payments one createPayments request may carry. */
export const bulkPaymentsMax = 1_000;

/** How long the relay leaves a fresh cross-shard payment to the request that made it. */
export const inlineGraceMs = outboxInlineGraceMs;

/**
 * A payment is one local transaction on the payer's shard: debit the payer and credit the
 * payee (same shard), the merchant's stripe on this shard (pending), or this shard's clearing
 * account plus an outbox row (cross-shard). A cross-shard payment's credit on the payee's
 * shard is tried at once, so most answer SUCCEEDED; if this process dies first, the relay
 * finishes it and the payment reads PROCESSING until then.
 */
async function attemptPayment(ctx: ServiceContext, input: CreatePaymentInput): Promise<Result<PaymentRow, MoneyError>> {
  const parsed = parseCreatePayment(input, ctx.amountMax);
  if (!parsed.ok) return parsed;
  const found = await readAccounts(ctx.shards, [parsed.value.payerAccountId, parsed.value.payeeAccountId]);
  const plan = planPayment(ctx, parsed.value, found);
  if (!plan.ok) return plan;
  const claim = await claimKey(ctx.shards, paymentClaim(ctx, plan.value), ctx.now());
  if (claim.kind === 'reused') return err({ kind: 'IdempotencyKeyReused', idempotencyKey: plan.value.request.idempotencyKey });
  return executePayment(ctx, plan.value, await routeOf(ctx, plan.value), claim.resourceId);
}

/** Every answer a payment gets is counted by outcome (metrics.ts), the status written or the error's kind. */
export async function createPayment(ctx: ServiceContext, input: CreatePaymentInput): Promise<Result<PaymentRow, MoneyError>> {
  return countPaymentOutcome(await attemptPayment(ctx, input));
}

function countPaymentOutcome(result: Result<PaymentRow, MoneyError>): Result<PaymentRow, MoneyError> {
  countMoneyMovement('payment', result.ok ? result.value.status : result.error.kind);
  return result;
}

/**
 * Many payments in one request, one answer per input in order, each idempotent on its own
 * key. Accounts are read and keys claimed in bulk, and the debits go through merged posting,
 * so a thousand payments cost a few transactions per shard rather than a thousand. Every
 * authorization check runs before anything is written: one payer that is not the caller's
 * refuses the whole request.
 */
async function attemptPayments(ctx: ServiceContext, inputs: readonly CreatePaymentInput[]): Promise<Array<Result<PaymentRow, MoneyError>>> {
  if (inputs.length > bulkPaymentsMax) throw badUserInput(`createPayments takes at most ${bulkPaymentsMax} payments`);
  const parsed = inputs.map((input) => parseCreatePayment(input, ctx.amountMax));
  const ids = parsed.flatMap((p) => (p.ok ? [p.value.payerAccountId, p.value.payeeAccountId] : []));
  const found = await readAccounts(ctx.shards, [...new Set(ids)]);
  const plans = parsed.map((p) => (p.ok ? planPayment(ctx, p.value, found) : p));
  const planned = plans.flatMap((p) => (p.ok ? [p.value] : []));
  const claims = await claimKeys(ctx.shards, planned.map((p) => paymentClaim(ctx, p)), ctx.now());
  const claimOf = new Map(planned.map((p, i) => [p, claims[i]!]));
  const routes = new Map(await Promise.all(planned.map(async (p) => [p, await routeOf(ctx, p)] as const)));
  // Submitted in input order, with nothing awaited in between: payments from one account that
  // share a merged batch (MERGE_BATCH_SIZE) are decided in the order the client listed them
  // (60, 30, 50 from 100 refuses the 50).
  return Promise.all(plans.map((p): Promise<Result<PaymentRow, MoneyError>> | Result<PaymentRow, MoneyError> => {
    if (!p.ok) return p;
    const claim = claimOf.get(p.value)!;
    if (claim.kind === 'reused') return err({ kind: 'IdempotencyKeyReused', idempotencyKey: p.value.request.idempotencyKey });
    return executePayment(ctx, p.value, routes.get(p.value)!, claim.resourceId);
  }));
}

export async function createPayments(ctx: ServiceContext, inputs: readonly CreatePaymentInput[]): Promise<Array<Result<PaymentRow, MoneyError>>> {
  const results = await attemptPayments(ctx, inputs);
  for (const result of results) countPaymentOutcome(result);
  return results;
}

interface PaymentPlan {
  request: ParsedPayment;
  payer: Account;
  payee: Account;
  hash: string;
  newId: () => string;
}

/** A payment's key is anchored on its payer: the account debited, whose shard records the payment. */
function paymentClaim(ctx: ServiceContext, plan: PaymentPlan): ClaimRequest {
  return {
    callerId: ctx.identity.sub, anchor: { kind: 'account', id: plan.payer.id }, key: plan.request.idempotencyKey,
    operation: 'PAYMENT', hash: plan.hash, newResourceId: plan.newId,
  };
}

/** What can be decided without a lock. Throws FORBIDDEN: paying from another's account is not a business failure. */
function planPayment(ctx: ServiceContext, request: ParsedPayment, found: Map<string, Account>): Result<PaymentPlan, MoneyError> {
  const payer = clientAccount(found, request.payerAccountId);
  if (!payer) return err({ kind: 'AccountNotFound', accountId: request.payerAccountId });
  if (!mayWrite(ctx.identity, payer.ownerId)) throw forbidden(`account ${payer.id} is not yours to pay from`);
  const payee = clientAccount(found, request.payeeAccountId);
  if (!payee) return err({ kind: 'AccountNotFound', accountId: request.payeeAccountId });
  const early = checkPayee(payee, request);
  if (early) return err(early);
  const hash = requestHash('PAYMENT', {
    payer: request.payerAccountId, payee: request.payeeAccountId, amount: request.amount,
    currency: request.currency, description: request.description,
  });
  return ok({ request, payer, payee, hash, newId: () => newId('payment', parseId('account', payer.id)!.shard) });
}

async function executePayment(ctx: ServiceContext, plan: PaymentPlan, route: PaymentRoute, id: string): Promise<Result<PaymentRow, MoneyError>> {
  const { request, payer, payee } = plan;
  const debited = await debitPayer(ctx, request, payer, payee, route, id);
  if (!debited.ok || debited.value.status !== 'PROCESSING') return debited;
  return ok(await creditAcrossShards(ctx, debited.value, 'payment-after-debit'));
}

/**
 * The second half of a cross-shard payment whose debit has committed (a payment's, or a hold's
 * capture): the credit on the payee's shard is tried at once; if it cannot be made now, the
 * relay finishes it and the payment answers PROCESSING.
 */
export async function creditAcrossShards(ctx: ServiceContext, debited: PaymentRow, failpoint: Failpoint): Promise<PaymentRow> {
  hitFailpoint(failpoint);
  const home = shardOfAccount(ctx.shards, debited.payerAccountId);
  try {
    const completed = await completePayment(ctx.shards, home, debited, ctx.now);
    if (completed) return { ...debited, ...completed };
  } catch (error) {
    // The debit has committed, so the payment exists: answer it PROCESSING (the relay finishes
    // it) rather than an error such as LOCK_TIMEOUT, which tells the client nothing was written.
    if (error instanceof CompletionWaits) ctx.log.warn(error.message);
    else ctx.log.error({ err: error }, `payment ${debited.id}: inline credit failed, the relay will finish it`);
  }
  const [final] = await paymentsByIds(home.db, [debited.id]);
  return final!;
}

export function clientAccount(found: Map<string, Account>, id: string): Account | undefined {
  const row = found.get(id);
  return row && row.type !== 'SYSTEM' && row.parentId === null ? row : undefined;
}

/** Refusals that need no lock: the posting re-checks them, but a payment that cannot land should not start. */
export function checkPayee(payee: Account, request: ParsedPayment): MoneyError | null {
  if (payee.status !== 'ACTIVE') return { kind: 'AccountNotActive', accountId: payee.id, status: payee.status };
  if (payee.currency !== request.currency) {
    return { kind: 'CurrencyMismatch', accountId: payee.id, accountCurrency: payee.currency, requestCurrency: request.currency };
  }
  return null;
}

export interface PaymentRoute {
  route: PaymentRow['route'];
  /** Where the payer's shard credits the money: the payee, the merchant's stripe here, or clearing. */
  creditAccountId: string;
}

function routeOf(ctx: ServiceContext, plan: PaymentPlan): Promise<PaymentRoute> {
  return routeBetween(ctx, plan.payer, plan.payee, plan.request.currency);
}

/** Where the payer's shard credits a payment (or a hold's capture) to this payee. */
export async function routeBetween(ctx: ServiceContext, payer: Account, payee: Account, currency: string): Promise<PaymentRoute> {
  const shard = shardOfAccount(ctx.shards, payer.id);
  if (payee.type === 'MERCHANT') return { route: 'MERCHANT_STRIPE', creditAccountId: await stripeFor(ctx.shards, payee, shard) };
  if (shardOfAccount(ctx.shards, payee.id) === shard) return { route: 'SAME_SHARD', creditAccountId: payee.id };
  return { route: 'CROSS_SHARD', creditAccountId: await systemAccountId(ctx.shards, shard, 'CLEARING', currency) };
}

/** Submits the debit at once (no await before postOne), so callers control the order of submission. */
function debitPayer(
  ctx: ServiceContext,
  request: ParsedPayment,
  payer: Account,
  payee: Account,
  { route, creditAccountId }: PaymentRoute,
  id: string,
): Promise<Result<PaymentRow, MoneyError>> {
  const shard = shardOfAccount(ctx.shards, payer.id);
  const movement = { id, currency: request.currency, amount: request.amount };
  const spec = paymentDebitSpec(movement, newId('posting', parseId('payment', id)!.shard), payer.id, creditAccountId,
    route === 'MERCHANT_STRIPE' ? 'PENDING' : 'AVAILABLE');
  const now = ctx.now();
  // No read before the posting: a replay of a payment that was made meets its posting's
  // dedupe key under the payer's lock and answers DUPLICATE, which reads the payment back.
  return postOne<Result<PaymentRow, MoneyError>>(shard, {
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

export interface NewPayment {
  id: string;
  payer: string;
  payee: string;
  route: PaymentRow['route'];
  /** Where the payer's shard credited it (payment.ts#PaymentRoute). */
  creditAccountId: string;
  amount: bigint;
  currency: string;
  description: string | null;
}

/** A payment's record as its debit writes it: a cross-shard one PROCESSING until its credit lands. */
export function newPaymentRow(ctx: ServiceContext, p: NewPayment, now: Date): PaymentRow {
  const crossShard = p.route === 'CROSS_SHARD';
  return {
    id: p.id, payerAccountId: p.payer, payeeAccountId: p.payee, creditAccountId: crossShard ? p.payee : p.creditAccountId,
    route: p.route, amount: p.amount, currency: p.currency, refundedAmount: 0n,
    status: crossShard ? 'PROCESSING' : 'SUCCEEDED', failureCode: null, description: p.description,
    createdBy: ctx.identity.sub, deviceId: ctx.client.deviceId, clientIp: ctx.client.ip, userAgent: ctx.client.userAgent,
    businessDate: businessDateOf(now), settlementId: null, createdAt: now, completedAt: crossShard ? null : now,
  };
}

/** Defers the payment's row and, for a cross-shard payment, the outbox row its credit runs from. */
export function deferNewPayment(deferred: DeferredInserts, row: PaymentRow): PaymentRow {
  deferPayment(deferred, row);
  if (row.route === 'CROSS_SHARD') deferOutbox(deferred, row.id, 'PAYMENT_CREDIT', row.createdAt, new Date(row.createdAt.getTime() + inlineGraceMs));
  return row;
}
