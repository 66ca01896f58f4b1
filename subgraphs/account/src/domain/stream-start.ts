import type { Account } from '@paygraph/shared/ledger/index';
import { err, ok, type Result } from '@paygraph/shared/result';
import { decodeBalanceCursor, type CursorRefusal, type StreamPosition } from './balance-cursor';

/**
 * Where a balance stream starts: right after the position of the `after` cursor, or, without
 * one, at the account's current end (the last sequence of every stripe as just read). A
 * cursor may name only the account's own stripes and may not be ahead of its ledger.
 */
export type StreamStartRefusal = CursorRefusal | { kind: 'CursorAhead' };

export function decideStart(
  accountId: string,
  rows: ReadonlyArray<Pick<Account, 'id' | 'lastSequence'>>,
  after: string | null,
): Result<StreamPosition, StreamStartRefusal> {
  const last = new Map(rows.map((r) => [r.id, r.lastSequence]));
  if (after === null) return ok({ accountId, sequences: last });
  const decoded = decodeBalanceCursor(after, accountId);
  if (!decoded.ok) return decoded;
  for (const [stripe, sequence] of decoded.value.sequences) {
    const top = last.get(stripe);
    // A stripe the account does not have: the cursor was issued for another account, as when its account id differs.
    if (top === undefined) return err({ kind: 'CursorOfAnotherAccount' });
    if (sequence > top) return err({ kind: 'CursorAhead' });
  }
  return decoded;
}

export function describeStartRefusal(refusal: StreamStartRefusal): string {
  switch (refusal.kind) {
    case 'CursorMalformed':
      return 'the cursor is malformed: pass the `cursor` of a balanceChanged event unchanged';
    case 'CursorOfAnotherAccount':
      return 'the cursor was issued for another account';
    case 'CursorAhead':
      return "the cursor is ahead of the account's ledger";
  }
}
