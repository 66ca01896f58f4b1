import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { HeldLine } from '../../src/domain/booked-lines';
import { keyedLines, legacyLineKeys } from '../../src/domain/line-keys';
import { adoptions, legacySubjects, type RecordedException } from '../../src/domain/legacy-subjects';
import { matchSubjectOf } from '../../src/domain/channel-report';
import type { BankLine, Match } from '../../src/domain/matching';

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
    expect(keyed.map((k) => [k.key, k.legacyKey])).toEqual([
      [written('2026-03-05', month[0]!, 1), written('2026-03-31', month[0]!, 1)],
      [written('2026-03-05', month[1]!, 2), written('2026-03-31', month[1]!, 2)],
      // A line booked on its statement's date had the same key then.
      [written('2026-03-31', own, 1), written('2026-03-31', own, 1)],
    ]);
    expect(legacyLineKeys([...month, own])).toEqual([
      { key: keyed[0]!.key, legacyKey: keyed[0]!.legacyKey, day: '2026-03-05' },
      { key: keyed[1]!.key, legacyKey: keyed[1]!.legacyKey, day: '2026-03-05' },
    ]);
  });

  it("maps the month's copies beside the day's statement to the places the day's now hold", () => {
    // The day's statement holds one fee of the 5th, the month's two: the day's is counted, then the month's second.
    const day = line('2026-03-05', '2026-03-05', 'fee');
    const month = [line('2026-03-05', '2026-03-31', 'fee'), line('2026-03-05', '2026-03-31', 'fee')];
    const now = keyedLines([...month, day]).map((k) => k.key);
    expect(now).toEqual([written('2026-03-05', day, 1), written('2026-03-05', day, 2)]);
    // Each of the month's copies had its exception then; each is one of the places now, none left over.
    expect(legacyLineKeys([...month, day]).map((k) => [k.legacyKey, k.key])).toEqual([
      [written('2026-03-31', month[0]!, 1), now[0]],
      [written('2026-03-31', month[1]!, 2), now[1]],
    ]);
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

  it("names a match's subject of before by its lines' keys of before, and skips what did not change", () => {
    const legacyKeyOf = new Map([
      ['new-a', 'old-a'],
      ['same', 'same'],
    ]);
    const found = legacySubjects([{ key: 'k', legacyKey: 'l', day: '2026-03-05' }], [match], legacyKeyOf);
    expect(found).toEqual([
      { legacy: 'line:l', subject: 'line:k', businessDate: '2026-03-05' },
      {
        legacy: matchSubjectOf(['wdr_1'], ['old-a', 'same']),
        subject: matchSubjectOf(['wdr_1'], ['same', 'new-a']),
        businessDate: '2026-03-05',
      },
    ]);
    expect(legacySubjects([], [match], new Map([['new-a', 'new-a']]))).toEqual([]);
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

  it('takes the row that posted money, else an open one; none where the subject is held, nor one matching closed', () => {
    const posted = row('rex_b', 'line:week', { status: 'RESOLVED', resolution: 'BANK_FEE', postingId: 'pst_1' });
    const open = row('rex_a', 'line:month');
    const chosen = adoptions([to('line:month'), to('line:week')], [open, posted]);
    expect(chosen.map((c) => [c.row.id, c.rekeying.legacy])).toEqual([['rex_b', 'line:week']]);
    const duplicate = row('rex_c', 'line:week', { status: 'RESOLVED', resolution: 'BANK_DUPLICATE' });
    expect(adoptions([to('line:week'), to('line:month')], [duplicate, open]).map((c) => c.row.id)).toEqual(['rex_a']);
    // Found again since: the row under the subject now stays the line's.
    expect(adoptions([to('line:month')], [open, row('rex_d', 'line:now')])).toEqual([]);
    // Closed by matching as no longer found: no decision to keep; the line's own exception opens instead.
    const closed = row('rex_e', 'line:month', { status: 'RESOLVED', resolution: null });
    expect(adoptions([to('line:month')], [closed])).toEqual([]);
  });

  it('answers the rows in the order of their ids, the order they are locked in', () => {
    const rows = [row('rex_b', 'line:1'), row('rex_a', 'line:2')];
    const chosen = adoptions([to('line:1', 'line:x'), to('line:2', 'line:y')], rows);
    expect(chosen.map((c) => c.row.id)).toEqual(['rex_a', 'rex_b']);
  });
});
