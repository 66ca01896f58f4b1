import { createHash } from 'node:crypto';
import { assert } from '@paygraph/shared/result';
import type { BankLine, Match, MatchResult, Movement } from './matching';

/**
 * What a channel's matching means for one business date: the exceptions it finds (each under a
 * subject that the next run finds again) and the bank balance adjustment table. Pure.
 */
export type ExceptionKind = 'MISSING_INTERNAL' | 'MISSING_EXTERNAL' | 'AMOUNT_MISMATCH' | 'IN_TRANSIT';
export type Resolution = 'BANK_FEE' | 'TIMING' | 'BANK_DUPLICATE' | 'WRITE_OFF';

export interface FoundException {
  subject: string;
  kind: ExceptionKind;
  businessDate: string;
  externalRef: string | null;
  movementId: string | null;
  /** Statement minus ledger, signed. */
  amount: bigint;
  currency: string;
  detail: string;
}

export const lineSubject = (line: Pick<BankLine, 'key'>) => `line:${line.key}`;
export const movementSubject = (movement: Movement) => `movement:${movement.id}`;

/** A match's subject: its movements and lines, hashed to fit the column (the same group finds the same row). */
export function matchSubject(match: Match): string {
  return matchSubjectOf(
    match.movements.map((m) => m.id),
    match.lines.map((l) => l.key),
  );
}

/** The subject of a match of these movements and of the lines of these keys. */
export function matchSubjectOf(movementIds: readonly string[], lineKeys: readonly string[]): string {
  const parts = [...[...movementIds].sort(), '/', ...[...lineKeys].sort()].join(',');
  return `match:${createHash('sha256').update(parts).digest('hex').slice(0, 40)}`;
}

export function touches(match: Match, date: string): boolean {
  return match.lines.some((l) => l.statementDate === date) || match.movements.some((m) => m.businessDate === date);
}

/**
 * The exceptions of a date: its lines that match nothing (MISSING_INTERNAL), its movements that
 * match nothing (IN_TRANSIT while a statement dated `date + window` has not come, MISSING_EXTERNAL
 * after), and the matches touching it whose amounts differ (AMOUNT_MISMATCH, of the date of their
 * first line).
 */
export function exceptionsOf(result: MatchResult, date: string, windowEnded: boolean): FoundException[] {
  const found: FoundException[] = [];
  for (const match of result.matches) {
    if (match.difference === 0n || !touches(match, date)) continue;
    const first = match.lines[0]!;
    found.push({
      subject: matchSubject(match),
      kind: 'AMOUNT_MISMATCH',
      businessDate: first.statementDate,
      externalRef: first.externalRef || null,
      movementId: match.movements[0]?.id ?? null,
      amount: match.difference,
      currency: match.currency,
      detail: `${match.rule} match of ${match.lines.length} line(s) and ${match.movements.length} movement(s) (${match.movements.map((m) => m.id).join(', ')}): the statement says ${match.difference} ${match.currency} more than the ledger`,
    });
  }
  for (const { line, duplicateOf } of result.unmatchedLines) {
    if (line.statementDate !== date) continue;
    found.push({
      subject: lineSubject(line),
      kind: 'MISSING_INTERNAL',
      businessDate: date,
      externalRef: line.externalRef || null,
      movementId: null,
      amount: line.signed,
      currency: line.currency,
      detail: `statement line ${line.lineNumber} (${line.signed} ${line.currency}, ref "${line.externalRef}") matches no movement${duplicateOf ? `; it repeats line ${duplicateOf.lineNumber} of ${duplicateOf.statementDate} (a duplicate on the bank's side?)` : ''}`,
    });
  }
  for (const movement of result.unmatchedMovements) {
    if (movement.businessDate !== date) continue;
    found.push({
      subject: movementSubject(movement),
      kind: windowEnded ? 'MISSING_EXTERNAL' : 'IN_TRANSIT',
      businessDate: date,
      externalRef: movement.externalRef,
      movementId: movement.id,
      amount: -movement.signed,
      currency: movement.currency,
      detail: windowEnded
        ? `${movement.signed < 0n ? 'withdrawal' : 'deposit'} ${movement.id} (${movement.signed} ${movement.currency}) is on no statement of its date window`
        : `${movement.signed < 0n ? 'withdrawal' : 'deposit'} ${movement.id} (${movement.signed} ${movement.currency}) is not on a statement yet; its window has not ended`,
    });
  }
  return found;
}

export interface Adjustment {
  currency: string;
  bankMovements: bigint;
  ledgerMovements: bigint;
  inTransit: bigint;
  bankOnly: bigint;
  unexplained: bigint;
  balanced: boolean;
  openingBalance: bigint | null;
  closingBalance: bigint | null;
}

export interface ExceptionState {
  kind: ExceptionKind;
  status: 'OPEN' | 'RESOLVED';
  resolution: Resolution | null;
}

/** A TIMING as a run reads it: when it was made, and whether matching made it (a match once explained the item). */
export interface TimingState extends ExceptionState {
  resolvedAt: Date | null;
  byMatching: boolean;
}

/**
 * What a run knows of its date's window: whether it has ended (a statement dated at or after its last day imported,
 * where IN_TRANSIT becomes MISSING_EXTERNAL), and when a statement that can hold its lines was last imported.
 */
export interface WindowSeen {
  ended: boolean;
  lastImportedAt: Date | null;
}

/**
 * Whether the TIMING resolution of an item a run still finds unmatched has lapsed. TIMING posts nothing: it says the
 * item is only late, a movement's money on a statement of another day of its window, a line's movement yet to come.
 * Once the window after its date has ended with the item still unmatched, it is not late but missing, whatever its kind
 * when resolved: left resolved, a movement would count as in transit for good, the day balanced while its money is
 * missing, and a line no movement of ours explains would stay off the open exceptions. An item matched since is not
 * found, and keeps its TIMING.
 *
 * An operator's TIMING lapses only on evidence newer than it: a statement of the window imported after it was made. A
 * TIMING made once the window had ended (of a MISSING_EXTERNAL, whose window has ended by its kind, or of a row read
 * before the last statement came) says a statement is still to come, the date's own imported late; lapsing it at the
 * next run, before anything came, would refuse it for good (a lapsed TIMING is not taken again) on no evidence at all.
 * Matching's own TIMING claims nothing to come: only the item's own run makes it, so the same run finding the item
 * unmatched, the window ended, is the evidence.
 */
export function timingLapses(found: FoundException, state: TimingState, window: WindowSeen): boolean {
  if (!window.ended || state.status !== 'RESOLVED' || state.resolution !== 'TIMING') return false;
  if (found.kind !== 'MISSING_EXTERNAL' && found.kind !== 'MISSING_INTERNAL') return false;
  if (state.byMatching || state.resolvedAt === null) return true;
  return window.lastImportedAt !== null && window.lastImportedAt > state.resolvedAt;
}

/**
 * The bank balance adjustment table of a date, per currency, all signed, as banks draw it:
 *   bankMovements = ledgerMovements - inTransit + bankOnly + unexplained.
 * bankOnly is the money on the statement that is no movement of the date in the ledger: a line
 * of the date that matches nothing (MISSING_INTERNAL: the bank's fee, interest, its duplicate),
 * whether open or resolved (without a posting, or with one: a BANK_FEE or WRITE_OFF posting is
 * the reserve's, not a movement of the channel), and a match's movements of other dates (on this
 * statement, not this date's ledger). inTransit is the date's ledger on another statement or none
 * yet: a match's lines of other dates, a movement IN_TRANSIT or resolved as TIMING. unexplained is
 * what is left: the differences of matches (tolerance matches, amount mismatches) and the
 * movements missing from the statements (MISSING_EXTERNAL), while open; once resolved they are
 * explained differences, in bankOnly. The identity is asserted: a table that does not add up is a
 * bug, not a finding.
 */
export function adjustmentOf(
  result: MatchResult,
  date: string,
  stateOf: (subject: string) => ExceptionState | undefined,
  balances: ReadonlyMap<string, { opening: bigint | null; closing: bigint | null }>,
): Adjustment[] {
  const rows = new Map<string, Adjustment>();
  const row = (currency: string) => {
    let r = rows.get(currency);
    if (!r) {
      const b = balances.get(currency);
      r = {
        currency,
        bankMovements: 0n,
        ledgerMovements: 0n,
        inTransit: 0n,
        bankOnly: 0n,
        unexplained: 0n,
        balanced: true,
        openingBalance: b?.opening ?? null,
        closingBalance: b?.closing ?? null,
      };
      rows.set(currency, r);
    }
    return r;
  };
  for (const currency of balances.keys()) row(currency);
  const difference = (r: Adjustment, subject: string, amount: bigint) => {
    if (stateOf(subject)?.status === 'RESOLVED') r.bankOnly += amount;
    else r.unexplained += amount;
  };
  for (const match of result.matches) {
    if (!touches(match, date)) continue;
    const r = row(match.currency);
    for (const l of match.lines)
      if (l.statementDate === date) r.bankMovements += l.signed;
      else r.inTransit += l.signed;
    for (const m of match.movements)
      if (m.businessDate === date) r.ledgerMovements += m.signed;
      else r.bankOnly += m.signed;
    if (match.difference !== 0n) difference(r, matchSubject(match), match.difference);
  }
  for (const { line } of result.unmatchedLines) {
    if (line.statementDate !== date) continue;
    const r = row(line.currency);
    r.bankMovements += line.signed;
    r.bankOnly += line.signed;
  }
  for (const movement of result.unmatchedMovements) {
    if (movement.businessDate !== date) continue;
    const r = row(movement.currency);
    r.ledgerMovements += movement.signed;
    const state = stateOf(movementSubject(movement));
    const inTransit =
      state === undefined || (state.status === 'OPEN' ? state.kind === 'IN_TRANSIT' : state.resolution === 'TIMING');
    if (inTransit) r.inTransit += movement.signed;
    else difference(r, movementSubject(movement), -movement.signed);
  }
  for (const r of rows.values()) {
    assert(
      r.bankMovements === r.ledgerMovements - r.inTransit + r.bankOnly + r.unexplained,
      `adjustment table of ${date} ${r.currency} does not add up`,
    );
    r.balanced = r.unexplained === 0n;
  }
  return [...rows.values()].sort((a, b) => a.currency.localeCompare(b.currency));
}
