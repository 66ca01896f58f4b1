import { lineSubject, matchSubjectOf, matchSubject, type Resolution } from './channel-report';
import type { KeyScheme, LineKeys } from './line-keys';
import type { Match } from './matching';
import { legacyMatchSubjectsMax } from '../limits';

/**
 * The exceptions recorded under a line's key of before (line-keys.ts says how its two schemes differed), found again:
 * pure. A run names, for the lines it reads and the matches it makes, the subjects each had then beside the one it has
 * now, and re-keys an exception it finds under an old one (services/channel-reconcile.ts), the same row under its id:
 * its resolution, its posting (whose dedupe key names that id) and its trail go with it, so a line resolved before is
 * still resolved and one open is still the one open exception. No subject now is a subject of before (a key now names
 * its account), so a row moves once, into a subject no move leaves.
 */

/** An exception's subject before, of `scheme`, its subject now, and the date it is of now. */
export interface Rekeying {
  legacy: string;
  subject: string;
  businessDate: string;
  scheme: KeyScheme;
  /**
   * Of a copy on its own date's statement whose statement-date key is another line's shared-places key
   * (line-keys.ts legacyCopyKeys): an old subject claimed by two schemes, which nothing stored tells apart; rekeyPlan
   * gives its row to one line only (applying says which).
   */
  ownDate?: true;
}

/**
 * The re-keyings of a run: of each line read, its shared-places subject, then of each copy whose statement-date key
 * was another (line-keys.ts legacyLineKeys), and of each match whose lines had other keys, as its subject then: its
 * lines' shared-places keys, and each combination of its lines' statement-date keys (the old run matched the month's
 * copy; the day's statement, imported since, is the copy counted now, its statement-date key its shared-places one), up
 * to legacyMatchSubjectsMax of them beside the shared-places one, which comes first.
 */
export function legacySubjects(lines: readonly LineKeys[], matches: readonly Match[]): Rekeying[] {
  // Shared-places first: of a line's rows that rank alike, the one a run since c3452ee showed is kept (rekeyPlan).
  const ordered = [
    ...lines.filter((l) => l.scheme === 'shared-places'),
    ...lines.filter((l) => l.scheme !== 'shared-places'),
  ];
  const found: Rekeying[] = ordered.map((l) => ({
    legacy: lineSubject({ key: l.legacyKey }),
    subject: lineSubject(l),
    businessDate: l.day,
    scheme: l.scheme,
    ...(l.ownDate ? { ownDate: l.ownDate } : {}),
  }));
  const sharedOf = new Map<string, string>();
  // Not the keys of own-date copies: a match subject of one is another match's shared-places subject (see ownDate).
  const datedOf = new Map<string, string[]>();
  for (const l of lines)
    if (l.scheme === 'shared-places') sharedOf.set(l.key, l.legacyKey);
    else if (!l.ownDate) datedOf.set(l.key, [...new Set([...(datedOf.get(l.key) ?? []), l.legacyKey])]);
  for (const match of matches) {
    const shared = match.lines.map((l) => sharedOf.get(l.key) ?? l.key);
    const choices = match.lines.map((l, i) => [shared[i]!, ...(datedOf.get(l.key) ?? [])]);
    const subject = matchSubject(match);
    const movementIds = match.movements.map((m) => m.id);
    const sharedSubject = matchSubjectOf(movementIds, shared);
    for (const keys of combinations(choices, legacyMatchSubjectsMax + 1)) {
      const legacy = matchSubjectOf(movementIds, keys);
      const scheme = legacy === sharedSubject ? 'shared-places' : 'statement-date';
      // As exceptionsOf dates an AMOUNT_MISMATCH: by its first line.
      if (legacy !== subject) found.push({ legacy, subject, businessDate: match.lines[0]!.statementDate, scheme });
    }
  }
  return found;
}

/** The first `max` picks of one item from each list, the first picks first. */
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
 * under it, if any, and those under its old subjects: one per statement that held a copy, and its shared-places one),
 * one row is the line's, and every other one still open is closed, resolved by matching without a resolution (what
 * matching's "no longer found" leaves, which posts nothing and which resolveException refuses to resolve again): else
 * an operator resolving both as BANK_FEE or WRITE_OFF posts the money twice. The row kept: the one whose resolution
 * posted money, which must not post again; else one still open, which awaits a decision; else one resolved otherwise;
 * the row under the subject now first among equals, then the first found. It moves to the subject now unless a row
 * holds that already: then both stay where they are, the other closed. Never kept: a row matching closed (no decision;
 * taking it would show a line no one looked at as explained). Moves are in the order of their rows' ids, and closes
 * too, so two runs write alike. No move leaves a subject another fills (no subject now is one of before), so the
 * unique subject index never holds two rows, even mid-way.
 */
export function rekeyPlan<R extends RecordedException>(
  rekeyings: readonly Rekeying[],
  recorded: readonly R[],
): RekeyPlan<R> {
  const bySubject = new Map(recorded.map((r) => [r.subject, r]));
  const plan: RekeyPlan<R> = { moves: [], closes: [] };
  for (const [subject, { held, old }] of gathered(applying(rekeyings, bySubject), bySubject)) {
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

/**
 * The re-keyings that apply: of an old subject claimed by two schemes (an own-date copy's statement-date subject that
 * is also line X's shared-places subject), the own-date copy's where X's own row of before c3452ee moves in (under its
 * statement-date subject, or as an own-date copy's claimed so in turn): the row under the subject is then not X's
 * (two accounts' identical fees of a day, A's month's statement read before B's day's: A's line is the day's shared
 * place 1, while B's row of before c3452ee is under place 1); else X's, the row opened or moved there since c3452ee.
 * A row matching closed never moves in, so it makes no room (ea33fe8): the row under the subject is X's own then. An
 * own-date subject no line has as its shared-places one is the copy's. Every other re-keying applies.
 */
function applying(rekeyings: readonly Rekeying[], bySubject: ReadonlyMap<string, RecordedException>): Rekeying[] {
  const mayMoveIn = (r: Rekeying) => {
    const row = bySubject.get(r.legacy);
    return row !== undefined && !closedByMatching(row);
  };
  const sharedLine = new Map(rekeyings.filter((r) => r.scheme === 'shared-places').map((r) => [r.legacy, r.subject]));
  const dated = rekeyings.filter((r) => r.scheme === 'statement-date' && !r.ownDate && mayMoveIn(r));
  const movingIn = new Set(dated.map((r) => r.subject));
  const claimed = new Set<string>();
  let waiting = rekeyings.filter((r) => r.ownDate && bySubject.has(r.legacy));
  for (let grown = true; grown;) {
    const taking = waiting.filter((r) => {
      const other = sharedLine.get(r.legacy);
      return other === undefined || movingIn.has(other);
    });
    grown = taking.length > 0;
    for (const r of taking) {
      claimed.add(r.legacy);
      if (mayMoveIn(r)) movingIn.add(r.subject);
    }
    waiting = waiting.filter((r) => !claimed.has(r.legacy));
  }
  return rekeyings.filter((r) =>
    r.ownDate ? claimed.has(r.legacy) : r.scheme === 'statement-date' || !claimed.has(r.legacy),
  );
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

const byId = (a: RecordedException, b: RecordedException) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** Resolved without a resolution: only matching closes an exception so (no longer found, or a duplicate's copy). */
const closedByMatching = (row: RecordedException) => row.status === 'RESOLVED' && row.resolution === null;

const precedence = (row: RecordedException) => (row.postingId !== null ? 0 : row.status === 'OPEN' ? 1 : 2);
