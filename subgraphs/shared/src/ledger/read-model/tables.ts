/**
 * The ledger's read model: its tables, for a part whose own SQL joins them with its own tables on
 * the same shard in one statement (reconciliation's checks of a business date, the webhooks
 * dispatcher's pass over new entries, the transaction subgraph's postings by id). A part that
 * uses it declares it in its part.ts `reads` ('ledger/read-model/tables'); it reads through it
 * and never writes: every write to these tables is the engine's or the store's
 * (test/table-ownership.test.ts fails on a drizzle write or SQL that writes them anywhere else).
 */
export { accounts, ledgerEntries, postings } from '../store/schema';
