import { parseId } from '@paygraph/shared/ids';
import type { Account, PostingSpec } from '@paygraph/shared/ledger/index';
import { err, ok, type Result } from '@paygraph/shared/result';
import type { Currency } from '@paygraph/shared/money';
import { invalidInput, type CreatePaymentError, type MoneyErrorOf } from './errors';
import { fxPaymentDebitSpec, type FxPositions, type FxSides } from './fx-legs';
import { hasExtraLegs, type ParsedPayment } from './inputs';
import { holdCaptureSpec, paymentDebitSpec } from './legs';
import { campaignDiscount, planLegs, receivingShares, type CampaignTerms, type PaymentLeg } from './payment-legs';

/**
 * Every payment as a plan of legs, decided without I/O (docs/PAYMENTS.md, "One payment
 * pipeline"): services/payment.ts reads the facts a plan needs, asks planPayment, claims the
 * plan's key and posts it. The shapes differ only in their legs:
 *   TWO_LEGS  PAYER and PAYEE of the whole amount, in one currency (createPayment, createPayments)
 *   FX        PAYER in the quote's sell currency and PAYEE in its buy currency; the payer's
 *             shard's FX positions take the other side of each (domain/fx-legs.ts)
 *   LEGS      PAYER, CAMPAIGN (its discount), PAYEE and SPLITs (domain/payment-legs.ts)
 *   CAPTURE   a hold's capture (planCapture): PAYER and PAYEE of the captured amount, the PAYER
 *             leg paying from what the hold froze; the rest of the hold returns to available
 */
export type PaymentShape =
  | { kind: 'TWO_LEGS' }
  | { kind: 'FX'; quoteId: string }
  | { kind: 'LEGS' }
  | { kind: 'CAPTURE'; holdId: string; held: bigint };

/** An FX quote's terms as a payment checks them (db fx_quotes). */
export interface QuoteTerms {
  id: string;
  createdBy: string;
  sellCurrency: string;
  sellAmount: bigint;
  buyCurrency: string;
  buyAmount: bigint;
}

/** A campaign as a payment weighs it: its terms and the account that funds its discounts. */
export interface CampaignFacts {
  terms: CampaignTerms;
  fundingAccountId: string;
}

/**
 * What a plan is decided from: the accounts read (clients' only), the campaign and quote named, the caller and the
 * time.
 */
export interface PaymentFacts {
  accounts: ReadonlyMap<string, Account>;
  campaign: CampaignFacts | null;
  quote: QuoteTerms | undefined;
  callerId: string;
  now: Date;
}

/**
 * What a plan reads of its payer: facts fixed when the account was opened (its owner, type,
 * currency, entity), so a copy read before is as good as a read now (services/payer-facts.ts).
 * Its status and balances are the posting's to decide, under the payer's lock
 * (posting-rules.ts): a plan never reads them.
 */
export type PayerFacts = Pick<Account, 'id' | 'ownerId' | 'type' | 'parentId' | 'currency' | 'entity'>;

export interface PaymentPlan {
  request: ParsedPayment;
  shape: PaymentShape;
  payer: PayerFacts;
  payee: Account;
  /** In their fixed order (payment-legs.ts planLegs); an FX plan's PAYEE leg is the quote's buy side. */
  legs: PaymentLeg[];
  campaignId: string | null;
}

/** The shape a request asks for, refusing what no shape carries: an FX quote with splits or a campaign. */
export function shapeOf(
  request: ParsedPayment,
  fxQuoteId: string | null | undefined,
): Result<PaymentShape, CreatePaymentError> {
  if (fxQuoteId === null || fxQuoteId === undefined)
    return ok(hasExtraLegs(request) ? { kind: 'LEGS' } : { kind: 'TWO_LEGS' });
  if (!parseId('fxQuote', fxQuoteId)) return err(invalidInput('fxQuoteId', `"${fxQuoteId}" is not a quote id`));
  // An FX payment is the two-leg case: a quote prices one payee's buy side, so which currency a
  // split or a discount would be in, and who would bear its exchange, is not defined.
  if (request.splits.length > 0)
    return err(
      invalidInput(
        'splits',
        'a payment with an fxQuoteId takes no splits: an FX payment has one payer and one payee leg',
      ),
    );
  if (request.campaignId !== null)
    return err(
      invalidInput(
        'campaignId',
        'a payment with an fxQuoteId takes no campaign: an FX payment has one payer and one payee leg',
      ),
    );
  return ok({ kind: 'FX', quoteId: fxQuoteId });
}

/**
 * A payment key's content (the idempotency module's request-hash.ts): the two-leg fields, and the quote of an FX
 * payment or the splits and campaign of a payment of legs. As payments have always hashed it,
 * so that keys claimed before still recognise their replays.
 */
export function paymentKeyContent(request: ParsedPayment, shape: PaymentShape): Record<string, string | bigint | null> {
  const content = {
    payer: request.payerAccountId,
    payee: request.payeeAccountId,
    amount: request.amount,
    currency: request.currency,
    description: request.description,
  };
  if (shape.kind === 'FX') return { ...content, fxQuoteId: shape.quoteId };
  if (shape.kind === 'LEGS')
    return {
      ...content,
      splits: request.splits.map((s) => `${s.accountId}:${s.amount}`).join(','),
      campaign: request.campaignId,
    };
  return content;
}

/**
 * The plan, or the refusal: every receiver found, active and (without a quote) in the payment's
 * currency; a quote the caller's and matching the payment; a campaign applicable. The payer's
 * account is checked by the service first, with the caller's right to pay from it.
 */
export function planPayment(
  request: ParsedPayment,
  shape: PaymentShape,
  payer: PayerFacts,
  facts: PaymentFacts,
): Result<PaymentPlan, CreatePaymentError> {
  for (const id of [request.payeeAccountId, ...request.splits.map((s) => s.accountId)]) {
    const receiver = facts.accounts.get(id);
    if (!receiver) return err({ kind: 'AccountNotFound', accountId: id });
    if (receiver.status !== 'ACTIVE') return err({ kind: 'AccountNotActive', accountId: id, status: receiver.status });
    if (shape.kind !== 'FX' && receiver.currency !== request.currency) {
      return err({
        kind: 'CurrencyMismatch',
        accountId: id,
        accountCurrency: receiver.currency,
        requestCurrency: request.currency,
      });
    }
  }
  const payee = facts.accounts.get(request.payeeAccountId)!;
  const base = { request, shape, payer, payee, campaignId: null };
  if (shape.kind === 'FX') {
    const refused = quoteRefusal(request, shape.quoteId, facts.quote, facts.callerId, payer, payee);
    if (refused) return err(refused);
    const quote = facts.quote!;
    return ok({
      ...base,
      legs: [
        { index: 0, role: 'PAYER', accountId: payer.id, amount: quote.sellAmount, currency: quote.sellCurrency },
        { index: 1, role: 'PAYEE', accountId: payee.id, amount: quote.buyAmount, currency: quote.buyCurrency },
      ],
    });
  }
  const undiscounted = planLegs({ ...request, discount: null });
  if (!undiscounted.ok) return undiscounted;
  if (!facts.campaign) return ok({ ...base, legs: undiscounted.value });
  const discount = campaignDiscountOf(facts.campaign, request, payer, undiscounted.value, facts);
  if (!discount.ok) return discount;
  const legs = planLegs({
    ...request,
    discount: { fundingAccountId: facts.campaign.fundingAccountId, amount: discount.value },
  });
  if (!legs.ok) return legs;
  return ok({ ...base, legs: legs.value, campaignId: facts.campaign.terms.id });
}

/**
 * The receivers' owners were read with the accounts: the campaign's rule (payment-legs.ts campaignDiscount) costs no
 * read.
 */
function campaignDiscountOf(
  campaign: CampaignFacts,
  request: ParsedPayment,
  payer: PayerFacts,
  legs: readonly PaymentLeg[],
  facts: PaymentFacts,
): Result<bigint, MoneyErrorOf<'CampaignNotApplicable'>> {
  const receiving = receivingShares(legs, (id) => facts.accounts.get(id)!.ownerId);
  return campaignDiscount(
    campaign.terms,
    { payerOwnerId: payer.ownerId, currency: request.currency, receiving },
    facts.now,
  );
}

/** The quote's own refusals against this payment: its maker, its currencies and its sell amount. */
function quoteRefusal(
  request: ParsedPayment,
  quoteId: string,
  quote: QuoteTerms | undefined,
  callerId: string,
  payer: PayerFacts,
  payee: Account,
): CreatePaymentError | null {
  if (!quote || quote.createdBy !== callerId) return invalidInput('fxQuoteId', `no quote ${quoteId} of yours`);
  const mismatch = (field: string, message: string): CreatePaymentError => ({
    kind: 'FxQuoteMismatch',
    quoteId,
    field,
    message,
  });
  if (request.currency !== quote.sellCurrency)
    return mismatch('currency', `the payment is in ${request.currency}; quote ${quoteId} sells ${quote.sellCurrency}`);
  if (request.amount !== quote.sellAmount)
    return mismatch('amount', `the payment is ${request.amount}; quote ${quoteId} sells ${quote.sellAmount}`);
  if (payer.currency !== quote.sellCurrency)
    return mismatch(
      'payerAccountId',
      `the payer holds ${payer.currency}; quote ${quoteId} sells ${quote.sellCurrency}`,
    );
  if (payee.currency !== quote.buyCurrency)
    return mismatch('payeeAccountId', `the payee holds ${payee.currency}; quote ${quoteId} buys ${quote.buyCurrency}`);
  return null;
}

/** A hold as its capture is planned from (db holds): who it is between and what it froze. */
export interface HeldFacts {
  id: string;
  payerAccountId: string;
  payeeAccountId: string;
  amount: bigint;
  currency: string;
  description: string | null;
}

/**
 * A hold's capture as a plan: the payment of `captured` (decided by hold-rules.ts decideCapture,
 * at most the held amount) from the hold's payer to its payee, whose PAYER leg pays from FROZEN.
 * Nothing to refuse here: the hold was checked when it was made, the payee by the ledger under
 * the posting's locks, and whether the hold may still end under its own lock (services/hold.ts).
 */
export function planCapture(
  hold: HeldFacts,
  captured: bigint,
  payer: Account,
  payee: Account,
  idempotencyKey: string,
): PaymentPlan {
  // The hold's currency was parsed when the hold was made (domain/inputs.ts parseCreateHold, as a payment's).
  const currency = hold.currency as Currency;
  const request: ParsedPayment = {
    idempotencyKey,
    payerAccountId: hold.payerAccountId,
    payeeAccountId: hold.payeeAccountId,
    amount: captured,
    currency,
    description: hold.description,
    splits: [],
    campaignId: null,
  };
  return {
    request,
    shape: { kind: 'CAPTURE', holdId: hold.id, held: hold.amount },
    payer,
    payee,
    campaignId: null,
    legs: [
      { index: 0, role: 'PAYER', accountId: payer.id, amount: captured, currency, from: 'FROZEN' },
      { index: 1, role: 'PAYEE', accountId: payee.id, amount: captured, currency },
    ],
  };
}

/**
 * Where the payer's shard credits a two-leg plan: the payee there, a merchant's stripe there (pending), or clearing.
 */
export interface DebitCredit {
  accountId: string;
  bucket: 'AVAILABLE' | 'PENDING';
}

/** What an FX plan's exchange moves through: the FX position accounts of the payer's shard. */
export function fxSidesOf(plan: Pick<PaymentPlan, 'legs'>): FxSides {
  const [payer, payee] = plan.legs;
  return {
    sellAmount: payer!.amount,
    sellCurrency: payer!.currency,
    buyAmount: payee!.amount,
    buyCurrency: payee!.currency,
  };
}

/**
 * A two-leg plan's posting on the payer's shard (its first half, keyed by the payment): the
 * PAYER leg debited and the PAYEE leg credited where `credit` says; an FX plan's legs each in
 * their own currency, the positions taking the other side (domain/fx-legs.ts); a capture's
 * PAYER leg from frozen, the whole hold leaving it (posting kind HOLD_CAPTURE, as it always was).
 */
export function twoLegDebitSpec(
  plan: PaymentPlan,
  paymentId: string,
  postingId: string,
  credit: DebitCredit,
  positions: FxPositions | null,
): PostingSpec {
  const { shape } = plan;
  if (shape.kind === 'FX')
    return fxPaymentDebitSpec(paymentId, postingId, plan.payer.id, credit, fxSidesOf(plan), positions!);
  if (shape.kind === 'CAPTURE') {
    const paying = plan.legs[0]!;
    const hold = { id: shape.holdId, currency: paying.currency, amount: shape.held };
    return holdCaptureSpec(
      hold,
      { id: paymentId, currency: paying.currency, amount: paying.amount },
      postingId,
      plan.payer.id,
      credit.accountId,
      credit.bucket,
    );
  }
  const movement = { id: paymentId, currency: plan.request.currency, amount: plan.request.amount };
  return paymentDebitSpec(movement, postingId, plan.payer.id, credit.accountId, credit.bucket);
}
