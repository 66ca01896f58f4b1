import { createHash } from 'node:crypto';
import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import { inTransaction, type Tx } from '@paygraph/shared/shards/transaction';
import { newId } from '@paygraph/shared/ids';
import { assert, err, ok, type Result } from '@paygraph/shared/result';
import { formatAmount } from '@paygraph/shared/money';
import { statementDateMax } from '@paygraph/shared/limits';
import { pageSize } from '@paygraph/shared/graphql/paging';
import { log } from '@paygraph/shared/log';
import { channelMovementsBetween } from '@paygraph/transaction/read-model/settlement';
import {
  appendEvents,
  channelReconciliationsOf,
  exceptionsBySubjects,
  exceptionsOfDate,
  exceptionsWithStatus,
  insertChannelReconciliation,
  insertExceptions,
  lapseTimingResolution,
  lastImportFrom,
  latestStatementDate,
  linesBookedBetween,
  linesHeldOutside,
  lockExceptionsBySubjects,
  rekeyException,
  statementsBetween,
  type HeldLineRow,
  updateOpenException,
} from '../db/reconciliation-store';
import type { ExceptionRow, StatementRow } from '../db/schema/settlement';
import { keyedLines, legacyLineKeys } from '../domain/line-keys';
import { dateWindow } from '../domain/days';
import { legacySubjects, rekeyPlan, type RekeyPlan, type Rekeying } from '../domain/legacy-subjects';
import {
  assertPartition,
  matchChannel,
  type BankLine,
  type Match,
  type MatchResult,
  type MatchRule,
  type Movement,
} from '../domain/matching';
import {
  adjustmentOf,
  exceptionsOf,
  lineSubject,
  movementSubject,
  timingLapses,
  touches,
  type Adjustment,
  type ExceptionKind,
  type FoundException,
  type Resolution,
  type WindowSeen,
} from '../domain/channel-report';
import { rekeyRoundsMax, subsetCandidatesMax, subsetSearchStepsTotalMax } from '../limits';
import { rulesFor } from './matching-rules';
import { countBatchSearches } from './metrics';
import { controlShard } from './settle';
import type { Forbidden } from '@paygraph/shared/authorization';
import type { SettlementContext } from '../context';
import { mayOperate } from './access';
import { exceptionDetailCharsMax } from '../limits';

/** Who changes an exception when matching itself does (a later statement showed the money). */
export const matchingActor = 'matching';
const dayMs = 86_400_000;

export interface ExceptionView {
  id: string;
  kind: ExceptionKind;
  channel: string;
  businessDate: string;
  externalRef: string | null;
  movementId: string | null;
  amount: string;
  currency: string;
  detail: string;
  status: 'OPEN' | 'RESOLVED';
  resolution: Resolution | null;
  note: string | null;
  resolvedBy: string | null;
  resolvedAt: string | null;
  postingId: string | null;
  detectedAt: string;
  ageDays: number;
}

export interface ChannelReport {
  id: string;
  channel: string;
  businessDate: string;
  matches: Array<{
    rule: MatchRule;
    currency: string;
    externalRefs: string[];
    statementDates: string[];
    movementIds: string[];
    difference: string;
  }>;
  exceptions: ExceptionView[];
  adjustment: Array<
    Omit<Record<keyof Adjustment, string>, 'balanced' | 'openingBalance' | 'closingBalance'> & {
      balanced: boolean;
      openingBalance: string | null;
      closingBalance: string | null;
    }
  >;
  createdBy: string;
  createdAt: string;
}

export function exceptionView(row: ExceptionRow, now: Date): ExceptionView {
  return {
    id: row.id,
    kind: row.kind,
    channel: row.channel,
    businessDate: row.businessDate,
    externalRef: row.externalRef,
    movementId: row.movementId,
    amount: formatAmount(row.amount),
    currency: row.currency,
    detail: row.detail,
    status: row.status,
    resolution: row.resolution,
    note: row.note,
    resolvedBy: row.resolvedBy,
    resolvedAt: row.resolvedAt?.toISOString() ?? null,
    postingId: row.postingId,
    detectedAt: row.detectedAt.toISOString(),
    ageDays: Math.max(0, Math.floor((now.getTime() - row.detectedAt.getTime()) / dayMs)),
  };
}

/**
 * An exception's id names its channel and the subject it was opened under, so every run (and a concurrent one) agrees
 * on it; 33 characters, as every id the ledger's ref_id holds (116 bits of the hash). A row re-keyed since (a line's
 * key of before, rekeyLegacy) keeps its id: its resolution's posting and dedupe key name it.
 */
export function exceptionId(channel: string, subject: string): string {
  return `rex_${createHash('sha256').update(`${channel}|${subject}`).digest('hex').slice(0, 29)}`;
}

/** A counted line as matching reads it, under its key (domain/line-keys.ts). */
function bankLine({ line, key, order }: { line: HeldLineRow; key: string; order: string }): BankLine {
  return {
    key,
    order,
    statementDate: line.valueDate,
    valueDate: line.valueDate,
    currency: line.currency,
    signed: line.direction === 'CREDIT' ? line.amount : -line.amount,
    externalRef: line.externalRef,
    lineNumber: line.lineNumber,
  };
}

/**
 * The subjects the run's items had before (domain/legacy-subjects.ts): of the lines it read, their shared-places
 * subjects and their copies' of before c3452ee, and of the lines its date's statements hold from days outside its
 * window, whose exceptions of before c3452ee are of this date: the run re-keys them rather than closing them as no
 * longer found, whichever date is reconciled first.
 */
async function rekeyingsOf(
  control: Shard,
  channel: string,
  window: { businessDate: string; fromDate: string; toDate: string },
  read: { held: readonly HeldLineRow[]; keyed: ReadonlyArray<{ line: HeldLineRow; key: string; order: string }> },
  result: MatchResult,
): Promise<Rekeying[]> {
  const outside = await linesHeldOutside(control.db, channel, window.businessDate, window.fromDate, window.toDate);
  // Keys now (and shared places) of the days outside the window as their own runs give them: of every statement's
  // lines of those days. Places count per day, so each day's keys are those of its lines alone, and the window's stay
  // keyedLines(held)'s.
  const days = outside.map((line) => line.valueDate).sort();
  const booked =
    days.length === 0
      ? []
      : (await linesBookedBetween(control.db, channel, days[0]!, days[days.length - 1]!)).filter(
          (line) => line.valueDate < window.fromDate || line.valueDate > window.toDate,
        );
  const counted = [...read.keyed, ...keyedLines(booked)];
  // And those days' copies on their own day's statements: one whose statement-date subject is an outside copy's
  // line's shared-places one claims it too (legacy-subjects.ts applying), whichever date is reconciled first.
  const outsideDays = new Set(days);
  const ownDate = booked.filter(
    (line) => line.statement.businessDate === line.valueDate && outsideDays.has(line.valueDate),
  );
  return legacySubjects(legacyLineKeys([...read.held, ...outside, ...ownDate], counted), result.matches);
}

async function channelMovements(
  shards: ShardSet,
  channel: string,
  fromDate: string,
  toDate: string,
): Promise<Movement[]> {
  const rows = (
    await Promise.all(shards.all.map((s: Shard) => channelMovementsBetween(s.db, channel, fromDate, toDate)))
  ).flat();
  return rows.map((r) => ({
    id: r.id,
    businessDate: r.businessDate,
    currency: r.currency,
    signed: r.kind === 'DEPOSIT' ? r.amount : -r.amount,
    externalRef: r.externalRef,
  }));
}

/**
 * A channel's reconciliation of a date, computed now and stored: the statement lines booked in the date window around
 * it (whatever statement holds them) and its movements of the window are matched (domain/matching.ts), the date's
 * exceptions recorded
 * (new ones opened, open ones updated, those a match now explains resolved as TIMING by
 * matching itself), the adjustment table computed, and the whole kept as a report.
 */
export async function reconcileChannel(
  shards: ShardSet,
  channel: string,
  businessDate: string,
  createdBy: string,
  now: Date,
): Promise<ChannelReport> {
  const control = controlShard(shards);
  const rules = await rulesFor(shards, channel);
  assert(businessDate <= statementDateMax, `a channel's reconciliation of ${businessDate}, after ${statementDateMax}`);
  const { fromDate, toDate } = dateWindow(businessDate, rules.dateWindowDays);
  const held = await linesBookedBetween(control.db, channel, fromDate, toDate);
  const keyed = keyedLines(held);
  const lines = keyed.map(bankLine);
  const movements = await channelMovements(shards, channel, fromDate, toDate);
  const result = matchChannel(lines, movements, rules);
  assertPartition(result, lines.length, movements.length);
  reportBatchBounds(channel, businessDate, result);
  const latest = await latestStatementDate(control.db, channel);
  const windowEnded = latest !== null && latest >= toDate;
  const windowSeen = { ended: windowEnded, lastImportedAt: await lastImportFrom(control.db, channel, fromDate) };
  const found = exceptionsOf(result, businessDate, windowEnded);
  const rekeyings = await rekeyingsOf(control, channel, { businessDate, fromDate, toDate }, { held, keyed }, result);
  const rows = await recordExceptions(control, { channel, now, windowSeen }, businessDate, {
    found,
    result,
    rekeyings,
  });
  const bySubject = new Map(rows.map((r) => [r.subject, r]));
  const balances = channelBalances(await statementsBetween(control.db, channel, businessDate, businessDate));
  const adjustment = adjustmentOf(result, businessDate, (subject) => bySubject.get(subject), balances);
  const logical = shards.logicalOn(control)[0];
  assert(logical !== undefined, `shard ${control.name} holds no logical shard`);
  const report: ChannelReport = {
    id: newId('reconciliation', logical),
    channel,
    businessDate,
    createdBy,
    createdAt: now.toISOString(),
    matches: result.matches.filter((m) => touches(m, businessDate)).map(matchView),
    exceptions: rows.map((r) => exceptionView(r, now)).sort((a, b) => a.id.localeCompare(b.id)),
    adjustment: adjustment.map((a) => ({
      ...a,
      bankMovements: formatAmount(a.bankMovements),
      ledgerMovements: formatAmount(a.ledgerMovements),
      inTransit: formatAmount(a.inTransit),
      bankOnly: formatAmount(a.bankOnly),
      unexplained: formatAmount(a.unexplained),
      openingBalance: a.openingBalance === null ? null : formatAmount(a.openingBalance),
      closingBalance: a.closingBalance === null ? null : formatAmount(a.closingBalance),
    })),
  };
  await insertChannelReconciliation(control.db, {
    id: report.id,
    channel,
    businessDate,
    body: JSON.stringify(report),
    createdBy,
    createdAt: now,
  });
  return report;
}

/**
 * Counts the run's batch searches, and says in the log when its bounds left items unmatched: they are exceptions now,
 * and an operator reading them should know that the matching stopped short rather than found nothing.
 */
function reportBatchBounds(channel: string, businessDate: string, result: MatchResult): void {
  countBatchSearches(result.subsets);
  const { outOfBudget, overCandidates } = result.subsets;
  if (outOfBudget + overCandidates === 0) return;
  log().warn(
    { channel, businessDate, ...result.subsets, subsetCandidatesMax, subsetSearchStepsTotalMax },
    `batch matching stopped at its bounds: ${outOfBudget} weighing(s) not searched (steps ran out), ${overCandidates} over ${subsetCandidatesMax} members; their items stay exceptions`,
  );
}

function matchView(m: Match): ChannelReport['matches'][number] {
  return {
    rule: m.rule,
    currency: m.currency,
    externalRefs: m.lines.map((l) => l.externalRef),
    statementDates: m.lines.map((l) => l.statementDate),
    movementIds: m.movements.map((x) => x.id),
    difference: formatAmount(m.difference),
  };
}

/**
 * Records what the run found, in one transaction on the control shard, and answers the date's
 * exceptions (every status) with those of the matches touching it. A resolved exception is
 * never reopened or rewritten, but for a TIMING that lapsed (lapseTimings); nothing is deleted.
 * Exceptions recorded under the run's items' subjects of before are re-keyed first (rekeyLegacy).
 */
async function recordExceptions(
  control: Shard,
  run: Omit<Recording, 'tx' | 'events'>,
  businessDate: string,
  seen: { found: readonly FoundException[]; result: MatchResult; rekeyings: readonly Rekeying[] },
): Promise<ExceptionRow[]> {
  const { channel } = run;
  const { found, result } = seen;
  const matchedSubjects = matchedSubjectsOf(result, businessDate);
  const touching = result.matches
    .filter((m) => touches(m, businessDate))
    .flatMap((m) => [...m.lines.map(lineSubject), ...m.movements.map(movementSubject)]);
  return inTransaction(control, async (tx) => {
    const recording: Recording = { ...run, tx, events: [] };
    await rekeyLegacy(recording, seen.rekeyings);
    await recordFound(recording, found);
    const foundSubjects = new Set(found.map((f) => f.subject));
    await resolveNoLongerFound(recording, businessDate, matchedSubjects, foundSubjects);
    await appendEvents(tx, recording.events);
    const dated = await exceptionsOfDate(tx, channel, businessDate);
    const related = await exceptionsBySubjects(tx, channel, [...foundSubjects, ...touching]);
    return [...new Map([...dated, ...related].map((r) => [r.id, r])).values()];
  });
}

/**
 * What explains each of the date's own items a match took, as a resolution's detail: a line names the movements, a
 * movement the statements. A run resolves only the items of its own date, those whose window it reads whole: another
 * date's run matches over another window, and may pair the same item otherwise (an earlier line taking the movement
 * this run gave it). Were a run to resolve that date's item as TIMING while the item's own run finds it unmatched with
 * its window ended, each run would undo the other's (resolved, lapsed, resolved) for as long as anyone read the
 * reports. The item's own run both resolves it and lapses it, on one view of its window.
 */
function matchedSubjectsOf(result: MatchResult, businessDate: string): Map<string, string> {
  const matchedSubjects = new Map<string, string>();
  for (const m of result.matches) {
    if (!touches(m, businessDate)) continue;
    const shownOn = [...new Set(m.lines.map((l) => l.statementDate))].join(', ');
    for (const l of m.lines)
      if (l.statementDate === businessDate)
        matchedSubjects.set(lineSubject(l), `matched (${m.rule}) with ${m.movements.map((x) => x.id).join(', ')}`);
    for (const x of m.movements)
      if (x.businessDate === businessDate)
        matchedSubjects.set(movementSubject(x), `shown on the statement of ${shownOn} (${m.rule})`);
  }
  return matchedSubjects;
}

/**
 * One run's writes to the exceptions: its transaction, channel and instant, what it knows of its date's window (what
 * lapses a TIMING), and the events appended once they are done.
 */
interface Recording {
  tx: Tx;
  channel: string;
  now: Date;
  windowSeen: WindowSeen;
  events: Array<Parameters<typeof appendEvents>[1][number]>;
}

/**
 * Re-keys the exceptions recorded under a subject the run's items had before (domain/legacy-subjects.ts rekeyPlan
 * says which row each subject keeps, and why), each row under its id, so that what follows in the run finds it under
 * its subject now, not a second exception for the same line; the other open rows of that line are closed as its
 * duplicates, posting nothing. The trail says so. Reads the rows locked only where it finds one under an old subject.
 *
 * The rows are read locked and written only while as read (rekeyException, updateOpenException), so two runs at once
 * wait for each other and the second finds what the first left. A move another run beat (it took the subject now
 * first, with another of the line's rows) is planned again from the rows as they are then, in the next round: the
 * holder may be the open row, and a posted one stays under its old subject.
 */
async function rekeyLegacy(recording: Recording, rekeyings: readonly Rekeying[]): Promise<void> {
  const { tx, channel } = recording;
  if (rekeyings.length === 0) return;
  const recorded = new Set(
    (
      await exceptionsBySubjects(
        tx,
        channel,
        rekeyings.map((r) => r.legacy),
      )
    ).map((r) => r.subject),
  );
  let pending = rekeyings.filter((r) => recorded.has(r.legacy));
  for (let round = 0; round < rekeyRoundsMax && pending.length > 0; round += 1) {
    const rows = await lockExceptionsBySubjects(
      tx,
      channel,
      pending.flatMap((r) => [r.legacy, r.subject]),
    );
    const beaten = await applyRekeyPlan(recording, rekeyPlan(pending, rows));
    pending = pending.filter((r) => beaten.has(r.subject));
  }
}

/** How the trail names a subject of before, by its scheme (domain/line-keys.ts). */
const schemeNamed = {
  'statement-date': 'before c3452ee',
  'shared-places': 'before keys named their account',
} as const satisfies Record<Rekeying['scheme'], string>;

/** Writes a plan's moves, then its closes but those of a subject whose move another run beat; answers those subjects. */
async function applyRekeyPlan({ tx, now, events }: Recording, plan: RekeyPlan<ExceptionRow>): Promise<Set<string>> {
  const beaten = new Set<string>();
  for (const { row, rekeying } of plan.moves) {
    const to = { subject: rekeying.subject, businessDate: rekeying.businessDate, updatedAt: now };
    if (!(await rekeyException(tx, row.id, rekeying.legacy, to))) {
      beaten.add(rekeying.subject);
      continue;
    }
    events.push({
      exceptionId: row.id,
      event: 'CHANGED',
      actor: matchingActor,
      detail: `re-keyed: ${rekeying.legacy} of ${row.businessDate}, its subject ${schemeNamed[rekeying.scheme]}, is ${rekeying.subject} of ${rekeying.businessDate}`,
      at: now,
    });
  }
  for (const { row, kept, subject } of plan.closes) {
    if (beaten.has(subject)) continue;
    const detail = `a duplicate of ${kept.id} (${kept.status}${kept.resolution ? ` ${kept.resolution}` : ''}), the exception kept for ${subject}: the same statement line's, recorded under a key of before or a copy's; closed without posting`;
    const closed = await updateOpenException(tx, row, {
      status: 'RESOLVED',
      resolution: null,
      resolvedBy: matchingActor,
      resolvedAt: now,
      updatedAt: now,
      detail: `${row.detail}; ${detail}`.slice(0, exceptionDetailCharsMax),
    });
    if (closed) events.push({ exceptionId: row.id, event: 'RESOLVED', actor: matchingActor, detail, at: now });
  }
  return beaten;
}

/** Opens the exceptions found for the first time, and rewrites the open ones whose kind, amount or detail changed. */
async function recordFound(recording: Recording, found: readonly FoundException[]): Promise<void> {
  const { tx, channel, now, events } = recording;
  const existing = new Map(
    (
      await exceptionsBySubjects(
        tx,
        channel,
        found.map((f) => f.subject),
      )
    ).map((r) => [r.subject, r]),
  );
  const fresh = found.filter((f) => !existing.has(f.subject));
  await insertExceptions(
    tx,
    fresh.map((f) => ({
      ...f,
      id: exceptionId(channel, f.subject),
      channel,
      status: 'OPEN' as const,
      detectedAt: now,
      updatedAt: now,
    })),
  );
  for (const f of fresh)
    events.push({
      exceptionId: exceptionId(channel, f.subject),
      event: 'OPENED',
      actor: matchingActor,
      detail: f.detail,
      at: now,
    });
  await lapseTimings(recording, found, existing);
  for (const f of found) {
    const row = existing.get(f.subject);
    if (!row || row.status !== 'OPEN' || (row.kind === f.kind && row.amount === f.amount && row.detail === f.detail))
      continue;
    if (await updateOpenException(tx, row, { kind: f.kind, amount: f.amount, detail: f.detail, updatedAt: now })) {
      events.push({
        exceptionId: row.id,
        event: 'CHANGED',
        actor: matchingActor,
        detail: `${row.kind} → ${f.kind}: ${f.detail}`,
        at: now,
      });
    }
  }
}

/**
 * A TIMING says the money, or the movement of a bank line, will come within its window: an operator's of a movement
 * IN_TRANSIT or MISSING_EXTERNAL or of a line MISSING_INTERNAL, or matching's own of an item a match once explained.
 * Once the window has ended with the item still unmatched, an operator's on a statement of the window imported after
 * it (domain's timingLapses says why), that resolution lapses: the exception is open again, as MISSING_EXTERNAL or
 * MISSING_INTERNAL, so a date reads unbalanced while its money is missing instead of counting it in transit for ever,
 * and a line no movement explains is listed open again. The row is reopened, not a new one opened: its subject is the
 * item's, which the adjustment table reads. Its resolution key stays, so that a replay of the lapsed resolution is told
 * so rather than resolving it again, and TIMING is refused on it (exceptions.ts). A later run finds the row open and as
 * it left it: it lapses once and writes once.
 */
async function lapseTimings(
  { tx, now, events, windowSeen }: Recording,
  found: readonly FoundException[],
  existing: ReadonlyMap<string, ExceptionRow>,
): Promise<void> {
  for (const f of found) {
    const row = existing.get(f.subject);
    if (!row || !timingLapses(f, { ...row, byMatching: row.resolvedBy === matchingActor }, windowSeen)) continue;
    const reopened = { kind: f.kind, amount: f.amount, detail: f.detail, updatedAt: now };
    if (!(await lapseTimingResolution(tx, row.id, row.kind, reopened))) continue;
    const detail = `the TIMING resolution by ${row.resolvedBy ?? 'an operator'} lapsed: ${f.detail}`;
    events.push({ exceptionId: row.id, event: 'OPENED', actor: matchingActor, detail, at: now });
  }
}

/**
 * Resolves, by matching itself, the open exceptions of a matched subject or of the date that the
 * run no longer finds: as TIMING when a match now explains them, without a resolution otherwise.
 */
async function resolveNoLongerFound(
  { tx, channel, now, events }: Recording,
  businessDate: string,
  matchedSubjects: ReadonlyMap<string, string>,
  foundSubjects: ReadonlySet<string>,
): Promise<void> {
  const open = [
    ...(await exceptionsBySubjects(tx, channel, [...matchedSubjects.keys()])),
    ...(await exceptionsOfDate(tx, channel, businessDate, 'OPEN')),
  ];
  for (const row of open) {
    if (row.status !== 'OPEN' || foundSubjects.has(row.subject)) continue;
    const explained = matchedSubjects.get(row.subject);
    const detail = explained ?? 'no longer found by matching (its statement was replaced, or the item left the date)';
    const resolved = await updateOpenException(tx, row, {
      status: 'RESOLVED',
      resolution: explained ? 'TIMING' : null,
      resolvedBy: matchingActor,
      resolvedAt: now,
      updatedAt: now,
      detail: `${row.detail}; ${detail}`.slice(0, exceptionDetailCharsMax),
    });
    if (resolved) events.push({ exceptionId: row.id, event: 'RESOLVED', actor: matchingActor, detail, at: now });
  }
}

/** The reports of a channel's date as they were computed, newest first. */
export async function storedChannelReports(
  shards: ShardSet,
  channel: string,
  businessDate: string,
  first: number | null | undefined,
): Promise<ChannelReport[]> {
  const rows = await channelReconciliationsOf(controlShard(shards).db, channel, businessDate, pageSize(first));
  return rows.map((r) => JSON.parse(r.body) as ChannelReport);
}

/** Exceptions of a status, oldest first, with their age now. */
export async function listExceptions(
  shards: ShardSet,
  channel: string | null,
  status: 'OPEN' | 'RESOLVED',
  first: number | null | undefined,
  now: Date,
): Promise<ExceptionView[]> {
  return (await exceptionsWithStatus(controlShard(shards).db, channel, status, pageSize(first))).map((r) =>
    exceptionView(r, now),
  );
}

/** Query.channelReconciliation: operators only (services/access.ts); the channel is parsed by the resolver. */
export async function channelReconciliationFor(
  ctx: SettlementContext,
  channel: string,
  businessDate: string,
): Promise<Result<ChannelReport, Forbidden>> {
  const refused = mayOperate(ctx.identity, 'reconcile channels');
  if (refused) return err(refused);
  return ok(await reconcileChannel(ctx.shards, channel, businessDate, ctx.identity.sub, ctx.now()));
}

/** Query.channelReconciliations: operators only; the stored reports of a channel's date. */
export async function channelReconciliationsFor(
  ctx: SettlementContext,
  channel: string,
  businessDate: string,
  first: number | null | undefined,
): Promise<Result<ChannelReport[], Forbidden>> {
  const refused = mayOperate(ctx.identity, 'read channel reconciliations');
  if (refused) return err(refused);
  return ok(await storedChannelReports(ctx.shards, channel, businessDate, first));
}

/**
 * Query.reconciliationExceptions: operators only; a channel's (or every channel's) exceptions of one status, with their
 * age.
 */
export async function reconciliationExceptionsFor(
  ctx: SettlementContext,
  channel: string | null,
  status: 'OPEN' | 'RESOLVED',
  first: number | null | undefined,
): Promise<Result<ExceptionView[], Forbidden>> {
  const refused = mayOperate(ctx.identity, 'read reconciliation exceptions');
  if (refused) return err(refused);
  return ok(await listExceptions(ctx.shards, channel, status, first, ctx.now()));
}

/**
 * The channel's balances at the bank on a date, per currency: the sum over its accounts' statements closing that date
 * (a channel of several accounts in one currency holds their sum; a statement of several days gives the opening of its
 * first); unknown (null) when any of them carries none (CSV). Of an account's statements closing that date, the one of
 * the shortest span (the day's own beside the month's): both close on the same balance, and added they were twice it.
 */
function channelBalances(
  rows: readonly StatementRow[],
): Map<string, { opening: bigint | null; closing: bigint | null }> {
  const shortest = new Map<string, StatementRow>();
  for (const s of rows) {
    const key = `${s.account} ${s.currency ?? ''}`;
    const other = shortest.get(key);
    if (other === undefined || other.openingDate < s.openingDate) shortest.set(key, s);
  }
  const sums = new Map<string, { opening: bigint | null; closing: bigint | null }>();
  const add = (a: bigint | null | undefined, b: bigint | null) => (a === null || b === null ? null : (a ?? 0n) + b);
  for (const s of shortest.values()) {
    if (s.currency === null) continue;
    const before = sums.get(s.currency);
    sums.set(s.currency, {
      opening: add(before?.opening, s.openingBalance),
      closing: add(before?.closing, s.closingBalance),
    });
  }
  return sums;
}
