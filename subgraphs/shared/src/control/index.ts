/**
 * The control module: the live shard map on the control database (the first database of MYSQL_SHARDS), every
 * process's acknowledgement of it, and the shard mover's state (docs/SCALING.md). This index is the module's one
 * door (test/table-ownership.test.ts).
 */
export { followShardMap, newProcessId, type FollowOptions, type MapFollower } from './follower';
export { controlMigrations } from './migrations';
export { acknowledge, laggards, latestMap, publishMap, seedMapIfAbsent, type Laggard } from './store/map-store';
export {
  activeMove,
  latestMove,
  moveSteps,
  movesToClean,
  recordStep,
  startMove,
  type MoveRow,
  type MoveStep,
} from './store/moves';
export {
  batchUnderFences,
  changeFence,
  deleteUnderFences,
  fencedAmong,
  fencedIn,
  notOpenIn,
  fenceReasons,
  fenceOn,
  fenceRead,
  heldHere,
  logicalShardsNamed,
  openHere,
  refuseFenced,
  refuseUnlessOpen,
  refuseFencedAfterWrite,
  refuseFencedNow,
  underFence,
  unfenceOn,
  type FenceReason,
} from './store/fences';
