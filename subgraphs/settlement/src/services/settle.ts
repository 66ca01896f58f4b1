import {
  dedupeKeys,
  postOne,
  systemAccountId,
  readStripes,
  accountsAndStripes,
  creditUsedOf,
  type Account,
  type Leg,
  type PostingSpec,
} from '@paygraph/shared/ledger/index';
import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import type { Tx } from '@paygraph/shared/shards/transaction';
import { refuseFenced } from '@paygraph/shared/control/index';
import { newId, parseId, shardOf, toLogicalShard } from '@paygraph/shared/ids';
import { addDays, businessDateOf } from '@paygraph/shared/business-date';
import type { Forbidden } from '@paygraph/shared/authorization';
import { assert, err, ok, type Result } from '@paygraph/shared/result';
import type { SettlementSettings } from '../config';
import type { SettlementContext } from '../context';
import {
  claimSettlement,
  feeRateOf,
  finishSettlement,
  insertPart,
  lockPart,
  partsOf,
  settlementStates,
  settlementsByIds,
} from '../db/settlement-store';
import {
  inFlightOnLegs,
  lockLateRefundShares,
  lockLateRefunds,
  lockRefundSharesOfLegs,
  lockRefundsOfPayments,
  lockUnsettledLegs,
  lockUnsettledPayments,
} from '@paygraph/transaction/read-model/settlement';
import { markSettled, type SettledItems } from '@paygraph/transaction/write-model/settlement';
import type { SettlementPartRow, SettlementRow } from '../db/schema/settlement';
import { creditRepaidOf, netOf, settlePart, type PartFigures } from '../domain/fees';
import { mayOperate } from './access';
import { coverOutstanding, lockOutstanding } from '../db/advance-store';
import { repayAdvanceByRefunds } from './advance-refunds';
import { whileNoAdvanceRuns } from './advance-lock';

export type SettlementRefusal =
  | { kind: 'AccountNotFound'; accountId: string }
  | { kind: 'NotAMerchant'; accountId: string }
  | { kind: 'SettlementNotReady'; businessDate: string; openDate: string }
  /**
   * A stripe's posting would take a balance past BIGINT: the shard's fee income, which only
   * grows. (The stripe's own available cannot: settling lowers the stripe's total by the fee,
   * and available never exceeds the total.) That stripe's part is not written; see runSettlement.
   */
  | { kind: 'BalanceLimit'; accountId: string }
  /**
   * A payment of many legs that credited a stripe's pending on the date, or a refund of one, is still PROCESSING (a
   * leg on another shard has not posted yet): that stripe's part waits for it (`inFlightId`, a payment's or a
   * refund's id), and the settlement stays PROCESSING; see runSettlement.
   */
  | { kind: 'PaymentsInFlight'; businessDate: string; openDate: string; inFlightId: string };

/**
 * Thrown from a stripe's finish when BALANCE_LIMIT refused its posting, so that the part and
 * the payments marked settled in prepare roll back with it, and the refusal is not kept under
 * the posting's dedupe key: a later run decides afresh.
 */
class PartRefused extends Error {
  constructor(readonly accountId: string) {
    super(`settlement posting refused by BALANCE_LIMIT on ${accountId}`);
    this.name = 'PartRefused';
  }
}

/**
 * Thrown from a stripe's prepare when a payment of many legs that credited it on the date, or a refund of one, is
 * still PROCESSING (inFlightOnLegs), so that nothing of the part is written. Its MERCHANT leg settles only once its
 * payment SUCCEEDED (lockUnsettledLegs), and a settlement finished without it is never run again: the leg's money
 * would stay in pending for good; a refund's share would stay there while its completion took available.
 */
class PartWaits extends Error {
  constructor(readonly inFlightId: string) {
    super(`${inFlightId} of the date is still in flight`);
    this.name = 'PartWaits';
  }
}

/** The shard holding logical shard 0 keeps platform-wide records: fee rates, statements, reports. */
export function controlShard(shards: ShardSet): Shard {
  return shards.byLogical(toLogicalShard(0));
}

export async function feeRateFor(shards: ShardSet, merchantId: string, config: SettlementSettings): Promise<number> {
  return (await feeRateOf(controlShard(shards).db, merchantId)) ?? config.feeBpsDefault;
}

/**
 * Settles a merchant's business date: for every stripe, in that stripe's own local
 * transaction, the date's unsettled payments move from pending to available less the fee,
 * which goes to the shard's fee-income account. Idempotent per merchant and date: a second
 * run finds the settlement and every part done and changes nothing; a run cut off halfway
 * is completed by the next one (each part is written with its posting, exactly once).
 * A stripe whose posting BALANCE_LIMIT refuses writes nothing; the other stripes settle, and
 * the settlement stays PROCESSING, its totals unset, answering BalanceLimit. The refused
 * stripe's payments stay unsettled, so the worker takes the date up again on each pass, and
 * the run that finds room writes the missing part and completes the settlement with the
 * totals of every part (the parts written earlier are read back, not posted again).
 * creditRepaidAmount: what the parts made available that covered the merchant's credit in use,
 * as its stripes read when the completing run began (a run resumed after a partial one counts the
 * parts written before it as already arrived).
 * `stragglers`: earlier dates whose settlement is SETTLED and that still hold unsettled items (services/worker.ts
 * names them); this settlement takes those items with its own date's. `stragglersOnly`: the worker claims this date
 * for them alone (its own date holds nothing due), so when every one of them waits for a payment in flight nothing
 * is claimed: a claim then would be an empty settlement, one a day while the payment stays in flight.
 */
export async function runSettlement(
  shards: ShardSet,
  merchantId: string,
  businessDate: string,
  now: () => Date,
  config: SettlementSettings,
  stragglerRun: StragglerRun = {},
): Promise<Result<SettlementRow, SettlementRefusal>> {
  const parsed = parseId('account', merchantId);
  const home = parsed ? shards.byLogical(parsed.shard) : undefined;
  const found = home ? await accountsAndStripes(home.db, [merchantId], []) : [];
  const merchant = found[0];
  if (!merchant || merchant.parentId !== null) return err({ kind: 'AccountNotFound', accountId: merchantId });
  if (merchant.type !== 'MERCHANT') return err({ kind: 'NotAMerchant', accountId: merchantId });
  const openDate = businessDateOf(now());
  if (businessDate >= openDate) return err({ kind: 'SettlementNotReady', businessDate, openDate });
  const stripes = await stripesOf(shards, merchant);
  // Before anything is claimed, so that a payment that then fails leaves no settlement PROCESSING behind it.
  const inFlight = await inFlightOnStripes(stripes, merchantId, [businessDate, ...(stragglerRun.stragglers ?? [])]);
  const waitsFor = inFlightOfRun(businessDate, stragglerRun, inFlight);
  if (waitsFor) return err({ kind: 'PaymentsInFlight', businessDate, openDate, inFlightId: waitsFor });
  const stragglers = withoutInFlight(stragglerRun.stragglers ?? [], inFlight);
  const dates = await datesToSettle(home!, merchantId, businessDate, stragglers);
  const feeBps = await feeRateFor(shards, merchantId, config);
  // Refused FencedWrite (retryable) while a move fences the merchant's logical shard: nothing claimed yet.
  const settlement = await claimSettlement(home!, {
    id: newId('settlement', parsed!.shard),
    merchantAccountId: merchantId,
    businessDate,
    currency: merchant.currency,
    status: 'PROCESSING',
    feeBps,
    createdAt: now(),
  });
  if (settlement.status === 'SETTLED') return ok(settlement);
  // The merchant's credit in use before this run's postings: what they make available covers it first.
  const creditUsedBefore = creditUsedOf({ available: stripes.reduce((sum, s) => sum + s.account.available, 0n) });
  // No advance of the merchant runs while its stripes settle: an advance's offer read before a
  // part commits would count that part's money as still pending (services/advance-lock.ts).
  const { parts, refused, waits } = await whileNoAdvanceRuns(shards, merchantId, () =>
    settleStripes(shards, { settlement, dates }, stripes, now),
  );
  if (refused) return err({ kind: 'BalanceLimit', accountId: refused.accountId });
  // The parts written stay; the settlement stays PROCESSING and a later run (the worker's next pass) finishes it.
  if (waits) return err({ kind: 'PaymentsInFlight', businessDate, openDate, inFlightId: waits.inFlightId });
  const totals = totalsOf(parts);
  const done = now();
  const creditRepaid = creditRepaidOf(creditUsedBefore, parts);
  const finished = await finishSettlement(home!, settlement.id, { ...totals, net: netOf(totals), creditRepaid }, done);
  // Another run (a replica, the operator's) finished it first: its totals stand, read back.
  if (!finished) return ok((await settlementsByIds(home!.db, [settlement.id]))[0]!);
  return ok({
    ...settlement,
    status: 'SETTLED',
    grossAmount: totals.gross,
    refundedAmount: totals.refunded,
    advancedAmount: totals.advanced,
    feeAmount: totals.fee,
    netAmount: netOf(totals),
    creditRepaidAmount: creditRepaid,
    completedAt: done,
  });
}

/**
 * The dates a settlement's parts take items of: its own and its stragglers'. A straggler's date must be earlier and
 * SETTLED (the worker read it so): a date not settled yet keeps its items for its own settlement, and taking them
 * here would settle them under another date and fee at once (a bug in the caller: it crashes the run).
 */
async function datesToSettle(
  home: Shard,
  merchantId: string,
  businessDate: string,
  stragglers: readonly string[],
): Promise<string[]> {
  if (stragglers.length === 0) return [businessDate];
  const states = await settlementStates(
    home.db,
    stragglers.map((date) => ({ merchantId, businessDate: date })),
  );
  const settled = new Set(states.filter((s) => s.status === 'SETTLED').map((s) => s.businessDate));
  for (const date of stragglers)
    assert(date < businessDate && settled.has(date), `${date} is not a settled date before ${businessDate}`);
  return [businessDate, ...new Set(stragglers)];
}

/**
 * Per date, a payment of legs (or a refund of one) of it still PROCESSING on one of the merchant's stripes; read
 * without a lock (they only leave PROCESSING). Each stripe's prepare asks again under its lock (PartWaits).
 */
async function inFlightOnStripes(
  stripes: ReadonlyArray<{ shard: Shard; account: Account }>,
  merchantId: string,
  dates: readonly string[],
): Promise<Map<string, string>> {
  const byDate = new Map<string, string>();
  for (const { shard, account } of stripes)
    for (const [date, id] of await inFlightOnLegs(shard.db, merchantId, account.id, dates))
      if (!byDate.has(date)) byDate.set(date, id);
  return byDate;
}

/** A settlement's totals: its parts' sums. */
function totalsOf(parts: readonly SettlementPartRow[]): {
  gross: bigint;
  refunded: bigint;
  advanced: bigint;
  fee: bigint;
} {
  return parts.reduce(
    (t, p) => ({
      gross: t.gross + p.grossAmount,
      refunded: t.refunded + p.refundedAmount,
      advanced: t.advanced + p.advancedAmount,
      fee: t.fee + p.feeAmount,
    }),
    { gross: 0n, refunded: 0n, advanced: 0n, fee: 0n },
  );
}

/** The worker's run of a date with stragglers (runSettlement); an operator's run has none. */
export interface StragglerRun {
  stragglers?: readonly string[];
  stragglersOnly?: boolean;
}

/**
 * What a run waits for before it claims, or undefined: a payment of its own date in flight, or, for a run claimed for
 * stragglers alone, one of each straggler date (then every one would be left out, and the claim would settle nothing).
 */
function inFlightOfRun(
  businessDate: string,
  run: StragglerRun,
  inFlight: ReadonlyMap<string, string>,
): string | undefined {
  const own = inFlight.get(businessDate);
  if (own || !run.stragglersOnly) return own;
  const stragglers = run.stragglers ?? [];
  return stragglers.length > 0 && stragglers.every((d) => inFlight.has(d)) ? inFlight.get(stragglers[0]!) : undefined;
}

/**
 * The straggler dates with nothing in flight: one that has waits for a later settlement (its items stay due), so a
 * payment of legs stuck on a database away holds back no settlement's own money but its own date's.
 */
function withoutInFlight(stragglers: readonly string[], inFlight: ReadonlyMap<string, string>): string[] {
  return stragglers.filter((date) => !inFlight.has(date));
}

/** Every stripe's part; a stripe refused (BALANCE_LIMIT) or waiting (PartWaits) writes nothing and the others settle. */
async function settleStripes(
  shards: ShardSet,
  run: SettlementRun,
  stripes: ReadonlyArray<{ shard: Shard; account: Account }>,
  now: () => Date,
): Promise<{ parts: SettlementPartRow[]; refused: PartRefused | undefined; waits: PartWaits | undefined }> {
  const parts: SettlementPartRow[] = [];
  let refused: PartRefused | undefined;
  let waits: PartWaits | undefined;
  for (const stripe of stripes) {
    try {
      parts.push(await settleStripe(shards, run, stripe, now));
    } catch (error) {
      if (error instanceof PartRefused) refused ??= error;
      else if (error instanceof PartWaits) waits ??= error;
      else throw error;
    }
  }
  return { parts, refused, waits };
}

/**
 * Mutation.runSettlement: operators only, asked before the merchant's id is read (an InvalidInput for a malformed one).
 */
export async function runSettlementFor(
  ctx: SettlementContext,
  input: { merchantAccountId: string; businessDate: string },
): Promise<
  Result<SettlementRow, SettlementRefusal | { kind: 'InvalidInput'; field: string; message: string } | Forbidden>
> {
  const refused = mayOperate(ctx.identity, 'run settlements');
  if (refused) return err(refused);
  const { merchantAccountId, businessDate } = input;
  if (!parseId('account', merchantAccountId))
    return err({
      kind: 'InvalidInput',
      field: 'merchantAccountId',
      message: `"${merchantAccountId}" is not an account id`,
    });
  return runSettlement(ctx.shards, merchantAccountId, businessDate, ctx.now, ctx.config);
}

/**
 * The merchant's home row and its stripes on the shards its stripe directory names
 * (ledger/stripes.ts). A stripe is named there before it is opened, so none that received a
 * payment of a closed date can be missing; shards that hold no stripe are not asked.
 */
async function stripesOf(shards: ShardSet, merchant: Account): Promise<Array<{ shard: Shard; account: Account }>> {
  const home = shards.of('account', merchant.id);
  return [{ shard: home, account: merchant }, ...(await readStripes(shards, [merchant]))];
}

/** A settlement being run, with the dates its parts take items of (datesToSettle): its own first. */
interface SettlementRun {
  settlement: SettlementRow;
  dates: readonly string[];
}

async function settleStripe(
  shards: ShardSet,
  run: SettlementRun,
  stripe: { shard: Shard; account: Pick<Account, 'id'> },
  now: () => Date,
): Promise<SettlementPartRow> {
  const { settlement, dates } = run;
  const { shard, account } = stripe;
  const feeIncomeId = await systemAccountId(shards, shard, 'FEE_INCOME', settlement.currency);
  let part: SettlementPartRow | undefined;
  return postOne<SettlementPartRow>(
    shard,
    {
      kind: 'prepare',
      prepare: async (tx) => {
        const existing = await lockPart(tx, settlement.id, account.id);
        if (existing) return { proceed: false, result: existing };
        const inFlight = await inFlightOnLegs(tx, settlement.merchantAccountId, account.id, dates);
        const own = inFlight.get(settlement.businessDate);
        if (own) throw new PartWaits(own);
        const partDates = [settlement.businessDate, ...withoutInFlight(dates.slice(1), inFlight)];
        const { figures, settled } = await lockPartContents(tx, { settlement, dates: partDates }, account.id);
        // Named by the stripe it posts to, as the part is placed: a shard move carries both with the stripe.
        const postingId = figures.moved > 0n ? newId('posting', shardOf('account', account.id)) : null;
        part = partRow(settlement, account.id, figures, postingId, now());
        await insertPart(tx, part);
        if (figures.advanced > 0n)
          await coverOutstanding(tx, account.id, settlement.merchantAccountId, figures.advanced);
        await markSettled(tx, settlement.id, settled);
        if (!postingId) {
          // No posting here reads the stripe's fence row: read after the writes, as a posting's lock would.
          await refuseFenced(tx, shard.name, [shardOf('account', account.id)]);
          return { proceed: false, result: part };
        }
        return {
          proceed: true,
          spec: settlementSpec(settlement, postingId, account.id, feeIncomeId, figures.moved, figures.fee),
        };
      },
      finish: async (_tx, outcome) => {
        // A completion, so status cannot refuse it, and pending holds what it moves; only a
        // balance past BIGINT can. The part's key is new (lockPart found none), so no DUPLICATE.
        if (outcome.status === 'REJECTED' && outcome.rejection.code === 'BALANCE_LIMIT')
          throw new PartRefused(outcome.rejection.accountId);
        assert(
          outcome.status === 'APPLIED',
          `settlement posting of ${settlement.id} on ${account.id} was ${outcome.status}`,
        );
        return part!;
      },
    },
    { now },
  );
}

/**
 * What a stripe's part settles, read under lock in its prepare: the unsettled payments and MERCHANT
 * legs of the run's dates, the refunds of them (those of these payments and those that came late),
 * and the part's figures (domain/fees.ts settlePart).
 */
async function lockPartContents(
  tx: Tx,
  run: SettlementRun,
  stripeId: string,
): Promise<{ figures: PartFigures; settled: SettledItems }> {
  const { settlement, dates } = run;
  const paid = await lockUnsettledPayments(tx, settlement.merchantAccountId, stripeId, dates);
  const early = await lockRefundsOfPayments(
    tx,
    paid.map((p) => p.id),
  );
  const late = await lockLateRefunds(tx, settlement.merchantAccountId, stripeId, settlement.businessDate);
  // The MERCHANT legs of payments of many legs, each as a payment of its own amount.
  const legs = await lockUnsettledLegs(tx, settlement.merchantAccountId, stripeId, dates);
  const earlyShares = await lockRefundSharesOfLegs(tx, legs);
  const lateShares = await lockLateRefundShares(tx, settlement.merchantAccountId, stripeId, settlement.businessDate);
  // What refunds took from each leg before it settled (in flight included), out of this pending:
  // never more than the leg (refundLegChanges bounds every receiver by its leg; settlePart asserts it).
  const received = legs.map((l) => ({ amount: l.amount, refundedAmount: l.refundedAmount }));
  // What advances moved out of this stripe's pending already is covered, not moved again
  // (domain/advances.ts), less what refunds gave back of it from available first.
  const outstanding = await repayAdvanceByRefunds(
    tx,
    settlement.merchantAccountId,
    stripeId,
    await lockOutstanding(tx, stripeId),
  );
  const figures = settlePart(
    [...paid, ...received],
    [...late.map((r) => r.amount), ...lateShares.map((r) => r.amount)],
    settlement.feeBps,
    outstanding,
  );
  return {
    figures,
    settled: {
      paymentIds: paid.map((p) => p.id),
      refundIds: [...early, ...late].map((r) => r.id),
      legs,
      shares: [...earlyShares, ...lateShares],
    },
  };
}

/** A stripe's part row, from its figures; its posting null when the part moves nothing. */
function partRow(
  settlement: SettlementRow,
  stripeId: string,
  figures: PartFigures,
  postingId: string | null,
  createdAt: Date,
): SettlementPartRow {
  return {
    settlementId: settlement.id,
    stripeAccountId: stripeId,
    grossAmount: figures.gross,
    refundedAmount: figures.refunded,
    advancedAmount: figures.advanced,
    feeAmount: figures.fee,
    movedAmount: figures.moved,
    postingId,
    createdAt,
  };
}

/**
 * Pending → available on the stripe, less the fee, which goes to fee income. A completion:
 * the money was received already, so a frozen merchant is still settled (it just cannot
 * spend what settles until it is unfrozen).
 */
function settlementSpec(
  settlement: SettlementRow,
  postingId: string,
  stripeId: string,
  feeIncomeId: string,
  moved: bigint,
  fee: bigint,
): PostingSpec {
  const legs: Leg[] = [{ accountId: stripeId, bucket: 'PENDING', amount: -moved }];
  if (moved - fee > 0n) legs.push({ accountId: stripeId, bucket: 'AVAILABLE', amount: moved - fee });
  if (fee > 0n) legs.push({ accountId: feeIncomeId, bucket: 'AVAILABLE', amount: fee });
  return {
    id: postingId,
    kind: 'SETTLEMENT',
    refId: settlement.id,
    dedupeKey: dedupeKeys.settlementPart(settlement.id, stripeId),
    currency: settlement.currency,
    legs,
    completion: true,
  };
}

export async function settlementParts(shards: ShardSet, settlementId: string): Promise<SettlementPartRow[]> {
  return (await Promise.all(shards.all.map((s) => partsOf(s.db, settlementId)))).flat();
}

/** The earliest business date a worker may settle now: T+N (SETTLEMENT_DELAY_DAYS, default 1). */
export function settleableThrough(now: Date, delayDays: number): string {
  return addDays(businessDateOf(now), -delayDays);
}
