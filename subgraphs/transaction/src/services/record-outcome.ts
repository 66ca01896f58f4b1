import type { PostingOutcome } from '@paygraph/shared/ledger/index';
import { assert, err, ok, unreachable, type Result } from '@paygraph/shared/result';
import { fromRejection, type PostingRefusal } from '../domain/errors';

/**
 * The answer of a posting that creates one business record (a payment, a hold, a deposit or a
 * withdrawal): the new record when the posting applied now; the record written when it first
 * applied, when this was a replay of it; the refusal, as a PostingRefusal, when it was refused.
 */
export async function recordOutcome<R>(
  outcome: PostingOutcome,
  record: { id: string; applied: () => R; existing: () => Promise<R | undefined> },
): Promise<Result<R, PostingRefusal>> {
  switch (outcome.status) {
    case 'APPLIED':
      return ok(record.applied());
    case 'DUPLICATE': {
      // The posting is there, so its record was written in the same transaction.
      const existing = await record.existing();
      assert(existing !== undefined, `posting ${outcome.postingId} is applied but its record ${record.id} is missing`);
      return ok(existing);
    }
    case 'REJECTED':
      return err(fromRejection(outcome.rejection));
    default:
      return unreachable(outcome);
  }
}
