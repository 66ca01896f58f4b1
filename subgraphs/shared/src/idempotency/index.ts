/**
 * Idempotency keys, one owner for every part that takes them (the transaction subgraph's money
 * mutations, settlement's advances): the claim envelope (claims.ts), the request fingerprint
 * (request-hash.ts), the table and its SQL (store/), and the retention purge (retention.ts).
 * This index is the module's one door (test/table-ownership.test.ts fails on an import of its
 * insides from elsewhere).
 */
export {
  claimedOf,
  claimInTransaction,
  claimIdempotencyKeysOf,
  claimKey,
  claimKeys,
  claimOf,
  claimRow,
  earlierClaim,
  earlierUse,
  keyClaim,
  keyReused,
  placeKeys,
  withIdempotencyKey,
  type Claim,
  type Claimed,
  type ClaimInTransaction,
  type ClaimRequest,
  type KeyAnchor,
  type KeyContext,
  type KeyReused,
  type KeySpec,
} from './claims';
export { requestHash } from './request-hash';
export {
  claimedIn,
  claimStatement,
  deleteLegacyKeys,
  legacyKeys,
  type IdempotencyInsert,
  type IdempotencyRow,
} from './store/keys';
export { purgeExpiredKeys, purgeOlderThanRetention, retentionCutoff, type KeyRetention } from './retention';
