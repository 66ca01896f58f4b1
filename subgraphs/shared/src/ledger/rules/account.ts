/**
 * An account, the one shape every layer above the SQL works with (issue 14). The ledger's SQL
 * (store/, read by the parts through the ledger's index) maps each row it reads into it once;
 * resolvers, services, domain rules and the posting engine take it, or a Pick of it where they
 * need less. The drizzle row type (store/schema.ts AccountRow) stays in store/: it also holds
 * the row's seal (mac, mac_key_id), which only the store checks, and updated_at, which nothing
 * above it reads. Pure: no I/O here.
 */
export const accountTypes = ['PERSONAL', 'MERCHANT', 'SYSTEM'] as const;
export type AccountType = (typeof accountTypes)[number];

export const accountStatuses = ['ACTIVE', 'FROZEN', 'CLOSED'] as const;
export type AccountStatus = (typeof accountStatuses)[number];

/**
 * The platform's own accounts, one of each kind per shard and currency (ledger/system-accounts.ts).
 * FEE_EXPENSE and LOSS take what reconciliation books against the reserve: a bank's fee, and a
 * difference an operator writes off (settlement's services/exceptions.ts).
 */
export const systemKinds = [
  'RESERVE',
  'CLEARING',
  'FEE_INCOME',
  'FX_POSITION',
  'FEE_EXPENSE',
  'LOSS',
  // One entity's balance with another, opened by the posting engine when a posting spans two
  // entities (rules/intercompany.ts); the counterparty is the account's counterpartyEntity.
  'INTERCOMPANY_DUE_TO',
  'INTERCOMPANY_DUE_FROM',
  // A shard move's account (ledger/shard-move.ts): opened by the mover on the first logical shard
  // of the range it moves, with the move's mark as counterpartyEntity, it carries the moved
  // accounts' net against the source's clearing to the target, where the target's clearing takes it.
  'SHARD_MOVE',
] as const;
export type SystemKind = (typeof systemKinds)[number];

/**
 * One accounts row of one shard: a client's account, a merchant's stripe on another shard, or
 * a system account. Balances are credit-positive minor units. Its fields are not readonly: the
 * posting engine moves the balances, sequence, chain head and version of the accounts it has
 * locked in place, rather than copying them per posting (docs/PERFORMANCE.md).
 */
export interface Account {
  id: string;
  ownerId: string;
  type: AccountType;
  /** Set on the platform's own accounts only. */
  systemKind: SystemKind | null;
  /** Set on a merchant's stripe on a shard other than its home: the merchant's id. */
  parentId: string | null;
  /**
   * On a merchant's home row, the stripe directory: bit n set when the merchant may have a
   * stripe whose id names logical shard n (rules/stripe-directory.ts). Zero elsewhere.
   */
  stripeShards: bigint;
  currency: string;
  /** The legal entity whose books hold the account (rules/entities.ts); PLATFORM by default. */
  entity: string;
  /** On an intercompany system account: the other entity; '' on every other account. */
  counterpartyEntity: string;
  status: AccountStatus;
  available: bigint;
  frozen: bigint;
  pending: bigint;
  /**
   * The credit line, on a client's home row only: its available may go down to −creditLimit
   * (posting-rules.ts). null when the account never had one (and on stripes and system
   * accounts); 0 once an operator removed it. Credit in use is max(0, −available) of the
   * account (all its stripes): creditUsedOf.
   */
  creditLimit: bigint | null;
  /** The sequence of the account's newest entry: entries are numbered 1, 2, 3… with no gap. */
  lastSequence: bigint;
  /** The hash of the newest entry, the head of the account's hash chain (rules/tamper.ts). */
  lastEntryHash: string;
  version: bigint;
  createdAt: Date;
}

/** An account's balance per bucket; also what a balance at a point of its ledger is made of. */
export type AccountBalances = Pick<Account, 'available' | 'frozen' | 'pending'>;

/** The sum of the buckets: what an entry records as the balance after it. */
export function totalOf(balances: AccountBalances): bigint {
  return balances.available + balances.frozen + balances.pending;
}

/**
 * The credit an account uses: max(0, −available), available being the account's (a merchant's:
 * the sum over its stripes, which never go below zero themselves).
 */
export function creditUsedOf(balances: Pick<AccountBalances, 'available'>): bigint {
  return balances.available < 0n ? -balances.available : 0n;
}
