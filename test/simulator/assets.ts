import { sql } from 'drizzle-orm';
import type { ShardSet } from '@paygraph/shared/shards/pool';
import { currencyMinorUnits } from '@paygraph/shared/money';
import { quoteAmounts } from '@paygraph/transaction/domain/fx';
import { contractOperation } from '../support/graphql';
import { unique } from '../support/env';
import type { SeededRandom } from '../support/seeded-random';
import { answerOf, docs, settledStatus, type Sender } from './driver';

/**
 * Issue 48's platform assets in the simulator. From a stream of their own (a fork of the seed), so
 * the operations a seed drew before stay the same: the run defines one or two assets of its own
 * (codes, exponents and rates drawn), an asset holder converts between its EUR account and its
 * asset accounts both ways with quotes, and a hostile customer tries what it may not (define an
 * asset, spend the holder's, pay with no quote, deposit an asset). EUR is a currency the rest of
 * the run never holds, so these accounts and the FX positions they move are this module's alone:
 * after every step, the holder's balances and the platform's FX position in EUR and in each asset
 * are what this model says, and the asset's position is minus what the holder holds (the platform
 * issued it).
 */
export interface AssetRun {
  random: SeededRandom;
  assets: Array<{
    code: string;
    exponent: number;
    rate: { base: string; quote: string; rate: string; spreadBps: number };
  }>;
  holder: { bearer: string; eur: string; byCode: Map<string, string> };
  hostile: string;
  amountMax: bigint;
  /** The holder's balances by account id, and the platform's FX position moved per code. */
  balances: Map<string, bigint>;
  fxPosition: Map<string, bigint>;
  defined: number;
}

const assetDocs = {
  define: contractOperation('DefineAsset'),
  pay: `mutation($input: CreatePaymentInput!) { createPayment(input: $input) { __typename
    ... on Payment { id status } ... on UserError { code message } } }`,
  balance: 'query($id: ID!) { account(id: $id) { balance { available frozen pending } } }',
};

/** About one step in this many, an asset operation (from the assets' stream). */
export const assetStepEvery = 3;
const eurFunding = 5_000_000n;

function drawnCode(random: SeededRandom, run: string, index: number): string {
  const letters = Array.from({ length: 4 }, () => String.fromCharCode(65 + random.below(26))).join('');
  return `S${String.fromCharCode(65 + index)}${letters}${run
    .replace(/[^a-z]/gi, '')
    .slice(-2)
    .toUpperCase()}`.slice(0, 8);
}

/** Defines the run's assets and rates, and opens the holder's accounts (its EUR account funded). */
export async function setUpAssets(
  s: Sender,
  operator: string,
  run: string,
  random: SeededRandom,
  bearers: { holder: string; hostile: string; holderId: string },
  amountMax: bigint,
): Promise<AssetRun> {
  const assets: AssetRun['assets'] = [];
  const count = 1 + random.below(2);
  for (let i = 0; i < count; i++) {
    const code = drawnCode(random, run, i);
    const exponent = random.below(7);
    // Read as it came: an Asset has a `code` of its own, which answerOf would take for an error's.
    const response = await s.send(assetDocs.define, { input: { code, exponent, name: code } }, operator);
    const defined = response.data?.defineAsset;
    if (defined?.__typename !== 'Asset' || defined.exponent !== exponent)
      throw new Error(`defineAsset ${code} failed: ${JSON.stringify(response)}`);
    const rate = {
      base: 'EUR',
      quote: code,
      rate: `${1 + random.below(500)}.${String(random.below(10_000)).padStart(4, '0')}`,
      spreadBps: random.pick([0, 25, 150]),
    };
    const set = await s.send(
      docs.setFxRate,
      { input: { baseCurrency: rate.base, quoteCurrency: rate.quote, rate: rate.rate, spreadBps: rate.spreadBps } },
      operator,
    );
    if (set.data?.setFxRate?.__typename !== 'FxRate') throw new Error(`setFxRate ${code}: ${JSON.stringify(set)}`);
    assets.push({ code, exponent, rate });
  }
  const open = async (currency: string): Promise<string> => {
    const answer = answerOf(
      await s.send(docs.openAccount, { input: { ownerId: bearers.holderId, type: 'PERSONAL', currency } }, operator),
      'openAccount',
    );
    if (answer.kind !== 'ok') throw new Error(`opening a ${currency} account failed: ${JSON.stringify(answer)}`);
    return answer.id;
  };
  const eur = await open('EUR');
  const byCode = new Map<string, string>();
  for (const a of assets) byCode.set(a.code, await open(a.code));
  const deposit = await s.send(
    docs.deposit,
    { input: { idempotencyKey: unique('asset-seed'), accountId: eur, amount: String(eurFunding), currency: 'EUR' } },
    operator,
  );
  if (deposit.data?.deposit?.__typename !== 'Deposit')
    throw new Error(`funding EUR failed: ${JSON.stringify(deposit)}`);
  const balances = new Map<string, bigint>([
    [eur, eurFunding],
    ...[...byCode.values()].map((id): [string, bigint] => [id, 0n]),
  ]);
  return {
    random,
    assets,
    holder: { bearer: bearers.holder, eur, byCode },
    hostile: bearers.hostile,
    amountMax,
    balances,
    fxPosition: new Map(),
    defined: assets.length,
  };
}

const exponentOf = (run: AssetRun, code: string): number =>
  currencyMinorUnits.get(code) ?? run.assets.find((a) => a.code === code)!.exponent;

/**
 * One asset operation, drawn from the assets' stream; answers null when the answer is the model's,
 * else what differs. A conversion's quote is predicted exactly (rounded for the platform).
 */
export async function assetStep(s: Sender, run: AssetRun, shards: ShardSet, operator: string): Promise<string | null> {
  const r = run.random;
  const asset = r.pick(run.assets);
  const assetAccount = run.holder.byCode.get(asset.code)!;
  switch (r.below(6)) {
    case 0:
    case 1:
      return convert(s, run, 'EUR', asset.code, run.holder.eur, assetAccount, 1n + BigInt(r.below(200_000)));
    case 2:
    case 3: {
      const held = run.balances.get(assetAccount)!;
      // Mostly what it holds or less; now and then more than it holds (INSUFFICIENT_FUNDS, nothing moved).
      const amount =
        r.below(5) === 0
          ? held + 1n + BigInt(r.below(1000))
          : held === 0n
            ? 1n
            : 1n + BigInt(r.below(Number(held > 1_000_000_000n ? 1_000_000_000n : held)));
      return convert(s, run, asset.code, 'EUR', assetAccount, run.holder.eur, amount);
    }
    case 4:
      return hostileAsset(s, run, shards, asset.code, assetAccount);
    default:
      return moneyInAsset(s, run, operator, asset.code, assetAccount);
  }
}

async function convert(
  s: Sender,
  run: AssetRun,
  sell: string,
  buy: string,
  from: string,
  to: string,
  sellAmount: bigint,
): Promise<string | null> {
  const asset = run.assets.find((a) => a.code === sell || a.code === buy)!;
  const predicted = quoteAmounts(
    asset.rate,
    { currency: sell, exponent: exponentOf(run, sell) },
    { currency: buy, exponent: exponentOf(run, buy) },
    { side: 'sell', amount: sellAmount },
    run.amountMax,
  );
  const quoted = answerOf(
    await s.send(
      docs.createFxQuote,
      { input: { sellCurrency: sell, buyCurrency: buy, sellAmount: String(sellAmount) } },
      run.holder.bearer,
    ),
    'createFxQuote',
  );
  if (!predicted.ok)
    return quoted.kind === 'error' && quoted.code === 'INVALID_INPUT'
      ? null
      : `quote ${sell}→${buy} ${sellAmount}: expected INVALID_INPUT, got ${JSON.stringify(quoted)}`;
  if (quoted.kind !== 'ok' || quoted.raw.buyAmount !== String(predicted.value.buyAmount))
    return `quote ${sell}→${buy} ${sellAmount}: expected buyAmount ${predicted.value.buyAmount}, got ${JSON.stringify(quoted)}`;
  const input = {
    idempotencyKey: unique('asset-fx'),
    payerAccountId: from,
    payeeAccountId: to,
    amount: String(sellAmount),
    currency: sell,
    fxQuoteId: quoted.id,
  };
  const paid = answerOf(await s.send(assetDocs.pay, { input }, run.holder.bearer), 'createPayment');
  const covered = run.balances.get(from)! >= sellAmount;
  if (!covered)
    return paid.kind === 'error' && paid.code === 'INSUFFICIENT_FUNDS'
      ? null
      : `an FX payment of ${sellAmount} ${sell} it cannot cover: ${JSON.stringify(paid)}`;
  // Across shards the relay may finish it after the answer: its end is what the model knows.
  const status =
    paid.kind === 'ok' && paid.status === 'PROCESSING'
      ? await settledStatus(s, run.holder.bearer, 'payment', paid.id, paid.id)
      : paid.kind === 'ok'
        ? paid.status
        : null;
  if (status !== 'SUCCEEDED') return `an FX payment ${sell}→${buy} (${status}): ${JSON.stringify(paid)}`;
  const bought = predicted.value.buyAmount;
  run.balances.set(from, run.balances.get(from)! - sellAmount);
  run.balances.set(to, run.balances.get(to)! + bought);
  // The platform's position takes the other side of each leg: it holds what was sold, owes what was bought.
  run.fxPosition.set(sell, (run.fxPosition.get(sell) ?? 0n) + sellAmount);
  run.fxPosition.set(buy, (run.fxPosition.get(buy) ?? 0n) - bought);
  return null;
}

/** The hostile customer: defines an asset, spends the holder's, pays with no quote. Each refused, nothing written. */
async function hostileAsset(
  s: Sender,
  run: AssetRun,
  shards: ShardSet,
  code: string,
  assetAccount: string,
): Promise<string | null> {
  const mine = drawnCode(run.random, 'hx', 7);
  const defined = answerOf(
    await s.send(assetDocs.define, { input: { code: mine, exponent: 2, name: 'mine' } }, run.hostile),
    'defineAsset',
  );
  if (defined.kind !== 'forbidden') return `a customer defining an asset: ${JSON.stringify(defined)}`;
  const [rows] = (await shards.all[0]!.db.execute(
    sql`SELECT COUNT(*) AS n FROM assets WHERE code = ${mine}`,
  )) as unknown as [Array<{ n: number }>];
  if (Number(rows[0]!.n) !== 0) return `a customer's asset ${mine} was written`;
  const input = {
    idempotencyKey: unique('asset-h'),
    payerAccountId: assetAccount,
    payeeAccountId: run.holder.eur,
    amount: '1',
    currency: code,
  };
  const spent = answerOf(await s.send(assetDocs.pay, { input }, run.hostile), 'createPayment');
  if (spent.kind !== 'forbidden') return `the hostile customer spending the holder's ${code}: ${JSON.stringify(spent)}`;
  const noQuote = answerOf(
    await s.send(
      assetDocs.pay,
      {
        input: {
          ...input,
          payerAccountId: run.holder.eur,
          payeeAccountId: assetAccount,
          currency: 'EUR',
          idempotencyKey: unique('asset-nq'),
        },
      },
      run.holder.bearer,
    ),
    'createPayment',
  );
  if (noQuote.kind !== 'error' || noQuote.code !== 'CURRENCY_MISMATCH')
    return `EUR → ${code} with no quote: ${JSON.stringify(noQuote)}`;
  return null;
}

/** No deposit or withdrawal is ever in an asset: INVALID_INPUT, nothing moved. */
async function moneyInAsset(
  s: Sender,
  run: AssetRun,
  operator: string,
  code: string,
  assetAccount: string,
): Promise<string | null> {
  const input = { idempotencyKey: unique('asset-dep'), accountId: assetAccount, amount: '100', currency: code };
  const deposited = answerOf(await s.send(docs.deposit, { input }, operator), 'deposit');
  if (deposited.kind !== 'error' || deposited.code !== 'INVALID_INPUT')
    return `a deposit in ${code}: ${JSON.stringify(deposited)}`;
  const withdrawn = answerOf(
    await s.send(docs.withdraw, { input: { ...input, idempotencyKey: unique('asset-wd') } }, run.holder.bearer),
    'withdraw',
  );
  if (withdrawn.kind !== 'error' || withdrawn.code !== 'INVALID_INPUT')
    return `a withdrawal in ${code}: ${JSON.stringify(withdrawn)}`;
  return null;
}

/**
 * After every step: the holder's balances as this model says, and each asset's FX position minus what the holder
 * holds of it (the run's assets are held by no one else).
 */
export async function checkAssets(
  s: Sender,
  run: AssetRun,
  operator: string,
  fxMoved: Map<string, bigint>,
): Promise<string | null> {
  for (const [id, want] of run.balances) {
    const response = await s.send(assetDocs.balance, { id }, operator);
    const b = response.data?.account?.balance;
    if (!b) return `reading asset holder's account ${id}: ${JSON.stringify(response)}`;
    const total = BigInt(b.available) + BigInt(b.frozen) + BigInt(b.pending);
    if (BigInt(b.available) !== want || total !== want)
      return `asset holder's account ${id} holds ${total}; the model says ${want}`;
  }
  for (const a of run.assets) {
    const held = run.balances.get(run.holder.byCode.get(a.code)!)!;
    const position = fxMoved.get(a.code) ?? 0n;
    if (position !== -held)
      return `the platform's FX position in ${a.code} is ${position}; minus what is held of it is ${-held}`;
  }
  return null;
}
