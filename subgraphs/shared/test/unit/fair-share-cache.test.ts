import { describe, expect, it } from 'vitest';
import { FairShareCache } from '../../src/fair-share-cache';

/**
 * A cache shared by callers (fair-share-cache.ts): within its bound, a flood by one caller evicts
 * that caller's own oldest entries, never those of a caller holding fewer.
 */
describe('the fair-share cache', () => {
  it('lets a lone caller use the whole bound, then forgets its oldest entries first', () => {
    const cache = new FairShareCache<number>(10);
    for (let i = 0; i < 15; i++) cache.set('a', `k${i}`, i);
    expect(cache.size()).toBe(10);
    expect(cache.evictions()).toBe(5);
    expect(cache.get('a', 'k4')).toBeUndefined();
    expect(cache.get('a', 'k5')).toBe(5);
    expect(cache.get('a', 'k14')).toBe(14);
  });

  it("keeps another caller's entries while one floods it", () => {
    const cache = new FairShareCache<number>(10);
    cache.set('a', 'mine', 1);
    cache.set('c', 'x', 1);
    cache.set('c', 'y', 2);
    for (let i = 0; i < 1_000; i++) cache.set('b', `k${i}`, i);
    expect(cache.get('a', 'mine')).toBe(1);
    expect([cache.get('c', 'x'), cache.get('c', 'y')]).toEqual([1, 2]);
    expect(cache.size('b')).toBe(7);
    expect(cache.get('b', 'k999')).toBe(999);
    expect(cache.size()).toBe(10);
  });

  it("trims the largest holder down to the newcomer's size, never below it", () => {
    const cache = new FairShareCache<number>(10);
    for (let i = 0; i < 10; i++) cache.set('big', `k${i}`, i);
    for (let i = 0; i < 8; i++) cache.set('small', `s${i}`, i);
    // Each insert evicted the largest holder's oldest until both held 5; then small's inserts evicted its own.
    expect([cache.size('big'), cache.size('small')]).toEqual([5, 5]);
    expect(cache.get('small', 's0')).toBeUndefined();
    expect(cache.get('big', 'k9')).toBe(9);
    expect(cache.callers()).toBe(2);
  });

  it('forgets deleted entries and callers left with none, and updates an entry in place', () => {
    const cache = new FairShareCache<number>(3);
    cache.set('a', 'k', 1);
    cache.set('a', 'k', 2);
    expect([cache.get('a', 'k'), cache.size()]).toEqual([2, 1]);
    cache.delete('a', 'k');
    cache.delete('a', 'k');
    expect([cache.size(), cache.callers()]).toEqual([0, 0]);
    // The largest count follows deletions: a fresh flood by b then evicts b's own.
    cache.set('b', 'x', 1);
    cache.set('c', 'y', 1);
    cache.set('b', 'z', 1);
    cache.delete('b', 'z');
    cache.set('c', 'w', 1);
    cache.set('c', 'v', 1);
    expect([cache.size('b'), cache.size('c')]).toEqual([1, 2]);
    expect(cache.get('b', 'x')).toBe(1);
    expect(() => new FairShareCache(0)).toThrow(RangeError);
  });
});
