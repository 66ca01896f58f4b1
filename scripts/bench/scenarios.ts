import { randomInt } from 'node:crypto';
import { cpus } from 'node:os';
import type { ShardSet } from '../../subgraphs/shared/src/shards/pool';
import { contractOperation, createPaymentsDocument, dataField, requestBody, typenameOf } from './documents';
import type { AdvanceMerchants, Fixtures } from './fixtures';
import { advanceFeeOf } from '../../subgraphs/settlement/src/domain/fees';
import {
  advanceLedger,
  checkAdvanceFees,
  checkAdvanceLedger,
  checkInvariants,
  type AdvanceLedger,
  type InvariantReport,
} from './invariants';
import {
  advanceAmountMinorUnitsMax,
  fxQuotePoolHeadroom,
  fxQuoteUseMarginMs,
  blindWarmupSeconds,
  fixedWarmupSecondsMax,
  jitShareTarget,
  loopProbeSettleMs,
  unsteadyWindowsMax,
  gcPausesShown,
  windowLeadInSeconds,
  windowLeadInSecondsMin,
  windowLeadInShareMax,
  paymentAmountMinorUnitsMax,
  warmupCalmSlices,
  warmupJitShareStop,
  warmupSecondsMax,
  warmupSliceSeconds,
} from './limits';
import { pushTo } from '../../subgraphs/shared/src/collections';
import { runClosedLoop, runOpenLoop, type LoadClient, type LoadResult, type Operation } from './load';
import { gcPausesSummary, stallSummary } from './latency-timeline';
import {
  calibrationLoopMs,
  cpuDelta,
  kernelDelta,
  loadAverages,
  snapshotCpu,
  snapshotKernel,
  type KernelCounts,
} from './proc-stats';
import { judgedProcesses, perfAvailable, sawNothing, startPerf, topJudgedJit, type SampleReport } from './perf-sampler';
import { readLoopProbes, type LoopProbeReport } from './loop-probe';
import {
  describePostingStages,
  postingStagesBetween,
  readPostingCounters,
  type PostingCounters,
  type PostingStages,
} from './posting-stages';

/**
 * The scenario runner: builds each scenario's requests, warms up, measures a window (load and
 * the CPU of every process), then checks the ledger's invariants. main.ts strings scenarios
 * together; the smoke test runs a couple of them for a few seconds against an in-process stack.
 */
export interface BenchContext {
  token: string;
  fixtures: Fixtures;
  /** Processes whose CPU is reported, by name (the benchmark itself included, as "bench"). */
  pids: () => Map<string, number>;
  /** The shards the invariants are checked on; null skips the check (a --target run without MYSQL_SHARDS). */
  shards: ShardSet | null;
  runId: string;
  seconds: number;
  log: (line: string) => void;
  /** Absent: fixed, a fifth of the window up to fixedWarmupSecondsMax (npm test's smoke run). */
  warmup?: WarmupPolicy;
  /** With --loop-probe: where the processes' probes write (loop-probe.ts). */
  loopProbeDir?: string;
  /** Sample each window's processes with perf (when available) for their JIT and GC shares. */
  sampleJit?: boolean;
  /** The transaction subgraph's /metrics, for where its postings' time went (posting-stages.ts); absent: not read. */
  postingMetricsUrl?: () => string | null;
  /**
   * --payees same-shard: a uniform payment's payee drawn from its payer's shard alone, so no payment crosses (a
   * diagnostic: what a payment posted in one merged transaction costs, docs/PERFORMANCE.md "a-70's tail").
   */
  payeesOnPayersShard?: boolean;
}

export interface ScenarioResult {
  id: string;
  title: string;
  engine: string;
  mode: 'closed-loop' | 'open-loop' | 'sql';
  concurrency: number | null;
  offeredPerSecond: number | null;
  /** Payments (or reads) per request. */
  unitsPerRequest: number;
  unit: 'payment' | 'read' | 'advance';
  crossShardShare: number | null;
  load: LoadResult;
  /** CPU ms per successful unit, per process. */
  cpuMsPerUnit: Record<string, number>;
  cpuMs: Record<string, number>;
  /** Share of the machine's CPU (all cores) that processes outside the benchmark took during the window. */
  otherCpuShare: number | null;
  /**
   * Share of the machine's time (all cores) that its CPUs wanted to run and the hypervisor ran another guest
   * (/proc/stat's steal): a window's figures are of a slower machine by about that much. Absent in runs before it.
   */
  stealShare?: number | null;
  /** Server-wide statements (and commits) per successful unit; other clients of the server count too. */
  mysqlPerUnit: { statements: number; commits: number } | null;
  /** Where the transaction subgraph's postings spent the window: queued for a batch, or in one (posting-stages.ts). */
  postingStages?: PostingStages;
  invariants: InvariantReport | null;
  /** How the window was warmed up, and with the adaptive warm-up each slice's JIT share per process. */
  warmup?: WarmupReport;
  /** The 1-, 5- and 15-minute load averages (as `uptime` prints them) when the window opened and closed. */
  loadAverage?: { start: [number, number, number] | null; end: [number, number, number] | null };
  /** The calibration loop (proc-stats.ts) timed just before the window: the machine's speed at that moment. */
  calibrationMs?: number;
  /** --loop-probe: each process's event-loop delay and GC pauses over the window (loop-probe.ts). */
  loopProbe?: Record<string, LoopProbeReport>;
  /** perf's samples of each Node process over the window: JIT and GC shares (perf-sampler.ts); null without perf. */
  samples?: SampleReport | null;
  /** Each process's read and write calls and context switches over the window, in all (proc-stats.ts KernelCounts). */
  kernelCounts?: Record<string, KernelCounts>;
  /** Windows run before this one and let go as warm-up, a judged process compiling in each (windowAfterLeadIn). */
  unsteadyWindows?: UnsteadyWindow[];
  /** b-fx only: its quotes made ahead, and whether they ran out inside the window. */
  quotePool?: FxQuotePoolReport;
  /** b-advance only: its advances over the warm-up and the window, and the ledger's move over the same time. */
  advances?: AdvanceReport;
}

/** How a scenario warms up: adaptive (limits.ts, warmupSliceSeconds), or a fixed number of seconds. */
export type WarmupPolicy = { kind: 'adaptive' } | { kind: 'fixed'; seconds: number };

export interface WarmupReport {
  seconds: number;
  /** jit-settled: the last warmupCalmSlices slices were under warmupJitShareStop; no-perf: blindWarmupSeconds without perf. */
  stoppedBy: 'jit-settled' | 'time-limit' | 'fixed' | 'no-perf';
  slices: Array<{ seconds: number; unitsPerSecond: number; jitShare: Record<string, number> }>;
}

export interface ScenarioSpec {
  id: string;
  title: string;
  engine: string;
  unit: 'payment' | 'read' | 'advance';
  client: LoadClient;
  /** Null: nothing left to send (closed loop only; that client stops, the window runs on). */
  next: () => Operation | null;
  unitsPerRequest: number;
  /** Closed loop with this many clients, or open loop at this rate (requests per second). */
  load: { concurrency: number } | { ratePerSecond: number };
  crossShardShare?: () => number | null;
  checkInvariants?: boolean;
  /**
   * Work done before the warm-up and again before the measured window, outside both (b-fx makes
   * its quotes here): `seconds` is the length of the run that follows.
   */
  beforeRun?: (seconds: number, phase: 'warm-up' | 'window') => Promise<void>;
  /** The adaptive warm-up runs at least this long, calm or not (limits.ts firstWarmupSecondsMin). */
  warmupSecondsMin?: number;
  /** b-fx: what its pool of quotes made ahead did. */
  quotePool?: () => FxQuotePoolReport;
  /** b-advance: its advances and the ledger's check of them, after the invariants. */
  advances?: () => Promise<AdvanceReport>;
}

let sequence = 0;

/** Idempotency keys unique to the run, so no payment of one scenario replays another's. */
function nextKey(ctx: BenchContext): string {
  sequence += 1;
  return `${ctx.runId}-${sequence.toString(36)}`;
}

/** An integer amount of minor units, drawn without floating point. */
function randomAmount(): string {
  return String(randomInt(1, paymentAmountMinorUnitsMax + 1));
}

export type PayeeChoice = 'uniform' | 'merchant';

/** Payment inputs: a random payer, and a random other account or the one merchant as payee. */
export interface PaymentInput {
  idempotencyKey: string;
  payerAccountId: string;
  payeeAccountId: string;
  amount: string;
  currency: string;
}

export function paymentInputs(
  ctx: BenchContext,
  payee: PayeeChoice,
): { next: () => PaymentInput; crossShardShare: () => number | null } {
  const { accounts, shardOfAccount, merchant } = ctx.fixtures;
  const sameShard = ctx.payeesOnPayersShard === true ? accountsByShard(shardOfAccount) : null;
  let total = 0;
  let cross = 0;
  return {
    next: () => {
      const payer = Math.floor(Math.random() * accounts.length);
      let payeeId = merchant;
      if (payee === 'uniform') {
        const other = sameShard
          ? otherOnShard(sameShard.get(shardOfAccount[payer]!)!, payer)
          : otherThan(accounts.length, payer);
        payeeId = accounts[other]!;
        total += 1;
        if (shardOfAccount[other] !== shardOfAccount[payer]) cross += 1;
      }
      return {
        idempotencyKey: nextKey(ctx),
        payerAccountId: accounts[payer]!,
        payeeAccountId: payeeId,
        amount: randomAmount(),
        currency: 'USD',
      };
    },
    // Payments to a merchant are credited to its stripe on the payer's shard: never cross-shard.
    crossShardShare: () => (payee === 'merchant' ? 0 : total === 0 ? null : Math.round((cross / total) * 1000) / 1000),
  };
}

/** A random index of `count` accounts other than `payer`'s. */
function otherThan(count: number, payer: number): number {
  const other = Math.floor(Math.random() * (count - 1));
  return other >= payer ? other + 1 : other;
}

/** A random index of `onShard` (the payer's shard's accounts, the payer among them) other than `payer`'s. */
function otherOnShard(onShard: readonly number[], payer: number): number {
  if (onShard.length < 2) throw new Error('--payees same-shard needs two accounts or more on every shard');
  return onShard[otherThan(onShard.length, onShard.indexOf(payer))]!;
}

function accountsByShard(shardOfAccount: readonly number[]): Map<number, number[]> {
  const byShard = new Map<number, number[]>();
  shardOfAccount.forEach((shard, i) => pushTo(byShard, shard, i));
  return byShard;
}

export function singlePaymentOps(
  ctx: BenchContext,
  payee: PayeeChoice,
): { next: () => Operation; crossShardShare: () => number | null } {
  const document = contractOperation('CreatePayment');
  const inputs = paymentInputs(ctx, payee);
  return {
    next: () => ({
      body: requestBody(document, { input: inputs.next() }),
      units: 1,
      succeeded: (response) => {
        const payment = dataField(response, 'createPayment') as { status?: string } | undefined;
        return typenameOf(payment) === 'Payment' && payment?.status !== 'FAILED' ? 1 : 0;
      },
    }),
    crossShardShare: inputs.crossShardShare,
  };
}

export function bulkPaymentOps(
  ctx: BenchContext,
  size: number,
): { next: () => Operation; crossShardShare: () => number | null } {
  const inputs = paymentInputs(ctx, 'uniform');
  return {
    next: () => ({
      body: requestBody(createPaymentsDocument, { inputs: Array.from({ length: size }, inputs.next) }),
      units: size,
      succeeded: (response) => {
        const results = dataField(response, 'createPayments');
        if (!Array.isArray(results)) return 0;
        return results.filter(
          (r: unknown) => typenameOf(r) === 'Payment' && (r as { status?: string }).status !== 'FAILED',
        ).length;
      },
    }),
    crossShardShare: inputs.crossShardShare,
  };
}

/**
 * Marketplace payments (b-marketplace): each payment has two splits and a campaign's discount,
 * its payer, payee and splits on different shards where the fixtures allow (3+ shards), so that
 * every payment posts legs on several databases through the outbox. The campaign (5% off, at
 * most 50 per payment) is funded by the first fixture account, which no payment uses otherwise.
 */
export async function marketplaceOps(
  ctx: BenchContext,
  client: LoadClient,
): Promise<{ next: () => Operation; crossShardShare: () => number | null }> {
  const { accounts, shardOfAccount } = ctx.fixtures;
  const funding = accounts[0]!;
  const created = await client.send(
    requestBody(contractOperation('CreateCampaign'), {
      input: {
        idempotencyKey: `${ctx.runId}-campaign`,
        fundingAccountId: funding,
        percentOffBps: 500,
        maxDiscountPerPayment: '50',
      },
    }),
  );
  const campaign = dataField(created, 'createCampaign') as { id?: string } | undefined;
  if (typenameOf(campaign) !== 'Campaign' || !campaign?.id)
    throw new Error(`b-marketplace: no campaign (${JSON.stringify(created).slice(0, 300)})`);
  const document = contractOperation('CreateMarketplacePayment');
  /** Another account than those taken, on another shard when one is left. */
  const pick = (taken: number[]): number => {
    const shards = new Set(taken.map((i) => shardOfAccount[i]));
    for (let attempt = 0; attempt < 20; attempt++) {
      const i = randomInt(1, accounts.length);
      if (!taken.includes(i) && (!shards.has(shardOfAccount[i]) || attempt >= 10)) return i;
    }
    let i = 1;
    while (taken.includes(i)) i += 1;
    return i;
  };
  return {
    next: () => {
      const payer = pick([]);
      const payee = pick([payer]);
      const split1 = pick([payer, payee]);
      const split2 = pick([payer, payee, split1]);
      const amount = BigInt(randomAmount()) + 100n;
      const input = {
        idempotencyKey: nextKey(ctx),
        payerAccountId: accounts[payer]!,
        payeeAccountId: accounts[payee]!,
        amount: amount.toString(),
        currency: 'USD',
        splits: [
          { accountId: accounts[split1]!, amount: (amount / 10n).toString() },
          { accountId: accounts[split2]!, amount: (amount / 20n).toString() },
        ],
        campaignId: campaign.id,
      };
      return {
        body: requestBody(document, { input }),
        units: 1,
        succeeded: (response) => {
          const payment = dataField(response, 'createPayment') as { status?: string } | undefined;
          return typenameOf(payment) === 'Payment' && payment?.status !== 'FAILED' ? 1 : 0;
        },
      };
    },
    crossShardShare: () => null,
  };
}

/**
 * Two-phase payments to the hot merchant: each unit is a hold created (CreateHold) and then
 * captured in full (CaptureHold), two requests. A create queues its hold and counts no unit;
 * the next request of any client captures a queued hold, and that capture is the unit (a
 * Payment succeeds, anything else fails). So units/s is holds made and captured per second.
 */
export function holdCaptureOps(ctx: BenchContext): () => Operation {
  const create = contractOperation('CreateHold');
  const capture = contractOperation('CaptureHold');
  const inputs = paymentInputs(ctx, 'merchant');
  const held: string[] = [];
  return () => {
    const holdId = held.shift();
    if (holdId !== undefined) {
      return {
        body: requestBody(capture, { input: { idempotencyKey: nextKey(ctx), holdId } }),
        units: 1,
        succeeded: (response) => (typenameOf(dataField(response, 'captureHold')) === 'Payment' ? 1 : 0),
      };
    }
    return {
      body: requestBody(create, { input: inputs.next() }),
      units: 0,
      succeeded: (response) => {
        const hold = dataField(response, 'createHold') as { id?: string } | undefined;
        if (typenameOf(hold) === 'Hold' && hold?.id) held.push(hold.id);
        return 0;
      },
    };
  };
}

type FxPayees = { accounts: readonly string[]; shardOfAccount: readonly number[] };
// Printed once: the bench's own CPU per unit is part of the figures.
const fxPaymentDocument = contractOperation('CreatePayment');
const fxQuoteDocument = contractOperation('CreateFxQuote');
type FxQuote = { id: string; sellAmount: string; expiresAtMs: number };

/** A random USD payer and a yen payee on another database (the fixtures allowing), chosen afresh per unit. */
function fxPaymentOp(ctx: BenchContext, payees: FxPayees, made: FxQuote): Operation {
  const { accounts, shardOfAccount } = ctx.fixtures;
  const payer = Math.floor(Math.random() * accounts.length);
  let payee = Math.floor(Math.random() * payees.accounts.length);
  for (let tries = 0; payees.shardOfAccount[payee] === shardOfAccount[payer] && tries < 16; tries++)
    payee = Math.floor(Math.random() * payees.accounts.length);
  return {
    body: requestBody(fxPaymentDocument, {
      input: {
        idempotencyKey: nextKey(ctx),
        payerAccountId: accounts[payer]!,
        payeeAccountId: payees.accounts[payee]!,
        amount: made.sellAmount,
        currency: 'USD',
        fxQuoteId: made.id,
      },
    }),
    units: 1,
    succeeded: (response) => {
      const payment = dataField(response, 'createPayment') as { status?: string } | undefined;
      return typenameOf(payment) === 'Payment' && payment?.status !== 'FAILED' ? 1 : 0;
    },
  };
}

/** A CreateFxQuote of a random USD amount into yen; `made` gets the quote when one is answered. */
function fxQuoteOp(made: (quote: FxQuote) => void): Operation {
  return {
    body: requestBody(fxQuoteDocument, {
      input: { sellCurrency: 'USD', buyCurrency: 'JPY', sellAmount: randomAmount() },
    }),
    units: 0,
    succeeded: (response) => {
      const q = dataField(response, 'createFxQuote') as
        { id?: string; sellAmount?: string; expiresAt?: string } | undefined;
      if (typenameOf(q) !== 'FxQuote') return 0;
      const expiresAtMs = Date.parse(q?.expiresAt ?? '');
      if (!q?.id || !q.sellAmount || Number.isNaN(expiresAtMs))
        throw new Error(`a quote without id, sellAmount or expiresAt: ${JSON.stringify(q)}`);
      made({ id: q.id, sellAmount: q.sellAmount, expiresAtMs });
      return 0;
    },
  };
}

/**
 * b-fx-quoted: cross-shard FX payments, two requests per unit (as holdCaptureOps): a quote of a
 * random USD amount into yen, then the payment with it from a random USD account to a yen account
 * on another database. The quote's maker is the bench's operator, who may pay from any account.
 */
export function fxQuotedPaymentOps(ctx: BenchContext, payees: FxPayees): () => Operation {
  const quoted: FxQuote[] = [];
  return () => {
    const made = quoted.shift();
    return made === undefined ? fxQuoteOp((q) => quoted.push(q)) : fxPaymentOp(ctx, payees, made);
  };
}

/** What the b-fx quote pool did in one scenario: made ahead, used, left to expire, and whether it ran dry. */
export interface FxQuotePoolReport {
  made: number;
  /** Wall time of the pre-phases that made them (outside the warm-up and the window). */
  makingSeconds: number;
  used: number;
  /** Taken out unused because too little of their life was left for a payment to claim them in time. */
  expiredUnused: number;
  /** Seconds into the measured window at which the pool ran out; null if it never did. */
  ranOutAfterSeconds: number | null;
}

/**
 * b-fx: cross-shard FX payments, one request per unit, each paying with a quote made ahead. The
 * quotes are made by a pre-phase right before the warm-up and before the measured window,
 * at the scenario's concurrency, outside both (`topUp`); `next` takes the oldest live one. When none is left
 * `next` answers null (the closed loop's clients stop) and the report says when that happened:
 * the window's units/s is then understated, never padded with quotes made inside it.
 */
export class FxQuotePool {
  private readonly quotes: FxQuote[] = [];
  /** The oldest quote not yet taken (an index, not shift(): the pool holds thousands). */
  private head = 0;
  private windowStartedAt: number | null = null;
  private readonly stats: FxQuotePoolReport = {
    made: 0,
    makingSeconds: 0,
    used: 0,
    expiredUnused: 0,
    ranOutAfterSeconds: null,
  };

  constructor(
    private readonly ctx: BenchContext,
    private readonly client: LoadClient,
    private readonly payees: FxPayees,
    private readonly concurrency: number,
  ) {}

  /** Makes `count` quotes at once (a failed quote stops the run: the pool would be short for no reason shown). */
  private async fill(count: number): Promise<void> {
    const started = performance.now();
    let left = count;
    const worker = async () => {
      while (left > 0) {
        left -= 1;
        const op = fxQuoteOp((q) => this.quotes.push(q));
        const response = await this.client.send(op.body);
        if (typenameOf(dataField(response, 'createFxQuote')) !== 'FxQuote')
          throw new Error(`b-fx: a quote failed: ${JSON.stringify(response).slice(0, 300)}`);
        op.succeeded(response);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, count) }, worker));
    this.stats.made += count;
    this.stats.makingSeconds += (performance.now() - started) / 1000;
  }

  /**
   * The scenario's beforeRun: tops the pool up to what `perSecond` payments for `seconds` need,
   * with fxQuotePoolHeadroom to spare; before the window, a dry pool from then on counts as
   * running out inside it.
   */
  async topUp(perSecond: number, seconds: number, phase: 'warm-up' | 'window'): Promise<void> {
    const missing = Math.ceil(perSecond * seconds * fxQuotePoolHeadroom) - (this.quotes.length - this.head);
    if (missing > 0) await this.fill(missing);
    if (phase === 'window') this.windowStartedAt = performance.now();
  }

  next(): Operation | null {
    for (let made = this.quotes[this.head]; made !== undefined; made = this.quotes[this.head]) {
      this.head += 1;
      if (made.expiresAtMs - Date.now() < fxQuoteUseMarginMs) {
        this.stats.expiredUnused += 1;
        continue;
      }
      this.stats.used += 1;
      return fxPaymentOp(this.ctx, this.payees, made);
    }
    if (this.windowStartedAt !== null && this.stats.ranOutAfterSeconds === null) {
      this.stats.ranOutAfterSeconds = Math.round(performance.now() - this.windowStartedAt) / 1000;
    }
    return null;
  }

  report(): FxQuotePoolReport {
    return { ...this.stats, makingSeconds: Math.round(this.stats.makingSeconds * 100) / 100 };
  }
}

/** What b-advance's advances did, over its warm-up and window together. */
export interface AdvanceReport {
  merchants: number;
  /** Stripes with pending per merchant at the start (one per database). */
  stripes: number;
  /**
   * Answered Advance; answered a UserError (AdvanceExceedsAllowed: a merchant's pending ran out); sent without a typed
   * answer.
   */
  paid: number;
  refused: number;
  unknown: number;
  amount: string;
  feeAmount: string;
  /** The merchants' pending left at the end, summed. */
  pendingLeft: string | null;
  /**
   * The ledger moved exactly as the paid advances say (checkAdvanceLedger); null when not checked (no shards, or an
   * unknown outcome).
   */
  ledgerMatches: boolean | null;
}

/**
 * b-advance: each request is one AdvanceSettlement (the contract's) of 1 to
 * advanceAmountMinorUnitsMax, with its own idempotency key, for the next merchant in turn: as
 * many merchants as clients, so that the per-merchant lock (one advance of a merchant at a time)
 * is rarely waited on. Reads the merchants' pending and available and the fee income before the
 * first run (beforeRun) and after the window (report), and checks that they moved by what the
 * answered advances say.
 */
export class AdvanceOps {
  private readonly document = contractOperation('AdvanceSettlement');
  private turn = 0;
  private sent = 0;
  private paid = 0;
  private refused = 0;
  private amount = 0n;
  private fee = 0n;
  /** Answers whose fee is not the contract's (advanceFeeOf of the amount at the merchants' fee rate): the first few. */
  private readonly wrongFees: string[] = [];
  private before: AdvanceLedger | null = null;

  constructor(
    private readonly ctx: BenchContext,
    private readonly setUp: AdvanceMerchants,
  ) {}

  next(): Operation {
    const merchants = this.setUp.merchants;
    const merchantAccountId = merchants[this.turn % merchants.length]!;
    this.turn += 1;
    this.sent += 1;
    const amount = String(randomInt(1, advanceAmountMinorUnitsMax + 1));
    return {
      body: requestBody(this.document, { input: { idempotencyKey: nextKey(this.ctx), merchantAccountId, amount } }),
      units: 1,
      succeeded: (response) => {
        const answer = dataField(response, 'advanceSettlement') as
          { amount?: string; feeAmount?: string; code?: string } | undefined;
        if (typenameOf(answer) === 'Advance') {
          const [paid, fee] = [BigInt(answer!.amount!), BigInt(answer!.feeAmount!)];
          this.paid += 1;
          this.amount += paid;
          this.fee += fee;
          const due = advanceFeeOf(paid, this.setUp.feeBps);
          if (fee !== due && this.wrongFees.length < 5) this.wrongFees.push(`${paid} charged ${fee}, not ${due}`);
          return 1;
        }
        if (typeof answer?.code === 'string') this.refused += 1;
        return 0;
      },
    };
  }

  /** The scenario's beforeRun: the ledger's first reading, before the warm-up (or the window, without one). */
  async beforeRun(): Promise<void> {
    if (this.before === null && this.ctx.shards)
      this.before = await advanceLedger(this.ctx.shards, this.setUp.merchants, 'USD');
  }

  async report(): Promise<AdvanceReport> {
    const unknown = this.sent - this.paid - this.refused;
    const after = this.ctx.shards ? await advanceLedger(this.ctx.shards, this.setUp.merchants, 'USD') : null;
    const checked = this.before !== null && after !== null && unknown === 0;
    checkAdvanceFees(this.wrongFees);
    if (checked) checkAdvanceLedger(this.before!, after!, { amount: this.amount, fee: this.fee });
    return {
      merchants: this.setUp.merchants.length,
      stripes: this.setUp.stripes,
      paid: this.paid,
      refused: this.refused,
      unknown,
      amount: this.amount.toString(),
      feeAmount: this.fee.toString(),
      pendingLeft: after?.pendingSum.toString() ?? null,
      ledgerMatches: checked ? true : null,
    };
  }
}

/** The contract's GetAccount (100 entries) of a random account among `accounts`. */
export function getAccountOps(accounts: readonly string[]): () => Operation {
  const document = contractOperation('GetAccount');
  return () => ({
    body: requestBody(document, { id: accounts[Math.floor(Math.random() * accounts.length)]! }),
    units: 1,
    succeeded: (response) => ((dataField(response, 'account') as { id?: string } | null | undefined)?.id ? 1 : 0),
    succeededText: (text) => (text.startsWith(accountAnswerStart) && !text.includes('"errors":') ? 1 : undefined),
  });
}

/**
 * How an answer of GetAccount with its account begins. An answer with errors is parsed (`"errors":`
 * cannot occur unescaped inside a string value, and no field of GetAccount is named so).
 */
const accountAnswerStart = '{"data":{"account":{"id":"';

/** The contract's AccountsByOwner of a random owner among `owners`: a success lists at least one account. */
export function accountsByOwnerOps(owners: readonly string[]): () => Operation {
  const document = contractOperation('AccountsByOwner');
  return () => ({
    body: requestBody(document, { ownerId: owners[Math.floor(Math.random() * owners.length)]! }),
    units: 1,
    succeeded: (response) => {
      const page = dataField(response, 'accounts') as { edges?: unknown[] } | null | undefined;
      return (page?.edges?.length ?? 0) > 0 ? 1 : 0;
    },
  });
}

export async function runScenario(ctx: BenchContext, spec: ScenarioSpec): Promise<ScenarioResult> {
  const next = spec.next;
  const run = (seconds: number) =>
    'concurrency' in spec.load
      ? runClosedLoop({ client: spec.client, seconds, concurrency: spec.load.concurrency, next })
      : runOpenLoop({
          client: spec.client,
          seconds,
          ratePerSecond: spec.load.ratePerSecond,
          next: () => openLoopOperation(spec.id, next),
        });
  const warmup = await warmUp(ctx, spec, run, () => windowReads(ctx));
  // The lead-in's requests (b-fx's quotes) are its own, the window's made after it: a pool made too small runs dry
  // inside the window, as it would have without a lead-in.
  const leadInSeconds = leadInSecondsOf(ctx.seconds);
  // The server's counters and the probes' seconds count from the window's start, after its lead-in.
  const {
    value: load,
    cpuMs,
    conditions,
    started: { status: statusBefore, postingsBefore, windowStartMs },
  } = await windowAfterLeadIn(
    ctx,
    ctx.seconds,
    run,
    async () => {
      if (leadInSeconds > 0) await spec.beforeRun?.(ctx.seconds, 'window');
      const [status, postingsBefore] = await windowReads(ctx);
      return { status, postingsBefore, windowStartMs: Date.now() };
    },
    () =>
      spec.beforeRun?.(leadInSeconds > 0 ? leadInSeconds : ctx.seconds, leadInSeconds > 0 ? 'warm-up' : 'window') ??
      Promise.resolve(),
  );
  const windowEndMs = Date.now();
  const [statusAfter, postingsAfter] = await windowReads(ctx);
  if (load.succeededUnits === 0) {
    throw new Error(
      `scenario ${spec.id}: nothing succeeded (${load.requests} requests); first errors: ${load.errors.join(' | ')}`,
    );
  }
  const invariants = spec.checkInvariants === false || !ctx.shards ? null : await checkInvariants(ctx.shards);
  const result: ScenarioResult = {
    id: spec.id,
    title: spec.title,
    engine: spec.engine,
    mode: 'concurrency' in spec.load ? 'closed-loop' : 'open-loop',
    concurrency: 'concurrency' in spec.load ? spec.load.concurrency : null,
    offeredPerSecond: 'ratePerSecond' in spec.load ? Math.round(spec.load.ratePerSecond * spec.unitsPerRequest) : null,
    unitsPerRequest: spec.unitsPerRequest,
    unit: spec.unit,
    crossShardShare: spec.crossShardShare?.() ?? null,
    load,
    ...cpuFigures(cpuMs, load),
    mysqlPerUnit: statusBefore && statusAfter ? mysqlPerUnit(statusBefore, statusAfter, load.succeededUnits) : null,
    ...stagesBetween(postingsBefore, postingsAfter),
    invariants,
    warmup,
    ...conditions,
    ...(ctx.loopProbeDir ? { loopProbe: await probesAfter(ctx, ctx.loopProbeDir, windowStartMs, windowEndMs) } : {}),
    ...(spec.quotePool ? { quotePool: spec.quotePool() } : {}),
    ...(spec.advances ? { advances: await spec.advances() } : {}),
  };
  ctx.log(summaryLine(result));
  return result;
}

/**
 * What a window ran under and what it cost: ScenarioResult's loadAverage, calibrationMs, samples, unsteadyWindows and
 * kernelCounts.
 */
export type WindowConditions = Required<
  Pick<ScenarioResult, 'loadAverage' | 'calibrationMs' | 'samples' | 'unsteadyWindows' | 'kernelCounts'>
>;

/**
 * Runs a measured window of `seconds`: the calibration loop and the load averages before it, then perf (when asked
 * for) and the lead-in, the scenario's own traffic for leadInSecondsOf(seconds) unmeasured (`beforeLeadIn` first), so
 * that the window starts on a system at its pace with perf attached; then `atStart` (the server's counters, what the
 * window's requests need), whose answer comes back as `started`; then the window: the CPU of every process across it,
 * the load averages at its end, and perf's samples (which take in the lead-in too).
 *
 * A window in which a judged process spent jitShareTarget or more of its samples compiling was not steady state, and
 * calm warm-up slices do not foretell that (limits.ts, unsteadyWindowsMax): it counts as warm-up, and the window is
 * run again, lead-in and all, at most unsteadyWindowsMax times; the result names each one let go (`unsteadyWindows`).
 */
export async function windowAfterLeadIn<T, S>(
  ctx: { pids: () => Map<string, number>; sampleJit?: boolean | undefined },
  seconds: number,
  run: (seconds: number) => Promise<T>,
  atStart: () => Promise<S>,
  beforeLeadIn: () => Promise<unknown> = async () => undefined,
): Promise<{ value: T; cpuMs: Record<string, number>; conditions: WindowConditions; started: S }> {
  const { window, unsteadyWindows } = await untilSteady(async () => {
    await beforeLeadIn();
    return oneWindow(ctx, seconds, run, atStart);
  });
  const { value, cpuMs, started, ...conditions } = window;
  return { value, cpuMs, started, conditions: { ...conditions, unsteadyWindows } };
}

/**
 * Measures until a window's samples show no judged process compiling at jitShareTarget or more, at most
 * unsteadyWindowsMax windows let go; without samples (no perf) the first window is kept.
 */
export async function untilSteady<W extends { samples: SampleReport | null }>(
  measure: () => Promise<W>,
): Promise<{ window: W; unsteadyWindows: UnsteadyWindow[] }> {
  const unsteadyWindows: UnsteadyWindow[] = [];
  for (;;) {
    const window = await measure();
    const unsteady = window.samples ? compilingOverTarget(window.samples) : null;
    if (unsteady === null || unsteadyWindows.length >= unsteadyWindowsMax) return { window, unsteadyWindows };
    unsteadyWindows.push(unsteady);
  }
}

/** A window let go as warm-up: the judged process that compiled most in it, and its JIT share. */
export interface UnsteadyWindow {
  process: string;
  jitShare: number;
}

/** The judged process compiling most, when it spent jitShareTarget or more of its samples so; null when none did. */
export function compilingOverTarget(samples: SampleReport): UnsteadyWindow | null {
  const top = topJudgedJit(samples);
  return top !== null && top.jitShare >= jitShareTarget ? top : null;
}

async function oneWindow<T, S>(
  ctx: { pids: () => Map<string, number>; sampleJit?: boolean | undefined },
  seconds: number,
  run: (seconds: number) => Promise<T>,
  atStart: () => Promise<S>,
): Promise<{ value: T; cpuMs: Record<string, number>; started: S } & Omit<WindowConditions, 'unsteadyWindows'>> {
  const calibrationMs = calibrationLoopMs();
  const start = loadAverages();
  const sampler = ctx.sampleJit === true && perfAvailable() ? startPerf(nodePids(ctx)) : null;
  await sampler?.sampling(); // before the lead-in: a pause after it would cool what it warmed
  const leadIn = leadInSecondsOf(seconds);
  if (leadIn > 0) await run(leadIn);
  const started = await atStart();
  // The kernel's counts around the CPU's, so that reading every thread's status is not charged to the window's CPU.
  const kernelBefore = snapshotKernel(ctx.pids());
  const before = snapshotCpu(ctx.pids());
  const value = await run(seconds);
  const cpuMs = cpuDelta(before, snapshotCpu(ctx.pids()));
  const kernelCounts = kernelDelta(kernelBefore, snapshotKernel(ctx.pids()));
  const end = loadAverages();
  const samples = sampler ? await sampler.stop() : null;
  return { value, cpuMs, started, loadAverage: { start, end }, calibrationMs, samples, kernelCounts };
}

/** The lead-in of a window of `seconds` (limits.ts windowLeadInSeconds): 0 for a window too short to have one. */
export function leadInSecondsOf(seconds: number): number {
  const leadIn = Math.min(windowLeadInSeconds, seconds * windowLeadInShareMax);
  return leadIn < windowLeadInSecondsMin ? 0 : leadIn;
}

/** The probes' seconds of a window, once the last of them is written. */
async function probesAfter(
  ctx: BenchContext,
  dir: string,
  startMs: number,
  endMs: number,
): Promise<Record<string, LoopProbeReport>> {
  await new Promise((resolve) => setTimeout(resolve, loopProbeSettleMs));
  return readLoopProbes(dir, ctx.pids(), startMs, endMs + loopProbeSettleMs);
}

/** The processes perf samples: the Node ones (MySQL's compiler is not V8's). */
export function nodePids(ctx: Pick<BenchContext, 'pids'>): Map<string, number> {
  return new Map([...ctx.pids()].filter(([name]) => name !== 'mysql'));
}

/**
 * The warm-up before a window (limits.ts, warmupSliceSeconds): adaptive, slices sampled with perf
 * until the JIT has settled in every busy process, or fixed. beforeRun runs before each slice, and
 * `afterSlice` after each: what the caller reads at a window's edges (windowReads, the engines' counters),
 * so that the load generator, which shares its process, has compiled around it before the window
 * (docs/PERFORMANCE.md, "Steady state").
 */
export async function warmUp(
  ctx: { warmup?: WarmupPolicy | undefined; seconds: number; pids: () => Map<string, number> },
  spec: Pick<ScenarioSpec, 'beforeRun' | 'warmupSecondsMin'>,
  run: (seconds: number) => Promise<Pick<LoadResult, 'unitsPerSecond'>>,
  afterSlice: () => Promise<unknown> = async () => undefined,
): Promise<WarmupReport> {
  const policy = ctx.warmup ?? { kind: 'fixed', seconds: Math.min(fixedWarmupSecondsMax, ctx.seconds / 5) };
  if (policy.kind === 'fixed' || !perfAvailable()) {
    const seconds = policy.kind === 'fixed' ? policy.seconds : blindWarmupSeconds;
    if (seconds < 0.5) return { seconds: 0, stoppedBy: 'fixed', slices: [] };
    await spec.beforeRun?.(seconds, 'warm-up');
    await run(seconds);
    await afterSlice();
    return { seconds, stoppedBy: policy.kind === 'fixed' ? 'fixed' : 'no-perf', slices: [] };
  }
  const slices: WarmupReport['slices'] = [];
  let seconds = 0;
  let calm = 0;
  for (;;) {
    await spec.beforeRun?.(warmupSliceSeconds, 'warm-up');
    const sampler = startPerf(nodePids(ctx));
    await sampler.sampling(); // in the gap the last slice's report made: a slice sampled whole
    const load = await run(warmupSliceSeconds);
    await afterSlice();
    const samples = await sampler.stop();
    seconds += warmupSliceSeconds;
    const jitShare = Object.fromEntries(Object.entries(samples).map(([name, s]) => [name, s.jitShare]));
    if (sawNothing(samples)) throw new Error('perf recorded no samples of the processes: cannot judge the warm-up');
    const busy = judgedProcesses(samples);
    const settled = busy.length > 0 && busy.every(([, s]) => s.jitShare < warmupJitShareStop);
    slices.push({ seconds: warmupSliceSeconds, unitsPerSecond: load.unitsPerSecond, jitShare });
    calm = settled ? calm + 1 : 0;
    if (calm >= warmupCalmSlices && seconds >= (spec.warmupSecondsMin ?? 0))
      return { seconds, stoppedBy: 'jit-settled', slices };
    if (seconds + warmupSliceSeconds > warmupSecondsMax) return { seconds, stoppedBy: 'time-limit', slices };
  }
}

/** An open loop sends at its rate whatever happens: a scenario that can run dry is closed-loop only. */
function openLoopOperation(id: string, next: () => Operation | null): Operation {
  const op = next();
  if (op === null) throw new Error(`scenario ${id}: ran out of requests in an open loop`);
  return op;
}

/** What the benchmark reads at a window's start and end: the server's counters and the merger's histograms. */
function windowReads(ctx: BenchContext): Promise<[MysqlCounters | null, PostingCounters | null]> {
  return Promise.all([serverCounters(ctx), postingCounters(ctx)]);
}

function serverCounters(ctx: BenchContext): Promise<MysqlCounters | null> {
  return ctx.shards ? mysqlCounters(ctx.shards) : Promise.resolve(null);
}

function stagesBetween(
  before: PostingCounters | null,
  after: PostingCounters | null,
): Pick<ScenarioResult, 'postingStages'> {
  const stages = before && after ? postingStagesBetween(before, after) : null;
  return stages ? { postingStages: stages } : {};
}

function postingCounters(ctx: BenchContext): Promise<PostingCounters | null> {
  const url = ctx.postingMetricsUrl?.() ?? null;
  return url === null ? Promise.resolve(null) : readPostingCounters(url);
}

/** The server's statement and commit counters (SHOW GLOBAL STATUS), read through the first shard. */
export async function mysqlCounters(shards: ShardSet): Promise<{ statements: number; commits: number }> {
  const [rows] = await shards.all[0]!.pool.query(
    "SHOW GLOBAL STATUS WHERE Variable_name IN ('Questions', 'Com_commit')",
  );
  const values = new Map(
    (rows as Array<{ Variable_name: string; Value: string }>).map((r) => [r.Variable_name, Number(r.Value)]),
  );
  return { statements: values.get('Questions') ?? 0, commits: values.get('Com_commit') ?? 0 };
}

type MysqlCounters = { statements: number; commits: number };

/** The server's statements and commits per successful unit between two readings of its counters. */
export function mysqlPerUnit(before: MysqlCounters, after: MysqlCounters, units: number): MysqlCounters {
  const per = (n: number) => Math.round((n / units) * 100) / 100;
  return { statements: per(after.statements - before.statements), commits: per(after.commits - before.commits) };
}

/**
 * A scenario's CPU columns: per unit and in all, per process, the share other processes took, and
 * the share the hypervisor took (cpuDelta's "steal", no process's CPU, so in neither column).
 */
export function cpuFigures(
  cpuMs: Record<string, number>,
  load: LoadResult,
): Pick<ScenarioResult, 'cpuMsPerUnit' | 'cpuMs' | 'otherCpuShare' | 'stealShare'> {
  const { steal, ...used } = cpuMs;
  return {
    cpuMsPerUnit: perUnit(used, load.succeededUnits),
    cpuMs: roundAll(used),
    otherCpuShare: otherShare(used, load.seconds),
    stealShare: machineShare(steal, load.seconds),
  };
}

export function otherShare(cpuMs: Record<string, number>, seconds: number): number | null {
  return machineShare(cpuMs.other, seconds);
}

/** ms of CPU as a share of the machine's time over `seconds` (every core), to 0.1%; null when unread. */
function machineShare(ms: number | undefined, seconds: number): number | null {
  if (ms === undefined) return null;
  return Math.round((ms / (seconds * 1000 * cpus().length)) * 1000) / 1000;
}

export function perUnit(cpuMs: Record<string, number>, units: number): Record<string, number> {
  return Object.fromEntries(
    Object.entries(cpuMs).map(([name, ms]) => [name, units === 0 ? 0 : Math.round((ms / units) * 1000) / 1000]),
  );
}

function roundAll(values: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, Math.round(v)]));
}

export function summaryLine(r: ScenarioResult): string {
  const cpu = Object.entries(r.cpuMsPerUnit)
    .map(([name, ms]) => `${name} ${ms}`)
    .join(', ');
  return (
    `${r.id}: ${r.load.unitsPerSecond} ${r.unit}s/s, p50 ${r.load.latencyMs.p50} ms, p99 ${r.load.latencyMs.p99} ms, ` +
    `failed ${r.load.failedUnits}${r.load.shedRequests > 0 ? `, shed ${r.load.shedRequests}` : ''}` +
    (r.load.sendLagMs
      ? ` (the generator sent late by p50 ${r.load.sendLagMs.p50} ms, p99 ${r.load.sendLagMs.p99} ms, max ${r.load.sendLagMs.max} ms)`
      : '') +
    (r.load.timeline ? `; ${stallSummary(r.load.timeline)}` : '') +
    (r.load.timeline && r.loopProbe
      ? `; ${gcPausesSummary(
          r.load.timeline,
          Object.fromEntries(Object.entries(r.loopProbe).map(([n, p]) => [n, p.longGcPauses])),
          gcPausesShown,
        )}`
      : '') +
    `; CPU ms/${r.unit}: ${cpu}` +
    (r.mysqlPerUnit
      ? `; MySQL statements/${r.unit} ${r.mysqlPerUnit.statements}, commits/${r.unit} ${r.mysqlPerUnit.commits}`
      : '') +
    (r.postingStages ? `; ${describePostingStages(r.postingStages)}` : '') +
    (r.otherCpuShare !== null ? `; other processes took ${Math.round(r.otherCpuShare * 100)}% of the machine` : '') +
    (r.stealShare != null ? `, the hypervisor (steal) ${Math.round(r.stealShare * 100)}%` : '') +
    (r.invariants ? `; invariants ok (drained in ${r.invariants.drainedInMs} ms)` : '') +
    (r.warmup ? `; warm-up ${r.warmup.seconds} s (${r.warmup.stoppedBy})` : '') +
    (r.unsteadyWindows?.length ? `; measured again after ${describeUnsteady(r.unsteadyWindows)}` : '') +
    (r.samples
      ? `; JIT % of each process's CPU: ${Object.entries(r.samples)
          .map(([name, s]) => `${name} ${(s.jitShare * 100).toFixed(1)} (GC ${(s.gcShare * 100).toFixed(1)})`)
          .join(', ')}`
      : '') +
    (r.loopProbe
      ? `; event loop p99 worst second / max, GC count / total / longest ms: ${Object.entries(r.loopProbe)
          .map(([n, p]) => `${n} ${p.loopP99MsWorst}/${p.loopMsMax}, ${p.gcCount}/${p.gcTotalMs}/${p.gcLongestMs}`)
          .join('; ')}`
      : '') +
    (r.kernelCounts ? `; ${describeKernelCounts(r.kernelCounts, r.load.succeededUnits, r.unit)}` : '') +
    (r.loadAverage?.start && r.loadAverage.end ? `; load ${r.loadAverage.start[0]} → ${r.loadAverage.end[0]}` : '') +
    (r.calibrationMs !== undefined ? `; calibration ${r.calibrationMs} ms` : '') +
    (r.quotePool ? `; ${describeQuotePool(r.quotePool)}` : '') +
    (r.advances ? `; ${describeAdvances(r.advances)}` : '')
  );
}

/** A process's calls and switches a unit below this (all four summed) is left out of the run line: idle beside it. */
const kernelCountsShownMin = 0.05;

/**
 * The window's kernel counts a unit, per process busy enough to show: "read/write calls, waits, preemptions a payment,
 * CPU ms in the kernel: gateway 2.2/2.3, 0.4, 0.7, 0.086; …". MySQL's socket calls are recv and send, not counted
 * (proc-stats.ts KernelCounts).
 */
export function describeKernelCounts(
  totals: Record<string, KernelCounts>,
  units: number,
  unit: ScenarioResult['unit'],
): string {
  const per = (n: number) => (units === 0 ? 0 : Math.round((n / units) * 100) / 100);
  const ms = (n: number) => (units === 0 ? 0 : Math.round((n / units) * 1000) / 1000);
  const shown = Object.entries(totals)
    .filter(([, c]) => units > 0 && (c.reads + c.writes + c.waits + c.preempted) / units >= kernelCountsShownMin)
    .map(([n, c]) => `${n} ${per(c.reads)}/${per(c.writes)}, ${per(c.waits)}, ${per(c.preempted)}, ${ms(c.systemMs)}`);
  const what = `read/write calls, waits, preemptions a ${unit}, CPU ms in the kernel`;
  return `${what}: ${shown.length > 0 ? shown.join('; ') : 'none read'}`;
}

/** The windows let go as warm-up: "1 window with JIT 8.6% (account)". */
export function describeUnsteady(windows: readonly UnsteadyWindow[]): string {
  const each = windows.map((w) => `${(w.jitShare * 100).toFixed(1)}% (${w.process})`).join(', ');
  return `${windows.length} window${windows.length === 1 ? '' : 's'} with JIT ${each}`;
}

export function describeAdvances(a: AdvanceReport): string {
  return (
    `advances over ${a.merchants} merchants × ${a.stripes} stripes (warm-up included): ${a.paid} paid (${a.amount} advanced, ${a.feeAmount} in fees), ` +
    `${a.refused} refused, ${a.unknown} unanswered; merchants' pending left ${a.pendingLeft ?? '?'}; ` +
    (a.ledgerMatches === null
      ? 'ledger move not checked'
      : 'pending → available and fee income moved exactly by the advances')
  );
}

export function describeQuotePool(p: FxQuotePoolReport): string {
  return (
    `quotes made ahead ${p.made} in ${p.makingSeconds} s, used ${p.used}, expired unused ${p.expiredUnused}, ` +
    (p.ranOutAfterSeconds === null
      ? 'never ran out'
      : `RAN OUT ${p.ranOutAfterSeconds} s into the window (its units/s is understated)`)
  );
}
