import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { HeldLine } from '../../src/domain/booked-lines';
import { keyedLines, legacyLineKeys } from '../../src/domain/line-keys';
import { legacySubjects, rekeyPlan, type RecordedException, type Rekeying } from '../../src/domain/legacy-subjects';
import { matchSubjectOf } from '../../src/domain/channel-report';
import { matchChannel, type BankLine, type Match, type MatchingRules } from '../../src/domain/matching';
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

/** Exact amounts and days, one line to one movement. */
const rules: MatchingRules = {
  amountToleranceMinor: 0n,
  amountToleranceBps: 0,
  dateWindowDays: 0,
  allowOneToMany: false,
};

/** A line of account B, else as `line` makes it. */
const ofB = (l: HeldLine): HeldLine => ({ ...l, statement: { ...l.statement, account: 'B' } });

/**
 * A key of before as it was written down: sha256 of channel|date|currency|direction|amount|reference|booking day|place,
 * 32 hex digits. The date was the statement's closing date before c3452ee, the booking day since, the place counted
 * among every account's lines. Spelt out here, apart from the code, so that a change of either reads as one: a key
 * that changes orphans the exceptions recorded under it.
 */
function written(date: string, l: HeldLine, place: number): string {
  const text = `bank|${date}|USD|DEBIT|${l.amount}|${l.externalRef}|${l.valueDate}|${place}`;
  return createHash('sha256').update(text).digest('hex').slice(0, 32);
}

/** A key now: sha256 of "account:", the account, then channel|booking day|…|place, the place among its account's. */
function writtenNow(l: HeldLine, place: number): string {
  const text = `account:${l.statement.account}|bank|${l.valueDate}|USD|DEBIT|${l.amount}|${l.externalRef}|${l.valueDate}|${place}`;
  return createHash('sha256').update(text).digest('hex').slice(0, 32);
}

/** A shared-places key of before, as legacyLineKeys lists it. */
const shared = (l: HeldLine, keyPlace: number, sharedPlace: number) => ({
  key: writtenNow(l, keyPlace),
  legacyKey: written(l.valueDate, l, sharedPlace),
  day: l.valueDate,
  scheme: 'shared-places',
});

describe('the keys of statement lines', () => {
  it("names a line by its account, booking day and place among its account's lines, and knows its keys of before", () => {
    // Two identical fees of the 5th and one of the 31st on the month's statement.
    const month = [line('2026-03-05', '2026-03-31', 'fee'), line('2026-03-05', '2026-03-31', 'fee')];
    const own = line('2026-03-31', '2026-03-31', 'fee');
    const keyed = keyedLines([...month, own]);
    expect(keyed.map((k) => k.key)).toEqual([writtenNow(month[0]!, 1), writtenNow(month[1]!, 2), writtenNow(own, 1)]);
    // Every line's shared-places key; a statement-date key where it was another (a line booked on its statement's
    // date had its shared-places key then: not listed again).
    expect(legacyLineKeys([...month, own], keyed)).toEqual([
      shared(month[0]!, 1, 1),
      shared(month[1]!, 2, 2),
      shared(own, 1, 1),
      {
        key: keyed[0]!.key,
        legacyKey: written('2026-03-31', month[0]!, 1),
        day: '2026-03-05',
        scheme: 'statement-date',
      },
      {
        key: keyed[1]!.key,
        legacyKey: written('2026-03-31', month[1]!, 2),
        day: '2026-03-05',
        scheme: 'statement-date',
      },
    ]);
  });

  it("keys no line otherwise when another account's identical line is read before it: its place is its account's", () => {
    // B's fee of the 10th, keyed when its statement alone held it; then A's identical fee, its statement read first.
    const b = ofB(line('2026-03-10', '2026-03-10', 'FEE', 500n));
    const a = line('2026-03-10', '2026-03-10', 'FEE', 500n);
    expect(keyedLines([b]).map((k) => k.key)).toEqual([writtenNow(b, 1)]);
    expect(keyedLines([a, b]).map((k) => [k.line, k.key])).toEqual([
      [a, writtenNow(a, 1)],
      [b, writtenNow(b, 1)],
    ]);
    expect(writtenNow(a, 1)).not.toEqual(writtenNow(b, 1));
    // An account's own identical lines still take places 1, 2, … in the order read.
    const twice = keyedLines([b, a, { ...b }]).map((k) => k.key);
    expect(twice).toEqual([writtenNow(b, 1), writtenNow(a, 1), writtenNow(b, 2)]);
    // The shared-places keys are the places' in today's order: A's line holds place 1, B's place 2.
    expect(legacyLineKeys([a, b], keyedLines([a, b]))).toEqual([shared(a, 1, 1), shared(b, 1, 2)]);
  });

  it('pairs lines alike with the movements they paired with when keys named no account (ties broken so)', () => {
    // Two fees of the 10th alike but for their references, one movement of their amount without one: matching takes
    // the line that sorts first. For some references keys now sort otherwise than keys of before; broken by the key
    // now, the tie would pair the other line, the decision recorded for one line left on a line matched now and the
    // other line opening a new exception (a WRITE_OFF posted twice).
    const pair = (n: number) => [line('2026-03-10', '2026-03-10', `X${n}`), line('2026-03-10', '2026-03-10', `Y${n}`)];
    const flips = ([x, y]: HeldLine[]) =>
      written(x!.valueDate, x!, 1) < written(y!.valueDate, y!, 1) !== writtenNow(x!, 1) < writtenNow(y!, 1);
    const [x, y] = pair(Array.from({ length: 64 }, (_, i) => i).find((i) => flips(pair(i)))!) as [HeldLine, HeldLine];
    const before = written(x.valueDate, x, 1) < written(y.valueDate, y, 1) ? x : y;
    const lines: BankLine[] = keyedLines([x, y]).map(({ line: l, key, order }) => ({
      key,
      order,
      statementDate: l.valueDate,
      valueDate: l.valueDate,
      currency: l.currency,
      signed: -l.amount,
      externalRef: l.externalRef ?? '',
      lineNumber: 1,
    }));
    const movement = { id: 'mov_1', businessDate: '2026-03-10', currency: 'USD', signed: -25n, externalRef: null };
    for (const read of [lines, [...lines].reverse()]) {
      const result = matchChannel(read, [movement], rules);
      expect(result.matches.map((m) => m.lines.map((l) => l.externalRef))).toEqual([[before.externalRef]]);
    }
  });

  it("maps the month's copies beside the day's statement to the places the day's now hold", () => {
    // The day's statement holds one fee of the 5th, the month's two: the day's is counted, then the month's second.
    const day = line('2026-03-05', '2026-03-05', 'fee');
    const month = [line('2026-03-05', '2026-03-31', 'fee'), line('2026-03-05', '2026-03-31', 'fee')];
    const now = keyedLines([...month, day]).map((k) => k.key);
    expect(now).toEqual([writtenNow(day, 1), writtenNow(day, 2)]);
    // Each of the month's copies had its exception then; each is one of the places now, none left over.
    const dated = legacyLineKeys([...month, day], keyedLines([...month, day])).filter(
      (k) => k.scheme !== 'shared-places',
    );
    expect(dated.map((k) => [k.legacyKey, k.key])).toEqual([
      [written('2026-03-31', month[0]!, 1), now[0]],
      [written('2026-03-31', month[1]!, 2), now[1]],
    ]);
  });

  it("gives a copy its own account's counted line's key, not another account's identical line's of the day", () => {
    // A's fee of the 10th on its month's statement (closing the 31st), B's identical fee on its day's statement, read
    // first (a lower statement id): B's shared place is 1 and A's 2 on the 10th. A's copy was place 1 among the 31st's
    // lines then, and its key now is A's line's, not B's.
    const b = ofB(line('2026-03-10', '2026-03-10', 'FEE', 500n));
    const a = line('2026-03-10', '2026-03-31', 'FEE', 500n);
    const read = [b, a];
    const keyed = keyedLines(read);
    expect(keyed.map((k) => [k.line, k.key])).toEqual([
      [b, writtenNow(b, 1)],
      [a, writtenNow(a, 1)],
    ]);
    expect(legacyLineKeys(read, keyed)).toEqual([
      shared(b, 1, 1),
      shared(a, 1, 2),
      { key: writtenNow(a, 1), legacyKey: written('2026-03-31', a, 1), day: '2026-03-10', scheme: 'statement-date' },
    ]);
    // A copy without a counted line of its account and content gives no key now: its rows stay where they are.
    expect(legacyLineKeys(read, keyed.slice(0, 1))).toEqual([shared(b, 1, 1)]);
  });

  it("marks a day's statement's copy whose statement-date key is another account's line's shared-places key", () => {
    // A's fee of the 10th on its month's statement read first (the lower statement id), B's identical fee on its day's
    // statement: A's shared place is 1 and B's 2 on the 10th. B's copy was place 1 among the 10th's lines before
    // c3452ee: the key A's line had since, an old subject claimed by two schemes (ownDate).
    const a = line('2026-03-10', '2026-03-31', 'FEE', 500n);
    const b = ofB(line('2026-03-10', '2026-03-10', 'FEE', 500n));
    const read = [a, b];
    const found = legacyLineKeys(read, keyedLines(read));
    expect(found).toEqual([
      shared(a, 1, 1),
      shared(b, 1, 2),
      { key: writtenNow(a, 1), legacyKey: written('2026-03-31', a, 1), day: '2026-03-10', scheme: 'statement-date' },
      {
        key: writtenNow(b, 1),
        legacyKey: written('2026-03-10', b, 1),
        day: '2026-03-10',
        scheme: 'statement-date',
        ownDate: true,
      },
    ]);
    expect(found[3]!.legacyKey).toBe(found[0]!.legacyKey);
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

describe('exceptions recorded under keys of before, found again', () => {
  const bankLine = (key: string): BankLine => ({
    key,
    order: key,
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
  const dated = (key: string, legacyKey: string) =>
    ({ key, legacyKey, day: '2026-03-05', scheme: 'statement-date' }) as const;
  const sharedPlace = (key: string, legacyKey: string) =>
    ({ key, legacyKey, day: '2026-03-05', scheme: 'shared-places' }) as const;

  it("names a match's subjects of before by each copy's key of before, and skips what did not change", () => {
    const found = legacySubjects([dated('k', 'l'), dated('new-a', 'old-a')], [match]);
    const subject = matchSubjectOf(['wdr_1'], ['same', 'new-a']);
    expect(found).toEqual([
      { legacy: 'line:l', subject: 'line:k', businessDate: '2026-03-05', scheme: 'statement-date' },
      { legacy: 'line:old-a', subject: 'line:new-a', businessDate: '2026-03-05', scheme: 'statement-date' },
      {
        legacy: matchSubjectOf(['wdr_1'], ['old-a', 'same']),
        subject,
        businessDate: '2026-03-05',
        scheme: 'statement-date',
      },
    ]);
    expect(legacySubjects([], [match])).toEqual([]);
  });

  it("names a match's shared-places subject first, then its statement-date ones of the shared keys", () => {
    // Every line has a shared-places key; new-a's copy also had a statement-date key.
    const lines = [dated('new-a', 'old-a'), sharedPlace('same', 'same-shared'), sharedPlace('new-a', 'new-a-shared')];
    const found = legacySubjects(lines, [match]);
    const subject = matchSubjectOf(['wdr_1'], ['same', 'new-a']);
    // The line re-keyings, shared-places first (of a line's rows that rank alike, that one is kept).
    expect(found.slice(0, 3).map((r) => [r.legacy, r.scheme])).toEqual([
      ['line:same-shared', 'shared-places'],
      ['line:new-a-shared', 'shared-places'],
      ['line:old-a', 'statement-date'],
    ]);
    expect(found.slice(3)).toEqual([
      {
        legacy: matchSubjectOf(['wdr_1'], ['new-a-shared', 'same-shared']),
        subject,
        businessDate: '2026-03-05',
        scheme: 'shared-places',
      },
      {
        legacy: matchSubjectOf(['wdr_1'], ['old-a', 'same-shared']),
        subject,
        businessDate: '2026-03-05',
        scheme: 'statement-date',
      },
    ]);
  });

  it("tries every copy's key of before for a match, though the copy counted now kept its statement-date key", () => {
    // A deposit line of the 30th on the month's statement (closing the 31st) and on the day's, imported since: the
    // day's copy is counted and matched now; the month's copy was matched before c3452ee, under its old key.
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
      const found = legacySubjects(legacyLineKeys(read, keyedLines(read)), [matched]);
      const subject = matchSubjectOf(['wdr_1'], [writtenNow(day, 1)]);
      expect(found).toContainEqual({
        legacy: matchSubjectOf(['wdr_1'], [written('2026-03-31', month, 1)]),
        subject,
        businessDate: '2026-03-30',
        scheme: 'statement-date',
      });
      expect(found).toContainEqual({
        legacy: matchSubjectOf(['wdr_1'], [written('2026-03-30', day, 1)]),
        subject,
        businessDate: '2026-03-30',
        scheme: 'shared-places',
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
    expect(legacy.filter((k) => k.scheme === 'statement-date').map((k) => [k.legacyKey, k.key])).toEqual([
      [written('2026-03-07', week[0]!, 1), now[0]],
      [written('2026-03-07', week[1]!, 2), now[1]],
    ]);
    const matched: Match = { ...match, lines: [bankLine(now[1]!)] };
    expect(legacySubjects(legacy, [matched]).map((r) => r.legacy)).toContain(
      matchSubjectOf(['wdr_1'], [written('2026-03-07', week[1]!, 2)]),
    );
  });

  it('tries at most legacyMatchSubjectsMax subjects of before c3452ee for one match, beside its shared-places one', () => {
    const lines = Array.from({ length: 8 }, (_, i) => bankLine(`k${i}`));
    const copies = lines.map((l) => dated(l.key, `old-${l.key}`));
    const matchSubjects = (found: ReturnType<typeof legacySubjects>) =>
      found.filter((r) => r.legacy.startsWith('match:'));
    // The first combination is the keys now, not a re-keying.
    expect(matchSubjects(legacySubjects(copies, [{ ...match, lines }]))).toHaveLength(legacyMatchSubjectsMax);
    const withShared = [...copies, ...lines.map((l) => sharedPlace(l.key, `shared-${l.key}`))];
    const found = matchSubjects(legacySubjects(withShared, [{ ...match, lines }]));
    expect(found).toHaveLength(legacyMatchSubjectsMax + 1);
    expect(found[0]!.scheme).toBe('shared-places');
  });

  const row = (id: string, subject: string, state: Partial<RecordedException> = {}): RecordedException => ({
    id,
    subject,
    status: 'OPEN',
    resolution: null,
    postingId: null,
    ...state,
  });
  const to = (legacy: string, subject = 'line:now', scheme: Rekeying['scheme'] = 'statement-date'): Rekeying => ({
    legacy,
    subject,
    businessDate: '2026-03-05',
    scheme,
  });
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

  it("moves a row under a line's shared-places subject to its key now, and keeps the rows of before alike", () => {
    // A's fee was shared place 1 of its day and B's place 2, each with its row: each moves to its own line's key.
    const [sharedA, sharedB] = [to('line:p1', 'line:a', 'shared-places'), to('line:p2', 'line:b', 'shared-places')];
    const a = row('rex_a', 'line:p1', { status: 'RESOLVED', resolution: 'BANK_FEE', postingId: 'pst_a' });
    const b = row('rex_b', 'line:p2');
    const plan = rekeyPlan([sharedA, sharedB], [a, b]);
    expect(plan.moves.map((m) => [m.row.id, m.rekeying.subject])).toEqual([
      ['rex_a', 'line:a'],
      ['rex_b', 'line:b'],
    ]);
    expect(plan.closes).toEqual([]);
    // Moved: the subjects of before hold nothing; a row under a key now stays.
    expect(rekeyPlan([sharedA, sharedB], [{ ...a, subject: 'line:a' }])).toEqual({ moves: [], closes: [] });
    // A line's rows of both schemes (a run of c3452ee's code opened one beside the one of before): one is kept, the
    // shared-places one among equals, the other open one closed as its duplicate.
    const old = row('rex_c', 'line:r1');
    const both = rekeyPlan([sharedB, to('line:r1', 'line:b')], [b, old]);
    expect([both.moves.map((m) => m.row.id), closes(both)]).toEqual([['rex_b'], [['rex_c', 'rex_b']]]);
  });

  describe("an old subject claimed by two schemes: an own-date copy's statement-date one, another line's shared place", () => {
    // A's month copy was under line:r1 and B's day copy under line:p1 before c3452ee; since, A's line was shared place
    // 1 (line:p1) and B's place 2 (line:p2). Their keys now: line:a and line:b.
    const fromR = to('line:r1', 'line:a');
    const ownDate = { ...to('line:p1', 'line:b'), ownDate: true as const };
    const [sharedA, sharedB] = [to('line:p1', 'line:a', 'shared-places'), to('line:p2', 'line:b', 'shared-places')];
    const all = [sharedA, sharedB, fromR, ownDate];
    const posted = { status: 'RESOLVED' as const, resolution: 'BANK_FEE' as const };
    const moves = (plan: ReturnType<typeof rekeyPlan>) => plan.moves.map((m) => [m.row.id, m.rekeying.subject]);

    it("gives its row to the own-date copy's line where the other line's row of before c3452ee moves in", () => {
      for (const a of [row('rex_a', 'line:r1', { ...posted, postingId: 'pst_a' }), row('rex_a', 'line:r1')]) {
        const plan = rekeyPlan(all, [a, row('rex_b', 'line:p1', { ...posted, postingId: 'pst_b' })]);
        expect(moves(plan)).toEqual([
          ['rex_a', 'line:a'],
          ['rex_b', 'line:b'],
        ]);
        expect(plan.closes).toEqual([]);
      }
    });

    it('gives it to the line whose shared place it is otherwise: the row was opened or moved there since c3452ee', () => {
      // After 8ae5c82's swap: A's row under line:p1, B's under line:p2.
      const a = row('rex_a', 'line:p1', { ...posted, postingId: 'pst_a' });
      const b = row('rex_b', 'line:p2', { ...posted, postingId: 'pst_b' });
      expect(moves(rekeyPlan(all, [a, b]))).toEqual([
        ['rex_a', 'line:a'],
        ['rex_b', 'line:b'],
      ]);
      // Opened since c3452ee under line:p1 and line:p2, or only the one: each its shared place's line's.
      expect(moves(rekeyPlan(all, [row('rex_c', 'line:p1'), row('rex_d', 'line:p2')]))).toEqual([
        ['rex_c', 'line:a'],
        ['rex_d', 'line:b'],
      ]);
      expect(moves(rekeyPlan(all, [row('rex_c', 'line:p1')]))).toEqual([['rex_c', 'line:a']]);
      // No line holds that shared place now: the own-date copy's alone.
      expect(moves(rekeyPlan([fromR, ownDate], [row('rex_c', 'line:p1')]))).toEqual([['rex_c', 'line:b']]);
    });

    it("gives it to its shared place's line where that line's old row matching closed, which never moves in", () => {
      // c3452ee's code opened A's line's row under line:p1 (posted, or open) and a later run closed A's old row under
      // line:r1 as its duplicate; B's line matched and has none. A's row goes with A's line, not to B's (which would
      // leave A's line to open again, a second fee, and show B's explained by A's posting).
      const closedOld = row('rex_a', 'line:r1', { status: 'RESOLVED', resolution: null });
      for (const current of [row('rex_e', 'line:p1', { ...posted, postingId: 'pst_e' }), row('rex_e', 'line:p1')])
        expect(rekeyPlan(all, [closedOld, current])).toEqual({
          moves: [{ row: current, rekeying: sharedA }],
          closes: [],
        });
    });

    it("posts nothing again where B's line had a row under its shared place too: one row moves to each line", () => {
      const oldA = row('rex_a', 'line:r1', { ...posted, postingId: 'pst_a' });
      const oldB = row('rex_b', 'line:p1', { ...posted, postingId: 'pst_b' });
      const held = row('rex_d', 'line:p2', { ...posted, postingId: 'pst_d' });
      // Both of B's posted (before keys named their account): one moves, the other stays as it is; nothing to close.
      expect(rekeyPlan(all, [oldA, oldB, held])).toMatchObject({ moves: [{ row: oldA }, { row: held }], closes: [] });
      // B's shared-place row open: closed as the posted one's duplicate, which moves.
      const open = row('rex_d', 'line:p2');
      expect(closes(rekeyPlan(all, [oldA, oldB, open]))).toEqual([['rex_d', 'rex_b']]);
    });
  });

  it('answers the rows in the order of their ids', () => {
    const rows = [row('rex_b', 'line:1'), row('rex_a', 'line:2')];
    const plan = rekeyPlan([to('line:1', 'line:x'), to('line:2', 'line:y')], rows);
    expect(plan.moves.map((c) => c.row.id)).toEqual(['rex_a', 'rex_b']);
  });
});
