import { businessDateOf } from '@paygraph/shared/business-date';
import { minorUnitExponent, type Currency } from '@paygraph/shared/money';
import { quoteAmounts } from '@paygraph/transaction/domain/fx';
import { startStack } from '../support/stack';
import { testSettlementSettings, testTransactionSettings, token, unique } from '../support/env';
import { physicalOf } from '../support/money';
import { shardOf } from '@paygraph/shared/ids';
import { seededRandom, type SeededRandom } from '../support/seeded-random';
import * as model from './model';
import { generate, type Op } from './generator';
import { docs, sender, type Sender } from './driver';
import type { ShardSet } from '@paygraph/shared/shards/pool';
import {
  checkAdvances,
  checkBalances,
  checkCampaigns,
  checkExposure,
  checkLedgerHealth,
  checkOwners,
  checkStripes,
  checkSystemTotals,
  readBalances,
  readExposure,
  systemTotals,
} from './checks';
import { execute, type Bindings } from './execute';
import { assetStep, assetStepEvery, checkAssets, setUpAssets } from './assets';
import { linkStep, linkStepEvery, setUpLinks } from './links';
import {
  booksDocs,
  checkEntityNets,
  checkIntercompany,
  checkTotalSubtotal,
  checkTrialBalances,
  createEntities,
  customerAsksForBooks,
  entityPlan,
  platformEntity,
  totalSubtotalOf,
} from './books';

/**
 * One simulation: a stack of its own with a clock the run moves, seven owners and their
 * accounts, FX rates, then `steps` random operations, each checked against the model. Throws
 * a SimulationFailure naming the seed, the step, the operation, what was expected and what came.
 */
export interface SimulationOptions {
  seed: number;
  steps: number;
  /**
   * False: leave out the shapes issue 31's campaign and FX refund fixes change (a clean run on the code before them).
   */
  hostileCampaignFx: boolean;
  log?: (line: string) => void;
}

export class SimulationFailure extends Error {
  override name = 'SimulationFailure';
}

const owners = [
  ['custA', 'customer'],
  ['custB', 'customer'],
  ['merch1', 'merchant'],
  ['merch2', 'merchant'],
  ['funder', 'merchant'],
  ['partner', 'partner'],
  ['hostile', 'customer'],
] as const;

/** Each owner's accounts: customers hold exponent-0 (JPY, VND) and -3 (KWD) currencies too. */
const accountPlan: ReadonlyArray<[string, string, 'PERSONAL' | 'MERCHANT']> = [
  ['custA', 'USD', 'PERSONAL'],
  ['custA', 'USD', 'PERSONAL'],
  ['custA', 'JPY', 'PERSONAL'],
  ['custA', 'KWD', 'PERSONAL'],
  ['custA', 'VND', 'PERSONAL'],
  ['custB', 'USD', 'PERSONAL'],
  ['custB', 'JPY', 'PERSONAL'],
  ['custB', 'KWD', 'PERSONAL'],
  ['merch1', 'USD', 'MERCHANT'],
  ['merch1', 'JPY', 'MERCHANT'],
  ['merch2', 'USD', 'MERCHANT'],
  ['merch2', 'KWD', 'MERCHANT'],
  ['funder', 'USD', 'PERSONAL'],
  ['funder', 'JPY', 'PERSONAL'],
  ['funder', 'KWD', 'PERSONAL'],
  ['partner', 'USD', 'PERSONAL'],
  ['hostile', 'USD', 'PERSONAL'],
  ['hostile', 'USD', 'PERSONAL'],
  ['hostile', 'JPY', 'PERSONAL'],
  ['hostile', 'JPY', 'PERSONAL'],
  ['hostile', 'KWD', 'PERSONAL'],
  ['hostile', 'KWD', 'PERSONAL'],
  ['hostile', 'VND', 'PERSONAL'],
];

/** Rates of up to 12 significant digits between the currencies, with and without a spread. */
const rates: ReadonlyArray<{ base: string; quote: string; rate: string; spreadBps: number }> = [
  { base: 'USD', quote: 'VND', rate: '25431.7', spreadBps: 0 },
  { base: 'USD', quote: 'JPY', rate: '151.372914', spreadBps: 35 },
  { base: 'KWD', quote: 'USD', rate: '3.25719', spreadBps: 0 },
  { base: 'KWD', quote: 'JPY', rate: '493.048127361', spreadBps: 10 },
  { base: 'JPY', quote: 'VND', rate: '168.0051', spreadBps: 0 },
  { base: 'KWD', quote: 'VND', rate: '82841.3', spreadBps: 20 },
];
const dayMs = 24 * 60 * 60 * 1000;
const hourMs = 60 * 60 * 1000;

export async function simulate(options: SimulationOptions): Promise<{ steps: number; ms: number; tally: string }> {
  const log = options.log ?? (() => {});
  const started = Date.now();
  // The run's clock: a day step moves it a day. It starts where the business date lasts three hours more.
  let offset = [0, 6, 12, 18]
    .map((h) => h * hourMs)
    .find((o) => businessDateOf(new Date(started + o)) === businessDateOf(new Date(started + o + 3 * hourMs)))!;
  const now = (): Date => new Date(Date.now() + offset);
  const stack = await startStack({ now });
  try {
    const s = sender(stack.gatewayUrl);
    const amountMax = testTransactionSettings().amountMax;
    const m = model.newModel(amountMax, testSettlementSettings().feeBpsDefault, businessDateOf(now()));
    const run = unique('sim');
    const bearers = new Map<string, string>([['operator', await token('operator', 'operator')]]);
    for (const [name, role] of owners) {
      m.roles.set(`${run}-${name}`, role);
      bearers.set(`${run}-${name}`, await token(`${run}-${name}`, role));
    }
    const b: Bindings = {
      accounts: [],
      names: [],
      payments: [],
      holds: [],
      campaigns: [],
      advances: [],
      replayable: [],
    };
    // Issue 49: two or three entities of the run's own, and which one each account opens in, from a stream of their
    // own (fork 1), so that the layout (fork 0) and the operations' draws stay what they were for a seed.
    const entityRandom = seededRandom(options.seed).fork(1);
    const entities = entityPlan(2 + entityRandom.below(2), run.slice(-6).toUpperCase());
    await createEntities(s, bearers.get('operator')!, entities);
    const books = {
      entities: entities.map((e) => e.code),
      entityOf: [] as string[],
      shardsOf: new Map<string, Set<number>>(),
      checkMs: 0,
      owedSteps: 0,
    };
    await openAccounts(s, m, b, bearers.get('operator')!, run, stack.shards, seededRandom(options.seed).fork(0), {
      ...books,
      random: entityRandom,
    });
    for (const r of rates) {
      const response = await s.send(
        docs.setFxRate,
        { input: { baseCurrency: r.base, quoteCurrency: r.quote, rate: r.rate, spreadBps: r.spreadBps } },
        bearers.get('operator')!,
      );
      if (response.data?.setFxRate?.__typename !== 'FxRate')
        throw new Error(`setFxRate failed: ${JSON.stringify(response)}`);
    }
    // Every account starts with money to move (deposits through the API, as the model says).
    for (const a of m.accounts) {
      const amount =
        a.currency === 'VND' ? 50_000_000n : a.currency === 'KWD' || a.currency === 'JPY' ? 500_000n : 200_000n;
      model.deposit(m, 'operator', a, amount);
      const response = await s.send(
        docs.deposit,
        {
          input: {
            idempotencyKey: unique('seed'),
            accountId: b.accounts[a.handle],
            amount: String(amount),
            currency: a.currency,
          },
        },
        bearers.get('operator')!,
      );
      if (response.data?.deposit?.__typename !== 'Deposit')
        throw new Error(`funding ${b.names[a.handle]} failed: ${JSON.stringify(response)}`);
    }
    await initialTerms(s, m, b, bearers.get('operator')!);
    // Issue 48: the run's platform assets and their holder, from a stream of their own (fork 2); see assets.ts.
    const assetRun = await setUpAssets(
      s,
      bearers.get('operator')!,
      run,
      seededRandom(options.seed).fork(2),
      // The holder is no owner of the model's (the operations draw callers from its roles).
      {
        holder: await token(`${run}-assetHolder`, 'customer'),
        hostile: bearers.get(`${run}-hostile`)!,
        holderId: `${run}-assetHolder`,
      },
      amountMax,
    );
    // Issue 48: linked external accounts and payouts to them, from a stream of their own (fork 3); see links.ts.
    const linkRun = await setUpLinks(s, bearers.get('operator')!, run, seededRandom(options.seed).fork(3));
    const merchants = m.accounts.filter((a) => a.type === 'MERCHANT').map((a) => a.handle);
    const exposure = await readExposure(s, bearers.get('operator')!);
    if (typeof exposure === 'string') throw new Error(exposure);
    const baselines = {
      totalSubtotal: await totalSubtotalOf(stack.shards, books.entities),
      fx: await systemTotals(stack.shards, 'FX_POSITION'),
      fees: await systemTotals(stack.shards, 'FEE_INCOME'),
      exposure,
    };
    const random = seededRandom(options.seed);
    /** How many operations of each kind got each answer: what the run covered. */
    const tally = new Map<string, number>();
    const ctx = {
      s,
      m,
      b,
      bearers,
      amountMax,
      clock: now,
      quote: (sell: string, buy: string, sellAmount: bigint) => predictQuote(sell, buy, sellAmount, amountMax),
      nextDay: () => {
        offset += dayMs;
        model.nextDay(m, businessDateOf(now()));
      },
    };
    for (let step = 1; step <= options.steps; step++) {
      const op = generate(random, m, {
        hostileCampaignFx: options.hostileCampaignFx,
        replayable: b.replayable.length - 1,
      });
      const merchantsBefore = merchants.map((h) => model.advanceStateOf(m.accounts[h]!));
      const topUpsBefore = m.topUps;
      const pendingMovesBefore = m.pendingMoves;
      const fail = (what: string, detail: string): never => {
        throw new SimulationFailure(
          `[simulator] seed ${options.seed}, step ${step}: ${what}\n  operation: ${describe(op, b)}${paymentOf(op, m)}\n  ${detail}`,
        );
      };
      const outcome = await execute(ctx, op, tally);
      if (assetRun.random.below(assetStepEvery) === 0) {
        const wrong = await assetStep(s, assetRun, stack.shards, bearers.get('operator')!);
        if (wrong) fail('an asset operation', wrong);
        tally.set('asset operation', (tally.get('asset operation') ?? 0) + 1);
      }
      if (linkRun.random.below(linkStepEvery) === 0) {
        const wrong = await linkStep(s, linkRun, bearers.get('operator')!, tally);
        if (wrong) fail('a link operation', wrong);
      }
      // The merchants whose stripes, outstanding advance or terms the step changed in the model (all of
      // them every 25th step and at the last): their offers and stripes are read and checked. An
      // unchanged merchant's were checked when it last changed; a change the model did not make
      // shows in its balance, checked after every step.
      const everything = step % 25 === 0 || step === options.steps;
      const touched = merchants.filter(
        (h, i) => everything || model.advanceStateOf(m.accounts[h]!) !== merchantsBefore[i],
      );
      const { balances: actual, offers } = await readBalances(s, bearers.get('operator')!, b.accounts, touched);
      if (outcome !== null)
        fail(
          'the answer differs from the model',
          `${outcome}\n  after it, against the model's prediction: ${checkOwners(m, actual) ?? "owners' net positions as the model says"}`,
        );
      const fxNow = await systemTotals(stack.shards, 'FX_POSITION');
      const fxWanted = new Map([...m.fxPosition, ...assetRun.fxPosition]);
      const fxMoved = new Map([...fxNow].map(([c, v]): [string, bigint] => [c, v - (baselines.fx.get(c) ?? 0n)]));
      const problem =
        checkSystemTotals('FX position', fxWanted, baselines.fx, fxNow) ??
        (await checkAssets(s, assetRun, bearers.get('operator')!, fxMoved)) ??
        checkCampaigns(m, actual) ??
        checkOwners(m, actual) ??
        checkBalances(m, actual, b.names) ??
        checkAdvances(m, actual, offers, b.names) ??
        (touched.length > 0 ? await checkStripes(stack.shards, m, b.accounts, b.names, touched) : null) ??
        checkSystemTotals('fee income', m.feeIncome, baselines.fees, await systemTotals(stack.shards, 'FEE_INCOME')) ??
        (await checkExposure(s, bearers.get('operator')!, m, baselines.exposure)) ??
        (await checkLedgerHealth(s, bearers.get('operator')!)) ??
        (await checkBooks(stack.shards, s, bearers, m, books, baselines.totalSubtotal, businessDateOf(now())));
      if (problem) fail('a check failed after the operation', problem);
      // The hostile shape of issue 49, on about one step in hostileBooksEvery (drawn from the entities' stream).
      if (entityRandom.below(hostileBooksEvery) === 0) {
        const refused = await customerAsksForBooks(
          s,
          stack.shards,
          bearers.get(`${run}-hostile`)!,
          entityRandom.pick(books.entities),
          businessDateOf(now()),
          entityRandom.below(5),
          `H-${run.slice(-6).toUpperCase()}${step}`.slice(0, 16),
        );
        if (refused) fail("a customer's request for the books", refused);
        tally.set('customer asked for books: FORBIDDEN', (tally.get('customer asked for books: FORBIDDEN') ?? 0) + 1);
      }
      // What of issue 33's advance paths the step took: a refund repaying an advance from available, a settlement
      // covering one.
      merchants.forEach((h, i) => {
        const moved = model.advanceMovesOf(merchantsBefore[i]!, m.accounts[h]!);
        for (const what of moved) tally.set(what, (tally.get(what) ?? 0) + 1);
      });
      if (m.topUps > topUpsBefore)
        tally.set('refund topped up from another row', (tally.get('refund topped up from another row') ?? 0) + 1);
      if (m.pendingMoves > pendingMovesBefore)
        tally.set("refund took another stripe's pending", (tally.get("refund took another stripe's pending") ?? 0) + 1);
      // How much of the run the exposure invariant saw credit in use (the tally shows it).
      if ([...model.exposureOf(m).values()].some((line) => line.used > 0n))
        tally.set('credit in use', (tally.get('credit in use') ?? 0) + 1);
      if (step % 50 === 0)
        log(
          `[simulator] seed ${options.seed}: ${step} steps, ${((Date.now() - started) / 1000).toFixed(1)} s (books checks ${(books.checkMs / 1000).toFixed(1)} s; entities ${books.entities.join(' ')}; ${books.owedSteps} steps with an intercompany position)`,
        );
    }
    return {
      steps: options.steps,
      ms: Date.now() - started,
      tally: [...tally]
        .sort()
        .map(([k, n]) => `${k} ${n}`)
        .join(', '),
    };
  } finally {
    await stack.stop();
  }
}

/**
 * Advance terms (issue 33) for half the merchants from the start, so that advances are asked
 * for from the first steps; the other merchants get terms (or not) from the run's operations.
 */
async function initialTerms(s: Sender, m: model.Model, b: Bindings, operator: string): Promise<void> {
  const merchants = m.accounts.filter((a) => a.type === 'MERCHANT');
  for (const [i, a] of merchants.entries()) {
    if (i % 2 === 1) continue;
    const terms = {
      maxAdvanceBps: i === 0 ? 8_000 : 10_000,
      feeBps: i === 0 ? 150 : 33,
      outstandingMax: i === 0 ? 60_000n : 1_000_000n,
    };
    model.setAdvanceTerms(m, 'operator', a, terms);
    const response = await s.send(
      docs.setAdvanceTerms,
      { input: { merchantAccountId: b.accounts[a.handle], ...terms, outstandingMax: String(terms.outstandingMax) } },
      operator,
    );
    if (response.data?.setAdvanceTerms?.__typename !== 'AdvanceTerms')
      throw new Error(`setAdvanceTerms failed: ${JSON.stringify(response)}`);
  }
}

/**
 * The plan's accounts, opened through the gateway by the operator, each bound to its model account (and its database).
 * Each lands on a database drawn from the seed (`layout`, a generator of its own: the operations' draws stay as they
 * were). The service places a new account on a random shard, and which accounts share a database decides routes,
 * stripes and which legs share a posting: seed 3401617778 failed in a full run and passed when replayed, its layout
 * drawn again. An account that lands elsewhere is left empty, its owner's (the checks read accounts by id, and an
 * empty account adds nothing to an owner's total or the credit exposure).
 */
async function openAccounts(
  s: Sender,
  m: model.Model,
  b: Bindings,
  operator: string,
  run: string,
  shards: ShardSet,
  layout: SeededRandom,
  books: RunBooks & { random: SeededRandom },
): Promise<void> {
  for (const [name, currency, type] of accountPlan) {
    const wanted = layout.below(shards.all.length);
    // PLATFORM or one of the run's entities, one draw an account.
    const which = books.random.below(books.entities.length + 1);
    const entity = which === 0 ? platformEntity : books.entities[which - 1]!;
    const input = { ownerId: `${run}-${name}`, type, currency, entity };
    let id: string | undefined;
    for (let tries = 0; id === undefined || physicalOf(shards, id) !== wanted; tries++) {
      // Each try lands there with probability 1/databases: 64 misses in a row ≈ 1e-8 with four.
      if (tries === openTriesMax) throw new Error(`no account of ${name} landed on database ${wanted}`);
      const response = await s.send(booksDocs.openAccountInEntity, { input }, operator);
      id = response.data?.openAccount?.id as string | undefined;
      if (!id || response.data?.openAccount?.entity !== entity)
        throw new Error(`opening an account in ${entity} failed: ${JSON.stringify(response)}`);
    }
    const account = model.addAccount(m, `${run}-${name}`, currency, type, wanted, shardOf('account', id));
    books.entityOf[account.handle] = entity;
    if (entity !== platformEntity) books.shardsOf.set(entity, (books.shardsOf.get(entity) ?? new Set()).add(wanted));
    b.accounts[account.handle] = id;
    b.names[account.handle] = `${name}#${account.handle}`;
  }
}

const openTriesMax = 64;

/** The run's entities, the entity of each account (by handle), and the databases each entity has accounts on. */
interface RunBooks {
  entities: string[];
  entityOf: string[];
  shardsOf: Map<string, Set<number>>;
  /** Time the books' checks took, and the steps after which some entity of the run owed another: for the log. */
  checkMs: number;
  owedSteps: number;
}

/** About one step in this many, the hostile customer asks for the books (and is refused). */
const hostileBooksEvery = 20;

/**
 * Issue 49's checks after a step: each entity nets to zero per currency on every shard, the intercompany position
 * equals the intercompany accounts on both sides, each of the run's entities' trial balance is balanced and its
 * customer and merchant classes hold what the model says, and the total–subtotal check finds no new difference.
 */
async function checkBooks(
  shards: ShardSet,
  s: Sender,
  bearers: ReadonlyMap<string, string>,
  m: model.Model,
  books: RunBooks,
  totalSubtotalBefore: readonly string[],
  asOf: string,
): Promise<string | null> {
  const operator = bearers.get('operator')!;
  const started = Date.now();
  const owed = { count: 0 };
  const problem =
    (await checkEntityNets(shards, books.entities, books.shardsOf)) ??
    (await checkIntercompany(s, shards, operator, books.entities, asOf, owed)) ??
    (await checkTrialBalances(s, operator, m, books.entityOf, books.entities, asOf)) ??
    (await checkTotalSubtotal(shards, books.entities, totalSubtotalBefore));
  books.checkMs += Date.now() - started;
  if (owed.count > 0) books.owedSteps++;
  return problem;
}

function predictQuote(
  sell: string,
  buy: string,
  sellAmount: bigint,
  amountMax: bigint,
): { ok: true; buyAmount: bigint } | { ok: false } {
  const rate = rates.find((r) => (r.base === sell && r.quote === buy) || (r.base === buy && r.quote === sell));
  if (!rate) return { ok: false };
  const amounts = quoteAmounts(
    rate,
    { currency: sell, exponent: minorUnitExponent(sell as Currency) },
    { currency: buy, exponent: minorUnitExponent(buy as Currency) },
    { side: 'sell', amount: sellAmount },
    amountMax,
  );
  return amounts.ok ? { ok: true, buyAmount: amounts.value.buyAmount } : { ok: false };
}

/** The payment a refund is of, as the model holds it after the step. */
function paymentOf(op: Op, m: model.Model): string {
  if (op.t !== 'refund') return '';
  const p = m.payments[op.payment]!;
  const fx = p.fx
    ? `, FX: sold ${p.fx.sellAmount} ${p.currency} for ${p.fx.buyAmount} ${p.fx.buyCurrency}, ${p.fx.returned} ${p.fx.buyCurrency} given back by the model's rule`
    : '';
  return `\n  payment #${p.handle}: ${p.amount} ${p.currency} (${p.route}), ${p.refunded} refunded${fx}`;
}

function describe(op: Op, b: Bindings): string {
  return JSON.stringify(op, (key, value) => {
    if (typeof value === 'bigint') return value.toString();
    if (['acc', 'payer', 'payee', 'funding', 'merchant'].includes(key) && typeof value === 'number')
      return b.names[value];
    return value;
  });
}
