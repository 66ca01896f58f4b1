import { forbidden } from '@paygraph/shared/graphql/errors';
import { mayRead } from '@paygraph/shared/identity';
import { InvariantViolation } from '@paygraph/shared/result';
import type { EntryRow } from '@paygraph/shared/db/schema/ledger';
import type { AccountContext } from '../context';

const graphqlIntMax = 2n ** 31n - 1n;

export function sequenceOf(entry: EntryRow): number {
  if (entry.sequence > graphqlIntMax) throw new InvariantViolation(`entry ${entry.id} sequence exceeds GraphQL Int`);
  return Number(entry.sequence);
}

export const entryResolvers = {
  /** Entry is an entity so that other subgraphs can add to it; it is readable like its account. */
  __resolveReference: async (ref: { id: string }, ctx: AccountContext) => {
    const found = await ctx.balances.reader.entryWithOwner(ref.id);
    if (!found) return null;
    if (!mayRead(ctx.identity, found.ownerId)) throw forbidden(`entry ${ref.id} is not yours`);
    return found.entry;
  },
  sequence: sequenceOf,
  // amount and balanceAfter are the row's bigints as they are: the Amount scalar writes a bigint
  // as its decimal text, without the pattern check a string needs (200 of each per page).
};
