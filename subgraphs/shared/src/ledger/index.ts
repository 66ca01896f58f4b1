/**
 * The ledger's one door (Formance's shape: a module with a public face). Parts, scripts and the
 * rest of the shared library import the ledger from here and from nowhere else inside this
 * folder (test/table-ownership.test.ts fails otherwise); what is not exported here is the
 * ledger's own. Inside:
 *
 * - rules/: pure — the account's shape, the posting rules, the pair assertion (plan-check), dedupe
 *   keys, the daily summary's increments, tamper evidence, the stripe directory's bits;
 * - engine/: the one writer — the batch core, the merger (batcher), the naive baseline, postOne;
 * - store/: the SQL of the ledger's tables, one file per entity, each function saying what it locks;
 * - at the top, what spans shards: stripes, system accounts, health, the migration set;
 * - read-model/: the tables a part may read in SQL of its own (declared in its part.ts `reads`).
 */
export {
  accountStatuses,
  accountTypes,
  creditUsedOf,
  systemKinds,
  totalOf,
  type Account,
  type AccountBalances,
  type AccountStatus,
  type AccountType,
  type SystemKind,
} from './rules/account';
export type { Bucket, EntryDraft, LapsedTerms, Leg, PostingRejection, PostingSpec } from './rules/posting-rules';
export { dedupeKeys } from './rules/dedupe-keys';
export { setKeyRing, TamperDetected } from './rules/tamper';
export { hasStripeShard, logicalShardsIn, stripeIdOf, stripeShardBit, stripeShardsOf } from './rules/stripe-directory';

export { postOne } from './engine/post';
export {
  inGroup,
  type GroupedPrepare,
  type LeadingRead,
  type PostBatchOptions,
  type PostingItem,
  type PostingStep,
  type PostingOutcome,
  type PrepareDecision,
  type PrepareGroup,
} from './engine/batch';
export { onCommitted, type CommittedListener } from './engine/events';
export type { EngineMode, PostingSettings } from '../config/shared';

export {
  announceStripe,
  onShard,
  placedHere,
  readAccountsWithStripes,
  readStripes,
  stripeDirectoryGaps,
} from './stripes';
export {
  backfillOwnerDirectories,
  ownerShardSet,
  readOwnerAccounts,
  releaseOwnerAccount,
  reserveOwnerAccount,
} from './owners';
export { ownerHomeShard } from './rules/owner-directory';
export { systemAccountId } from './system-accounts';
export { ledgerHealth, type LedgerHealth } from './health';
export {
  controlShard,
  daySums,
  intercompanySums,
  totalSubtotalCheck,
  trialBalanceSums,
  type TotalSubtotalDifference,
} from './books';
export type { ClassSum } from './store/class-days';
// A shard move's postings and the books' sums it moves (docs/SCALING.md): the shard mover's (scripts/lib/shard-mover.ts).
export { classDaysOfRange, moveClassDays, type RowReader } from './store/class-days';
export type { ClassDayIncrement } from './rules/class-days';
export {
  movedNets,
  postMoveOut,
  settleMoveAccounts,
  shardMoveMark,
  type MovedNet,
  type MoveIdentity,
} from './shard-move';
export {
  entityByCode,
  glCodesOf,
  insertEntityIfMissing,
  keepExport,
  keptExport,
  upsertGlCode,
  type EntityRecord,
} from './store/entities';
export {
  entityCodePattern,
  glCodeLengthMax,
  isCountryCode,
  isEntityCode,
  isGlCode,
  ledgerClasses,
  ledgerClassOf,
  platformEntity,
  type LedgerClass,
} from './rules/entities';
export { expandIntercompany, intercompanyDrafts, type IntercompanyDraft } from './rules/intercompany';
export { ledgerMigrations } from './migrations';
export { purgeExpiredRejections } from './rejections';
export { ensureAssetKnown, loadAssets, storeAsset } from './assets';
export type { AssetInsert, AssetRecord } from './store/assets';

export {
  accountsAndStripes,
  accountsByIds,
  accountsByOwner,
  creditLineRows,
  insertAccount,
  insertStripeIfMissing,
  lockAccount,
  lockStripesNoWait,
  setAccountStatus,
  setCreditLimitRow,
  setHomeStatus,
  setStripesStatus,
  shareAccountStatuses,
  stripesOfMerchants,
} from './store/accounts';
export {
  accountsWithHeadPages,
  bucketsAfterSequence,
  entriesBetween,
  entriesFrom,
  entriesPage,
  entryById,
  tailEntries,
} from './store/entries';
export { clearingTotals, systemTotals } from './store/health';
export { bucketsAt, statementDays } from './store/account-days';
export { verifyAccounts, verifyShard } from './store/integrity';
export type { EntryLine, EntryRow, PostingRow } from './store/schema';
