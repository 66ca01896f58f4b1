import { lineSubject, matchSubjectOf, matchSubject, type Resolution } from './channel-report';
import type { LineKeys } from './line-keys';
import type { Match } from './matching';

/**
 * The exceptions recorded under a line's key of before c3452ee (line-keys.ts says how it differed), found again: pure.
 * A run names, for the lines it reads and the matches it makes, the subject each had then beside the one it has now,
 * and re-keys an exception it finds under the old one (services/channel-reconcile.ts), the same row under its id: its
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
 * The re-keyings of a run: of each line read that had another key (line-keys.ts legacyLineKeys), and of each match
 * whose lines had (their keys of before on their statements' dates, `legacyKeyOf` by key now), as its subject then.
 */
export function legacySubjects(
  lines: ReadonlyArray<LineKeys & { day: string }>,
  matches: readonly Match[],
  legacyKeyOf: ReadonlyMap<string, string>,
): Rekeying[] {
  const found = lines.map((l) => ({
    legacy: lineSubject({ key: l.legacyKey }),
    subject: lineSubject(l),
    businessDate: l.day,
  }));
  for (const match of matches) {
    const legacyKeys = match.lines.map((l) => legacyKeyOf.get(l.key) ?? l.key);
    if (legacyKeys.every((key, i) => key === match.lines[i]!.key)) continue;
    found.push({
      legacy: matchSubjectOf(
        match.movements.map((m) => m.id),
        legacyKeys,
      ),
      subject: matchSubject(match),
      // As exceptionsOf dates an AMOUNT_MISMATCH: by its first line.
      businessDate: match.lines[0]!.statementDate,
    });
  }
  return found;
}

/** What the choice reads of a recorded exception. */
export interface RecordedException {
  id: string;
  subject: string;
  status: 'OPEN' | 'RESOLVED';
  resolution: Resolution | null;
  postingId: string | null;
}

/**
 * Which exception each subject takes from its old subjects, given the exceptions recorded under the old subjects and
 * the new ones; in the order of their ids, the order their rows are locked in, so that two runs re-keying the same rows
 * wait for each other rather than deadlock.
 *
 * None where a row holds the subject already: a run of c3452ee's code before this one opened it, or this row was
 * re-keyed since. Never a row matching closed as no longer found (resolved without a resolution: by a run of c3452ee's
 * code, which read its line on another day, or because its statement was replaced): it holds no decision, and taking
 * it would show a line no one looked at as explained; the line's own exception opens instead. Of several old rows of
 * one line now (a week's and the month's statement held the booking, each copy with its exception), the one whose
 * resolution posted money, which must not post again; else one still open, which awaits a decision; else the first.
 */
export function adoptions<R extends RecordedException>(
  rekeyings: readonly Rekeying[],
  recorded: readonly R[],
): Array<{ row: R; rekeying: Rekeying }> {
  const bySubject = new Map(recorded.map((r) => [r.subject, r]));
  const chosen = new Map<string, { row: R; rekeying: Rekeying }>();
  for (const rekeying of rekeyings) {
    const row = bySubject.get(rekeying.legacy);
    if (!row || bySubject.has(rekeying.subject) || closedByMatching(row)) continue;
    const before = chosen.get(rekeying.subject);
    if (!before || precedence(row) < precedence(before.row)) chosen.set(rekeying.subject, { row, rekeying });
  }
  return [...chosen.values()].sort((a, b) => (a.row.id < b.row.id ? -1 : a.row.id > b.row.id ? 1 : 0));
}

/** Resolved without a resolution: only matching closes an exception so (no longer found). */
const closedByMatching = (row: RecordedException) => row.status === 'RESOLVED' && row.resolution === null;

const precedence = (row: RecordedException) => (row.postingId !== null ? 0 : row.status === 'OPEN' ? 1 : 2);
