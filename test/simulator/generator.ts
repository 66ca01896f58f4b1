import type { SeededRandom } from '../support/seeded-random';
import { offerOf, type Model, type ModelAccount } from './model';

/**
 * Random operations over the model's accounts, weighted towards the hostile shapes: payments
 * with splits to the payer's own second account and campaigns, FX partial refunds of all but
 * a unit, exponent-0 and -3 currencies, zero and maximum amounts, others' ids, replayed keys.
 * `hostileCampaignFx: false` leaves out the shapes issue 31's campaign and FX fixes change.
 */
export type Op =
  | { t: 'deposit'; caller: string; acc: number; amount: bigint }
  | { t: 'withdraw'; caller: string; acc: number; amount: bigint }
  | { t: 'pay'; caller: string; payer: number; payee: number; amount: bigint }
  | { t: 'bulk'; caller: string; items: Array<{ payer: number; payee: number; amount: bigint }> }
  | {
      t: 'legs';
      caller: string;
      payer: number;
      payee: number;
      amount: bigint;
      splits: Array<{ acc: number; amount: bigint }>;
      campaign: number | null;
    }
  | { t: 'fx'; caller: string; payer: number; payee: number; sell: bigint; reuseQuote: boolean }
  | { t: 'refund'; caller: string; payment: number; amount: bigint }
  | { t: 'hold'; caller: string; payer: number; payee: number; amount: bigint }
  | { t: 'capture'; caller: string; hold: number; amount: bigint | null }
  | { t: 'void'; caller: string; hold: number }
  | {
      t: 'campaign';
      caller: string;
      funding: number;
      bps: number | null;
      off: bigint | null;
      cap: bigint | null;
      payees: number[] | null;
      ends: boolean;
    }
  | { t: 'day' }
  | { t: 'settle'; merchant: number; day: number }
  | { t: 'credit'; caller: string; acc: number; limit: bigint }
  | { t: 'replay'; index: number; change: boolean }
  | { t: 'terms'; caller: string; acc: number; maxAdvanceBps: number; feeBps: number; outstandingMax: bigint }
  | { t: 'offer'; caller: string; acc: number }
  /**
   * An advance; `replay`: the model's advance whose key (and caller) it sends again, with its body or one unit more.
   */
  | { t: 'advance'; caller: string; acc: number; amount: bigint; replay: number | null };

export interface GeneratorOptions {
  hostileCampaignFx: boolean;
  /** How many earlier requests a replay may pick from. */
  replayable: number;
}

/** An amount up to `scale` minor units, sometimes one unit, sometimes zero or past the maximum. */
function amountOf(r: SeededRandom, m: Model, scale: bigint): bigint {
  const roll = r.below(100);
  if (roll < 3) return 0n;
  if (roll < 5) return m.amountMax + 1n;
  if (roll < 7) return m.amountMax;
  if (roll < 15) return 1n;
  return BigInt(r.between(1, Number(scale)));
}

function scaleOf(a: ModelAccount): bigint {
  return a.currency === 'KWD' ? 50_000n : a.currency === 'VND' ? 5_000_000n : a.currency === 'JPY' ? 50_000n : 20_000n;
}

/** Someone allowed to move the account's money mostly; another owner sometimes. */
function callerFor(r: SeededRandom, m: Model, a: ModelAccount): string {
  return r.below(100) < 6 ? r.pick([...m.roles.keys()]) : a.owner;
}

/**
 * A merchant takes out everything on all its rows (the stripes swept home first), to minus its
 * line, or one unit past it (refused, the sweeps made): always enough to drain every stripe, which
 * the model needs (model.ts sweepHome). Drained stripes make later refunds take from the home row.
 */
function merchantWithdrawal(r: SeededRandom, m: Model, acc: ModelAccount): Op {
  const total = [...acc.stripes.values()].reduce((t, s) => t + s.available, 0n);
  const all = total > 0n ? total : 1n;
  const amount = [all, all + acc.creditLimit, all + acc.creditLimit + 1n][r.below(3)]!;
  return { t: 'withdraw', caller: callerFor(r, m, acc), acc: acc.handle, amount };
}

export function generate(r: SeededRandom, m: Model, options: GeneratorOptions): Op {
  const accounts = m.accounts;
  const pick = (filter: (a: ModelAccount) => boolean = () => true): ModelAccount => {
    const list = accounts.filter(filter);
    return list.length > 0 ? r.pick(list) : r.pick(accounts);
  };
  const payers = (a: ModelAccount) => a.type === 'PERSONAL' && m.roles.get(a.owner) !== 'partner';
  const sameCurrency = (c: string) => (a: ModelAccount) => a.currency === c;
  // Settlement advances (issue 33): some 5% of the operations, drawn first so the rest keep their weights.
  if (r.below(100) < 5) return advanceOp(r, m, pick);
  const roll = r.below(1000);
  if (roll < 90) {
    const acc = pick();
    return {
      t: 'deposit',
      caller: r.below(100) < 4 ? r.pick([...m.roles.keys()]) : 'operator',
      acc: acc.handle,
      amount: r.below(10) === 0 ? m.amountMax : amountOf(r, m, scaleOf(acc) * 5n),
    };
  }
  if (roll < 130 && r.below(4) === 0 && accounts.some((a) => a.type === 'MERCHANT'))
    return merchantWithdrawal(
      r,
      m,
      pick((a) => a.type === 'MERCHANT'),
    );
  if (roll < 130) {
    const acc = pick((a) => a.type === 'PERSONAL');
    // Sometimes all of it, or one unit more: drained funding accounts exhaust their campaigns.
    // With its credit line: to minus the limit exactly, or one unit past it.
    const all = acc.stripes.get(acc.logical)!.available + acc.creditLimit;
    const amount = r.below(5) === 0 && all > 0n ? all + BigInt(r.below(2)) : amountOf(r, m, scaleOf(acc));
    return { t: 'withdraw', caller: callerFor(r, m, acc), acc: acc.handle, amount };
  }
  if (roll < 250) {
    const payer = pick(payers);
    // Self-payments, another currency without a quote, and mostly a payee of the payer's currency.
    const payee =
      r.below(20) === 0
        ? payer
        : r.below(15) === 0
          ? pick()
          : pick((a) => a.currency === payer.currency && a !== payer);
    const all = payer.stripes.get(payer.logical)!.available + payer.creditLimit;
    const amount = r.below(12) === 0 && all > 0n ? all + BigInt(r.below(2)) : amountOf(r, m, scaleOf(payer));
    return { t: 'pay', caller: callerFor(r, m, payer), payer: payer.handle, payee: payee.handle, amount };
  }
  if (roll < 300) {
    const owner = pick(payers).owner;
    const items = Array.from({ length: r.between(1, 4) }, () => {
      const payer = r.below(12) === 0 ? pick(payers) : pick((a) => payers(a) && a.owner === owner);
      const payee = pick((a) => a.currency === payer.currency && a !== payer);
      return { payer: payer.handle, payee: payee.handle, amount: amountOf(r, m, scaleOf(payer)) };
    });
    // A payer's credit from an earlier payment of the same request may land after its later debits
    // (a cross-shard credit follows the batch), so no payee is also a payer of the request: it moves
    // to another account of its currency, without a random draw, so that the sequence stays the same.
    const bulkPayers = new Set(items.map((i) => i.payer));
    for (const item of items) {
      if (!bulkPayers.has(item.payee)) continue;
      const other = accounts.find((a) => a.currency === accounts[item.payer]!.currency && !bulkPayers.has(a.handle));
      if (other) item.payee = other.handle;
    }
    return { t: 'bulk', caller: owner, items };
  }
  if (roll < 520) return legsOp(r, m, options, pick, payers, sameCurrency);
  if (roll < 620) {
    const payer = pick((a) => (payers(a) && a.currency !== 'USD') || (r.below(3) === 0 && payers(a)));
    const payee = pick((a) => a.currency !== payer.currency && (a.type === 'PERSONAL' || r.below(4) === 0));
    return {
      t: 'fx',
      caller: payer.owner,
      payer: payer.handle,
      payee: payee.handle,
      sell: BigInt(r.between(1, Number(scaleOf(payer)))),
      reuseQuote: r.below(10) === 0,
    };
  }
  if (roll < 760 && m.payments.length > 0) return refundOp(r, m, options);
  if (roll < 810) {
    const payer = pick(payers);
    const payee = r.below(20) === 0 ? payer : pick((a) => a.currency === payer.currency && a !== payer);
    return {
      t: 'hold',
      caller: callerFor(r, m, payer),
      payer: payer.handle,
      payee: payee.handle,
      amount: amountOf(r, m, scaleOf(payer)),
    };
  }
  if (roll < 860 && m.holds.length > 0) return endHoldOp(r, m);
  if (roll < 900) return campaignOp(r, m, pick);
  if (roll < 915) return { t: 'day' };
  if (roll < 950) {
    const merchant = pick((a) => a.type === 'MERCHANT');
    return { t: 'settle', merchant: merchant.handle, day: r.between(Math.max(0, m.day - 1), m.day) };
  }
  if (roll < 970) return creditOp(r, m, pick);
  return { t: 'replay', index: r.below(Math.max(1, options.replayable + 1)), change: r.below(3) === 0 };
}

/**
 * Issue 33's advances: terms (mostly by the operator, sometimes by the owner or another:
 * FORBIDDEN; sometimes out of range or on an account that is no merchant: INVALID_INPUT), an
 * offer read (by the owner, the operator or another), and advances by the owner or the operator
 * of exactly the offer, one unit more, part of it, 0 or negative, by another owner, and replays
 * of an earlier advance's key with its body or another.
 */
function advanceOp(r: SeededRandom, m: Model, pick: (f?: (a: ModelAccount) => boolean) => ModelAccount): Op {
  const merchant = r.below(20) === 0 ? pick() : pick((a) => a.type === 'MERCHANT');
  const other = () => r.pick([...m.roles.keys()].filter((k) => k !== merchant.owner));
  const roll = r.below(100);
  if (roll < 20) {
    const caller = r.below(100) < 12 ? (r.below(2) === 0 ? merchant.owner : other()) : 'operator';
    const bps = (): number => r.pick([10_000, 5_000, 8_000, 1, r.between(1, 10_000), r.between(1, 10_000)]);
    const scale = BigInt(r.pick([1, 5, 50, 1_000])) * (merchant.currency === 'VND' ? 1_000_000n : 50_000n);
    const terms = {
      maxAdvanceBps: r.below(10) === 0 ? 0 : bps(),
      feeBps: r.below(5) === 0 ? 0 : r.below(2) === 0 ? r.between(1, 500) : bps(),
      outstandingMax: r.below(10) === 0 ? 0n : BigInt(r.between(1, Number(scale))),
    };
    const bad = r.below(100);
    if (bad < 4) terms.maxAdvanceBps = r.pick([-1, 10_001]);
    else if (bad < 8) terms.feeBps = r.pick([-1, 10_001]);
    else if (bad < 11) terms.outstandingMax = -1n;
    return { t: 'terms', caller, acc: merchant.handle, ...terms };
  }
  if (roll < 30)
    return {
      t: 'offer',
      caller: r.below(4) === 0 ? other() : r.below(2) === 0 ? merchant.owner : 'operator',
      acc: merchant.handle,
    };
  const earlier = m.advances;
  if (roll < 45 && earlier.length > 0) {
    const a = r.pick(earlier);
    return { t: 'advance', caller: a.caller, acc: a.merchant, amount: a.amount + BigInt(r.below(2)), replay: a.handle };
  }
  const caller = r.below(100) < 8 ? other() : r.below(3) === 0 ? 'operator' : merchant.owner;
  const allowed = merchant.type === 'MERCHANT' ? offerOf(merchant).allowed : 0n;
  // With nothing allowed (no terms, nothing pending, the cap reached), some units: refused as beyond the offer or
  // disabled.
  const offered = allowed > 0n ? allowed : BigInt(r.between(1, 1000));
  const shape = r.below(100);
  const amount =
    shape < 40
      ? offered
      : shape < 60
        ? allowed + 1n
        : shape < 80 && allowed > 1n
          ? BigInt(r.between(1, Number(allowed)))
          : shape < 86
            ? 0n
            : shape < 91
              ? -BigInt(r.between(1, 1000))
              : 1n;
  return { t: 'advance', caller, acc: merchant.handle, amount, replay: null };
}

/**
 * A credit limit (issue 33): mostly by the operator, sometimes by the account's owner or another
 * (FORBIDDEN); mostly a limit of the account's scale, sometimes 0 or one below what it owes now
 * (the debt stays), sometimes −1 (INVALID_INPUT).
 */
function creditOp(r: SeededRandom, m: Model, pick: (f?: (a: ModelAccount) => boolean) => ModelAccount): Op {
  const acc = pick();
  const caller = r.below(100) < 10 ? r.pick([...m.roles.keys()]) : 'operator';
  const owed = -acc.stripes.get(acc.logical)!.available;
  const roll = r.below(100);
  const limit =
    roll < 5
      ? -1n
      : roll < 20
        ? 0n
        : roll < 30 && owed > 1n
          ? owed - 1n
          : BigInt(r.between(1, Number(scaleOf(acc) * 2n)));
  return { t: 'credit', caller, acc: acc.handle, limit };
}

/** A capture (of all, part, one unit more than held, or zero) or a void of a hold, mostly by its payer's owner. */
function endHoldOp(r: SeededRandom, m: Model): Op {
  const hold = r.pick(m.holds);
  const caller = callerFor(r, m, m.accounts[hold.payer]!);
  if (r.below(3) === 0) return { t: 'void', caller, hold: hold.handle };
  const amount =
    r.below(3) === 0
      ? null
      : r.below(10) === 0
        ? hold.amount + 1n
        : r.below(10) === 0
          ? 0n
          : BigInt(r.between(1, Number(hold.amount)));
  return { t: 'capture', caller, hold: hold.handle, amount };
}

function legsOp(
  r: SeededRandom,
  m: Model,
  options: GeneratorOptions,
  pick: (f?: (a: ModelAccount) => boolean) => ModelAccount,
  payers: (a: ModelAccount) => boolean,
  sameCurrency: (c: string) => (a: ModelAccount) => boolean,
): Op {
  const usable = m.campaigns.filter((c) => options.hostileCampaignFx || c.payees !== null);
  const campaign = usable.length > 0 && r.below(4) !== 0 ? r.pick(usable) : null;
  const currency = campaign?.currency ?? pick(payers).currency;
  const payer = pick((a) => payers(a) && a.currency === currency && a.handle !== campaign?.funding);
  let payee =
    campaign?.payees && r.below(4) !== 0
      ? m.accounts[r.pick(campaign.payees)]!
      : pick((a) => sameCurrency(currency)(a) && a !== payer);
  if (payee === payer) payee = pick((a) => sameCurrency(currency)(a) && a !== payer);
  const amount = r.below(10) === 0 ? 1n : BigInt(r.between(1, Number(scaleOf(payer))));
  const splits: Array<{ acc: number; amount: bigint }> = [];
  const own = m.accounts.filter((a) => a.owner === payer.owner && a !== payer && a.currency === currency);
  // The drain: a split to the payer's own second account (or the payee its own), the rest to others.
  const hostile = options.hostileCampaignFx && own.length > 0 && r.below(3) === 0;
  if (hostile && r.below(4) === 0) payee = r.pick(own);
  const count = hostile ? r.between(1, 3) : r.between(0, 3);
  for (let i = 0; i < count; i++) {
    const to =
      hostile && i === 0 && own.some((a) => a !== payee)
        ? r.pick(own.filter((a) => a !== payee))
        : pick((a) => a.currency === currency && a !== payer && a !== payee && !splits.some((s) => s.acc === a.handle));
    if (to === payer || to === payee || splits.some((s) => s.acc === to.handle)) continue;
    const rest = amount - splits.reduce((s, x) => s + x.amount, 0n);
    const share =
      r.below(15) === 0 ? 0n : r.below(15) === 0 ? amount + 1n : rest > 0n ? BigInt(r.between(1, Number(rest))) : 1n;
    splits.push({ acc: to.handle, amount: share });
  }
  if (!hostile && !options.hostileCampaignFx && campaign) {
    // The clean run keeps campaign payments to shapes both rules price alike: the payee alone receives, not the payer's
    // own.
    splits.length = 0;
    if (payee.owner === payer.owner) payee = m.accounts[campaign.payees![0]!]!;
  }
  return {
    t: 'legs',
    caller: callerFor(r, m, payer),
    payer: payer.handle,
    payee: payee.handle,
    amount,
    splits,
    campaign: campaign?.handle ?? null,
  };
}

function refundOp(r: SeededRandom, m: Model, options: GeneratorOptions): Op {
  const fxPayments = m.payments.filter((p) => p.fx !== null);
  const p =
    options.hostileCampaignFx && fxPayments.length > 0 && r.below(3) === 0 ? r.pick(fxPayments) : r.pick(m.payments);
  const payee = m.accounts[p.payee]!;
  const left = p.amount - p.refunded;
  const roll = r.below(100);
  // All but one unit (the FX remainder), one unit, the rest, too much, zero.
  let amount =
    roll < 25 && left > 1n
      ? left - 1n
      : roll < 45
        ? 1n
        : roll < 65
          ? left
          : roll < 70
            ? left + 1n
            : roll < 72
              ? 0n
              : left > 0n
                ? BigInt(r.between(1, Number(left > 1_000_000_000n ? 1_000_000_000n : left)))
                : 1n;
  if (!options.hostileCampaignFx && p.fx && amount < left) amount = left;
  const caller = r.below(100) < 8 ? r.pick([...m.roles.keys()]) : payee.owner;
  return { t: 'refund', caller, payment: p.handle, amount };
}

function campaignOp(r: SeededRandom, m: Model, pick: (f?: (a: ModelAccount) => boolean) => ModelAccount): Op {
  const funding = pick((a) => a.type === 'PERSONAL' && m.roles.get(a.owner) === 'merchant');
  const merchants = m.accounts.filter((a) => a.type === 'MERCHANT' && a.currency === funding.currency);
  const payees = merchants.length > 0 && r.below(3) !== 0 ? [r.pick(merchants).handle] : null;
  const percent = r.below(2) === 0;
  return {
    t: 'campaign',
    caller: r.below(15) === 0 ? r.pick([...m.roles.keys()]) : funding.owner,
    funding: funding.handle,
    bps: percent ? r.pick([5000, 1000, 1, 10_000, r.between(1, 10_000)]) : null,
    off: percent ? null : BigInt(r.between(1, Number(scaleOf(funding)))),
    cap: r.below(3) === 0 ? BigInt(r.between(1, Number(scaleOf(funding)))) : null,
    payees,
    ends: r.below(5) === 0,
  };
}
