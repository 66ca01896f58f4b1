import { describe, it, expect } from 'vitest';
import { newId, toLogicalShard } from '@paygraph/shared/ids';
import type { Account } from '@paygraph/shared/ledger/index';
import {
  advance,
  decodeBalanceCursor,
  decodeEntriesCursor,
  encodeBalanceCursor,
  encodeEntriesCursor,
  entriesCursors,
} from '@paygraph/account/domain/balance-cursor';
import { decideStart } from '@paygraph/account/domain/stream-start';

const merchant = newId('account', toLogicalShard(1));
const stripeA = newId('account', toLogicalShard(20));
const stripeB = newId('account', toLogicalShard(40));
const other = newId('account', toLogicalShard(2));

function row(
  id: string,
  lastSequence: bigint,
  parentId: string | null = null,
): Pick<Account, 'id' | 'parentId' | 'lastSequence'> {
  return { id, parentId, lastSequence };
}

describe('balance cursors', () => {
  it('round-trip a position over several stripes, in any order of insertion', () => {
    const position = {
      accountId: merchant,
      sequences: new Map([
        [stripeB, 9n],
        [merchant, 3n],
        [stripeA, 12n],
      ]),
    };
    const cursor = encodeBalanceCursor(position);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(
      encodeBalanceCursor({
        accountId: merchant,
        sequences: new Map([
          [stripeA, 12n],
          [merchant, 3n],
          [stripeB, 9n],
        ]),
      }),
    ).toBe(cursor);
    const decoded = decodeBalanceCursor(cursor, merchant);
    expect(decoded.ok && [...decoded.value.sequences].sort()).toEqual([...position.sequences].sort());
  });

  it('encode an empty position, and leave out stripes with nothing seen', () => {
    const empty = decodeBalanceCursor(
      encodeBalanceCursor({ accountId: merchant, sequences: new Map([[stripeA, 0n]]) }),
      merchant,
    );
    expect(empty).toEqual({ ok: true, value: { accountId: merchant, sequences: new Map() } });
  });

  it('advance one stripe without touching the others', () => {
    const start = { accountId: merchant, sequences: new Map([[merchant, 3n]]) };
    const next = advance(start, stripeA, 1n);
    expect([...next.sequences]).toEqual([
      [merchant, 3n],
      [stripeA, 1n],
    ]);
    expect([...start.sequences]).toEqual([[merchant, 3n]]);
  });

  it('refuse malformed cursors', () => {
    const text = (s: string) => Buffer.from(s, 'utf8').toString('base64url');
    const malformed = [
      '',
      'not-a-cursor',
      '!!!',
      text(`entry:${merchant}/`),
      text(`balance:nope/`),
      text(`balance:${merchant}/${stripeA}:0`),
      text(`balance:${merchant}/${stripeA}:01`),
      text(`balance:${merchant}/${stripeA}:1,${stripeA}:2`),
      text(`balance:${merchant}/${stripeA}:-1`),
      text(`balance:${merchant}/${stripeA}:99999999999999999999`),
      text(`balance:${merchant}/${stripeA}:1:2`),
      `${text(`balance:${merchant}/`)}=`,
    ];
    for (const cursor of malformed)
      expect(decodeBalanceCursor(cursor, merchant), cursor).toEqual({ ok: false, error: { kind: 'CursorMalformed' } });
  });

  it('tell a cursor of another account from a malformed one', () => {
    const cursor = encodeBalanceCursor({ accountId: other, sequences: new Map([[other, 1n]]) });
    expect(decodeBalanceCursor(cursor, merchant)).toEqual({ ok: false, error: { kind: 'CursorOfAnotherAccount' } });
  });
});

describe('entries cursors of a page', () => {
  it('are, edge by edge, the position after that entry encoded on its own, whatever stripes the start names', () => {
    const start = {
      accountId: merchant,
      sequences: new Map([
        [stripeB, 40n],
        [merchant, 7n],
      ]),
    };
    const page = [
      { accountId: stripeA, sequence: 12n },
      { accountId: merchant, sequence: 6n },
      { accountId: stripeB, sequence: 39n },
      { accountId: stripeA, sequence: 11n },
      { accountId: merchant, sequence: 5n },
    ];
    const sequences = new Map(start.sequences);
    const oneByOne = page.map((entry) => {
      sequences.set(entry.accountId, entry.sequence);
      return encodeEntriesCursor({ accountId: merchant, sequences });
    });
    const cursors = entriesCursors(start, page);
    expect(cursors).toEqual(oneByOne);
    // The last cursor resumes after the page: every stripe at the lowest sequence it gave.
    const decoded = decodeEntriesCursor(cursors.at(-1)!, merchant);
    expect(decoded.ok && Object.fromEntries(decoded.value.sequences)).toEqual({
      [merchant]: 5n,
      [stripeA]: 11n,
      [stripeB]: 39n,
    });
  });

  it('of a PERSONAL account name the account alone, and none for an empty page', () => {
    const start = { accountId: other, sequences: new Map<string, bigint>() };
    expect(entriesCursors(start, [{ accountId: other, sequence: 3n }])).toEqual([
      encodeEntriesCursor({ accountId: other, sequences: new Map([[other, 3n]]) }),
    ]);
    expect(entriesCursors(start, [])).toEqual([]);
  });
});

describe('where a stream starts', () => {
  const rows = [row(merchant, 5n), row(stripeA, 2n, merchant)];

  it('at the current end of every stripe without a cursor', () => {
    const start = decideStart(merchant, rows, null);
    expect(start.ok && [...start.value.sequences]).toEqual([
      [merchant, 5n],
      [stripeA, 2n],
    ]);
  });

  it("right after a cursor that names only the account's stripes, within its ledger", () => {
    const cursor = encodeBalanceCursor({
      accountId: merchant,
      sequences: new Map([
        [merchant, 5n],
        [stripeA, 1n],
      ]),
    });
    const start = decideStart(merchant, rows, cursor);
    expect(start.ok && [...start.value.sequences].sort()).toEqual(
      [
        [merchant, 5n],
        [stripeA, 1n],
      ].sort(),
    );
  });

  it('nowhere for a cursor naming another stripe or ahead of the ledger', () => {
    const foreign = encodeBalanceCursor({ accountId: merchant, sequences: new Map([[stripeB, 1n]]) });
    expect(decideStart(merchant, rows, foreign)).toEqual({ ok: false, error: { kind: 'CursorOfAnotherAccount' } });
    const ahead = encodeBalanceCursor({ accountId: merchant, sequences: new Map([[merchant, 6n]]) });
    expect(decideStart(merchant, rows, ahead)).toEqual({ ok: false, error: { kind: 'CursorAhead' } });
  });
});
