import type { Forbidden } from '@paygraph/shared/authorization';
import { newId, shardOf } from '@paygraph/shared/ids';
import type { Account } from '@paygraph/shared/ledger/index';
import { err, ok, type Result } from '@paygraph/shared/result';
import { countMoneyMovement } from '@paygraph/shared/metrics';
import type { PaymentRow } from '../db/schema/transactions';
import type { FxQuoteRow } from '../db/schema/fx';
import {
  createPaymentErrorKinds,
  invalidInput,
  refusalOf,
  type CreatePaymentError,
  type MoneyErrorOf,
} from '../domain/errors';
import { hasExtraLegs, parseCreatePayment, type CreatePaymentInput, type ParsedPayment } from '../domain/inputs';
import {
  paymentKeyContent,
  planPayment,
  shapeOf,
  type PayerFacts,
  type PaymentFacts,
  type PaymentPlan,
  type PaymentShape,
} from '../domain/payment-plan';
import { readAccounts } from './accounts';
import { campaignForPayment } from './campaign';
import { quoteTerms } from './fx-quotes';
import {
  claimIdempotencyKeysOf,
  claimInTransaction,
  withIdempotencyKey,
  type Claimed,
  type KeyReused,
  type KeySpec,
} from '@paygraph/shared/idempotency/index';
import { legPaymentMadeBefore } from './leg-payment';
import { clientAccount } from './payment-steps';
import { postPayments, type PaymentClaim, type PaymentToPost, type PostedPayment } from './post-payment';
import type { ServiceContext } from './context';
import { mayPayFrom } from './access';
import { bulkPaymentsMax } from '../limits';
import { payerPaidFromBefore, rememberPayer } from './payer-facts';

/**
 * Payments (docs/PAYMENTS.md, "One payment route"): parse, read the facts the request names
 * (accounts, its campaign, its quote), check the caller may pay from the payer, plan the legs
 * (domain/payment-plan.ts planPayment, pure, one PaymentPlan for every shape), claim the key
 * (withIdempotencyKey), then post the plan (post-payment.ts postPayments, the one route for
 * every shape: its home legs on the payer's shard, then its completion). createPayments runs the
 * same steps for many two-leg plans at once; createPayment is a list of one there.
 */
async function attemptPayment(
  ctx: ServiceContext,
  input: CreatePaymentInput,
): Promise<Result<PaymentRow, CreatePaymentError | Forbidden>> {
  const parsed = parseCreatePayment(input, ctx.amountMax);
  if (!parsed.ok) return parsed;
  const request = parsed.value;
  const shape = shapeOf(request, input.fxQuoteId);
  if (!shape.ok) return shape;
  const facts = await readFacts(ctx, request, shape.value);
  if (!facts.ok) return refused(ctx, request, shape.value, facts);
  const payer = payingAccount(ctx, request.payerAccountId, facts.value.payer);
  if (!payer.ok) {
    const error = payer.error;
    return error.kind === 'Forbidden' ? err(error) : refused(ctx, request, shape.value, err(error));
  }
  rememberPayer(ctx.identity.sub, payer.value);
  const plan = planPayment(request, shape.value, payer.value, facts.value);
  if (!plan.ok) return refused(ctx, request, shape.value, plan);
  // A plain two-leg payment claims its key in its debit's transaction (payment-claims.ts); an FX
  // payment takes its quote and a plan of legs writes rows by the payment's id first: theirs before.
  if (plan.value.shape.kind === 'TWO_LEGS')
    return postPlan(ctx, plan.value, facts.value, {
      kind: 'inDebit',
      claim: claimInTransaction(ctx, paymentKey(plan.value), ctx.now()),
    });
  return withIdempotencyKey(ctx, paymentKey(plan.value), (claimed) =>
    postPlan(ctx, plan.value, facts.value, { kind: 'claimed', claimed }),
  );
}

/** Every answer a payment gets is counted by outcome (metrics.ts), the status written or the error's kind. */
export async function createPayment(
  ctx: ServiceContext,
  input: CreatePaymentInput,
): Promise<Result<PaymentRow, CreatePaymentError | Forbidden>> {
  return countPaymentOutcome(await attemptPayment(ctx, input));
}

/** A caller refused is not a payment's outcome: it is not counted. */
function countPaymentOutcome<E extends CreatePaymentError | Forbidden>(
  result: Result<PaymentRow, E>,
): Result<PaymentRow, E> {
  if (!result.ok && result.error.kind === 'Forbidden') return result;
  countMoneyMovement('payment', result.ok ? result.value.status : result.error.kind);
  return result;
}

/** What a plan is decided from, with the quote's whole row (the FX record copies its rate). */
interface Facts extends PaymentFacts {
  quote: FxQuoteRow | undefined;
  /** The payer's facts: read with the receivers, or kept from this caller's payment from it before (payer-facts.ts). */
  payer: PayerFacts | undefined;
}

/**
 * The accounts a request names (clients' only), and its campaign's terms or its quote: read at once where they can be.
 * A payer this caller has paid from before is not read (payer-facts.ts): a cross-shard payment then reads the payee's
 * shard alone.
 */
async function readFacts(
  ctx: ServiceContext,
  request: ParsedPayment,
  shape: PaymentShape,
): Promise<Result<Facts, CreatePaymentError>> {
  const receivers = [request.payeeAccountId, ...request.splits.map((s) => s.accountId)];
  const kept = payerPaidFromBefore(ctx.identity.sub, request.payerAccountId);
  const ids = kept ? receivers : [request.payerAccountId, ...receivers];
  const facts = (
    accounts: Map<string, Account>,
    quote: FxQuoteRow | undefined,
    campaign: Facts['campaign'] = null,
  ): Facts => {
    const clients = clientsAmong(accounts);
    return {
      accounts: clients,
      payer: kept ?? clients.get(request.payerAccountId),
      campaign,
      quote,
      callerId: ctx.identity.sub,
      now: ctx.now(),
    };
  };
  if (shape.kind === 'FX') {
    const [found, quote] = await Promise.all([
      readAccounts(ctx.shards, ids),
      quoteTerms(ctx.shards, shape.quoteId, ctx.identity.sub),
    ]);
    return ok(facts(found, quote));
  }
  if (request.campaignId === null) return ok(facts(await readAccounts(ctx.shards, ids), undefined));
  const campaign = await campaignForPayment(ctx.shards, request.campaignId);
  if (!campaign) return err({ kind: 'CampaignNotFound', campaignId: request.campaignId });
  return ok(facts(await readAccounts(ctx.shards, [...ids, campaign.fundingAccountId]), undefined, campaign));
}

/**
 * The payer's account, if the caller may pay from it. Forbidden, not a business failure: paying from another's account.
 */
function payingAccount(
  ctx: ServiceContext,
  accountId: string,
  payer: PayerFacts | undefined,
): Result<PayerFacts, MoneyErrorOf<'AccountNotFound'> | Forbidden> {
  if (!payer) return err({ kind: 'AccountNotFound', accountId });
  const notYours = mayPayFrom(ctx.identity, payer);
  if (notYours) return err(notYours);
  return ok(payer);
}

/** The payers among `payerIds` this caller has paid from before (payer-facts.ts), by id. */
function keptPayers(ctx: ServiceContext, payerIds: readonly string[]): Map<string, PayerFacts> {
  const kept = new Map<string, PayerFacts>();
  for (const id of payerIds) {
    const facts = payerPaidFromBefore(ctx.identity.sub, id);
    if (facts) kept.set(id, facts);
  }
  return kept;
}

/** A payment's key is anchored on its payer: the account debited, whose shard records the payment. */
function paymentKey(plan: Pick<PaymentPlan, 'request' | 'shape'>): KeySpec {
  const { request } = plan;
  return {
    anchor: { kind: 'account', id: request.payerAccountId },
    key: request.idempotencyKey,
    operation: 'PAYMENT',
    content: paymentKeyContent(request, plan.shape),
    newResourceId: () => newId('payment', shardOf('account', request.payerAccountId)),
  };
}

/**
 * A refusal decided before the key is claimed. A plan of more legs refused now may have been
 * made before (a split closed since a crash): a retry answers what was made (leg-payment.ts).
 */
function refused<E extends CreatePaymentError>(
  ctx: ServiceContext,
  request: ParsedPayment,
  shape: PaymentShape,
  refusal: { ok: false; error: E },
): Promise<Result<PaymentRow, CreatePaymentError>> | { ok: false; error: E } {
  return shape.kind === 'LEGS' ? legPaymentMadeBefore(ctx, paymentKey({ request, shape }), refusal) : refusal;
}

/** Posts the plan on the resource its key names (or will name, claimed in the debit): the one route, as a list of one. */
async function postPlan(
  ctx: ServiceContext,
  plan: PaymentPlan,
  facts: Facts,
  claim: PaymentClaim,
): Promise<Result<PaymentRow, CreatePaymentError>> {
  const [posted] = await postPayments(ctx, [{ plan, claim, accounts: facts.accounts, quote: facts.quote }]);
  return paymentOf(posted!);
}

function toPost(plan: PaymentPlan, facts: Pick<Facts, 'accounts' | 'quote'>, claimed: Claimed): PaymentToPost {
  return { plan, claim: { kind: 'claimed', claimed }, accounts: facts.accounts, quote: facts.quote };
}

/** A payment's answer from the route: its record, or a refusal its union carries. */
function paymentOf(posted: PostedPayment): Result<PaymentRow, CreatePaymentError> {
  return posted.ok ? ok(posted.value.payment) : err(refusalOf(posted.error, createPaymentErrorKinds));
}

/** More payments in one createPayments request than bulkPaymentsMax: the request is malformed. */
export interface TooManyPayments {
  kind: 'TooManyPayments';
  max: number;
}

/**
 * Many payments in one request, one answer per input in order, each idempotent on its own
 * key: the pipeline's steps, each for every payment at once. Accounts are read and keys claimed
 * in bulk, and the debits go through merged posting, so a thousand payments cost a few
 * transactions per shard rather than a thousand. Every authorization check runs before
 * anything is written: one payer that is not the caller's refuses the whole request.
 */
async function attemptPayments(
  ctx: ServiceContext,
  inputs: readonly CreatePaymentInput[],
): Promise<Result<Array<Result<PaymentRow, CreatePaymentError>>, TooManyPayments | Forbidden>> {
  if (inputs.length > bulkPaymentsMax) return err({ kind: 'TooManyPayments', max: bulkPaymentsMax });
  // Loops, not callbacks (here, clientsAmong, postPlans): a closure made per call is compiled again after each major GC
  // (docs/PERFORMANCE.md).
  const parsed: Array<Result<ParsedPayment, CreatePaymentError>> = [];
  for (const input of inputs) parsed.push(plainPayment(input, parseCreatePayment(input, ctx.amountMax)));
  const payerIds: string[] = [];
  const payeeIds: string[] = [];
  for (const p of parsed) {
    if (!p.ok) continue;
    payerIds.push(p.value.payerAccountId);
    payeeIds.push(p.value.payeeAccountId);
  }
  const kept = keptPayers(ctx, [...new Set(payerIds)]);
  const unkept: string[] = [];
  for (const id of payerIds) if (!kept.has(id)) unkept.push(id);
  const found = await readAccounts(ctx.shards, [...new Set([...unkept, ...payeeIds])]);
  const facts: PaymentFacts = {
    accounts: clientsAmong(found),
    campaign: null,
    quote: undefined,
    callerId: ctx.identity.sub,
    now: ctx.now(),
  };
  const plans: Array<Result<PaymentPlan, CreatePaymentError>> = [];
  for (const p of parsed) {
    if (!p.ok) {
      plans.push(p);
      continue;
    }
    const payerId = p.value.payerAccountId;
    const payer = payingAccount(ctx, payerId, kept.get(payerId) ?? facts.accounts.get(payerId));
    if (!payer.ok) {
      // One payer that is not the caller's refuses the whole request, before anything is written.
      const error = payer.error;
      if (error.kind === 'Forbidden') return err(error);
      plans.push(err(error));
      continue;
    }
    rememberPayer(ctx.identity.sub, payer.value);
    plans.push(planPayment(p.value, { kind: 'TWO_LEGS' }, payer.value, facts));
  }
  return ok(await postPlans(ctx, plans, facts));
}

/** The client accounts among those read (clientAccount: no system account, no merchant's stripe). */
function clientsAmong(found: Map<string, Account>): Map<string, Account> {
  const clients = new Map<string, Account>();
  for (const [id, account] of found) if (clientAccount(found, id)) clients.set(id, account);
  return clients;
}

/** Claims every plan's key in bulk and posts the claimed plans, in input order, on the one route. */
async function postPlans(
  ctx: ServiceContext,
  plans: ReadonlyArray<Result<PaymentPlan, CreatePaymentError>>,
  facts: PaymentFacts,
): Promise<Array<Result<PaymentRow, CreatePaymentError>>> {
  const planned: PaymentPlan[] = [];
  for (const p of plans) if (p.ok) planned.push(p.value);
  const claims = await claimIdempotencyKeysOf(ctx, planned.map(paymentKey));
  const claimOf = new Map<PaymentPlan, Result<Claimed, KeyReused>>();
  const claimed: PaymentToPost[] = [];
  for (let i = 0; i < planned.length; i++) {
    const plan = planned[i]!;
    const claim = claims[i]!;
    claimOf.set(plan, claim);
    if (claim.ok) claimed.push(toPost(plan, { accounts: facts.accounts, quote: undefined }, claim.value));
  }
  const posted = await postPayments(ctx, claimed);
  const answers = new Map<PaymentPlan, Result<PaymentRow, CreatePaymentError>>();
  for (let i = 0; i < claimed.length; i++) answers.set(claimed[i]!.plan, paymentOf(posted[i]!));
  const results: Array<Result<PaymentRow, CreatePaymentError>> = [];
  for (const p of plans) {
    if (!p.ok) {
      results.push(p);
      continue;
    }
    const claim = claimOf.get(p.value)!;
    results.push(claim.ok ? answers.get(p.value)! : claim);
  }
  return results;
}

/**
 * createPayments carries two-leg payments of one currency: one with splits, a campaign or an FX quote goes through
 * createPayment.
 */
function plainPayment<E>(
  input: CreatePaymentInput,
  parsed: Result<ParsedPayment, E>,
): Result<ParsedPayment, E | MoneyErrorOf<'InvalidInput'>> {
  if (input.fxQuoteId !== null && input.fxQuoteId !== undefined)
    return err(invalidInput('fxQuoteId', 'createPayments takes no FX quotes: pay with a quote through createPayment'));
  if (parsed.ok && hasExtraLegs(parsed.value))
    return err(
      invalidInput('splits', 'createPayments takes payments without splits or campaign; send those with createPayment'),
    );
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
