import { describe, expect, it } from 'vitest';
import {
  idKinds,
  idSuffix,
  idsMintedBefore,
  newId,
  parseId,
  shardOf,
  shardOfAnyId,
  toLogicalShard,
  ulid,
  type IdKind,
} from '../../src/ids';
import { useSeededRandom, type SeededRandom } from '../../../../test/support/seeded-random';
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

/**
 * parseId reads an id by its character codes (ids.ts, idShape); it must answer what the
 * regular expression it replaced answers, for every string, so the two are held together here
 * on ids and on seeded mutations of them: a character replaced, added or dropped, cases swapped.
 */
describe('parseId against the pattern it replaced', () => {
  const random = useSeededRandom();
  const pattern = /^([a-z]{3})_([0-9A-HJKMNP-TV-Z]{26})_([0-9a-f]{2})$/;
  const kinds = Object.keys(idKinds) as IdKind[];

  function byPattern(kind: IdKind, id: string): { id: string; shard: number } | null {
    const match = pattern.exec(id);
    if (!match || match[1] !== idKinds[kind]) return null;
    const shard = Number.parseInt(match[3]!, 16);
    return shard < logicalShardCount ? { id, shard } : null;
  }

  /** Characters an id holds, its neighbours in the code table, and some it never holds. */
  const alphabet = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-@[`{/:\u00e9\u0130 ';

  function mutated(r: SeededRandom, id: string): string {
    const at = r.below(id.length);
    const c = alphabet[r.below(alphabet.length)]!;
    switch (r.below(4)) {
      case 0:
        return id.slice(0, at) + c + id.slice(at + 1);
      case 1:
        return id.slice(0, at) + c + id.slice(at);
      case 2:
        return id.slice(0, at) + id.slice(at + 1);
      default:
        return id.slice(0, at) + id.charAt(at).toUpperCase() + id.slice(at + 1).toLowerCase();
    }
  }

  it('answers as the pattern does for ids, every shard suffix and 20,000 mutations of them', () => {
    const minted = kinds.map((k) => newId(k, toLogicalShard(random.below(logicalShardCount))));
    for (let s = 0; s < 256; s++) minted.push(`${newId('account', toLogicalShard(0)).slice(0, -2)}${idSuffix(s)}`);
    const ids = [...minted];
    for (let n = 0; n < 20_000; n++) ids.push(mutated(random, random.pick(minted)));
    const differ: string[] = [];
    for (const id of ids) {
      for (const kind of kinds) {
        const [ours, theirs] = [parseId(kind, id), byPattern(kind, id)];
        if (ours?.id !== theirs?.id || ours?.shard !== theirs?.shard) differ.push(`${kind} ${JSON.stringify(id)}`);
      }
      const shard = Number.parseInt(id.slice(-2), 16);
      if (!pattern.test(id)) expect(() => shardOfAnyId(id)).toThrow(InvariantViolation);
      else if (shard < logicalShardCount && shardOfAnyId(id) !== shard) differ.push(`any ${JSON.stringify(id)}`);
    }
    expect(differ).toEqual([]);
    // Not vacuous: both answers are common among the inputs.
    expect(ids.filter((id) => parseId('account', id) !== null).length).toBeGreaterThan(100);
    expect(ids.filter((id) => !pattern.test(id)).length).toBeGreaterThan(10_000);
  });

  it('mints ids of the pattern for each kind and shard, their time first', () => {
    for (const kind of kinds) {
      for (let s = 0; s < logicalShardCount; s++) {
        const id = newId(kind, toLogicalShard(s));
        expect(id).toMatch(pattern);
        expect(id.startsWith(`${idKinds[kind]}_`) && id.endsWith(`_${idSuffix(s)}`)).toBe(true);
      }
    }
    expect(ulid(1_700_000_000_000)).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(ulid(0).slice(0, 10)).toBe('0000000000');
    expect(ulid(2 ** 48 - 1).slice(0, 10)).toBe('7ZZZZZZZZZ');
    // The bound by age: its kind and the ULID time of the instant, and an id minted now falls between two bounds.
    expect(idsMintedBefore('payment', new Date(1_700_000_000_000))).toBe(`pay_${ulid(1_700_000_000_000).slice(0, 10)}`);
    const before = idsMintedBefore('payment', new Date(Date.now() - 1));
    const id = newId('payment', toLogicalShard(5));
    expect(before < id && id < idsMintedBefore('payment', new Date(Date.now() + 1_000))).toBe(true);
  });
});
