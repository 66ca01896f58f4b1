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
}

/**
 * The re-keyings of a run: of each copy read of a line that had another key (line-keys.ts legacyLineKeys: every
 * statement's copy, each with the place its statement's date gave it), and of each match whose lines had, as its
 * subject then. A match's line may have had its key of before from any copy (the old run matched the month's copy; the
 * day's statement, imported since, is the copy counted now, its key unchanged), so each combination of its lines' keys
 * then is tried, the key now among them (a copy on a statement of its own day), up to legacyMatchSubjectsMax.
 */
export function legacySubjects(
  lines: ReadonlyArray<LineKeys & { day: string }>,
  matches: readonly Match[],
): Rekeying[] {
  const found = lines.map((l) => ({
    legacy: lineSubject({ key: l.legacyKey }),
    subject: lineSubject(l),
    businessDate: l.day,
  }));
  const legacyKeysOf = new Map<string, string[]>();
  for (const l of lines) legacyKeysOf.set(l.key, [...new Set([...(legacyKeysOf.get(l.key) ?? []), l.legacyKey])]);
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
 * decision; taking it would show a line no one looked at as explained). Moves and closes are in the order of their
 * ids, so that two runs write alike.
 */
export function rekeyPlan<R extends RecordedException>(
  rekeyings: readonly Rekeying[],
  recorded: readonly R[],
): RekeyPlan<R> {
  const bySubject = new Map(recorded.map((r) => [r.subject, r]));
  const groups = new Map<string, { held: R | undefined; old: Array<{ row: R; rekeying: Rekeying }> }>();
  const grouped = new Set<string>();
  for (const rekeying of rekeyings) {
    const row = bySubject.get(rekeying.legacy);
    if (!row || grouped.has(row.id)) continue;
    grouped.add(row.id);
    const group = groups.get(rekeying.subject) ?? { held: bySubject.get(rekeying.subject), old: [] };
    groups.set(rekeying.subject, group);
    group.old.push({ row, rekeying });
  }
  const plan: RekeyPlan<R> = { moves: [], closes: [] };
  for (const [subject, { held, old }] of groups) {
    const candidates = [...(held ? [held] : []), ...old.map((o) => o.row)].filter((r) => !closedByMatching(r));
    const kept = candidates.reduce<R | undefined>((k, r) => (!k || precedence(r) < precedence(k) ? r : k), undefined);
    if (!kept) continue;
    const moved = held ? undefined : old.find((o) => o.row === kept);
    if (moved) plan.moves.push(moved);
    for (const row of candidates) if (row !== kept && row.status === 'OPEN') plan.closes.push({ row, kept, subject });
  }
  plan.moves.sort((a, b) => byId(a.row, b.row));
  plan.closes.sort((a, b) => byId(a.row, b.row));
  return plan;
}

const byId = (a: RecordedException, b: RecordedException) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** Resolved without a resolution: only matching closes an exception so (no longer found, or a duplicate's copy). */
const closedByMatching = (row: RecordedException) => row.status === 'RESOLVED' && row.resolution === null;

const precedence = (row: RecordedException) => (row.postingId !== null ? 0 : row.status === 'OPEN' ? 1 : 2);
