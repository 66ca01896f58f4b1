import { describe, expect, it } from 'vitest';
import { statementDates } from '../../src/domain/statement';
import { statementDatesMax } from '../../src/limits';

describe('statementDates', () => {
  it('answers every date of a range ending on 9999-12-31, the last day a Date may be', () => {
    // Before: the walk went on past 9999-12-31 to '+010000-01-01' (which sorts before it) and refused the 31 dates
    // as RangeTooLong.
    const december = statementDates('9999-12-01', '9999-12-31');
    expect(december.ok && december.value).toHaveLength(31);
    expect(december.ok && december.value.at(-1)).toBe('9999-12-31');
    expect(statementDates('9999-12-31', '9999-12-31')).toEqual({ ok: true, value: ['9999-12-31'] });
    const year = statementDates('9999-01-01', '9999-12-31');
    expect(year.ok && [year.value.length, year.value[0], year.value.at(-1)]).toEqual([365, '9999-01-01', '9999-12-31']);
    expect(statementDates('1000-01-01', '1000-01-02')).toEqual({ ok: true, value: ['1000-01-01', '1000-01-02'] });
  });

  it('refuses from after to and more than statementDatesMax dates, counting them', () => {
    expect(statementDates('2026-03-02', '2026-03-01')).toMatchObject({ ok: false, error: { kind: 'FromAfterTo' } });
    expect(statementDates('9998-12-30', '9999-12-31')).toMatchObject({
      ok: false,
      error: { kind: 'RangeTooLong', dates: 367 },
    });
    expect(statementDatesMax).toBe(366);
    const most = statementDates('2024-01-01', '2024-12-31');
    expect(most.ok && most.value).toHaveLength(366);
  });
});
