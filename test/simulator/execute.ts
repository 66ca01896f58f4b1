import { unique } from '../support/env';
import * as model from './model';
import type { Op } from './generator';
import { answerOf, docs, settledStatus, type Answer, type Sender } from './driver';
import { creditLimitMinorUnitsMax } from '@paygraph/account/limits';

/**
 * One operation: the model's prediction, the request through the gateway, and the comparison.
 * Answers null when the answer is what the model expected, else what differs.
 */
export interface Bindings {
  accounts: string[];
  names: string[];
  payments: string[];
  holds: string[];
  campaigns: string[];
  /** Each model advance's id and the key it was asked with (a replay sends the key again). */
  advances: Array<{ id: string; key: string }>;
  /** Requests that succeeded, to send again with their key: the same body answers the same id. */
  replayable: Array<{ doc: string; variables: Record<string, any>; bearer: string; field: string; id: string }>;
}

export interface ExecuteContext {
  s: Sender;
  m: model.Model;
  b: Bindings;
  bearers: Map<string, string>;
  amountMax: bigint;
  quote(sell: string, buy: string, sellAmount: bigint): { ok: true; buyAmount: bigint } | { ok: false };
  nextDay(): void;
  /** The run's clock, which the day steps move. */
  clock(): Date;
}

const text = (value: unknown): string => JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));

/** Whether the answer is the expected one; PROCESSING answers are waited for first. */
async function compare(
  ctx: ExecuteContext,
  expected: model.Expected,
  answer: Answer,
  wait?: { kind: 'payment' | 'refund'; bearer: string; paymentId?: string },
): Promise<string | null> {
  const differs = `expected ${text(expected)}, actual ${text(answer.kind === 'other' ? answer.response : answer)}`;
  if (expected.kind !== answer.kind) return differs;
  if (expected.kind === 'error')
    return answer.kind === 'error' && expected.codes.includes(answer.code) ? null : differs;
  if (expected.kind !== 'ok' || answer.kind !== 'ok') return null;
  if (expected.discount !== undefined && answer.discount !== null && answer.discount !== expected.discount)
    return differs;
  if (expected.status === undefined) return null;
  let status = answer.status;
  if (status === 'PROCESSING' && wait)
    status = await settledStatus(ctx.s, wait.bearer, wait.kind, answer.id, wait.paymentId ?? answer.id);
  return status === expected.status ? null : `${differs} (status at its end: ${status})`;
}

export async function execute(ctx: ExecuteContext, op: Op, tally: Map<string, number>): Promise<string | null> {
  const { m, b } = ctx;
  const count = (answer: Answer) => {
    const key = `${op.t}:${answer.kind === 'error' ? answer.code : answer.kind === 'ok' ? (answer.status ?? 'ok') : answer.kind}`;
    tally.set(key, (tally.get(key) ?? 0) + 1);
    return answer;
  };
  const acc = (h: number) => m.accounts[h]!;
  const bearer = (caller: string) => ctx.bearers.get(caller)!;
  const send = async (doc: string, variables: Record<string, any>, caller: string, field: string, replay = true) => {
    const answer = count(answerOf(await ctx.s.send(doc, variables, bearer(caller)), field));
    if (replay && answer.kind === 'ok')
      b.replayable.push({ doc, variables, bearer: bearer(caller), field, id: answer.id });
    return answer;
  };
  const newPayment = (before: number, answer: Answer) => {
    if (m.payments.length > before && answer.kind === 'ok') b.payments[m.payments.length - 1] = answer.id;
  };
  switch (op.t) {
    case 'deposit':
    case 'withdraw':
      return transferStep(ctx, op, send);
    case 'pay': {
      const before = m.payments.length;
      const expected = model.plainPayment(m, op.caller, acc(op.payer), acc(op.payee), op.amount);
      const input = {
        idempotencyKey: unique('pay'),
        payerAccountId: b.accounts[op.payer],
        payeeAccountId: b.accounts[op.payee],
        amount: String(op.amount),
        currency: acc(op.payer).currency,
      };
      const answer = await send(docs.createPayment, { input }, op.caller, 'createPayment');
      newPayment(before, answer);
      return compare(ctx, expected, answer, { kind: 'payment', bearer: bearer('operator') });
    }
    case 'bulk':
      tally.set('bulk', (tally.get('bulk') ?? 0) + 1);
      return bulk(ctx, op);
    case 'legs':
      return legsStep(ctx, op, send);
    case 'fx':
      return fx(ctx, op, count);
    case 'refund':
      return refundStep(ctx, op, send);
    case 'hold': {
      const before = m.holds.length;
      const expected = model.createHold(m, op.caller, acc(op.payer), acc(op.payee), op.amount);
      const input = {
        idempotencyKey: unique('hold'),
        payerAccountId: b.accounts[op.payer],
        payeeAccountId: b.accounts[op.payee],
        amount: String(op.amount),
        currency: acc(op.payer).currency,
      };
      const answer = await send(docs.createHold, { input }, op.caller, 'createHold', false);
      if (m.holds.length > before && answer.kind === 'ok') b.holds[before] = answer.id;
      return compare(ctx, expected, answer);
    }
    case 'capture': {
      const before = m.payments.length;
      const expected = model.captureHold(m, op.caller, m.holds[op.hold]!, op.amount);
      const input = {
        idempotencyKey: unique('cap'),
        holdId: b.holds[op.hold],
        ...(op.amount === null ? {} : { amount: String(op.amount) }),
      };
      const answer = await send(docs.captureHold, { input }, op.caller, 'captureHold', false);
      newPayment(before, answer);
      return compare(ctx, expected, answer, { kind: 'payment', bearer: bearer('operator') });
    }
    case 'void': {
      const expected = model.voidHold(m, op.caller, m.holds[op.hold]!);
      return compare(
        ctx,
        expected,
        await send(
          docs.voidHold,
          { input: { idempotencyKey: unique('void'), holdId: b.holds[op.hold] } },
          op.caller,
          'voidHold',
          false,
        ),
      );
    }
    case 'campaign':
      return campaign(ctx, op, count);
    case 'day':
      tally.set('day', (tally.get('day') ?? 0) + 1);
      ctx.nextDay();
      return null;
    case 'settle':
      return settleStep(ctx, op, count);
    case 'credit': {
      const expected = model.setCreditLimit(m, op.caller, acc(op.acc), op.limit, creditLimitMinorUnitsMax);
      const answer = await send(
        docs.setCreditLimit,
        { input: { accountId: b.accounts[op.acc], limit: String(op.limit) } },
        op.caller,
        'setCreditLimit',
        false,
      );
      return compare(ctx, expected, answer);
    }
    case 'replay':
      return replay(ctx, op, count);
    case 'terms': {
      const terms = { maxAdvanceBps: op.maxAdvanceBps, feeBps: op.feeBps, outstandingMax: op.outstandingMax };
      const expected = model.setAdvanceTerms(m, op.caller, acc(op.acc), terms);
      const input = { merchantAccountId: b.accounts[op.acc], ...terms, outstandingMax: String(op.outstandingMax) };
      return compare(ctx, expected, await send(docs.setAdvanceTerms, { input }, op.caller, 'setAdvanceTerms', false));
    }
    case 'offer':
      return offerStep(ctx, op, tally);
    case 'advance':
      return advanceStep(ctx, op, send);
  }
}

async function offerStep(
  ctx: ExecuteContext,
  op: Extract<Op, { t: 'offer' }>,
  tally: Map<string, number>,
): Promise<string | null> {
  const expected = model.advanceOffer(ctx.m, op.caller, ctx.m.accounts[op.acc]!);
  const response = await ctx.s.send(
    docs.advanceOffer,
    { merchantAccountId: ctx.b.accounts[op.acc] },
    ctx.bearers.get(op.caller)!,
  );
  const forbidden =
    (response.errors ?? []).length > 0 && response.errors!.every((e) => e.extensions?.code === 'FORBIDDEN');
  const got = response.data?.advanceOffer as
    { allowedAmount: string; outstanding: string; feeBps: number } | null | undefined;
  const key = `offer:${forbidden ? 'forbidden' : got === null ? 'null' : got ? 'ok' : 'other'}`;
  tally.set(key, (tally.get(key) ?? 0) + 1);
  if (expected === 'forbidden') return forbidden ? null : `advanceOffer: expected FORBIDDEN, actual ${text(response)}`;
  if (response.errors) return `advanceOffer: expected ${text(expected)}, actual ${text(response)}`;
  if (expected === null)
    return got === null
      ? null
      : `advanceOffer of an account that is no merchant: expected null, actual ${text(response)}`;
  if (
    !got ||
    BigInt(got.allowedAmount) !== expected.allowed ||
    BigInt(got.outstanding) !== expected.outstanding ||
    got.feeBps !== expected.feeBps
  ) {
    return `advanceOffer: expected ${text(expected)}, actual ${text(response)}`;
  }
  return null;
}

/**
 * An advance (or a replay of one's key): the answer, and on success its amount, fee and net (and the same id for a
 * replay).
 */
async function advanceStep(ctx: ExecuteContext, op: Extract<Op, { t: 'advance' }>, send: Send): Promise<string | null> {
  const { m, b } = ctx;
  const merchant = m.accounts[op.acc]!;
  const earlier = op.replay === null ? null : m.advances[op.replay]!;
  const offer = merchant.type === 'MERCHANT' ? model.offerOf(merchant) : null;
  const expected = model.advance(m, op.caller, merchant, op.amount, earlier);
  const key = earlier ? b.advances[earlier.handle]!.key : unique('adv');
  const input = { idempotencyKey: key, merchantAccountId: b.accounts[op.acc], amount: String(op.amount) };
  const answer = await send(docs.advanceSettlement, { input }, op.caller, 'advanceSettlement', false);
  const before = offer
    ? ` (the model's offer before it: allowed ${offer.allowed}, outstanding ${offer.outstanding}, fee ${offer.feeBps} bps)`
    : '';
  const differs = await compare(ctx, expected, answer);
  if (differs) return `${differs}${before}`;
  if (expected.kind !== 'ok' || answer.kind !== 'ok' || !expected.advance) return null;
  const want = expected.advance;
  if (!earlier) b.advances[want.handle] = { id: answer.id, key };
  const got = {
    amount: BigInt(answer.raw.amount),
    fee: BigInt(answer.raw.feeAmount),
    net: BigInt(answer.raw.netAmount),
  };
  const sameId = !earlier || answer.id === b.advances[earlier.handle]!.id;
  if (got.amount !== want.amount || got.fee !== want.fee || got.net !== want.amount - want.fee || !sameId) {
    return `advance: expected ${earlier ? `the same advance ${b.advances[earlier.handle]!.id}: ` : ''}amount ${want.amount} fee ${want.fee} net ${want.amount - want.fee}, actual ${text(answer.raw)}${before}`;
  }
  return null;
}

type Send = (
  doc: string,
  variables: Record<string, any>,
  caller: string,
  field: string,
  replay?: boolean,
) => Promise<Answer>;

async function transferStep(
  ctx: ExecuteContext,
  op: Extract<Op, { t: 'deposit' | 'withdraw' }>,
  send: Send,
): Promise<string | null> {
  const { m, b } = ctx;
  const a = m.accounts[op.acc]!;
  const expected =
    op.t === 'deposit' ? model.deposit(m, op.caller, a, op.amount) : model.withdraw(m, op.caller, a, op.amount);
  const input = {
    idempotencyKey: unique(op.t),
    accountId: b.accounts[op.acc],
    amount: String(op.amount),
    currency: a.currency,
  };
  return compare(
    ctx,
    expected,
    await send(op.t === 'deposit' ? docs.deposit : docs.withdraw, { input }, op.caller, op.t),
  );
}

async function settleStep(
  ctx: ExecuteContext,
  op: Extract<Op, { t: 'settle' }>,
  count: (a: Answer) => Answer,
): Promise<string | null> {
  const { m, b } = ctx;
  const expected = model.settle(m, m.accounts[op.merchant]!, op.day);
  const input = { merchantAccountId: b.accounts[op.merchant], businessDate: m.businessDates[op.day] };
  const answer = count(
    answerOf(await ctx.s.send(docs.runSettlement, { input }, ctx.bearers.get('operator')!), 'runSettlement'),
  );
  return compare(ctx, expected, answer);
}

async function legsStep(ctx: ExecuteContext, op: Extract<Op, { t: 'legs' }>, send: Send): Promise<string | null> {
  const { m, b } = ctx;
  const acc = (h: number) => m.accounts[h]!;
  const bearer = (caller: string) => ctx.bearers.get(caller)!;
  const before = m.payments.length;
  const campaign = op.campaign === null ? null : m.campaigns[op.campaign]!;
  const expected = model.legPayment(m, op.caller, {
    payer: acc(op.payer),
    payee: acc(op.payee),
    amount: op.amount,
    splits: op.splits.map((x) => ({ account: acc(x.acc), amount: x.amount })),
    campaign,
  });
  const input = {
    idempotencyKey: unique('legs'),
    payerAccountId: b.accounts[op.payer],
    payeeAccountId: b.accounts[op.payee],
    amount: String(op.amount),
    currency: acc(op.payer).currency,
    splits: op.splits.map((x) => ({ accountId: b.accounts[x.acc], amount: String(x.amount) })),
    ...(op.campaign === null ? {} : { campaignId: b.campaigns[op.campaign] }),
  };
  const answer = await send(docs.marketplacePayment, { input }, op.caller, 'createPayment', op.campaign === null);
  if (m.payments.length > before && answer.kind === 'ok') b.payments[m.payments.length - 1] = answer.id;
  const differs = await compare(ctx, expected, answer, { kind: 'payment', bearer: bearer('operator') });
  if (!differs || !campaign) return differs;
  const terms = text({
    bps: campaign.percentOffBps,
    off: campaign.amountOff,
    cap: campaign.maxDiscountPerPayment,
    payees: campaign.payees?.map((h) => b.names[h]),
  });
  const allowed =
    expected.kind === 'ok'
      ? `a discount of ${expected.discount}`
      : `nothing (${expected.kind === 'error' ? expected.codes.join(' or ') : 'FORBIDDEN'})`;
  const paid =
    answer.kind === 'ok'
      ? `paid ${answer.discount}`
      : `paid nothing (${answer.kind === 'error' ? answer.code : answer.kind})`;
  return `campaign #${campaign.handle} ${terms} ${paid}; its rules allow ${allowed}\n  ${differs}`;
}

async function refundStep(ctx: ExecuteContext, op: Extract<Op, { t: 'refund' }>, send: Send): Promise<string | null> {
  const { m, b } = ctx;
  const bearer = (caller: string) => ctx.bearers.get(caller)!;
  const p = m.payments[op.payment]!;
  const expected = model.refund(m, op.caller, p, op.amount);
  const input = { idempotencyKey: unique('ref'), paymentId: b.payments[op.payment], amount: String(op.amount) };
  const answer = await send(docs.refund, { input }, op.caller, 'refundPayment');
  const differs = await compare(ctx, expected, answer, {
    kind: 'refund',
    bearer: bearer('operator'),
    paymentId: b.payments[op.payment]!,
  });
  return differs && p.fx
    ? `FX payment ${p.fx.sellAmount} ${p.currency} → ${p.fx.buyAmount} ${p.fx.buyCurrency}, refunded ${p.refunded} before: ${differs}`
    : differs;
}

async function bulk(ctx: ExecuteContext, op: Extract<Op, { t: 'bulk' }>): Promise<string | null> {
  const { m, b } = ctx;
  const acc = (h: number) => m.accounts[h]!;
  const inputs = op.items.map((item) => ({
    idempotencyKey: unique('bulk'),
    payerAccountId: b.accounts[item.payer],
    payeeAccountId: b.accounts[item.payee],
    amount: String(item.amount),
    currency: acc(item.payer).currency,
  }));
  const response = await ctx.s.send(docs.createPayments, { inputs }, ctx.bearers.get(op.caller)!);
  // One payer that is not the caller's refuses the whole request, before anything is written.
  const refusedWhole = op.items.some(
    (item) =>
      acc(item.payer).owner !== op.caller &&
      item.amount > 0n &&
      item.amount <= m.amountMax &&
      item.payer !== item.payee,
  );
  if (refusedWhole) {
    const answer = answerOf(response, 'createPayments');
    return answer.kind === 'forbidden' ? null : `expected FORBIDDEN for the whole request, actual ${text(response)}`;
  }
  if (response.errors || !Array.isArray(response.data?.createPayments))
    return `expected one answer per payment, actual ${text(response)}`;
  const answers = response.data!.createPayments as Array<Record<string, any>>;
  for (const [i, item] of op.items.entries()) {
    const before = m.payments.length;
    const expected = model.plainPayment(m, op.caller, acc(item.payer), acc(item.payee), item.amount);
    const answer = answers[i]!.code
      ? { kind: 'error' as const, code: answers[i]!.code, message: answers[i]!.message }
      : { kind: 'ok' as const, id: answers[i]!.id, status: answers[i]!.status, discount: null, raw: answers[i]! };
    if (m.payments.length > before && answer.kind === 'ok') b.payments[m.payments.length - 1] = answer.id;
    const differs = await compare(ctx, expected, answer, { kind: 'payment', bearer: ctx.bearers.get('operator')! });
    if (differs) return `payment ${i} of the request: ${differs}`;
  }
  return null;
}

async function fx(
  ctx: ExecuteContext,
  op: Extract<Op, { t: 'fx' }>,
  count: (a: Answer) => Answer,
): Promise<string | null> {
  const { m, b } = ctx;
  const payer = m.accounts[op.payer]!;
  const payee = m.accounts[op.payee]!;
  const bearer = ctx.bearers.get(op.caller)!;
  const predicted = ctx.quote(payer.currency, payee.currency, op.sell);
  const quoted = await ctx.s.send(
    docs.createFxQuote,
    { input: { sellCurrency: payer.currency, buyCurrency: payee.currency, sellAmount: String(op.sell) } },
    bearer,
  );
  const quote = answerOf(quoted, 'createFxQuote');
  if (!predicted.ok)
    return quote.kind === 'error' && ['INVALID_INPUT', 'FX_RATE_UNAVAILABLE'].includes(quote.code)
      ? null
      : `quote: expected a refusal, actual ${text(quoted)}`;
  if (quote.kind !== 'ok' || BigInt(quote.raw.buyAmount) !== predicted.buyAmount)
    return `quote: expected buyAmount ${predicted.buyAmount}, actual ${text(quoted)}`;
  const before = m.payments.length;
  const expected = model.fxPayment(m, op.caller, payer, payee, op.sell, predicted.buyAmount);
  const input = {
    idempotencyKey: unique('fx'),
    payerAccountId: b.accounts[op.payer],
    payeeAccountId: b.accounts[op.payee],
    amount: String(op.sell),
    currency: payer.currency,
    fxQuoteId: quote.id,
  };
  const answer = count(answerOf(await ctx.s.send(docs.createPayment, { input }, bearer), 'createPayment'));
  if (m.payments.length > before && answer.kind === 'ok') b.payments[m.payments.length - 1] = answer.id;
  const differs = await compare(ctx, expected, answer, { kind: 'payment', bearer: ctx.bearers.get('operator')! });
  if (differs || !op.reuseQuote) return differs;
  // A quote pays one payment: another key with it is FX_QUOTE_USED, whatever the first got.
  const again = answerOf(
    await ctx.s.send(docs.createPayment, { input: { ...input, idempotencyKey: unique('fx') } }, bearer),
    'createPayment',
  );
  return compare(ctx, { kind: 'error', codes: ['FX_QUOTE_USED'] }, again);
}

async function campaign(
  ctx: ExecuteContext,
  op: Extract<Op, { t: 'campaign' }>,
  count: (a: Answer) => Answer,
): Promise<string | null> {
  const { m, b } = ctx;
  const before = m.campaigns.length;
  const expected = model.createCampaign(m, op.caller, {
    funding: op.funding,
    percentOffBps: op.bps,
    amountOff: op.off,
    maxDiscountPerPayment: op.cap,
    payees: op.payees,
    endsAtDay: op.ends ? m.day + 1 : null,
  });
  const input = {
    idempotencyKey: unique('camp'),
    fundingAccountId: b.accounts[op.funding],
    ...(op.payees ? { payeeAccountIds: op.payees.map((h) => b.accounts[h]) } : {}),
    ...(op.bps === null ? {} : { percentOffBps: op.bps }),
    ...(op.off === null ? {} : { amountOff: String(op.off) }),
    ...(op.cap === null ? {} : { maxDiscountPerPayment: String(op.cap) }),
    // Ends within the hour of the run's clock: a day step later it has ended.
    ...(op.ends ? { endsAt: new Date(ctx.clock().getTime() + 60 * 60 * 1000).toISOString() } : {}),
  };
  const answer = count(
    answerOf(await ctx.s.send(docs.createCampaign, { input }, ctx.bearers.get(op.caller)!), 'createCampaign'),
  );
  if (m.campaigns.length > before && answer.kind === 'ok') b.campaigns[before] = answer.id;
  return compare(ctx, expected, answer);
}

async function replay(
  ctx: ExecuteContext,
  op: Extract<Op, { t: 'replay' }>,
  count: (a: Answer) => Answer,
): Promise<string | null> {
  const earlier = ctx.b.replayable[op.index];
  if (!earlier) return null;
  const input = { ...earlier.variables.input };
  if (op.change) input.amount = String(BigInt(input.amount) + 1n);
  const answer = answerOf(await ctx.s.send(earlier.doc, { input }, earlier.bearer), earlier.field);
  count(answer.kind === 'ok' ? { ...answer, status: op.change ? 'changed' : 'same' } : answer);
  if (op.change) {
    const codes = BigInt(input.amount) > ctx.amountMax ? ['INVALID_INPUT'] : ['IDEMPOTENCY_KEY_REUSED'];
    return answer.kind === 'error' && codes.includes(answer.code)
      ? null
      : `replay with another amount: expected ${codes.join(' or ')}, actual ${text(answer)}`;
  }
  return answer.kind === 'ok' && answer.id === earlier.id
    ? null
    : `replay of ${earlier.field}: expected the same ${earlier.id}, actual ${text(answer)}`;
}
