import { describe, expect, it } from 'vitest';
import { unbalancedAcross, type PostingPart } from '../../src/domain/posting-sums';

const part = (fields: Partial<PostingPart> & Pick<PostingPart, 'postingId' | 'sum' | 'database'>): PostingPart => ({
  currency: 'USD',
  entries: 1,
  live: true,
  ...fields,
});

describe("a posting's parts over every database", () => {
  it("balance when a move's target part and the source's system entries cancel", () => {
    // The target holds the posting and its client entries (−5); the source keeps its clearing entry (+5).
    const moved = [
      part({ postingId: 'pst_a', sum: -5n, database: 'target' }),
      part({ postingId: 'pst_a', sum: 5n, live: false, database: 'source' }),
    ];
    expect(unbalancedAcross(moved)).toEqual([]);
  });

  it('are unbalanced when they do not cancel, per currency, naming each database', () => {
    const parts = [
      part({ postingId: 'pst_b', sum: -5n, database: 'target' }),
      part({ postingId: 'pst_b', sum: 4n, live: false, database: 'source' }),
      part({ postingId: 'pst_c', sum: 3n, currency: 'JPY', database: 'only' }),
    ];
    expect(unbalancedAcross(parts)).toEqual([
      { postingId: 'pst_b', currency: 'USD', sum: -1n, databases: ['target', 'source'] },
      { postingId: 'pst_c', currency: 'JPY', sum: 3n, databases: ['only'] },
    ]);
  });

  it('call a live posting with no entry anywhere unbalanced, and not a copy whose entries were left out', () => {
    const parts = [
      part({ postingId: 'pst_d', sum: 0n, entries: 0, database: 'here' }),
      part({ postingId: 'pst_e', sum: 0n, entries: 0, live: false, database: 'source' }),
    ];
    expect(unbalancedAcross(parts)).toEqual([{ postingId: 'pst_d', currency: 'USD', sum: 0n, databases: ['here'] }]);
  });
});
