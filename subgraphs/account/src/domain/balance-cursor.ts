import { parseId } from '@paygraph/shared/ids';
import { logicalShardCount } from '@paygraph/shared/limits';
import { err, ok, type Result } from '@paygraph/shared/result';
import { sequenceMax, cursorLengthMax } from '../limits';

/**
 * Where a balance stream stands: the last sequence delivered on each stripe of the account.
 * A PERSONAL account has one stripe, itself; a MERCHANT account has its home row plus one
 * stripe per other shard it was paid on, each numbered 1, 2, 3… on its own. A stripe that is
 * absent has delivered nothing yet (sequence 0), so a cursor covers every stripe, including
 * stripes opened after it was issued.
 *
 * A cursor is base64url of "balance:<accountId>/<stripe>:<seq>,<stripe>:<seq>,…" (the list may
 * be empty: nothing seen yet).
 */
export interface StreamPosition {
  accountId: string;
  sequences: ReadonlyMap<string, bigint>;
}

export type CursorRefusal = { kind: 'CursorMalformed' } | { kind: 'CursorOfAnotherAccount' };

const sequencePattern = /^[1-9][0-9]{0,18}$/;

/**
 * The same kind of position serves pages of entries, which go the other way (newest first):
 * there it records the lowest sequence given out on each stripe, under the prefix "entries".
 */
type CursorKind = 'balance' | 'entries';

export function encodeBalanceCursor(position: StreamPosition): string {
  return encodeStripeCursor('balance', position);
}

export function decodeBalanceCursor(cursor: string, accountId: string): Result<StreamPosition, CursorRefusal> {
  return decodeStripeCursor('balance', cursor, accountId);
}

export function encodeEntriesCursor(position: StreamPosition): string {
  return encodeStripeCursor('entries', position);
}

export function decodeEntriesCursor(cursor: string, accountId: string): Result<StreamPosition, CursorRefusal> {
  return decodeStripeCursor('entries', cursor, accountId);
}

/**
 * The cursor after each entry of a page, in the page's order: what encodeEntriesCursor gives for
 * the position `start` advanced entry by entry, but with the stripes sorted once per page rather
 * than a copy of the position sorted per edge (on a page of 100 entries that was 12% of
 * GraphQL's execution time, docs/PERFORMANCE.md "Reads").
 */
export function entriesCursors(
  start: StreamPosition,
  entries: ReadonlyArray<{ accountId: string; sequence: bigint }>,
): string[] {
  const sequences = new Map(start.sequences);
  for (const entry of entries) if (!sequences.has(entry.accountId)) sequences.set(entry.accountId, 0n);
  const stripes = [...sequences.keys()].sort(byStripeId);
  const head = `entries:${start.accountId}/`;
  return entries.map((entry) => {
    sequences.set(entry.accountId, entry.sequence);
    return Buffer.from(head + stripeList(stripes, sequences), 'utf8').toString('base64url');
  });
}

function encodeStripeCursor(kind: CursorKind, position: StreamPosition): string {
  const stripes = [...position.sequences.keys()].sort(byStripeId);
  return Buffer.from(`${kind}:${position.accountId}/${stripeList(stripes, position.sequences)}`, 'utf8').toString(
    'base64url',
  );
}

/** "<stripe>:<seq>,…" over `stripes` in their order, leaving out stripes with nothing seen. */
function stripeList(stripes: readonly string[], sequences: ReadonlyMap<string, bigint>): string {
  let list = '';
  for (const stripe of stripes) {
    const sequence = sequences.get(stripe)!;
    if (sequence > 0n) list += list === '' ? `${stripe}:${sequence}` : `,${stripe}:${sequence}`;
  }
  return list;
}

function byStripeId(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Reads a cursor issued for `accountId`. Which stripes the account really has, and how far its
 * ledger goes, is for the caller to check against the database.
 */
function decodeStripeCursor(
  kind: CursorKind,
  cursor: string,
  accountId: string,
): Result<StreamPosition, CursorRefusal> {
  const malformed = err({ kind: 'CursorMalformed' as const });
  if (cursor.length === 0 || cursor.length > cursorLengthMax) return malformed;
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  if (Buffer.from(text, 'utf8').toString('base64url') !== cursor) return malformed;
  const match = new RegExp(`^${kind}:([^/]+)/(.*)$`).exec(text);
  if (!match) return malformed;
  const owner = match[1]!;
  const list = match[2]!;
  if (parseId('account', owner) === null) return malformed;
  const sequences = new Map<string, bigint>();
  for (const part of list === '' ? [] : list.split(',')) {
    const [stripe, sequence, ...rest] = part.split(':');
    if (rest.length > 0 || stripe === undefined || sequence === undefined) return malformed;
    if (parseId('account', stripe) === null || !sequencePattern.test(sequence) || sequences.has(stripe))
      return malformed;
    const value = BigInt(sequence);
    if (value > sequenceMax) return malformed;
    sequences.set(stripe, value);
  }
  if (sequences.size > logicalShardCount) return malformed;
  if (owner !== accountId) return err({ kind: 'CursorOfAnotherAccount' });
  return ok({ accountId, sequences });
}

/** The position after an entry of a stripe: that stripe's sequence moves to the entry's. */
export function advance(position: StreamPosition, stripeId: string, sequence: bigint): StreamPosition {
  const sequences = new Map(position.sequences);
  sequences.set(stripeId, sequence);
  return { accountId: position.accountId, sequences };
}
