import { describe, expect, it } from 'vitest';
import { PerReaderCache } from '../../src/per-reader-cache';

/**
 * Values kept per reader within bytes (per-reader-cache.ts): a reader's count and bytes, everyone's bytes, and one
 * value's size hold; a reader at its share loses its own oldest values, and in all the reader least recently served
 * loses its values first.
 */
const bounds = { answersPerReader: 4, bytesPerReader: 100, bytes: 250, bytesOfOne: 60 };
const cacheOf = () => new PerReaderCache<{ text: string }>(bounds, (v) => v.text.length);
const text = (bytes: number) => ({ text: 'x'.repeat(bytes) });

describe('the per-reader cache', () => {
  it("keeps within a reader's count and bytes, its oldest values going first", () => {
    const cache = cacheOf();
    for (let i = 0; i < 6; i++) expect(cache.set('a', `k${i}`, text(10))).toBe(true);
    expect(cache.get('a', 'k1')).toBeUndefined();
    expect(cache.get('a', 'k2')).toEqual(text(10));
    for (let i = 0; i < 3; i++) cache.set('b', `k${i}`, text(40));
    expect(cache.get('b', 'k0')).toBeUndefined();
    expect(cache.get('b', 'k2')).toEqual(text(40));
    expect(cache.bytes()).toBeLessThanOrEqual(bounds.bytes);
  });

  it('keeps no value larger than one may be', () => {
    const cache = cacheOf();
    expect(cache.set('a', 'big', text(61))).toBe(false);
    expect(cache.get('a', 'big')).toBeUndefined();
    expect(cache.bytes()).toBe(0);
  });

  it("stays within everyone's bytes, the reader least recently served losing its values first", () => {
    const cache = cacheOf();
    cache.set('quiet', 'mine', text(50));
    cache.set('other', 'theirs', text(50));
    for (let r = 0; r < 5; r++) for (let i = 0; i < 2; i++) cache.set(`flood${r}`, `k${i}`, text(45));
    expect(cache.bytes()).toBeLessThanOrEqual(bounds.bytes);
    expect(cache.get('quiet', 'mine')).toBeUndefined();
    expect(cache.get('flood4', 'k1')).toEqual(text(45));
  });

  it('refuses bounds that cannot hold together', () => {
    expect(() => new PerReaderCache({ ...bounds, bytesOfOne: 101 }, () => 1)).toThrow(RangeError);
    expect(() => new PerReaderCache({ ...bounds, bytesPerReader: 251 }, () => 1)).toThrow(RangeError);
  });
});
