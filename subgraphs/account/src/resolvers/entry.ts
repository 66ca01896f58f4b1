import { formatAmount } from '@paygraph/shared/money';
import { InvariantViolation } from '@paygraph/shared/result';
import type { EntryRow } from '@paygraph/shared/db/schema/ledger';

const graphqlIntMax = 2n ** 31n - 1n;

export const entryResolvers = {
  sequence: (entry: EntryRow) => {
    if (entry.sequence > graphqlIntMax) throw new InvariantViolation(`entry ${entry.id} sequence exceeds GraphQL Int`);
    return Number(entry.sequence);
  },
  amount: (entry: EntryRow) => formatAmount(entry.amount),
  balanceAfter: (entry: EntryRow) => formatAmount(entry.balanceAfter),
};
