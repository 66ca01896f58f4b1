import { refundLegChanges, type LegRole } from '@paygraph/transaction/domain/payment-legs';
import { planPieces } from '@paygraph/settlement/domain/advances';
import type { StripeGiveBack } from '@paygraph/transaction/domain/refund-rules';
import { planRefundCover, type CoverMove } from '@paygraph/transaction/domain/refund-cover';

/**
 * The simulator's reference model (pure: no I/O, no clock, no randomness): plain bigint
 * balances of every account the simulation opened, the payments, holds, campaigns and FX
 * quotes it made, and what each operation must answer. Accounts, payments and holds are named
 * by handles (indexes into the model's lists); the driver binds each handle to the id the API
 * answered. The rules are those of the contract's comments and the services, with issue 31's
 * campaign and FX refund rules (see predictLegPayment and fxReturnedAfter), and issue 33's
 * settlement advances (advance, offerOf, settle): per merchant stripe, the outstanding advance and
 * what refunds repaid of it; the pieces are the service's own planPieces (a pure domain function).
 */
export type Bucket = 'available' | 'pending' | 'frozen';
export interface Buckets {
  available: bigint;
  pending: bigint;
  frozen: bigint;
}
export type Role = 'customer' | 'merchant' | 'partner';

export interface ModelAccount {
  handle: number;
  owner: string;
  currency: string;
  type: 'PERSONAL' | 'MERCHANT';
  /** The account's home database. */
  shard: number;
  /** Its id's logical shard: the key of its home row among its stripes. */
  logical: number;
  /**
   * Per logical shard: the home row, and a merchant's stripes on the payers' logical shards (a stripe is on its payer's
   * logical shard: ledger rules/stripe-directory.ts stripeIdOf).
   */
  stripes: Map<number, Buckets>;
  /** The credit line (issue 33): the home row's available may go down to −creditLimit; stripes never below 0. */
  creditLimit: bigint;
  /** A merchant's advance terms (issue 33), null until an operator sets them. */
  advanceTerms: AdvanceTerms | null;
  /** Per stripe (logical shard): what advances moved out of its pending and no settlement has covered yet. */
  outstanding: Map<number, bigint>;
  /**
   * Per stripe: what refunds of unsettled money took from available (pending lacked it: an
   * advance had moved it out), not yet taken off `outstanding` by the stripe's next settlement part.
   */
  repaid: Map<number, bigint>;
  /** The business days (indexes) settled already: a second run of one changes nothing. */
  settledDays: Set<number>;
  /**
   * Money in less money out, fees included, counted from the flows rather than the buckets: for a
   * merchant, deposits + credits − refunds given back − settlement and advance fees. It must equal
   * available + pending + frozen: no pending is paid out twice (an advance and its settlement).
   */
  flow: bigint;
}

export interface AdvanceTerms {
  maxAdvanceBps: number;
  feeBps: number;
  outstandingMax: bigint;
}

/** An advance the model paid: replaying its key (same caller, same body) answers it again. */
export interface ModelAdvance {
  handle: number;
  merchant: number;
  caller: string;
  amount: bigint;
  fee: bigint;
}

export type Route = 'SAME_SHARD' | 'CROSS_SHARD' | 'MERCHANT_STRIPE' | 'LEGS';

export interface ModelLeg {
  role: LegRole;
  account: number;
  amount: bigint;
  refunded: bigint;
  /** Where a leg landed: the row's logical shard (a merchant's stripe there) and bucket (a stripe's pending). */
  shard: number;
  bucket: 'available' | 'pending';
  /** A merchant credit settled: its refunds then come from available. */
  settled: boolean;
}

export interface ModelPayment {
  handle: number;
  payer: number;
  payee: number;
  amount: bigint;
  currency: string;
  route: Route;
  status: 'SUCCEEDED' | 'FAILED';
  refunded: bigint;
  legs: ModelLeg[];
  discount: bigint;
  campaign: number | null;
  fx: { sellAmount: bigint; buyAmount: bigint; buyCurrency: string; returned: bigint } | null;
  /** The business date its merchant credits settle on. */
  businessDate: string;
}

export interface ModelHold {
  handle: number;
  payer: number;
  payee: number;
  amount: bigint;
  status: 'HELD' | 'CAPTURED' | 'VOIDED' | 'EXPIRED';
  createdDay: number;
}

/**
 * HOLD_TTL_SECONDS' default, in the run's day steps: a hold this many days old has expired (no expiry worker runs in
 * the stack, so its money stays frozen until a void of it releases it).
 */
export const holdTtlDays = 7;

function expired(m: Model, h: ModelHold): boolean {
  return m.day - h.createdDay >= holdTtlDays;
}

export interface ModelCampaign {
  handle: number;
  funding: number;
  currency: string;
  percentOffBps: number | null;
  amountOff: bigint | null;
  maxDiscountPerPayment: bigint | null;
  payees: number[] | null;
  endsAtDay: number | null;
  /** Discounts paid less what refunds returned to the funding account. */
  spent: bigint;
}

/** What an operation must answer. */
export type Expected =
  | { kind: 'ok'; status?: 'SUCCEEDED' | 'FAILED'; discount?: bigint; same?: string; advance?: ModelAdvance }
  | { kind: 'error'; codes: string[] }
  | { kind: 'forbidden' };

export interface Model {
  accounts: ModelAccount[];
  payments: ModelPayment[];
  holds: ModelHold[];
  campaigns: ModelCampaign[];
  advances: ModelAdvance[];
  roles: Map<string, Role>;
  /** The platform's FX position per currency: what it holds (+) or owes (−) from FX payments and refunds. */
  fxPosition: Map<string, bigint>;
  /** How many moves of available a refund made to the row it gives back from: the run's tally shows them. */
  topUps: number;
  /** How many moves of pending from another stripe a refund of advanced money made (issue 45). */
  pendingMoves: number;
  /** Settlement fee income per currency. */
  feeIncome: Map<string, bigint>;
  amountMax: bigint;
  feeBps: number;
  /** Days the clock has moved; business dates by day. */
  day: number;
  businessDates: string[];
}

export function newModel(amountMax: bigint, feeBps: number, businessDate: string): Model {
  return {
    accounts: [],
    payments: [],
    holds: [],
    campaigns: [],
    advances: [],
    roles: new Map(),
    fxPosition: new Map(),
    feeIncome: new Map(),
    topUps: 0,
    pendingMoves: 0,
    amountMax,
    feeBps,
    day: 0,
    businessDates: [businessDate],
  };
}

const zero = (): Buckets => ({ available: 0n, pending: 0n, frozen: 0n });
const fail = (...codes: string[]): Expected => ({ kind: 'error', codes });
const forbidden: Expected = { kind: 'forbidden' };

export function addAccount(
  m: Model,
  owner: string,
  currency: string,
  type: 'PERSONAL' | 'MERCHANT',
  shard: number,
  logical: number,
): ModelAccount {
  const account: ModelAccount = {
    handle: m.accounts.length,
    owner,
    currency,
    type,
    shard,
    logical,
    stripes: new Map([[logical, zero()]]),
    creditLimit: 0n,
    advanceTerms: null,
    outstanding: new Map(),
    repaid: new Map(),
    settledDays: new Set(),
    flow: 0n,
  };
  m.accounts.push(account);
  return account;
}

export function stripe(a: ModelAccount, shard: number): Buckets {
  let s = a.stripes.get(shard);
  if (!s) a.stripes.set(shard, (s = zero()));
  return s;
}

/** The balance clients see: a merchant's is the sum of its stripes. */
export function balanceOf(a: ModelAccount): Buckets {
  const total = zero();
  for (const s of a.stripes.values()) {
    total.available += s.available;
    total.pending += s.pending;
    total.frozen += s.frozen;
  }
  return total;
}

/** Whether `caller` may move money the account holds (services' mayWrite; the operator always). */
function mayWrite(m: Model, caller: string, a: ModelAccount): boolean {
  if (caller === 'operator') return true;
  const role = m.roles.get(caller);
  return (role === 'customer' || role === 'merchant') && caller === a.owner;
}

function validAmount(m: Model, amount: bigint): boolean {
  return amount > 0n && amount <= m.amountMax;
}

/** Where a payer's database credits a receiver: a merchant's stripe there (pending), else the account (available). */
function creditPlace(payer: ModelAccount, receiver: ModelAccount): { shard: number; bucket: 'available' | 'pending' } {
  return receiver.type === 'MERCHANT'
    ? { shard: payer.logical, bucket: 'pending' }
    : { shard: receiver.logical, bucket: 'available' };
}

function routeOf(payer: ModelAccount, payee: ModelAccount): Route {
  if (payee.type === 'MERCHANT') return 'MERCHANT_STRIPE';
  return payer.shard === payee.shard ? 'SAME_SHARD' : 'CROSS_SHARD';
}

function add(map: Map<string, bigint>, key: string, amount: bigint): void {
  map.set(key, (map.get(key) ?? 0n) + amount);
}

/** How low a row's available may go: the home row's −creditLimit, a stripe elsewhere 0 (posting-rules floorOf). */
export function floorOf(a: ModelAccount, shard: number): bigint {
  return shard === a.logical ? -a.creditLimit : 0n;
}

/**
 * Whether the account's home row can pay `amount` out of available, its credit line included. Only a debit is held
 * to the floor (posting-rules applyPosting), as canTake says: paying nothing (a payer whose campaign covers the whole
 * amount) is allowed to an account whose lowered credit line left it below its floor, since it owes no more after.
 */
function canSpend(a: ModelAccount, amount: bigint): boolean {
  if (amount <= 0n) return true;
  return stripe(a, a.logical).available - amount >= floorOf(a, a.logical);
}

/**
 * Takes `amount` from a bucket, a pending one falling back to available for what it lacks
 * (posting-rules movements); available may go down to `floor` (a credit line), pending not below 0.
 */
function canTake(
  s: Buckets,
  bucket: 'available' | 'pending',
  amount: bigint,
  fallback: boolean,
  floor: bigint,
): boolean {
  if (amount <= 0n) return true;
  if (fallback && bucket === 'pending') {
    const fromPending = s.pending > 0n ? (s.pending < amount ? s.pending : amount) : 0n;
    return fromPending === amount || s.available - (amount - fromPending) >= floor;
  }
  return s[bucket] - amount >= (bucket === 'available' ? floor : 0n);
}

/** Answers what a pending take drew from available because pending lacked it (0 otherwise). */
function take(s: Buckets, bucket: 'available' | 'pending', amount: bigint, fallback: boolean): bigint {
  if (amount < 0n) {
    s[bucket] -= amount;
    return 0n;
  }
  if (!(fallback && bucket === 'pending') || s.pending >= amount) {
    s[bucket] -= amount;
    return 0n;
  }
  const fromPending = s.pending > 0n ? s.pending : 0n;
  s.pending -= fromPending;
  s.available -= amount - fromPending;
  return amount - fromPending;
}

/**
 * A receiver gives `amount` back for a refund: an unsettled merchant credit from its stripe's
 * pending first, then available (docs/SETTLEMENT.md, "A refund after an advance"); what came
 * from available is the merchant repaying an advance, counted at the stripe's next settlement.
 */
function giveBack(a: ModelAccount, shard: number, bucket: 'available' | 'pending', amount: bigint): void {
  const fromAvailable = take(stripe(a, shard), bucket, amount, true);
  if (bucket === 'pending' && fromAvailable > 0n) add2(a.repaid, shard, fromAvailable);
  a.flow -= amount;
}

function add2(map: Map<number, bigint>, key: number, amount: bigint): void {
  map.set(key, (map.get(key) ?? 0n) + amount);
}

// --- deposits and withdrawals ----------------------------------------------------------------

export function deposit(m: Model, caller: string, a: ModelAccount, amount: bigint): Expected {
  if (caller !== 'operator') return forbidden;
  if (!validAmount(m, amount)) return fail('INVALID_INPUT');
  stripe(a, a.logical).available += amount;
  a.flow += amount;
  return { kind: 'ok' };
}

export function withdraw(m: Model, caller: string, a: ModelAccount, amount: bigint): Expected {
  if (!validAmount(m, amount)) return fail('INVALID_INPUT');
  if (!mayWrite(m, caller, a)) return forbidden;
  const home = stripe(a, a.logical);
  if (a.type === 'MERCHANT') sweepHome(a, amount);
  if (!canSpend(a, amount)) return fail('INSUFFICIENT_FUNDS');
  home.available -= amount;
  a.flow -= amount;
  return { kind: 'ok' };
}

/**
 * A merchant's withdrawal first sweeps what its home row lacks from its other stripes
 * (services/sweep.ts), also when the withdrawal is then refused: the sweeps stay, the merchant's
 * own money moved home. The service sweeps in stripe id order, which the model does not know, so
 * the generator draws merchant withdrawals that drain every other stripe (order then does not
 * matter); any other is a bug in the generator.
 */
function sweepHome(a: ModelAccount, amount: bigint): void {
  const home = stripe(a, a.logical);
  if (home.available >= amount) return;
  let needed = amount - home.available;
  const others = [...a.stripes].filter(([shard, s]) => shard !== a.logical && s.available > 0n);
  const held = others.reduce((t, [, s]) => t + s.available, 0n);
  if (held > needed)
    throw new Error(
      `a merchant withdrawal of ${amount} sweeps part of ${held}: the generator draws only withdrawals that drain every stripe`,
    );
  for (const [, s] of others) {
    needed -= s.available;
    home.available += s.available;
    s.available = 0n;
  }
}

// --- payments --------------------------------------------------------------------------------

function newPayment(m: Model, p: Omit<ModelPayment, 'handle' | 'refunded' | 'status' | 'businessDate'>): ModelPayment {
  const payment: ModelPayment = {
    ...p,
    handle: m.payments.length,
    refunded: 0n,
    status: 'SUCCEEDED',
    businessDate: m.businessDates[m.day]!,
  };
  m.payments.push(payment);
  return payment;
}

/** The refusals every payment shape shares, before the ledger decides. */
function paymentPreamble(
  m: Model,
  caller: string,
  payer: ModelAccount,
  payee: ModelAccount,
  amount: bigint,
): Expected | null {
  if (!validAmount(m, amount)) return fail('INVALID_INPUT');
  if (payer === payee) return fail('SAME_ACCOUNT');
  if (!mayWrite(m, caller, payer)) return forbidden;
  return null;
}

/** A two-leg payment (createPayment, each of createPayments, a hold's capture shares its crediting). */
export function plainPayment(
  m: Model,
  caller: string,
  payer: ModelAccount,
  payee: ModelAccount,
  amount: bigint,
): Expected {
  const early = paymentPreamble(m, caller, payer, payee, amount);
  if (early) return early;
  if (payee.currency !== payer.currency) return fail('CURRENCY_MISMATCH');
  const from = stripe(payer, payer.logical);
  if (!canSpend(payer, amount)) return fail('INSUFFICIENT_FUNDS');
  from.available -= amount;
  credit(m, payer, payee, amount, payer.currency, null, null, 0n);
  return { kind: 'ok', status: 'SUCCEEDED' };
}

function credit(
  m: Model,
  payer: ModelAccount,
  payee: ModelAccount,
  amount: bigint,
  currency: string,
  fx: ModelPayment['fx'],
  campaign: number | null,
  discount: bigint,
): ModelPayment {
  const place = creditPlace(payer, payee);
  stripe(payee, place.shard)[place.bucket] += amount;
  payee.flow += amount;
  const legs: ModelLeg[] = [
    {
      role: 'PAYER',
      account: payer.handle,
      amount: fx ? fx.sellAmount : amount,
      refunded: 0n,
      shard: payer.logical,
      bucket: 'available',
      settled: false,
    },
    { role: 'PAYEE', account: payee.handle, amount, refunded: 0n, ...place, settled: false },
  ];
  return newPayment(m, {
    payer: payer.handle,
    payee: payee.handle,
    amount: fx ? fx.sellAmount : amount,
    currency,
    route: routeOf(payer, payee),
    legs,
    discount,
    campaign,
    fx,
  });
}

export interface LegRequest {
  payer: ModelAccount;
  payee: ModelAccount;
  amount: bigint;
  splits: Array<{ account: ModelAccount; amount: bigint }>;
  campaign: ModelCampaign | null;
}

/** The campaign's discount by issue 31's rule, or the refusal. */
export function campaignDiscount(m: Model, r: LegRequest, c: ModelCampaign): bigint | Expected {
  const receiving = [{ account: r.payee, amount: r.amount - r.splits.reduce((s, x) => s + x.amount, 0n) }, ...r.splits];
  if (c.endsAtDay !== null && m.day >= c.endsAtDay) return fail('CAMPAIGN_NOT_APPLICABLE');
  if (c.currency !== r.payer.currency) return fail('CAMPAIGN_NOT_APPLICABLE');
  if (receiving.some((leg) => leg.account.owner === r.payer.owner)) return fail('CAMPAIGN_NOT_APPLICABLE');
  const eligible = receiving.reduce(
    (s, leg) => (c.payees === null || c.payees.includes(leg.account.handle) ? s + leg.amount : s),
    0n,
  );
  if (eligible === 0n) return fail('CAMPAIGN_NOT_APPLICABLE');
  const raw =
    c.percentOffBps !== null
      ? (eligible * BigInt(c.percentOffBps)) / 10_000n
      : c.amountOff! < eligible
        ? c.amountOff!
        : eligible;
  return c.maxDiscountPerPayment !== null && c.maxDiscountPerPayment < raw ? c.maxDiscountPerPayment : raw;
}

/** A payment with splits or a campaign (CreateMarketplacePayment). */
export function legPayment(m: Model, caller: string, r: LegRequest): Expected {
  if (!validAmount(m, r.amount)) return fail('INVALID_INPUT');
  if (r.payer === r.payee) return fail('SAME_ACCOUNT');
  const seen = new Set([r.payer.handle, r.payee.handle]);
  for (const s of r.splits) {
    if (seen.has(s.account.handle) || !validAmount(m, s.amount)) return fail('INVALID_INPUT');
    seen.add(s.account.handle);
  }
  if (r.splits.length > 10) return fail('INVALID_INPUT');
  if (!mayWrite(m, caller, r.payer)) return forbidden;
  if ([r.payee, ...r.splits.map((s) => s.account)].some((a) => a.currency !== r.payer.currency))
    return fail('CURRENCY_MISMATCH');
  const splitsTotal = r.splits.reduce((s, x) => s + x.amount, 0n);
  let discount = 0n;
  if (r.campaign) {
    const decided = campaignDiscount(m, r, r.campaign);
    if (splitsTotal > r.amount) return fail('SPLITS_EXCEED_AMOUNT', 'CAMPAIGN_NOT_APPLICABLE');
    if (typeof decided !== 'bigint') return decided;
    discount = decided;
  }
  if (splitsTotal > r.amount) return fail('SPLITS_EXCEED_AMOUNT');
  const funding = r.campaign && discount > 0n ? m.accounts[r.campaign.funding]! : null;
  const payerFunds = stripe(r.payer, r.payer.logical);
  const payerShort = !canSpend(r.payer, r.amount - discount);
  const fundingShort = funding !== null && !canSpend(funding, discount);
  if (fundingShort && payerShort && funding!.shard === r.payer.shard)
    return fail('CAMPAIGN_EXHAUSTED', 'INSUFFICIENT_FUNDS');
  if (fundingShort) return fail('CAMPAIGN_EXHAUSTED');
  // A funding account elsewhere posts first: the payer's refusal then fails a payment that exists.
  if (payerShort && funding !== null && funding.shard !== r.payer.shard)
    return { kind: 'ok', status: 'FAILED', discount };
  if (payerShort) return fail('INSUFFICIENT_FUNDS');
  payerFunds.available -= r.amount - discount;
  const legs: ModelLeg[] = [
    {
      role: 'PAYER',
      account: r.payer.handle,
      amount: r.amount - discount,
      refunded: 0n,
      shard: r.payer.logical,
      bucket: 'available',
      settled: false,
    },
  ];
  if (funding) {
    stripe(funding, funding.logical).available -= discount;
    r.campaign!.spent += discount;
    legs.push({
      role: 'CAMPAIGN',
      account: funding.handle,
      amount: discount,
      refunded: 0n,
      shard: funding.logical,
      bucket: 'available',
      settled: false,
    });
  }
  for (const [role, account, amount] of [
    ['PAYEE', r.payee, r.amount - splitsTotal] as const,
    ...r.splits.map((s) => ['SPLIT', s.account, s.amount] as const),
  ]) {
    const place = creditPlace(r.payer, account);
    stripe(account, place.shard)[place.bucket] += amount;
    account.flow += amount;
    legs.push({ role, account: account.handle, amount, refunded: 0n, ...place, settled: false });
  }
  // No splits and no campaign: the service plans the two legs of a plain payment (hasExtraLegs), whose
  // refund the payee cannot give back is refused (or, across shards, FAILED) as a plain payment's is.
  const route = r.splits.length === 0 && r.campaign === null ? routeOf(r.payer, r.payee) : 'LEGS';
  newPayment(m, {
    payer: r.payer.handle,
    payee: r.payee.handle,
    amount: r.amount,
    currency: r.payer.currency,
    route,
    legs,
    discount,
    campaign: r.campaign?.handle ?? null,
    fx: null,
  });
  return { kind: 'ok', status: 'SUCCEEDED', discount };
}

/** An FX payment with a quote the caller made: sellAmount of the payer's currency for buyAmount of the payee's. */
export function fxPayment(
  m: Model,
  caller: string,
  payer: ModelAccount,
  payee: ModelAccount,
  sellAmount: bigint,
  buyAmount: bigint,
): Expected {
  const early = paymentPreamble(m, caller, payer, payee, sellAmount);
  if (early) return early;
  const from = stripe(payer, payer.logical);
  if (!canSpend(payer, sellAmount)) return fail('INSUFFICIENT_FUNDS');
  from.available -= sellAmount;
  add(m.fxPosition, payer.currency, sellAmount);
  add(m.fxPosition, payee.currency, -buyAmount);
  credit(
    m,
    payer,
    payee,
    buyAmount,
    payer.currency,
    { sellAmount, buyAmount, buyCurrency: payee.currency, returned: 0n },
    null,
    0n,
  );
  return { kind: 'ok', status: 'SUCCEEDED' };
}

/**
 * What the payee has given back of buyAmount once `refunded` of sellAmount is refunded: issue
 * 31's rule, rounded up (in the platform's favour), all of it once the whole is refunded.
 */
export function fxReturnedAfter(refunded: bigint, sellAmount: bigint, buyAmount: bigint): bigint {
  if (refunded >= sellAmount) return buyAmount;
  return (refunded * buyAmount + sellAmount - 1n) / sellAmount;
}

// --- refunds ---------------------------------------------------------------------------------

/**
 * A refund by the payee's owner (or an operator): local ones are refused when the payee lacks the money, the others
 * fail. The payee's owner may refund only a payment whose splits all paid accounts it owns (it takes back its own
 * money, not another owner's); an operator refunds any.
 */
export function refund(m: Model, caller: string, p: ModelPayment, amount: bigint): Expected {
  if (!validAmount(m, amount)) return fail('INVALID_INPUT');
  const payee = m.accounts[p.payee]!;
  const ownsSplits = p.legs.every((leg) => leg.role !== 'SPLIT' || m.accounts[leg.account]!.owner === caller);
  const payeesOwner = caller === payee.owner && m.roles.get(caller) !== 'partner' && ownsSplits;
  if (caller !== 'operator' && !payeesOwner) return forbidden;
  if (p.status !== 'SUCCEEDED') return fail('PAYMENT_NOT_REFUNDABLE');
  if (amount > p.amount - p.refunded) return fail('REFUND_EXCEEDS_PAYMENT');
  const after = p.refunded + amount;
  topUpStripes(m, p, receiverShares(m, p, amount, after));
  const shortfall = p.route === 'LEGS' ? refundLegs(m, p, after) : refundTwoLegs(m, p, amount, after);
  if (shortfall)
    return p.route === 'SAME_SHARD' || p.route === 'MERCHANT_STRIPE'
      ? fail('INSUFFICIENT_FUNDS')
      : { kind: 'ok', status: 'FAILED' };
  p.refunded = after;
  return { kind: 'ok', status: 'SUCCEEDED' };
}

/** What each receiving leg gives back in a refund to `after`: the payee's share (FX: of buy), or every leg's change. */
function receiverShares(
  m: Model,
  p: ModelPayment,
  amount: bigint,
  after: bigint,
): Array<{ leg: ModelLeg; share: bigint }> {
  if (p.route === 'LEGS') {
    const changes = refundLegChanges(p.legs, p.amount, after);
    return p.legs
      .map((leg, i) => ({ leg, share: changes[i]! }))
      .filter(({ leg }) => leg.role === 'PAYEE' || leg.role === 'SPLIT');
  }
  const share = p.fx ? fxReturnedAfter(after, p.fx.sellAmount, p.fx.buyAmount) - p.fx.returned : amount;
  return [{ leg: p.legs[1]!, share: share > 0n ? share : 0n }];
}

/**
 * Before a refund, each merchant row it gives back from gets what it lacks from the merchant's
 * other rows (services/refund-top-up.ts), as the service plans it (domain/refund-cover.ts
 * planRefundCover, the same pure function): pending from other stripes first, then available
 * from other stripes, then the home row's available and line. All of a merchant's moves, or none
 * when its rows cannot cover its shares; then no later merchant either (the payee's come first:
 * the legs' order). What moved stays where it went when the refund then fails: the merchant's own
 * money, its flow unchanged.
 */
function topUpStripes(m: Model, p: ModelPayment, shares: ReadonlyArray<{ leg: ModelLeg; share: bigint }>): void {
  const byMerchant = new Map<number, Map<number, StripeGiveBack[]>>();
  for (const { leg, share } of shares) {
    const account = m.accounts[leg.account]!;
    if (account.type !== 'MERCHANT' || share <= 0n) continue;
    const rows = byMerchant.get(account.handle) ?? new Map<number, StripeGiveBack[]>();
    const list = rows.get(leg.shard) ?? [];
    list.push({ amount: share, fromPending: leg.bucket === 'pending' && !leg.settled });
    rows.set(leg.shard, list);
    byMerchant.set(account.handle, rows);
  }
  for (const [handle, targets] of byMerchant) {
    const account = m.accounts[handle]!;
    const plan = planRefundCover(
      [...targets].map(([shard, giveBacks]) => ({ rowId: String(shard), giveBacks })),
      [...account.stripes].map(([shard, s]) => ({
        id: String(shard),
        order: shard,
        home: shard === account.logical,
        pending: s.pending,
        available: s.available,
        creditLimit: shard === account.logical ? account.creditLimit : 0n,
        advanced: account.outstanding.get(shard) ?? 0n,
      })),
    );
    if (!plan.covered) return;
    for (const move of plan.moves) moveForRefund(m, account, move);
  }
}

/**
 * One move of a refund's plan. A move of pending takes the advance with it (settlement's write-model): the debited
 * stripe's outstanding up by all of it; the credited stripe first counts what refunds repaid of its advance, then
 * takes into pending what the advance still covers there (the rest, only ever after a race, into available).
 */
function moveForRefund(m: Model, a: ModelAccount, move: CoverMove): void {
  const from = Number(move.fromId);
  const to = Number(move.toId);
  if (move.bucket === 'AVAILABLE') {
    stripe(a, from).available -= move.amount;
    stripe(a, to).available += move.amount;
    m.topUps += 1;
    return;
  }
  stripe(a, from).pending -= move.amount;
  add2(a.outstanding, from, move.amount);
  add2(a.outstanding, to, -(a.repaid.get(to) ?? 0n));
  a.repaid.delete(to);
  const covered = a.outstanding.get(to) ?? 0n;
  const toPending = move.amount < covered ? move.amount : covered;
  add2(a.outstanding, to, -toPending);
  stripe(a, to).pending += toPending;
  stripe(a, to).available += move.amount - toPending;
  m.pendingMoves += 1;
}

/** Answers true (and changes nothing) when the payee cannot give its share back. */
function refundTwoLegs(m: Model, p: ModelPayment, amount: bigint, after: bigint): boolean {
  const payeeLeg = p.legs[1]!;
  const share = p.fx ? fxReturnedAfter(after, p.fx.sellAmount, p.fx.buyAmount) - p.fx.returned : amount;
  const owed = share > 0n ? share : 0n;
  const payee = m.accounts[p.payee]!;
  const from = stripe(payee, payeeLeg.shard);
  const bucket = payeeLeg.bucket === 'pending' && !payeeLeg.settled ? 'pending' : 'available';
  if (!canTake(from, bucket, owed, true, floorOf(payee, payeeLeg.shard))) return true;
  giveBack(payee, payeeLeg.shard, bucket, owed);
  stripe(m.accounts[p.payer]!, m.accounts[p.payer]!.logical).available += amount;
  if (p.fx) {
    p.fx.returned += owed;
    add(m.fxPosition, p.fx.buyCurrency, owed);
    add(m.fxPosition, p.currency, -amount);
  }
  return false;
}

function refundLegs(m: Model, p: ModelPayment, after: bigint): boolean {
  const changes = refundLegChanges(p.legs, p.amount, after);
  const receivers = p.legs
    .map((leg, i) => ({ leg, change: changes[i]! }))
    .filter(({ leg }) => leg.role === 'PAYEE' || leg.role === 'SPLIT');
  for (const { leg, change } of receivers) {
    const bucket = leg.bucket === 'pending' && !leg.settled ? 'pending' : 'available';
    const account = m.accounts[leg.account]!;
    if (!canTake(stripe(account, leg.shard), bucket, change, true, floorOf(account, leg.shard))) return true;
  }
  p.legs.forEach((leg, i) => {
    const change = changes[i]!;
    const s = stripe(m.accounts[leg.account]!, leg.shard);
    if (leg.role === 'PAYER' || leg.role === 'CAMPAIGN') s.available += change;
    else
      giveBack(
        m.accounts[leg.account]!,
        leg.shard,
        leg.bucket === 'pending' && !leg.settled ? 'pending' : 'available',
        change,
      );
    if (leg.role === 'CAMPAIGN') m.campaigns[p.campaign!]!.spent -= change;
    leg.refunded += change;
  });
  return false;
}

// --- credit lines (issue 33) -------------------------------------------------------------------

/** setCreditLimit: operators only (asked first), then the limit (0 to the largest), on a client account. */
export function setCreditLimit(m: Model, caller: string, a: ModelAccount, limit: bigint, limitMax: bigint): Expected {
  if (caller !== 'operator') return forbidden;
  if (limit < 0n || limit > limitMax) return fail('INVALID_INPUT');
  a.creditLimit = limit;
  return { kind: 'ok' };
}

/**
 * The exposure per currency the model predicts: Σ max(0, −available) over the accounts, and how many are below zero.
 */
export function exposureOf(m: Model): Map<string, { used: bigint; accounts: number }> {
  const exposure = new Map<string, { used: bigint; accounts: number }>();
  for (const a of m.accounts) {
    const available = balanceOf(a).available;
    if (available >= 0n) continue;
    const line = exposure.get(a.currency) ?? { used: 0n, accounts: 0 };
    line.used -= available;
    line.accounts += 1;
    exposure.set(a.currency, line);
  }
  return exposure;
}

// --- holds -----------------------------------------------------------------------------------

export function createHold(
  m: Model,
  caller: string,
  payer: ModelAccount,
  payee: ModelAccount,
  amount: bigint,
): Expected {
  const early = paymentPreamble(m, caller, payer, payee, amount);
  if (early) return early;
  if (payee.currency !== payer.currency) return fail('CURRENCY_MISMATCH');
  const s = stripe(payer, payer.logical);
  if (!canSpend(payer, amount)) return fail('INSUFFICIENT_FUNDS');
  s.available -= amount;
  s.frozen += amount;
  m.holds.push({
    handle: m.holds.length,
    payer: payer.handle,
    payee: payee.handle,
    amount,
    status: 'HELD',
    createdDay: m.day,
  });
  return { kind: 'ok' };
}

export function captureHold(m: Model, caller: string, h: ModelHold, amount: bigint | null): Expected {
  if (amount !== null && !validAmount(m, amount)) return fail('INVALID_INPUT');
  const payer = m.accounts[h.payer]!;
  if (!mayWrite(m, caller, payer)) return forbidden;
  if (amount !== null && amount > h.amount) return fail('CAPTURE_EXCEEDS_HOLD');
  if (h.status !== 'HELD' || expired(m, h)) return fail('HOLD_NOT_ACTIVE');
  const captured = amount ?? h.amount;
  const s = stripe(payer, payer.logical);
  s.frozen -= h.amount;
  s.available += h.amount - captured;
  h.status = 'CAPTURED';
  credit(m, payer, m.accounts[h.payee]!, captured, payer.currency, null, null, 0n);
  return { kind: 'ok', status: 'SUCCEEDED' };
}

export function voidHold(m: Model, caller: string, h: ModelHold): Expected {
  const payer = m.accounts[h.payer]!;
  if (!mayWrite(m, caller, payer)) return forbidden;
  if (h.status !== 'HELD') return fail('HOLD_NOT_ACTIVE');
  const s = stripe(payer, payer.logical);
  s.frozen -= h.amount;
  s.available += h.amount;
  // Past its deadline the void releases it as its expiry would, and is refused (services/hold.ts releaseHold).
  h.status = expired(m, h) ? 'EXPIRED' : 'VOIDED';
  return h.status === 'EXPIRED' ? fail('HOLD_NOT_ACTIVE') : { kind: 'ok' };
}

// --- campaigns -------------------------------------------------------------------------------

export function createCampaign(
  m: Model,
  caller: string,
  c: Omit<ModelCampaign, 'handle' | 'spent' | 'currency'>,
): Expected {
  const funding = m.accounts[c.funding]!;
  if (!mayWrite(m, caller, funding)) return forbidden;
  m.campaigns.push({ ...c, handle: m.campaigns.length, spent: 0n, currency: funding.currency });
  return { kind: 'ok' };
}

// --- the business day and settlement ---------------------------------------------------------

export function nextDay(m: Model, businessDate: string): void {
  m.day += 1;
  m.businessDates.push(businessDate);
}

export function feeOf(amount: bigint, feeBps: number): bigint {
  return (amount * BigInt(feeBps) * 2n + 10_000n) / 20_000n;
}

/**
 * Settles a merchant's closed business date, stripe by stripe: what its unsettled credits of
 * the date still hold moves from pending to available, less the fee (rounded half up). With
 * advances (issue 33), every stripe's part first lowers its outstanding by what refunds repaid
 * of it, then covers min(due, outstanding) as paid by the advance (no movement, no fee) and
 * moves only the rest. A date settles once: a second run changes nothing.
 */
export function settle(m: Model, merchant: ModelAccount, day: number): Expected {
  if (day >= m.day) return fail('SETTLEMENT_NOT_READY');
  if (merchant.settledDays.has(day)) return { kind: 'ok' };
  merchant.settledDays.add(day);
  const date = m.businessDates[day]!;
  const due = new Map<number, bigint>();
  for (const p of m.payments) {
    if (p.businessDate !== date || p.status !== 'SUCCEEDED') continue;
    for (const leg of p.legs) {
      if (
        leg.account !== merchant.handle ||
        leg.bucket !== 'pending' ||
        leg.settled ||
        leg.role === 'PAYER' ||
        leg.role === 'CAMPAIGN'
      )
        continue;
      due.set(leg.shard, (due.get(leg.shard) ?? 0n) + leg.amount - legRefunded(p, leg));
      leg.settled = true;
    }
  }
  for (const shard of new Set([...merchant.stripes.keys(), ...due.keys()])) {
    const outstanding = (merchant.outstanding.get(shard) ?? 0n) - (merchant.repaid.get(shard) ?? 0n);
    merchant.repaid.delete(shard);
    const amount = due.get(shard) ?? 0n;
    const covered = amount < outstanding ? amount : outstanding;
    merchant.outstanding.set(shard, outstanding - covered);
    const moved = amount - covered;
    const fee = feeOf(moved, m.feeBps);
    const s = stripe(merchant, shard);
    s.pending -= moved;
    s.available += moved - fee;
    merchant.flow -= fee;
    add(m.feeIncome, merchant.currency, fee);
  }
  return { kind: 'ok' };
}

/** What refunds gave back of a merchant leg (its payee share: an FX payment's in the payee's currency). */
function legRefunded(p: ModelPayment, leg: ModelLeg): bigint {
  return p.route === 'LEGS'
    ? leg.refunded > leg.amount
      ? leg.amount
      : leg.refunded
    : p.fx
      ? p.fx.returned
      : p.refunded;
}

// --- settlement advances (T+0, issue 33) ------------------------------------------------------

const bpsMax = 10_000;

/** setAdvanceTerms: operators only (asked first), then the terms' ranges, then a MERCHANT account. */
export function setAdvanceTerms(m: Model, caller: string, a: ModelAccount, terms: AdvanceTerms): Expected {
  if (caller !== 'operator') return forbidden;
  const bad = (bps: number) => !Number.isInteger(bps) || bps < 0 || bps > bpsMax;
  if (bad(terms.maxAdvanceBps) || bad(terms.feeBps) || terms.outstandingMax < 0n) return fail('INVALID_INPUT');
  if (a.type !== 'MERCHANT') return fail('INVALID_INPUT');
  a.advanceTerms = { ...terms };
  return { kind: 'ok' };
}

/** A merchant's stripes as the service lists them: the home row first, then the other databases in order. */
export function stripesInOrder(a: ModelAccount): Array<{ shard: number; pending: bigint; outstanding: bigint }> {
  const shards = [a.logical, ...[...a.stripes.keys()].filter((s) => s !== a.logical).sort((x, y) => x - y)];
  return shards.map((shard) => ({
    shard,
    pending: stripe(a, shard).pending,
    outstanding: a.outstanding.get(shard) ?? 0n,
  }));
}

export interface OfferPrediction {
  allowed: bigint;
  outstanding: bigint;
  feeBps: number;
}

/**
 * AdvanceOffer as the contract says: min(⌊(Σ pending + O) × maxAdvanceBps / 10000⌋ − O,
 * outstandingMax − O), never below 0, O the stripes' outstanding (refunds' repayments not yet
 * counted by a settlement included); without terms nothing, fee rate 0.
 */
export function offerOf(a: ModelAccount): OfferPrediction {
  const stripes = stripesInOrder(a);
  const pending = stripes.reduce((sum, s) => sum + s.pending, 0n);
  const outstanding = stripes.reduce((sum, s) => sum + s.outstanding, 0n);
  const t = a.advanceTerms;
  if (!t) return { allowed: 0n, outstanding, feeBps: 0 };
  const share = ((pending + outstanding) * BigInt(t.maxAdvanceBps)) / 10_000n - outstanding;
  const room = t.outstandingMax - outstanding;
  const allowed = share < room ? share : room;
  return { allowed: allowed > 0n ? allowed : 0n, outstanding, feeBps: t.feeBps };
}

/** What a merchant's offer and stripes depend on, as text: a step that leaves it alone changed neither. */
export function advanceStateOf(a: ModelAccount): string {
  const stripes = [...a.stripes].map(
    ([shard, s]) =>
      `${shard}:${s.available}/${s.pending}/${a.outstanding.get(shard) ?? 0n}/${a.repaid.get(shard) ?? 0n}`,
  );
  const t = a.advanceTerms;
  return `${t ? `${t.maxAdvanceBps}/${t.feeBps}/${t.outstandingMax}` : '-'} ${stripes.join(' ')}`;
}

/**
 * For the run's tally: whether a step raised the refunds' repayments or lowered the outstanding advance (advanceStateOf
 * before it).
 */
export function advanceMovesOf(before: string, a: ModelAccount): string[] {
  const sum = (state: string, field: number) =>
    state
      .split(' ')
      .slice(1)
      .reduce((t, s) => t + BigInt(s.split(/[:/]/)[field] ?? 0), 0n);
  const after = advanceStateOf(a);
  const moves: string[] = [];
  if (sum(after, 4) > sum(before, 4)) moves.push('advance repaid by a refund');
  if (sum(after, 3) < sum(before, 3)) moves.push('advance covered by a settlement');
  return moves;
}

/**
 * Query.advanceOffer: the merchant's owner and operators (others FORBIDDEN); null for an account that is no merchant.
 */
export function advanceOffer(m: Model, caller: string, a: ModelAccount): OfferPrediction | null | 'forbidden' {
  if (caller !== 'operator' && caller !== a.owner) return 'forbidden';
  return a.type === 'MERCHANT' ? offerOf(a) : null;
}

/**
 * advanceSettlement, in the service's order: the amount, who asks (the owner, not a partner, or
 * an operator), a MERCHANT, then a key used before (same body: the same advance; another:
 * reused), its terms, the offer (no key claimed beyond it), and
 * the pieces (planPieces: largest pending first, the fee shared in proportion): each stripe's
 * pending −a, available +(a − fee), outstanding +a, the fee to fee income.
 */
export function advance(
  m: Model,
  caller: string,
  a: ModelAccount,
  amount: bigint,
  replayOf: ModelAdvance | null,
): Expected {
  if (amount <= 0n) return fail('INVALID_INPUT');
  if (!(caller === 'operator' || (caller === a.owner && m.roles.get(caller) !== 'partner'))) return forbidden;
  if (a.type !== 'MERCHANT') return fail('INVALID_INPUT');
  // A key used before on this merchant is answered first, whatever changed since (terms, status): the same body by
  // its advance, another as reused (issue 45), even when the offer it spent would refuse the amount now.
  if (replayOf && replayOf.merchant === a.handle)
    return replayOf.amount === amount ? { kind: 'ok', advance: replayOf } : fail('IDEMPOTENCY_KEY_REUSED');
  const t = a.advanceTerms;
  if (!t || t.maxAdvanceBps === 0) return fail('ADVANCES_DISABLED');
  if (amount > offerOf(a).allowed) return fail('ADVANCE_EXCEEDS_ALLOWED');
  if (replayOf) return fail('IDEMPOTENCY_KEY_REUSED');
  const stripes = stripesInOrder(a);
  const pieces = planPieces(
    amount,
    t.feeBps,
    stripes.map((s) => ({ stripeAccountId: String(s.shard), pending: s.pending, outstanding: s.outstanding })),
  );
  let fee = 0n;
  for (const piece of pieces) {
    const shard = Number(piece.stripeAccountId);
    const s = stripe(a, shard);
    s.pending -= piece.amount;
    s.available += piece.amount - piece.feeAmount;
    add2(a.outstanding, shard, piece.amount);
    fee += piece.feeAmount;
  }
  a.flow -= fee;
  add(m.feeIncome, a.currency, fee);
  const paid: ModelAdvance = { handle: m.advances.length, merchant: a.handle, caller, amount, fee };
  m.advances.push(paid);
  return { kind: 'ok', advance: paid };
}

/**
 * The per-stripe identity the design rests on (docs/SETTLEMENT.md): pending + outstanding =
 * Σ unsettled money + what refunds repaid and no settlement counted yet. Money leaves pending by
 * a piece (counted in outstanding) or by a settlement (less what outstanding covers): pending
 * paid twice breaks it. Checked on the model (whose stripes the checks hold to the system's).
 */
export function stripeIdentityBroken(m: Model): string | null {
  const unsettled = new Map<string, bigint>();
  for (const p of m.payments) {
    if (p.status !== 'SUCCEEDED') continue;
    for (const leg of p.legs) {
      if (leg.bucket !== 'pending' || leg.settled || leg.role === 'PAYER' || leg.role === 'CAMPAIGN') continue;
      const key = `${leg.account}:${leg.shard}`;
      unsettled.set(key, (unsettled.get(key) ?? 0n) + leg.amount - legRefunded(p, leg));
    }
  }
  for (const a of m.accounts) {
    if (a.type !== 'MERCHANT') continue;
    for (const [shard, s] of a.stripes) {
      const outstanding = a.outstanding.get(shard) ?? 0n;
      const repaid = a.repaid.get(shard) ?? 0n;
      const money = unsettled.get(`${a.handle}:${shard}`) ?? 0n;
      if (s.pending + outstanding !== money + repaid || s.pending < 0n || outstanding < repaid) {
        return `merchant #${a.handle} stripe on database ${shard}: pending ${s.pending} + outstanding ${outstanding} ≠ unsettled money ${money} + refunds' repayments ${repaid}`;
      }
    }
  }
  return null;
}
