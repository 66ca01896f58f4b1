import { allowed } from '@paygraph/shared/graphql/errors';
import { InvariantViolation } from '@paygraph/shared/result';
import type { EntryLine } from '@paygraph/shared/ledger/index';
import type { AccountContext } from '../context';
import { readableEntry } from '../services/accounts';
import type { EntryResolvers } from '../generated/resolvers-types';
import { graphqlIntMax } from '../limits';

export function sequenceOf(entry: EntryLine): number {
  if (entry.sequence > graphqlIntMax) throw new InvariantViolation(`entry ${entry.id} sequence exceeds GraphQL Int`);
  return Number(entry.sequence);
}

export const entryResolvers = {
  /** Entry is an entity so that other subgraphs can add to it; it is readable like its account. */
  __resolveReference: async (ref: { id: string }, ctx: AccountContext) => allowed(await readableEntry(ctx, ref.id)),
  sequence: sequenceOf,
  // amount and balanceAfter are the row's bigints as they are: the Amount scalar writes a bigint
  // as its decimal text, without the pattern check a string needs (200 of each per page).
} satisfies EntryResolvers;
