import type { EntryLine } from '@paygraph/shared/ledger/index';
import type { AccountView } from '../domain/account-view';
import type { BalanceEvent } from '../services/balance-events';

/**
 * What the resolvers receive for each GraphQL type that is not answered in the schema's shape
 * (scripts/lib/resolver-types.ts reads the `<Type>Mapper` names): an account is its view (a
 * merchant's stripes summed), an entry its ledger row without the hash chain (EntryLine: a page reads no more), an
 * event what the balance feed delivers.
 */
export type AccountMapper = AccountView;
export type EntryMapper = EntryLine;
export type BalanceChangeEventMapper = BalanceEvent;
