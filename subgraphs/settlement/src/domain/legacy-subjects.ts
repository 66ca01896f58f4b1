import { lineSubject, matchSubjectOf, matchSubject, type Resolution } from './channel-report';
import type { LineKeys } from './line-keys';
import type { Match } from './matching';
import { legacyMatchSubjectsMax } from '../limits';

/**
 * The exceptions recorded under a line's key of before c3452ee (line-keys.ts says how it differed), found again: pure.
 * A run names, for the lines it reads and the matches it makes, the subjects each had then beside the one it has now,
 * and re-keys an exception it finds under an old one (services/channel-reconcile.ts), the same row under its id: its
 * resolution, its posting (whose dedupe key names that id) and its trail go with it, so a line resolved before is
 * still resolved and one open is still the one open exception.
 */

/** An exception's subject before c3452ee, its subject now, and the date it is of now. */
export interface Rekeying {
  legacy: string;
  subject: string;
  businessDate: string;
  /**
   * Of a copy on its own date's statement whose place changed (line-keys.ts legacyLineKeys): its subject before is
   * another line's subject now, and a row under it may be that line's (opened since c3452ee), which nothing stored
   * tells apart. rekeyPlan moves such a row only to make room under that subject for an old row of another copy (a key
   * of another date, surely of before), and only into a subject no row keeps; it closes no such row.
   */
  ownDate?: true;
}

/**
 * The re-keyings of a run: of each copy read of a line that had another key (line-keys.ts legacyLineKeys: every
 * statement's copy, each with the place its statement's date gave it), and of each match whose lines had, as its
 * subject then. A match's line may have had its key of before from any copy (the old run matched the month's copy; the
 * day's statement, imported since, is the copy counted now, its key unchanged), so each combination of its lines' keys
 * then is tried, the key now among them (a copy on a statement of its own day), up to legacyMatchSubjectsMax.
 */
export function legacySubjects(
  lines: ReadonlyArray<LineKeys & { day: string; ownDate?: true }>,
  matches: readonly Match[],
): Rekeying[] {
  const found: Rekeying[] = lines.map((l) => ({
    legacy: lineSubject({ key: l.legacyKey }),
    subject: lineSubject(l),
    businessDate: l.day,
    ...(l.ownDate ? { ownDate: l.ownDate } : {}),
  }));
  // Not the keys of own-date copies: a match subject of one is another match's now as well (see ownDate).
  const legacyKeysOf = new Map<string, string[]>();
  for (const l of lines)
    if (!l.ownDate) legacyKeysOf.set(l.key, [...new Set([...(legacyKeysOf.get(l.key) ?? []), l.legacyKey])]);
  for (const match of matches) {
    const choices = match.lines.map((l) => [l.key, ...(legacyKeysOf.get(l.key) ?? [])]);
    const subject = matchSubject(match);
    const movementIds = match.movements.map((m) => m.id);
    for (const keys of combinations(choices, legacyMatchSubjectsMax + 1)) {
      const legacy = matchSubjectOf(movementIds, keys);
      // As exceptionsOf dates an AMOUNT_MISMATCH: by its first line.
      if (legacy !== subject) found.push({ legacy, subject, businessDate: match.lines[0]!.statementDate });
    }
  }
  return found;
}

/** The first `max` picks of one item from each list, the first picks first (the keys now: no change, skipped). */
function combinations(choices: ReadonlyArray<readonly string[]>, max: number): string[][] {
  let picks: string[][] = [[]];
  for (const options of choices) {
    const next: string[][] = [];
    for (const pick of picks) for (const option of options) if (next.length < max) next.push([...pick, option]);
    picks = next;
  }
  return picks;
}

/** What the choice reads of a recorded exception. */
export interface RecordedException {
  id: string;
  subject: string;
  status: 'OPEN' | 'RESOLVED';
  resolution: Resolution | null;
  postingId: string | null;
}

/** What a run does with the rows of old and new subjects: rows to move, and open rows to close as duplicates. */
export interface RekeyPlan<R extends RecordedException> {
  moves: Array<{ row: R; rekeying: Rekeying }>;
  /** Resolved by matching without a resolution, so nothing posts: `kept` is the row the subject now keeps. */
  closes: Array<{ row: R; kept: R; subject: string }>;
}

/**
 * What becomes of the rows recorded under the old subjects and the new ones: of all a subject now gathers (the row
 * under it, if any, and those under its old subjects, one per statement that held a copy), one row is the line's, and
 * every other one still open is closed, resolved by matching without a resolution (what matching's "no longer found"
 * leaves, which posts nothing and which resolveException refuses to resolve again): else an operator resolving both
 * as BANK_FEE or WRITE_OFF posts the money twice. The row kept: the one whose resolution posted money, which must
 * not post again; else one still open, which awaits a decision; else one resolved otherwise; the row under the subject
 * now first among equals, then the first found. It moves to the subject now unless a row holds that already (a run of
 * c3452ee's code opened it): then both stay where they are, the other closed. Never kept: a row matching closed (no
 * decision; taking it would show a line no one looked at as explained).
 *
 * The row under a subject leaves it first when it is an own-date copy's row of before (Rekeying.ownDate) that moves to
 * its own line's subject: two accounts' identical fees of a day, A's month's statement read before B's day's, A's line
 * is the day's place 1 now while B's row of before is under place 1; B's row moves to place 2, then A's into place 1.
 * Such a move comes before the move into the subject it frees, so no subject is held twice, even mid-way, and no row
 * passes through a subject of none. Rows whose moves would close on themselves (A's to B's subject and B's to A's: an
 * account's farther statement read first, holding more of the day's identical lines than its day's) stay as they are,
 * as before this change. Moves are otherwise in the order of their rows' ids, and closes too, so two runs write alike.
 */
export function rekeyPlan<R extends RecordedException>(
  rekeyings: readonly Rekeying[],
  recorded: readonly R[],
): RekeyPlan<R> {
  const bySubject = new Map(recorded.map((r) => [r.subject, r]));
  const outcomes = outcomesOf(gathered(applying(rekeyings, bySubject), bySubject));
  const plan: RekeyPlan<R> = { moves: [], closes: [] };
  const emitted = new Set<string>();
  const emit = (subject: string): void => {
    const outcome = outcomes.get(subject);
    if (!outcome || emitted.has(subject)) return;
    emitted.add(subject);
    if (outcome.freedBy !== undefined) emit(outcome.freedBy);
    if (outcome.moved) plan.moves.push(outcome.moved);
  };
  const order = [...outcomes].filter(([, o]) => o.moved).sort(([, a], [, b]) => byId(a.moved!.row, b.moved!.row));
  for (const [subject] of order) emit(subject);
  const closed = new Set<string>();
  for (const close of [...outcomes.values()].flatMap((o) => o.closes).sort((a, b) => byId(a.row, b.row)))
    if (!closed.has(close.row.id)) {
      closed.add(close.row.id);
      plan.closes.push(close);
    }
  return plan;
}

/**
 * The re-keyings that apply: every one but an own-date copy's, and that one where its old subject is wanted by a row
 * moving in (of another copy's key of before, or of an own-date copy applying already, whose row must leave first).
 * Only a row that may move in wants a subject: one matching closed never moves (outcomesOf leaves it out), so the row
 * under the subject it would want (A's line's, opened by c3452ee's code, when a later run closed A's old row as its
 * duplicate) is the line's own and stays.
 */
function applying(rekeyings: readonly Rekeying[], bySubject: ReadonlyMap<string, RecordedException>): Rekeying[] {
  const found = rekeyings.filter((r) => !r.ownDate);
  const mayMoveIn = (r: Rekeying) => {
    const row = bySubject.get(r.legacy);
    return row !== undefined && !closedByMatching(row);
  };
  const wanted = new Set(found.filter(mayMoveIn).map((r) => r.subject));
  let waiting = rekeyings.filter((r) => r.ownDate && bySubject.has(r.legacy));
  for (let grown = true; grown;) {
    const room = waiting.filter((r) => wanted.has(r.legacy));
    grown = room.length > 0;
    for (const r of room) wanted.add(r.subject);
    found.push(...room);
    waiting = waiting.filter((r) => !wanted.has(r.legacy));
  }
  return found;
}

/** Of each subject now, the row under it and the rows under its old subjects (each row with its first re-keying). */
interface Gathered<R> {
  held: R | undefined;
  old: Array<{ row: R; rekeying: Rekeying }>;
}

function gathered<R extends RecordedException>(
  rekeyings: readonly Rekeying[],
  bySubject: ReadonlyMap<string, R>,
): Map<string, Gathered<R>> {
  const groups = new Map<string, Gathered<R>>();
  const grouped = new Set<string>();
  for (const rekeying of rekeyings) {
    const row = bySubject.get(rekeying.legacy);
    if (!row || grouped.has(row.id)) continue;
    grouped.add(row.id);
    const group = groups.get(rekeying.subject) ?? { held: bySubject.get(rekeying.subject), old: [] };
    groups.set(rekeying.subject, group);
    group.old.push({ row, rekeying });
  }
  return groups;
}

/** What a subject now keeps: the row moving in, if any (after the one leaving for `freedBy`), and the rows closed. */
interface Outcome<R extends RecordedException> {
  moved: { row: R; rekeying: Rekeying } | undefined;
  freedBy: string | undefined;
  closes: RekeyPlan<R>['closes'];
}

/**
 * Each subject's outcome (rekeyPlan says which row it keeps). The row under it leaves when it moves to its own line's
 * subject as an own-date copy's row, which it does when kept there and that subject is free or freed in turn; an
 * own-date copy's row comes in only so. A subject met again while its outcome is worked out (a chain closing on
 * itself) frees nothing: its rows stay.
 */
function outcomesOf<R extends RecordedException>(groups: ReadonlyMap<string, Gathered<R>>): Map<string, Outcome<R>> {
  const outcomes = new Map<string, Outcome<R> | null>();
  const leavesFor = new Map<R, string>();
  for (const [subject, { old }] of groups) for (const o of old) if (o.rekeying.ownDate) leavesFor.set(o.row, subject);
  const outcome = (subject: string): Outcome<R> | null => {
    if (outcomes.has(subject)) return outcomes.get(subject)!;
    outcomes.set(subject, null);
    const { held, old } = groups.get(subject)!;
    const away = held && leavesFor.get(held);
    const freedBy = away !== undefined && outcome(away)?.moved?.row === held ? away : undefined;
    const free = !held || freedBy !== undefined;
    const comers = old.filter((o) => free || !o.rekeying.ownDate);
    const candidates = [...(held && !free ? [held] : []), ...comers.map((o) => o.row)].filter(
      (r) => !closedByMatching(r),
    );
    const kept = candidates.reduce<R | undefined>((k, r) => (!k || precedence(r) < precedence(k) ? r : k), undefined);
    // An own-date copy's row not kept here stays where it is: it may be the line's under it (Rekeying.ownDate).
    const ownDate = new Set(comers.filter((o) => o.rekeying.ownDate).map((o) => o.row));
    const closed = candidates.filter((r) => r !== kept && r.status === 'OPEN' && !ownDate.has(r));
    const found: Outcome<R> = {
      moved: kept && free ? old.find((o) => o.row === kept) : undefined,
      freedBy,
      closes: kept ? closed.map((row) => ({ row, kept, subject })) : [],
    };
    outcomes.set(subject, found);
    return found;
  };
  for (const subject of groups.keys()) outcome(subject);
  return outcomes as Map<string, Outcome<R>>;
}

const byId = (a: RecordedException, b: RecordedException) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** Resolved without a resolution: only matching closes an exception so (no longer found, or a duplicate's copy). */
const closedByMatching = (row: RecordedException) => row.status === 'RESOLVED' && row.resolution === null;

const precedence = (row: RecordedException) => (row.postingId !== null ? 0 : row.status === 'OPEN' ? 1 : 2);
