import { describe, expect, it } from 'vitest';
import { addDays, businessDateOf, parseCutoff } from '../../src/business-date';

describe('business date', () => {
  const utc = { timeZone: 'UTC', cutoffMinutes: 0 };

  it('is the calendar date in UTC with the default midnight cut-off', () => {
    expect(businessDateOf(new Date('2026-11-22T23:59:59.900Z'), utc)).toBe('2026-11-22');
    expect(businessDateOf(new Date('2026-11-23T00:00:00.000Z'), utc)).toBe('2026-11-23');
  });

  it('moves postings at or after the cut-off to the next date', () => {
    const late = { timeZone: 'UTC', cutoffMinutes: parseCutoff('22:00') };
    expect(businessDateOf(new Date('2026-11-22T21:59:59.999Z'), late)).toBe('2026-11-22');
    expect(businessDateOf(new Date('2026-11-22T22:00:00.000Z'), late)).toBe('2026-11-23');
  });

  it('follows the business time zone, daylight saving included', () => {
    const ny = { timeZone: 'America/New_York', cutoffMinutes: 0 };
    expect(businessDateOf(new Date('2026-11-23T04:59:59Z'), ny)).toBe('2026-11-22');
    expect(businessDateOf(new Date('2026-11-23T05:00:00Z'), ny)).toBe('2026-11-23');
    expect(businessDateOf(new Date('2026-07-01T03:59:59Z'), ny)).toBe('2026-06-30');
    expect(businessDateOf(new Date('2026-07-01T04:00:00Z'), ny)).toBe('2026-07-01');
  });

  it('answers each zone for itself when zones alternate within one minute, and turns at the minute', () => {
    const auckland = { timeZone: 'Pacific/Auckland', cutoffMinutes: 0 };
    const instant = new Date('2026-11-22T10:59:30Z');
    for (let i = 0; i < 3; i++) {
      expect(businessDateOf(instant, utc)).toBe('2026-11-22');
      expect(businessDateOf(instant, auckland)).toBe('2026-11-22');
      expect(businessDateOf(new Date('2026-11-22T11:00:00Z'), auckland)).toBe('2026-11-23');
      expect(businessDateOf(new Date('2026-11-22T10:59:59.999Z'), auckland)).toBe('2026-11-22');
    }
  });

  it('refuses malformed cut-offs and adds days across months', () => {
    for (const bad of ['24:00', '7:00', '12:60', 'noon']) expect(() => parseCutoff(bad), bad).toThrow();
    expect(addDays('2026-02-28', 1)).toBe('2026-03-01');
    expect(addDays('2026-12-31', 1)).toBe('2027-01-01');
  });

  it('asserts its answer is a day of the years 1000-9999: past them it is no "YYYY-MM-DD"', () => {
    expect(addDays('9999-11-30', 31)).toBe('9999-12-31');
    expect(addDays('1000-01-31', -30)).toBe('1000-01-01');
    // Before, '+010000-01-01' (sorting before '9999-12-31') and '0999-12-31'.
    expect(() => addDays('9999-12-31', 1)).toThrow(/addDays\(9999-12-31, 1\) leaves the years 1000-9999/);
    expect(() => addDays('1000-01-01', -1)).toThrow(/leaves the years 1000-9999/);
  });
});
