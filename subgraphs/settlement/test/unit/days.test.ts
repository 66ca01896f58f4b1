import { describe, expect, it } from 'vitest';
import { addDays, dateWindow } from '../../src/domain/days';
import { dateWindowDaysMax } from '../../src/limits';
import { statementDateMax } from '@paygraph/shared/limits';

describe('days as matching weighs them', () => {
  it('asserts addDays answers a day of the years 1000-9999', () => {
    expect(addDays('9999-12-30', 1)).toBe('9999-12-31');
    expect(addDays('1000-01-02', -1)).toBe('1000-01-01');
    // Before, '+010000-01-01' (sorting before '9999-12-31') and '0999-12-31'.
    expect(() => addDays('9999-12-31', 1)).toThrow(/addDays\(9999-12-31, 1\) leaves the years 1000-9999/);
    expect(() => addDays('1000-01-01', -1)).toThrow(/leaves the years 1000-9999/);
  });

  it('keeps the widest window around statementDateMax a date, and starts no window before 1000-01-01', () => {
    expect(dateWindow(statementDateMax, dateWindowDaysMax)).toEqual({ fromDate: '9999-10-30', toDate: '9999-12-31' });
    expect(dateWindow('2071-03-02', 1)).toEqual({ fromDate: '2071-03-01', toDate: '2071-03-03' });
    expect(dateWindow('1000-01-05', dateWindowDaysMax)).toEqual({ fromDate: '1000-01-01', toDate: '1000-02-05' });
    expect(dateWindow('1000-01-01', 0)).toEqual({ fromDate: '1000-01-01', toDate: '1000-01-01' });
    expect(() => dateWindow('9999-12-01', dateWindowDaysMax)).toThrow(/leaves the years/);
  });
});
