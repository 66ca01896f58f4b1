import type { Shard, ShardSet } from '../shards/pool';
import { parseId, shardOfAnyId, type IdKind } from '../ids';
import { Coalescer } from '../shards/coalescer';
import { FencedWrite } from '../shards/unavailable';
import { batchUnderFences } from '../control/index';
import { err, invariantBroken, ok, type Result } from '../result';
import { claimIdempotencyKeys, keyHeld, scopeOf, type IdempotencyInsert, type IdempotencyRow } from './store/keys';
import { requestHash } from './request-hash';
import { pushTo } from '../collections';

export type Claim = { kind: 'fresh' | 'replay'; resourceId: string } | { kind: 'reused' };

/**
 * The record a key guards, named by the request: the account a payment debits, the account of
 * a deposit or a withdrawal, the payment a refund reverses. The key lives on its shard, in the
 * scope (anchor, caller, key), so claiming it touches only a shard the request touches anyway.
 */
export interface KeyAnchor {
  kind: IdKind;
  id: string;
}

export interface ClaimRequest {
  callerId: string;
  anchor: KeyAnchor;
  key: string;
  /** With hash, the key's content: the same scope with another content is a reused key. */
  operation: string;
  hash: string;
  /** The id of the resource a fresh claim creates; minted only once the claim is planned. */
  newResourceId: () => string;
}

/**
 * What a mutation's idempotency key guards, as the mutation states it once: where the key lives
 * (its anchor), the operation, the request's content (hashed by domain/request-hash.ts: the
 * same key with other content is a reused key) and the id a fresh claim mints.
 */
export interface KeySpec {
  anchor: KeyAnchor;
  key: string;
  operation: string;
  content: Record<string, string | bigint | null>;
  newResourceId: () => string;
}

/** The caller a key is scoped to and the clock a claim is dated by: what a claim needs of the request. */
export interface KeyContext {
  shards: ShardSet;
  identity: { sub: string };
  now: () => Date;
}

/** What a claim hands the mutation's body: the resource its key names, and whether an earlier request claimed it. */
export interface Claimed {
  resourceId: string;
  replay: boolean;
}

/** The refusal of a key sent again with other content: every mutation that takes a key answers it (IdempotencyKeyReused). */
export interface KeyReused {
  kind: 'IdempotencyKeyReused';
  idempotencyKey: string;
}

export function keyReused(spec: Pick<KeySpec, 'key'>): KeyReused {
  return { kind: 'IdempotencyKeyReused', idempotencyKey: spec.key };
}

/** The claim a spec makes in the caller's scope. */
export function keyClaim(ctx: Pick<KeyContext, 'identity'>, spec: KeySpec): ClaimRequest {
  return {
    callerId: ctx.identity.sub,
    anchor: spec.anchor,
    key: spec.key,
    operation: spec.operation,
    hash: requestHash(spec.operation, spec.content),
    newResourceId: spec.newResourceId,
  };
}

/**
 * A claim made inside a posting transaction rather than before it (a hold's ending, a two-leg
 * payment's debit): the spec it answers a reuse with, the request, and the row it inserts
 * (claimStatement), with the id a fresh claim mints already in it. Such a claim commits with
 * the posting it keys, or not at all: a key is never held for a posting rolled back.
 */
export interface ClaimInTransaction {
  spec: KeySpec;
  request: ClaimRequest;
  row: IdempotencyInsert;
}

export function claimInTransaction(ctx: Pick<KeyContext, 'identity'>, spec: KeySpec, now: Date): ClaimInTransaction {
  const request = keyClaim(ctx, spec);
  return { spec, request, row: claimRow(request, now) };
}

/** A claim's answer as a result: the resource to work on, or the key reused. */
export function claimedOf(claim: Claim, spec: Pick<KeySpec, 'key'>): Result<Claimed, KeyReused> {
  return claim.kind === 'reused'
    ? err(keyReused(spec))
    : ok({ resourceId: claim.resourceId, replay: claim.kind === 'replay' });
}

/**
 * The envelope of every mutation that takes an idempotency key: claims the key before anything
 * is written, answers IdempotencyKeyReused for the same key with other content, and otherwise
 * runs `body` on the resource the key names (a fresh one, or the first request's on a replay).
 * The body must work on that resource by id (postings keyed by it), so that copies of a request
 * converge on one outcome. A hold's capture and void claim inside their posting transaction
 * instead (the transaction subgraph's services/hold.ts), from the same spec (keyClaim, keyReused).
 */
export async function withIdempotencyKey<T, E>(
  ctx: KeyContext,
  spec: KeySpec,
  body: (claimed: Claimed) => Promise<Result<T, E>>,
): Promise<Result<T, E | KeyReused>> {
  const claimed = claimedOf(await claimKey(ctx.shards, keyClaim(ctx, spec), ctx.now()), spec);
  return claimed.ok ? body(claimed.value) : claimed;
}

/**
 * The envelope for many requests at once (createPayments): every key claimed in bulk
 * (claimKeys), each answered in order as the resource to work on or its key reused.
 */
export async function claimIdempotencyKeysOf(
  ctx: KeyContext,
  specs: readonly KeySpec[],
): Promise<Array<Result<Claimed, KeyReused>>> {
  // Loops, not callbacks (here, claimKeys, claimUnderFences): a closure made per call is compiled again after each
  // major GC (docs/PERFORMANCE.md).
  const requests: ClaimRequest[] = [];
  for (const spec of specs) requests.push(keyClaim(ctx, spec));
  const claims = await claimKeys(ctx.shards, requests, ctx.now());
  const answers: Array<Result<Claimed, KeyReused>> = [];
  for (let i = 0; i < claims.length; i++) answers.push(claimedOf(claims[i]!, specs[i]!));
  return answers;
}

/**
 * Claims a key before any money moves. The claim names the resource the first request
 * creates; every later request in the same scope with the same content works on that same
 * resource, whose postings carry its id as dedupe key — so however many copies run,
 * concurrently or after a crash, the money moves once. Other content → reused. An anchor
 * whose logical shard is fenced on its database (a shard move the process's map has not
 * followed yet) throws FencedWrite, the key not claimed (claimUnderFences).
 */
export async function claimKey(shards: ShardSet, request: ClaimRequest, now: Date): Promise<Claim> {
  const row = claimRow(request, now);
  const held = await claims.load(anchorShard(shards, request.anchor), row);
  if (held instanceof FencedWrite) throw held;
  return claimOf(held, request, row.resourceId);
}

/**
 * The resource a key already names with this content, without claiming it: a request refused
 * now (an account closed since) that was made before answers what it made (a retry after a crash).
 */
export async function earlierClaim(
  shards: ShardSet,
  request: Omit<ClaimRequest, 'newResourceId'>,
): Promise<string | null> {
  const earlier = await earlierUse(shards, request);
  return earlier.kind === 'replay' ? earlier.resourceId : null;
}

/**
 * How the key was used before, without claiming it: not at all, for this very request (a
 * replay, with its resource), or for another (reused). For a mutation that must answer a replay
 * or a reuse before checks that a replay would fail now (an advance whose offer it spent).
 */
export async function earlierUse(
  shards: ShardSet,
  request: Omit<ClaimRequest, 'newResourceId'>,
): Promise<{ kind: 'none' } | { kind: 'replay'; resourceId: string } | { kind: 'reused' }> {
  const held = await keyHeld(anchorShard(shards, request.anchor), {
    anchorId: request.anchor.id,
    callerId: request.callerId,
    idempotencyKey: request.key,
  });
  if (!held) return { kind: 'none' };
  return held.operation === request.operation && held.requestHash === request.hash
    ? { kind: 'replay', resourceId: held.resourceId }
    : { kind: 'reused' };
}

/** Concurrent requests' claims on a shard go out together: one transaction and one fence read (claimUnderFences). */
const claims = new Coalescer<IdempotencyInsert, IdempotencyRow | FencedWrite>('idempotency claims', (shard, rows) =>
  claimUnderFences(shard, rows),
);

/**
 * A shard's claims, each answered the row holding its key, or FencedWrite (SHARD_UNAVAILABLE, retryable, nothing
 * written) when its anchor's logical shard is fenced on the database (store/keys.ts claimIdempotencyKeys: one fence
 * read for the batch, not one per key). A batch that meets a fence is rolled back whole, so it is claimed again
 * without that logical shard's keys: a key of a range being moved does not refuse the keys of open ranges that shared
 * its statement (control's batchUnderFences).
 */
function claimUnderFences(
  shard: Shard,
  rows: readonly IdempotencyInsert[],
): Promise<Array<IdempotencyRow | FencedWrite>> {
  return batchUnderFences(shard, rows, anchorLogical, (open) => claimIdempotencyKeys(shard, open));
}

/** The logical shard a claim's row is written under: its anchor's. */
function anchorLogical(row: IdempotencyInsert): number {
  return shardOfAnyId(row.anchorId);
}

/**
 * Writes keys where they belong (the transaction subgraph's legacy-key data step, services/legacy-keys.ts); a key
 * already there is left as it is. A key row moves with its anchor's logical shard, so it is written as a claim is,
 * under the anchors' open fence rows read in share mode in its transaction (claimUnderFences): a step run by a process
 * on no map (npm run migrate reads MYSQL_SHARDS only) writes no key into a range a shard move fenced, moved away or
 * is bringing here. Answers the rows written or found there; the others wait for the step's next run.
 */
export async function placeKeys(shard: Shard, rows: readonly IdempotencyInsert[]): Promise<IdempotencyInsert[]> {
  if (rows.length === 0) return [];
  const answers = await claimUnderFences(shard, rows);
  return rows.filter((_, i) => !(answers[i] instanceof FencedWrite));
}

/**
 * Claims many keys at once (createPayments): one transaction per anchor shard (its INSERT and
 * fence read in one round trip, its COMMIT in another), and at most one read, instead of a
 * claim per key. A key sent twice in one request with the same anchor claims
 * once; the copies replay it when their content matches and are refused as reused when not.
 */
export async function claimKeys(shards: ShardSet, requests: readonly ClaimRequest[], now: Date): Promise<Claim[]> {
  const rows: IdempotencyInsert[] = [];
  for (const request of requests) rows.push(claimRow(request, now));
  const byShard = new Map<Shard, IdempotencyInsert[]>();
  for (let i = 0; i < requests.length; i++) pushTo(byShard, anchorShard(shards, requests[i]!.anchor), rows[i]!);
  const held = new Map<string, IdempotencyRow>();
  const shardClaims: Array<Promise<void>> = [];
  for (const [shard, list] of byShard) shardClaims.push(holdClaims(shard, list, held));
  await Promise.all(shardClaims);
  const answers: Claim[] = [];
  for (let i = 0; i < requests.length; i++) {
    const row = rows[i]!;
    answers.push(claimOf(held.get(scopeOf(row))!, requests[i]!, row.resourceId));
  }
  return answers;
}

/** Claims one shard's rows of claimKeys' batch and records, by scope, the row holding each key in `held`. */
async function holdClaims(
  shard: Shard,
  rows: readonly IdempotencyInsert[],
  held: Map<string, IdempotencyRow>,
): Promise<void> {
  // A key whose anchor is fenced refuses the request, as byLogical does for a range the map fences; keys of other
  // ranges claimed meanwhile name their resources, and the retry replays them.
  for (const row of await claimUnderFences(shard, rows)) {
    if (row instanceof FencedWrite) throw row;
    held.set(scopeOf(row), row);
  }
}

/** The row a claim inserts; its resource id is minted here. */
export function claimRow(request: ClaimRequest, now: Date): IdempotencyInsert {
  return {
    anchorId: request.anchor.id,
    callerId: request.callerId,
    idempotencyKey: request.key,
    operation: request.operation,
    requestHash: request.hash,
    resourceId: request.newResourceId(),
    createdAt: now,
  };
}

/** What the row holding a key says to the request that claimed it with `resourceId`. */
export function claimOf(held: IdempotencyRow, request: ClaimRequest, resourceId: string): Claim {
  if (held.operation !== request.operation || held.requestHash !== request.hash) return { kind: 'reused' };
  return { kind: held.resourceId === resourceId ? 'fresh' : 'replay', resourceId: held.resourceId };
}

function anchorShard(shards: ShardSet, anchor: KeyAnchor): Shard {
  const parsed = parseId(anchor.kind, anchor.id);
  if (!parsed) invariantBroken(`key anchor ${anchor.id} is not a ${anchor.kind} id`);
  return shards.byLogical(parsed.shard);
}
