import type { EntryRow } from '@paygraph/shared/ledger/index';
import type { AccountView } from '../domain/account-view';
import type { BalanceEvent } from '../services/balance-events';

/**
 * What the resolvers receive for each GraphQL type that is not answered in the schema's shape
 * (scripts/lib/resolver-types.ts reads the `<Type>Mapper` names): an account is its view (a
 * merchant's stripes summed), an entry its ledger row, an event what the balance feed delivers.
 */
export type AccountMapper = AccountView;
export type EntryMapper = EntryRow;
export type BalanceChangeEventMapper = BalanceEvent;
