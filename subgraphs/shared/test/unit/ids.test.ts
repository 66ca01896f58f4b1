import { describe, expect, it } from 'vitest';
import { newId, parseId, shardOf, toLogicalShard, ulid } from '../../src/ids';
import { InvariantViolation } from '../../src/result';
import { logicalShardCount } from '../../src/limits';

describe('ids', () => {
  it('carry their logical shard and round-trip', () => {
    for (let s = 0; s < logicalShardCount; s++) {
      const id = newId('account', toLogicalShard(s));
      expect(parseId('account', id)).toEqual({ id, shard: s });
    }
  });

  it('sort by creation time', () => {
    const early = ulid(1_700_000_000_000);
    const late = ulid(1_700_000_000_001);
    expect(early < late).toBe(true);
  });

  it('refuse malformed ids instead of guessing', () => {
    const good = newId('account', toLogicalShard(7));
    const bad = [
      '',
      'acc',
      good.toUpperCase(),
      good.replace('acc_', 'pay_'),
      `${good}0`,
      good.slice(0, -1),
      good.replace(/_07$/, '_40'),
      good.replace(/_07$/, '_zz'),
      good.replace(/^acc_./, 'acc_I'),
      `acc_${'0'.repeat(26)}_07 `,
      "acc_' OR 1=1 --",
    ];
    for (const id of bad) expect(parseId('account', id), id).toBeNull();
  });

  it('refuse another kind of id', () => {
    const payment = newId('payment', toLogicalShard(3));
    expect(parseId('account', payment)).toBeNull();
    expect(parseId('payment', payment)?.shard).toBe(3);
  });

  it('refuse logical shards out of range', () => {
    expect(() => toLogicalShard(logicalShardCount)).toThrow(RangeError);
    expect(() => toLogicalShard(-1)).toThrow(RangeError);
  });
});

describe('shardOf', () => {
  it('answers the logical shard of a well-formed id of the kind', () => {
    const id = newId('hold', toLogicalShard(42));
    expect(shardOf('hold', id)).toBe(42);
  });

  it('fails loudly, as a bug, on an id malformed or of another kind instead of routing it anywhere', () => {
    const payment = newId('payment', toLogicalShard(3));
    expect(() => shardOf('hold', payment)).toThrow(InvariantViolation);
    expect(() => shardOf('account', 'acc_nonsense')).toThrow(/account id "acc_nonsense" is malformed/);
  });
});
