import { describe, expect, it } from 'vitest';
import { formatInstant } from '../../src/instant';
import { useSeededRandom } from '../../../../test/support/seeded-random';

/** formatInstant must answer exactly what toISOString does: DateTime values cross the API through it. */
describe('formatInstant', () => {
  const random = useSeededRandom();

  it('matches toISOString at the edges of days, months, leap years, centuries and its own range', () => {
    const instants = [
      '1970-01-01T00:00:00.000Z',
      '1969-12-31T23:59:59.999Z',
      '2000-02-29T12:00:00.001Z',
      '2024-02-29T23:59:59.999Z',
      '2100-03-01T00:00:00.000Z',
      '1900-02-28T00:00:00.010Z',
      '2026-11-22T10:15:30.123Z',
      '1000-01-01T00:00:00.000Z',
      '9999-12-31T23:59:59.999Z',
      '1600-02-29T05:06:07.089Z',
    ];
    for (const text of instants) expect(formatInstant(new Date(text))).toBe(text);
  });

  it('matches toISOString beyond its own range, and throws as it does for an invalid date', () => {
    for (const time of [-62198755200000, 253402300800000, -8.64e15, 8.64e15, -1e14]) {
      expect(formatInstant(new Date(time))).toBe(new Date(time).toISOString());
    }
    expect(() => formatInstant(new Date(Number.NaN))).toThrow(RangeError);
  });

  it('matches toISOString on random instants from year 0 to 10000', () => {
    // 0000-01-01 (Date.UTC would read year 0 as 1900) and 10000-01-01.
    const low = Date.parse('0000-01-01T00:00:00.000Z');
    const high = Date.parse('+010000-01-01T00:00:00.000Z');
    for (let i = 0; i < 200_000; i++) {
      const date = new Date(low + Math.floor(random.next() * (high - low)));
      if (formatInstant(date) !== date.toISOString()) expect(formatInstant(date)).toBe(date.toISOString());
    }
  });
});
