import { describe, expect, it } from 'vitest';
import { countedOnce, type HeldLine } from '../../src/domain/booked-lines';

/** A line booked on `day` of the statement closing on `closing` (account A, USD, channel bank). */
function line(
  day: string,
  closing: string,
  ref: string,
  amount = 100n,
  direction = 'CREDIT',
): HeldLine & { id: string } {
  return {
    id: `${closing}/${ref}`,
    currency: 'USD',
    valueDate: day,
    direction,
    amount,
    externalRef: ref,
    statement: { channel: 'bank', account: 'A', businessDate: closing },
  };
}

const ids = (lines: ReadonlyArray<{ id: string }>) => lines.map((l) => l.id);

describe('which statement lines count on a day', () => {
  it("counts a line only a later statement holds, beside the day's own statement (a back-valued line)", () => {
    // The statement of the 3rd, and the 4th's, which holds a line dated the 3rd (by its value date: no booking date).
    const lines = [
      line('2026-03-03', '2026-03-03', 'x'),
      line('2026-03-03', '2026-03-04', 'y'),
      line('2026-03-04', '2026-03-04', 'z'),
    ];
    expect(ids(countedOnce(lines))).toEqual(['2026-03-03/x', '2026-03-04/y', '2026-03-04/z']);
  });

  it("reads a booking the day's and the month's statements both hold once, from the day's", () => {
    const lines = [
      line('2026-03-03', '2026-03-31', 'x'),
      line('2026-03-03', '2026-03-31', 'w'),
      line('2026-03-03', '2026-03-03', 'x'),
    ];
    expect(ids(countedOnce(lines))).toEqual(['2026-03-31/w', '2026-03-03/x']);
  });

  it('counts identical lines as often as the statement holding most of them does', () => {
    const twice = [line('2026-03-03', '2026-03-03', 'x'), { ...line('2026-03-03', '2026-03-03', 'x'), id: 'second' }];
    const once = [line('2026-03-03', '2026-03-31', 'x')];
    expect(ids(countedOnce([...once, ...twice]))).toEqual(['2026-03-03/x', 'second']);
    // The farther statement holding it more often adds what the nearer lacks.
    const thrice = [0, 1, 2].map((n) => ({ ...line('2026-03-03', '2026-03-31', 'x'), id: `month-${n}` }));
    expect(ids(countedOnce([...thrice, ...twice]))).toEqual(['month-2', '2026-03-03/x', 'second']);
  });

  it('tells lines apart by direction and amount, and takes every statement of one closing date', () => {
    const lines = [
      line('2026-03-03', '2026-03-31', 'x', 100n, 'DEBIT'),
      line('2026-03-03', '2026-03-03', 'x', 100n, 'CREDIT'),
      line('2026-03-03', '2026-03-31', 'x', 101n, 'CREDIT'),
      {
        ...line('2026-03-03', '2026-03-03', 'x'),
        id: 'csv',
        statement: { channel: 'bank', account: 'A', businessDate: '2026-03-03' },
      },
    ];
    expect(ids(countedOnce(lines))).toEqual(['2026-03-31/x', '2026-03-03/x', '2026-03-31/x', 'csv']);
  });

  it("reads a booking of the month's last day once when its own statement closes that day too, from the day's", () => {
    const month = (l: HeldLine & { id: string }, id: string) => ({
      ...l,
      id,
      statement: { ...l.statement, openingDate: '2026-03-01' },
    });
    const lines = [
      month(line('2026-03-31', '2026-03-31', 'fee', 25n, 'DEBIT'), 'month/fee'),
      month(line('2026-03-31', '2026-03-31', 'x'), 'month/x'),
      { ...line('2026-03-31', '2026-03-31', 'fee', 25n, 'DEBIT'), id: 'day/fee' },
    ];
    expect(ids(countedOnce(lines))).toEqual(['month/x', 'day/fee']);
    // Two statements of one span are both taken, as two of one closing date were.
    expect(ids(countedOnce([lines[0]!, month(lines[2]!, 'month/fee-2')]))).toEqual(['month/fee', 'month/fee-2']);
  });
});
