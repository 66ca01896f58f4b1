import type { Forbidden } from '@paygraph/shared/authorization';
import {
  dedupeKeys,
  ledgerHealth,
  type LedgerHealth,
  clearingTotals,
  verifyAccounts,
} from '@paygraph/shared/ledger/index';
import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import { newId } from '@paygraph/shared/ids';
import { unbalancedAcross } from '../domain/posting-sums';
import { assert, err, ok, type Result } from '@paygraph/shared/result';
import {
  accountsTouchedOn,
  advancePostingMismatches,
  balanceMismatchesOfDate,
  clearingOfRefs,
  entriesOfKeys,
  outstandingMismatches,
  counterMismatches,
  postedKeys,
  entrySumsWithoutPosting,
  postingSumsOff,
} from '../db/ledger-checks';
import {
  externalTransfersOfDate,
  frozenMismatches,
  inFlightRecords,
  legsOfPaymentsOnShard,
  paymentsOfDate,
  refundsOfDate,
  sharesOfRefunds,
} from '@paygraph/transaction/read-model/settlement';
import { insertReport, reportsOfDate, settlementsOfDate } from '../db/settlement-store';
import { linesBookedBetween } from '../db/reconciliation-store';
import { countedOnce } from '../domain/booked-lines';
import { pageSize } from '@paygraph/shared/graphql/paging';
import type { ReportRow } from '../db/schema/settlement';
import { discrepanciesToJson, discrepancy, matchStatement, type Discrepancy } from '../domain/discrepancies';
import type { SettlementContext } from '../context';
import { controlShard, settlementParts } from './settle';
import { mayOperate } from './access';
import { groupBy } from '@paygraph/shared/collections';
import { fromEveryReachable } from '@paygraph/shared/worker';

/** A stored reconciliation run: the report row, with its discrepancies as values. */
export type Reconciliation = Omit<ReportRow, 'discrepancies'> & { discrepancies: Discrepancy[] };

/**
 * Reconciles a date and keeps the report on the control shard, under an id that names that
 * shard (reports are read back by date from there).
 */
export async function reconcileAndStore(
  shards: ShardSet,
  businessDate: string,
  createdBy: string,
  now: Date,
): Promise<Reconciliation> {
  const found = await reconcile(shards, businessDate);
  const control = controlShard(shards);
  const logical = shards.logicalOn(control)[0];
  assert(logical !== undefined, `shard ${control.name} holds no logical shard`);
  const report = {
    id: newId('reconciliation', logical),
    businessDate,
    balanced: found.length === 0,
    createdBy,
    createdAt: now,
  };
  await insertReport(control.db, { ...report, discrepancies: discrepanciesToJson(found) });
  return { ...report, discrepancies: found };
}

/** Query.reconciliation: operators reconcile a date, the report kept under their name. */
export async function reconciliationFor(
  ctx: SettlementContext,
  businessDate: string,
): Promise<Result<Reconciliation, Forbidden>> {
  const refused = mayOperate(ctx.identity, 'reconcile');
  if (refused) return err(refused);
  return ok(await reconcileAndStore(ctx.shards, businessDate, ctx.identity.sub, ctx.now()));
}

/** Query.reconciliationReports: the reports stored for a date, for operators. */
export async function reconciliationReportsFor(
  ctx: SettlementContext,
  businessDate: string,
  first: number | null | undefined,
): Promise<Result<ReportRow[], Forbidden>> {
  const refused = mayOperate(ctx.identity, 'read reconciliation reports');
  if (refused) return err(refused);
  return ok(await storedReports(ctx.shards, businessDate, first));
}

/**
 * Query.ledgerHealth, for operators: the ledger against itself now, and every account's frozen against its holds. A
 * database away is left out of both and named in unreachableShards (then balanced is false), so that the others'
 * health is still answered; a database missed by either read is named.
 */
export async function ledgerHealthFor(
  ctx: SettlementContext,
): Promise<Result<{ health: LedgerHealth; frozen: Awaited<ReturnType<typeof frozenAgainstHolds>> }, Forbidden>> {
  const refused = mayOperate(ctx.identity, 'read ledger health');
  if (refused) return err(refused);
  const [health, frozenRead] = await Promise.all([
    ledgerHealth(ctx.shards),
    fromEveryReachable('ledger health', ctx.shards.all, async (shard) => ({
      shard: shard.name,
      mismatches: await frozenMismatches(shard.db),
    })),
  ]);
  const frozenOf = new Set(frozenRead.map((r) => r.shard));
  const unreachableShards = ctx.shards.all
    .map((shard) => shard.name)
    .filter((name) => health.unreachableShards.includes(name) || !frozenOf.has(name));
  return ok({
    health: { ...health, unreachableShards, balanced: health.balanced && unreachableShards.length === 0 },
    frozen: frozenRead.flatMap((r) => r.mismatches),
  });
}

/** The reports stored for a date, newest first. */
export function storedReports(
  shards: ShardSet,
  businessDate: string,
  first: number | null | undefined,
): Promise<ReportRow[]> {
  return reportsOfDate(controlShard(shards).db, businessDate, pageSize(first));
}

/**
 * Reconciliation of a business date: the ledger against itself (every posting balanced,
 * every balance = Σ entries, every payment and refund with exactly its postings, clearing
 * = money in flight, every account's frozen = its HELD holds, every settlement = its entries) and against the outside
 * world (bank
 * and channel statements matched to deposits and withdrawals by external reference).
 */
export async function reconcile(shards: ShardSet, businessDate: string): Promise<Discrepancy[]> {
  const perShard = await Promise.all(shards.all.map((shard) => shardChecks(shard, businessDate)));
  return [
    ...perShard.flat(),
    ...(await postingSumChecks(shards, businessDate)),
    ...(await postingChecks(shards, businessDate)),
    ...(await clearingCheck(shards)),
    ...(await frozenCheck(shards)),
    ...(await settlementChecks(shards, businessDate)),
    ...(await advanceChecks(shards, businessDate)),
    ...(await externalChecks(shards, businessDate)),
  ];
}

async function shardChecks(shard: Shard, businessDate: string): Promise<Discrepancy[]> {
  const mismatched = await balanceMismatchesOfDate(shard.db, businessDate);
  const tampered = await verifyAccounts(shard.db, await accountsTouchedOn(shard.db, businessDate));
  return [
    ...tampered.map((t) =>
      discrepancy(
        'TAMPER_DETECTED',
        { accountId: t.accountId },
        `${t.kind}${'sequence' in t ? ` at entry ${t.sequence}` : ''}: account ${t.accountId} on ${shard.name} was changed outside the ledger`,
      ),
    ),
    ...mismatched.map((m) =>
      discrepancy(
        'BALANCE_MISMATCH',
        { accountId: m.accountId, currency: m.currency, expected: m.entries, actual: m.stored },
        `account ${m.accountId} stores ${m.stored} but its entries sum to ${m.entries}`,
      ),
    ),
  ];
}

/**
 * Every posting of the date balanced, its parts added up over every database (domain/posting-sums.ts): a shard move
 * leaves a moved posting's system entries on its source, and each database alone then showed it off by the other's.
 */
async function postingSumChecks(shards: ShardSet, businessDate: string): Promise<Discrepancy[]> {
  const parts = (
    await Promise.all(
      shards.all.map(async (shard) =>
        (await postingSumsOff(shard.db, businessDate)).map((part) => ({ ...part, database: shard.name })),
      ),
    )
  ).flat();
  // A moved account's entries of a posting whose row stayed elsewhere: asked only of the postings still off.
  const suspects = [...new Set(unbalancedAcross(parts).map((u) => u.postingId))];
  const elsewhere = await Promise.all(
    shards.all.map(async (shard) =>
      (await entrySumsWithoutPosting(shard.db, suspects)).map((part) => ({
        ...part,
        live: false,
        database: shard.name,
      })),
    ),
  );
  return unbalancedAcross([...parts, ...elsewhere.flat()]).map((u) =>
    discrepancy(
      'UNBALANCED_POSTING',
      { currency: u.currency, expected: 0n, actual: u.sum },
      `posting ${u.postingId} on ${u.databases.join(', ')} sums to ${u.sum}`,
    ),
  );
}

/** A posting a payment or refund must have made: its dedupe key, on the shard it posts on. */
interface ExpectedPosting {
  shard: Shard;
  key: string;
  paymentId: string;
  accountId: string;
}

/** The dedupe keys each payment and refund of the date must have posted, by shard. */
async function postingChecks(shards: ShardSet, businessDate: string): Promise<Discrepancy[]> {
  const expected: ExpectedPosting[] = [];
  for (const shard of shards.all) {
    await expectPaymentPostings(shards, shard, businessDate, expected);
    await expectRefundPostings(shards, shard, businessDate, expected);
  }
  const found: Discrepancy[] = [];
  for (const shard of shards.all) {
    const mine = expected.filter((e) => e.shard === shard);
    const posted = await postedKeys(
      shard.db,
      mine.map((e) => e.key),
    );
    for (const e of mine) {
      if (!posted.has(e.key))
        found.push(
          discrepancy(
            'POSTING_MISSING',
            { paymentId: e.paymentId, accountId: e.accountId },
            `no posting ${e.key} on ${shard.name}`,
          ),
        );
    }
  }
  return found;
}

/**
 * Adds to `expected` the postings of the date's payments on a shard: each leg's of a payment of legs, else its own and
 * a cross-shard one's credit or reversal.
 */
async function expectPaymentPostings(
  shards: ShardSet,
  shard: Shard,
  businessDate: string,
  expected: ExpectedPosting[],
): Promise<void> {
  const dated = await paymentsOfDate(shard.db, businessDate);
  const legsOf = groupBy(
    await legsOfPaymentsOnShard(
      shard.db,
      dated.filter((p) => p.route === 'LEGS').map((p) => p.id),
    ),
    (l) => l.paymentId,
  );
  for (const p of dated) {
    if (p.route === 'LEGS') {
      if (p.status === 'SUCCEEDED')
        expected.push(
          ...legKeys(
            shards,
            shard,
            p.id,
            p.id,
            (legsOf.get(p.id) ?? []).map((l) => ({ leg: l, amount: l.amount })),
          ),
        );
      continue;
    }
    expected.push({ shard, key: p.id, paymentId: p.id, accountId: p.payerAccountId });
    if (p.route === 'CROSS_SHARD' && p.status === 'SUCCEEDED')
      expected.push({
        shard: shards.of('account', p.payeeAccountId),
        key: dedupeKeys.paymentCredit(p.id),
        paymentId: p.id,
        accountId: p.payeeAccountId,
      });
    if (p.route === 'CROSS_SHARD' && p.status === 'FAILED')
      expected.push({ shard, key: dedupeKeys.paymentReversal(p.id), paymentId: p.id, accountId: p.payerAccountId });
  }
}

/**
 * Adds to `expected` the postings of the date's succeeded refunds on a shard: each share's of a refund of legs, else
 * its own or a cross-shard one's debit and credit.
 */
async function expectRefundPostings(
  shards: ShardSet,
  shard: Shard,
  businessDate: string,
  expected: ExpectedPosting[],
): Promise<void> {
  const refundsDated = await refundsOfDate(shard.db, businessDate);
  const legRefunds = refundsDated.filter((r) => r.route === 'LEGS' && r.status === 'SUCCEEDED');
  const sharesOf = groupBy(
    await sharesOfRefunds(
      shard.db,
      legRefunds.map((r) => r.id),
    ),
    (s) => s.refundId,
  );
  const refundedLegs = groupBy(
    await legsOfPaymentsOnShard(shard.db, [...new Set(legRefunds.map((r) => r.paymentId))]),
    (l) => l.paymentId,
  );
  for (const refund of legRefunds) {
    const legs = new Map((refundedLegs.get(refund.paymentId) ?? []).map((l) => [l.legIndex, l]));
    expected.push(
      ...legKeys(
        shards,
        shard,
        refund.id,
        refund.paymentId,
        (sharesOf.get(refund.id) ?? []).map((s) => ({ leg: legs.get(s.legIndex)!, amount: s.amount })),
      ),
    );
  }
  for (const refund of refundsDated) {
    const { route, payeeAccountId, payeeShare } = refund;
    if (refund.status !== 'SUCCEEDED' || route === 'LEGS') continue;
    if (route !== 'CROSS_SHARD')
      expected.push({ shard, key: refund.id, paymentId: refund.paymentId, accountId: payeeAccountId });
    else {
      // An FX refund whose share of buyAmount is 0 takes nothing from the payee: no debit posts there.
      if (payeeShare > 0n)
        expected.push({
          shard: shards.of('account', payeeAccountId),
          key: dedupeKeys.refundDebit(refund.id),
          paymentId: refund.paymentId,
          accountId: payeeAccountId,
        });
      expected.push({
        shard,
        key: dedupeKeys.refundCredit(refund.id),
        paymentId: refund.paymentId,
        accountId: payeeAccountId,
      });
    }
  }
}

/**
 * The postings a movement of many legs made when it succeeded: the home posting when a leg
 * moved on the payment's shard, and each leg that moved elsewhere under its own key there.
 */
function legKeys(
  shards: ShardSet,
  home: Shard,
  movementId: string,
  paymentId: string,
  moved: ReadonlyArray<{ leg: { legIndex: number; postedAccountId: string; accountId: string }; amount: bigint }>,
): ExpectedPosting[] {
  const keys: ExpectedPosting[] = [];
  let homeKey = false;
  for (const { leg, amount } of moved) {
    if (amount === 0n) continue;
    const shard = shards.of('account', leg.postedAccountId);
    if (shard !== home)
      keys.push({ shard, key: dedupeKeys.legPosting(movementId, leg.legIndex), paymentId, accountId: leg.accountId });
    else if (!homeKey) {
      homeKey = true;
      keys.push({ shard: home, key: dedupeKeys.firstHalf(movementId), paymentId, accountId: leg.accountId });
    }
  }
  return keys;
}

/** Σ clearing over all shards must equal what is debited on one shard and not yet credited on another. */
async function clearingCheck(shards: ShardSet): Promise<Discrepancy[]> {
  const inFlight = new Map<string, bigint>();
  const add = (currency: string, amount: bigint) => inFlight.set(currency, (inFlight.get(currency) ?? 0n) + amount);
  for (const shard of shards.all) {
    const { paying, refunding, sweeping, movingLegs } = await inFlightRecords(shard.db);
    // A movement of many legs holds in clearing, over all shards, what its postings put there.
    for (const s of shards.all) for (const c of await clearingOfRefs(s.db, movingLegs)) add(c.currency, c.amount);
    for (const sweep of sweeping) {
      const credited = await postedKeys(shards.of('account', sweep.payeeAccountId).db, [
        dedupeKeys.sweepCredit(sweep.id),
      ]);
      if (credited.size === 0) add(sweep.currency, sweep.amount);
    }
    for (const p of paying) {
      const credited = await postedKeys(shards.of('account', p.payeeAccountId).db, [dedupeKeys.paymentCredit(p.id)]);
      if (credited.size === 0) add(p.currency, p.amount);
    }
    for (const refund of refunding) {
      const debited = await postedKeys(shards.of('account', refund.payeeAccountId).db, [
        dedupeKeys.refundDebit(refund.id),
      ]);
      const credited = await postedKeys(shard.db, [dedupeKeys.refundCredit(refund.id)]);
      if (debited.size > 0 && credited.size === 0) add(refund.currency, refund.amount);
    }
  }
  const clearing = new Map<string, bigint>();
  for (const shard of shards.all)
    for (const c of await clearingTotals(shard.db))
      clearing.set(c.currency, (clearing.get(c.currency) ?? 0n) + c.amount);
  const found: Discrepancy[] = [];
  for (const currency of new Set([...inFlight.keys(), ...clearing.keys()])) {
    const expected = inFlight.get(currency) ?? 0n;
    const actual = clearing.get(currency) ?? 0n;
    if (expected !== actual)
      found.push(
        discrepancy(
          'CLEARING_MISMATCH',
          { currency, expected, actual },
          `clearing holds ${actual} ${currency}; ${expected} is in flight`,
        ),
      );
  }
  return found;
}

/** Every account's frozen balance equals the sum of its HELD holds, now (holds live on their payer's shard). */
export async function frozenAgainstHolds(
  shards: ShardSet,
): Promise<Array<{ accountId: string; currency: string; frozen: bigint; held: bigint }>> {
  return (await Promise.all(shards.all.map((shard) => frozenMismatches(shard.db)))).flat();
}

async function frozenCheck(shards: ShardSet): Promise<Discrepancy[]> {
  return (await frozenAgainstHolds(shards)).map((m) =>
    discrepancy(
      'FROZEN_MISMATCH',
      { accountId: m.accountId, currency: m.currency, expected: m.held, actual: m.frozen },
      `account ${m.accountId} has ${m.frozen} frozen; its HELD holds hold ${m.held}`,
    ),
  );
}

async function settlementChecks(shards: ShardSet, businessDate: string): Promise<Discrepancy[]> {
  const found: Discrepancy[] = [];
  for (const shard of shards.all) {
    for (const s of await settlementsOfDate(shard.db, businessDate)) {
      const parts = await settlementParts(shards, s.id);
      const fee = parts.reduce((a, p) => a + p.feeAmount, 0n);
      const gross = parts.reduce((a, p) => a + p.grossAmount, 0n);
      const advanced = parts.reduce((a, p) => a + p.advancedAmount, 0n);
      if (
        fee !== s.feeAmount ||
        gross !== s.grossAmount ||
        advanced !== s.advancedAmount ||
        s.netAmount !== s.grossAmount - s.refundedAmount - s.advancedAmount - s.feeAmount
      ) {
        found.push(
          discrepancy(
            'SETTLEMENT_MISMATCH',
            { accountId: s.merchantAccountId, expected: gross - fee, actual: s.grossAmount - s.feeAmount },
            `settlement ${s.id} disagrees with its parts`,
          ),
        );
      }
      for (const part of parts.filter((p) => p.movedAmount > 0n)) {
        const partShard = shards.of('account', part.stripeAccountId);
        const entries = await entriesOfKeys(partShard.db, [`${s.id}:${part.stripeAccountId}`]);
        const moved = -entries
          .filter((e) => e.accountId === part.stripeAccountId && e.bucket === 'PENDING')
          .reduce((a, e) => a + e.amount, 0n);
        if (moved !== part.movedAmount) {
          found.push(
            discrepancy(
              'SETTLEMENT_MISMATCH',
              { accountId: part.stripeAccountId, currency: s.currency, expected: part.movedAmount, actual: moved },
              `settlement ${s.id} moved ${moved} from stripe ${part.stripeAccountId}, its record says ${part.movedAmount}`,
            ),
          );
        }
      }
    }
  }
  return found;
}

/**
 * Advances against their postings and settlements: every stripe's outstanding advance equals
 * its pieces less what settlements covered, its covered and moved counters their records' sums, and
 * every ADVANCE posting of the date moved exactly its piece out of the stripe's pending.
 */
async function advanceChecks(shards: ShardSet, businessDate: string): Promise<Discrepancy[]> {
  const perShard = await Promise.all(
    shards.all.map(async (shard) => {
      const outstandingOff = (await outstandingMismatches(shard.db)).map((m) =>
        discrepancy(
          'SETTLEMENT_MISMATCH',
          { accountId: m.stripeId, expected: m.expected, actual: m.stored },
          `stripe ${m.stripeId} records ${m.stored} advanced and not settled; its advance pieces less its settled parts say ${m.expected}`,
        ),
      );
      const countersOff = (await counterMismatches(shard.db)).map((m) =>
        discrepancy(
          'SETTLEMENT_MISMATCH',
          { accountId: m.stripeId, expected: m.expected, actual: m.stored },
          m.counter === 'covered'
            ? `stripe ${m.stripeId} records ${m.stored} covered by settlements; its settlement parts say ${m.expected}`
            : `stripe ${m.stripeId} records ${m.stored} moved by moves of pending; their offsets say ${m.expected}`,
        ),
      );
      const postingsOff = (await advancePostingMismatches(shard.db, businessDate)).map((m) =>
        discrepancy(
          'SETTLEMENT_MISMATCH',
          { accountId: m.stripeId, expected: m.recorded, actual: m.moved },
          m.stripeId === null
            ? `advance posting ${m.postingId} has no advance piece`
            : `advance posting ${m.postingId} moved ${m.moved} from stripe ${m.stripeId}, its piece says ${m.recorded}`,
        ),
      );
      return [...outstandingOff, ...countersOff, ...postingsOff];
    }),
  );
  return perShard.flat();
}

async function externalChecks(shards: ShardSet, businessDate: string): Promise<Discrepancy[]> {
  const internal = (await Promise.all(shards.all.map((s) => externalTransfersOfDate(s.db, businessDate))))
    .flat()
    .filter((t) => t.status === 'SUCCEEDED')
    .map((t) => ({ id: t.id, kind: t.kind, externalRef: t.externalRef, amount: t.amount, currency: t.currency }));
  // The lines booked on the date, whatever statement holds them, a day repeated by two statements counted once.
  const lines = countedOnce(await linesBookedBetween(controlShard(shards).db, null, businessDate, businessDate));
  return matchStatement(internal, lines);
}
