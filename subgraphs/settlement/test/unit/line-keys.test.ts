import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { HeldLine } from '../../src/domain/booked-lines';
import { keyedLines, legacyLineKeys } from '../../src/domain/line-keys';
import { legacySubjects, rekeyPlan, type RecordedException } from '../../src/domain/legacy-subjects';
import { matchSubjectOf } from '../../src/domain/channel-report';
import type { BankLine, Match } from '../../src/domain/matching';
import { legacyMatchSubjectsMax } from '../../src/limits';

/** A DEBIT line booked on `day` of the statement closing on `closing` (channel bank, account A, USD). */
function line(day: string, closing: string, ref: string, amount = 25n): HeldLine {
  return {
    currency: 'USD',
    valueDate: day,
    direction: 'DEBIT',
    amount,
    externalRef: ref,
    statement: { channel: 'bank', account: 'A', businessDate: closing },
  };
}

/**
 * A key as it is written down: sha256 of channel|date|currency|direction|amount|reference|booking day|place, 32 hex
 * digits. The date was the statement's closing date before c3452ee, the booking day since. Spelt out here, apart from
 * the code, so that a change of either reads as one: a key that changes orphans the exceptions recorded under it.
 */
function written(date: string, l: HeldLine, place: number): string {
  const text = `bank|${date}|USD|DEBIT|${l.amount}|${l.externalRef}|${l.valueDate}|${place}`;
  return createHash('sha256').update(text).digest('hex').slice(0, 32);
}

describe('the keys of statement lines', () => {
  it("names a line by its booking day and place, and knows the key it had on its statement's date before c3452ee", () => {
    // Two identical fees of the 5th and one of the 31st on the month's statement.
    const month = [line('2026-03-05', '2026-03-31', 'fee'), line('2026-03-05', '2026-03-31', 'fee')];
    const own = line('2026-03-31', '2026-03-31', 'fee');
    const keyed = keyedLines([...month, own]);
    expect(keyed.map((k) => k.key)).toEqual([
      written('2026-03-05', month[0]!, 1),
      written('2026-03-05', month[1]!, 2),
      written('2026-03-31', own, 1),
    ]);
    // A line booked on its statement's date had the same key then: not listed.
    expect(legacyLineKeys([...month, own], keyed)).toEqual([
      { key: keyed[0]!.key, legacyKey: written('2026-03-31', month[0]!, 1), day: '2026-03-05' },
      { key: keyed[1]!.key, legacyKey: written('2026-03-31', month[1]!, 2), day: '2026-03-05' },
    ]);
  });

  it("maps the month's copies beside the day's statement to the places the day's now hold", () => {
    // The day's statement holds one fee of the 5th, the month's two: the day's is counted, then the month's second.
    const day = line('2026-03-05', '2026-03-05', 'fee');
    const month = [line('2026-03-05', '2026-03-31', 'fee'), line('2026-03-05', '2026-03-31', 'fee')];
    const now = keyedLines([...month, day]).map((k) => k.key);
    expect(now).toEqual([written('2026-03-05', day, 1), written('2026-03-05', day, 2)]);
    // Each of the month's copies had its exception then; each is one of the places now, none left over.
    expect(legacyLineKeys([...month, day], keyedLines([...month, day])).map((k) => [k.legacyKey, k.key])).toEqual([
      [written('2026-03-31', month[0]!, 1), now[0]],
      [written('2026-03-31', month[1]!, 2), now[1]],
    ]);
  });

  it("gives a copy its own account's counted line's key, not another account's identical line's of the day", () => {
    // A's fee of the 10th on its month's statement (closing the 31st), B's identical fee on its day's statement, read
    // first (a lower statement id): counted, B's is place 1 and A's place 2 on the 10th. A's copy was place 1 among the
    // 31st's lines then, and its key now is A's line's (place 2), not B's (place 1).
    const b: HeldLine = {
      ...line('2026-03-10', '2026-03-10', 'FEE', 500n),
      statement: { channel: 'bank', account: 'B', businessDate: '2026-03-10' },
    };
    const a = line('2026-03-10', '2026-03-31', 'FEE', 500n);
    const read = [b, a];
    const keyed = keyedLines(read);
    expect(keyed.map((k) => [k.line, k.key])).toEqual([
      [b, written('2026-03-10', b, 1)],
      [a, written('2026-03-10', a, 2)],
    ]);
    expect(legacyLineKeys(read, keyed)).toEqual([
      { key: written('2026-03-10', a, 2), legacyKey: written('2026-03-31', a, 1), day: '2026-03-10' },
    ]);
    // A copy without a counted line of its account and content gives no key now: its rows stay where they are.
    expect(legacyLineKeys(read, keyed.slice(0, 1))).toEqual([]);
  });

  it("gives a day's statement's copy whose place another account's line took its key now, marked as of its own date", () => {
    // A's fee of the 10th on its month's statement read first (the lower statement id), B's identical fee on its day's
    // statement: counted, A's is place 1 and B's place 2 on the 10th. B's copy was place 1 among the 10th's lines then,
    // under the key A's line has now: B's copy is listed too, its key of before being a key now (ownDate).
    const a = line('2026-03-10', '2026-03-31', 'FEE', 500n);
    const b: HeldLine = {
      ...line('2026-03-10', '2026-03-10', 'FEE', 500n),
      statement: { channel: 'bank', account: 'B', businessDate: '2026-03-10' },
    };
    const read = [a, b];
    expect(legacyLineKeys(read, keyedLines(read))).toEqual([
      { key: written('2026-03-10', a, 1), legacyKey: written('2026-03-31', a, 1), day: '2026-03-10' },
      { key: written('2026-03-10', b, 2), legacyKey: written('2026-03-10', b, 1), day: '2026-03-10', ownDate: true },
    ]);
  });

  it("keys a day's lines by that day's lines alone: the days outside a window read beside it change no key", () => {
    const window = [line('2026-03-10', '2026-03-10', 'fee'), line('2026-03-10', '2026-03-31', 'fee')];
    const outside = [line('2026-03-02', '2026-03-31', 'fee'), line('2026-03-02', '2026-03-02', 'fee')];
    for (const read of [
      [...window, ...outside],
      [...outside, ...window],
    ])
      expect(new Map(keyedLines(read).map((k) => [k.line, k.key]))).toEqual(
        new Map([...keyedLines(window), ...keyedLines(outside)].map((k) => [k.line, k.key])),
      );
  });
});

describe('exceptions of before c3452ee, found again', () => {
  const bankLine = (key: string): BankLine => ({
    key,
    statementDate: '2026-03-05',
    valueDate: '2026-03-05',
    currency: 'USD',
    signed: -25n,
    externalRef: 'fee',
    lineNumber: 1,
  });
  const match: Match = {
    rule: 'REFERENCE',
    currency: 'USD',
    lines: [bankLine('new-a'), bankLine('same')],
    movements: [{ id: 'wdr_1', businessDate: '2026-03-05', currency: 'USD', signed: -20n, externalRef: 'fee' }],
    difference: -5n,
  };

  it("names a match's subjects of before by each copy's key of before, and skips what did not change", () => {
    const found = legacySubjects(
      [
        { key: 'k', legacyKey: 'l', day: '2026-03-05' },
        { key: 'new-a', legacyKey: 'old-a', day: '2026-03-05' },
      ],
      [match],
    );
    const subject = matchSubjectOf(['wdr_1'], ['same', 'new-a']);
    expect(found).toEqual([
      { legacy: 'line:l', subject: 'line:k', businessDate: '2026-03-05' },
      { legacy: 'line:old-a', subject: 'line:new-a', businessDate: '2026-03-05' },
      { legacy: matchSubjectOf(['wdr_1'], ['old-a', 'same']), subject, businessDate: '2026-03-05' },
    ]);
    expect(legacySubjects([], [match])).toEqual([]);
  });

  it("tries every copy's key of before for a match, though the copy counted now kept its key", () => {
    // A deposit line of the 30th on the month's statement (closing the 31st) and on the day's, imported since: the
    // day's copy is counted and matched now, its key unchanged; the month's copy was matched before, under its old key.
    const day = line('2026-03-30', '2026-03-30', 'dep', 1990n);
    const month = line('2026-03-30', '2026-03-31', 'dep', 1990n);
    for (const read of [
      [month, day],
      [day, month],
    ]) {
      const [counted] = keyedLines(read);
      expect(counted!.line).toBe(day);
      const matched: Match = {
        ...match,
        lines: [{ ...bankLine(counted!.key), statementDate: '2026-03-30' }],
        movements: [{ ...match.movements[0]!, signed: -2000n }],
      };
      expect(legacySubjects(legacyLineKeys(read, keyedLines(read)), [matched])).toContainEqual({
        legacy: matchSubjectOf(['wdr_1'], [written('2026-03-31', month, 1)]),
        subject: matchSubjectOf(['wdr_1'], [written('2026-03-30', day, 1)]),
        businessDate: '2026-03-30',
      });
    }
  });

  it("numbers a copy by its place among its statement date's lines, not among the lines counted now", () => {
    // The week's statement (closing the 7th) holds two identical fees of the 5th, the day's one: the day's copy and the
    // week's second are counted; the week's first and second had places 1 and 2 then, keys now of places 1 and 2.
    const dayFee = line('2026-03-05', '2026-03-05', 'fee');
    const week = [line('2026-03-05', '2026-03-07', 'fee'), line('2026-03-05', '2026-03-07', 'fee')];
    const read = [dayFee, ...week];
    const now = keyedLines(read).map((k) => k.key);
    const legacy = legacyLineKeys(read, keyedLines(read));
    expect(legacy.map((k) => [k.legacyKey, k.key])).toEqual([
      [written('2026-03-07', week[0]!, 1), now[0]],
      [written('2026-03-07', week[1]!, 2), now[1]],
    ]);
    const matched: Match = { ...match, lines: [bankLine(now[1]!)] };
    expect(legacySubjects(legacy, [matched]).map((r) => r.legacy)).toContain(
      matchSubjectOf(['wdr_1'], [written('2026-03-07', week[1]!, 2)]),
    );
  });

  it('tries at most legacyMatchSubjectsMax subjects of before for one match', () => {
    const lines = Array.from({ length: 8 }, (_, i) => bankLine(`k${i}`));
    const copies = lines.map((l) => ({ key: l.key, legacyKey: `old-${l.key}`, day: '2026-03-05' }));
    const found = legacySubjects(copies, [{ ...match, lines }]).filter((r) => r.legacy.startsWith('match:'));
    // The first combination is the keys now, not a re-keying.
    expect(found).toHaveLength(legacyMatchSubjectsMax);
  });

  const row = (id: string, subject: string, state: Partial<RecordedException> = {}): RecordedException => ({
    id,
    subject,
    status: 'OPEN',
    resolution: null,
    postingId: null,
    ...state,
  });
  const to = (legacy: string, subject = 'line:now') => ({ legacy, subject, businessDate: '2026-03-05' });
  const closes = (plan: ReturnType<typeof rekeyPlan>) => plan.closes.map((c) => [c.row.id, c.kept.id]);

  it('keeps the row that posted money, else an open one, and closes the other open ones; never one matching closed', () => {
    const posted = row('rex_b', 'line:week', { status: 'RESOLVED', resolution: 'BANK_FEE', postingId: 'pst_1' });
    const open = row('rex_a', 'line:month');
    const plan = rekeyPlan([to('line:month'), to('line:week')], [open, posted]);
    expect(plan.moves.map((c) => [c.row.id, c.rekeying.legacy])).toEqual([['rex_b', 'line:week']]);
    // The open copy would post the fee a second time: closed, naming the kept row.
    expect(closes(plan)).toEqual([['rex_a', 'rex_b']]);
    const duplicate = row('rex_c', 'line:week', { status: 'RESOLVED', resolution: 'BANK_DUPLICATE' });
    const second = rekeyPlan([to('line:week'), to('line:month')], [duplicate, open]);
    expect(second.moves.map((c) => c.row.id)).toEqual(['rex_a']);
    expect(closes(second)).toEqual([]);
    // Two open copies (a week's and the month's): one moves, the other is closed as its duplicate.
    const other = row('rex_f', 'line:week');
    const both = rekeyPlan([to('line:week'), to('line:month')], [other, open]);
    expect([both.moves.map((c) => c.row.id), closes(both)]).toEqual([['rex_f'], [['rex_a', 'rex_f']]]);
    // Closed by matching as no longer found: no decision to keep; the line's own exception opens instead.
    const closed = row('rex_e', 'line:month', { status: 'RESOLVED', resolution: null });
    expect(rekeyPlan([to('line:month')], [closed])).toEqual({ moves: [], closes: [] });
  });

  it('moves nothing where a row holds the subject now, and closes what would post a second time', () => {
    const open = row('rex_a', 'line:month');
    const held = row('rex_d', 'line:now');
    // Found again since (a run of c3452ee's code opened it): the row under the subject now stays the line's.
    expect(rekeyPlan([to('line:month')], [open, held])).toEqual({
      moves: [],
      closes: [{ row: open, kept: held, subject: 'line:now' }],
    });
    // The old row posted: the new open one must not post again.
    const posted = row('rex_b', 'line:month', { status: 'RESOLVED', resolution: 'WRITE_OFF', postingId: 'pst_1' });
    expect(rekeyPlan([to('line:month')], [posted, held])).toEqual({
      moves: [],
      closes: [{ row: held, kept: posted, subject: 'line:now' }],
    });
    // The new one posted: the old open one is closed.
    const heldPosted = { ...held, status: 'RESOLVED' as const, resolution: 'BANK_FEE' as const, postingId: 'pst_2' };
    expect(closes(rekeyPlan([to('line:month')], [open, heldPosted]))).toEqual([['rex_a', 'rex_d']]);
    // Both posted (before this change): nothing left to close.
    expect(rekeyPlan([to('line:month')], [posted, heldPosted])).toEqual({ moves: [], closes: [] });
  });

  describe("an own-date copy's row of before, under the subject another account's line has now", () => {
    // A's month copy was under line:r1, B's day copy under line:p1; A's line is line:p1 now and B's line:p2.
    const fromR = to('line:r1', 'line:p1');
    const ownDate = { ...to('line:p1', 'line:p2'), ownDate: true as const };
    const posted = { status: 'RESOLVED' as const, resolution: 'BANK_FEE' as const };

    it("leaves that subject for its own line's before the other account's row moves in: each row to its own line", () => {
      // rex_a sorts first, yet B's row must leave line:p1 before A's moves in: the unique subject is never held twice.
      for (const [a, b] of [
        [
          row('rex_a', 'line:r1', { ...posted, postingId: 'pst_a' }),
          row('rex_b', 'line:p1', { ...posted, postingId: 'pst_b' }),
        ],
        [row('rex_a', 'line:r1'), row('rex_b', 'line:p1', { ...posted, postingId: 'pst_b' })],
      ]) {
        const plan = rekeyPlan([fromR, ownDate], [a!, b!]);
        expect(plan.moves.map((m) => [m.row.id, m.rekeying.subject])).toEqual([
          ['rex_b', 'line:p2'],
          ['rex_a', 'line:p1'],
        ]);
        expect(plan.closes).toEqual([]);
      }
    });

    it('moves nothing once moved, nor without an old row of another date moving in, nor into a held subject', () => {
      const a = row('rex_a', 'line:p1', { ...posted, postingId: 'pst_a' });
      const b = row('rex_b', 'line:p2', { ...posted, postingId: 'pst_b' });
      // After the swap: line:p1 holds A's row, which no old row of another date claims.
      expect(rekeyPlan([fromR, ownDate], [a, b])).toEqual({ moves: [], closes: [] });
      // Opened since c3452ee under line:p1 and line:p2 (A's and B's lines now), or only the one: both stay.
      const opened = row('rex_c', 'line:p1');
      expect(rekeyPlan([ownDate], [opened, row('rex_d', 'line:p2')])).toEqual({ moves: [], closes: [] });
      expect(rekeyPlan([ownDate], [opened])).toEqual({ moves: [], closes: [] });
      // B's line's subject held by a row that stays: B's row stays, closed by no one; A's row stays as before this
      // change (both posted: nothing to close).
      const held = row('rex_d', 'line:p2', { ...posted, postingId: 'pst_d' });
      const oldA = row('rex_a', 'line:r1', { ...posted, postingId: 'pst_a' });
      const oldB = row('rex_b', 'line:p1', { ...posted, postingId: 'pst_b' });
      expect(rekeyPlan([fromR, ownDate], [oldA, oldB, held])).toEqual({ moves: [], closes: [] });
      // Moves that would close on themselves (line:p1 to line:p2 and back): none made.
      const back = { ...to('line:p2', 'line:p1'), ownDate: true as const };
      const oldC = row('rex_c', 'line:p2', { ...posted, postingId: 'pst_c' });
      expect(rekeyPlan([fromR, ownDate, back], [oldA, oldB, oldC])).toEqual({ moves: [], closes: [] });
    });

    it("moves no row for an old row matching closed, which never moves in: the row under the subject is its line's", () => {
      // c3452ee's code opened A's line's row under line:p1 (posted, or open) and a later run closed A's old row under
      // line:r1 as its duplicate; B's line (line:p2) matched and has none. Moving A's row to B's subject would leave
      // line:p1 empty for A's line to open again (a second fee) and B's line explained by A's posting.
      const closedOld = row('rex_a', 'line:r1', { status: 'RESOLVED', resolution: null });
      for (const current of [row('rex_e', 'line:p1', { ...posted, postingId: 'pst_e' }), row('rex_e', 'line:p1')])
        expect(rekeyPlan([fromR, ownDate], [closedOld, current])).toEqual({ moves: [], closes: [] });
    });
  });

  it('answers the rows in the order of their ids', () => {
    const rows = [row('rex_b', 'line:1'), row('rex_a', 'line:2')];
    const plan = rekeyPlan([to('line:1', 'line:x'), to('line:2', 'line:y')], rows);
    expect(plan.moves.map((c) => c.row.id)).toEqual(['rex_a', 'rex_b']);
  });
});
