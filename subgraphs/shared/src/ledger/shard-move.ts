import type { Shard } from '../shards/pool';
import { idSuffix, newId, toLogicalShard, type LogicalShard } from '../ids';
import { assert } from '../result';
import { bigintOf, rawRows } from '../db/raw';
import { openSystemAccount } from './system-accounts';
import { postOne } from './engine/post';
import type { PostingOutcome } from './engine/batch';
import type { Leg, PostingSpec } from './rules/posting-rules';
import { dedupeKeys } from './rules/dedupe-keys';

/**
 * The SHARD_MOVE postings (issue 50, docs/SCALING.md): what keeps each database's own ledger balanced when a shard move
 * takes accounts from one database to another. The move copies the accounts with their whole history, so without
 * them the target would hold the moved accounts' net N (per entity and currency) with no counterpart, and the source,
 * once it cleans its copies, would miss N. So, with the range fenced and before its copy, the source posts N from a
 * SHARD_MOVE account of the move (opened on the range's first logical shard, so the copy carries it) to its clearing:
 * source clearing +N, SHARD_MOVE −N. The copy carries the SHARD_MOVE account to the target, where the moved accounts
 * (+N) and it (−N) net to zero; after the switch the target posts it into its own clearing: SHARD_MOVE +N, target
 * clearing −N. Each posting balances, each database's ledger nets to zero per entity and currency before and after its
 * copies are cleaned (the moved accounts and the move's account there net to zero too), Σ clearing over all databases
 * is unchanged (+N and −N), and so is every sum over all databases. Each posting has its dedupe key, so a mover that
 * runs a step again posts nothing twice; a move aborted before its switch takes the first back the same way (its
 * SHARD_MOVE account into the source's clearing again).
 */

/** What a move's postings need of it: its number (its dedupe keys, its accounts' mark) and the range's first. */
export interface MoveIdentity {
  id: number;
  first: number;
}

/** One entity's and currency's net of the moved accounts. */
export interface MovedNet {
  entity: string;
  currency: string;
  net: bigint;
}

/** The counterpartyEntity that tells one move's SHARD_MOVE accounts from another's (accounts.counterparty_entity). */
export function shardMoveMark(moveId: number): string {
  return `move-${moveId}`;
}

/**
 * Per entity and currency: Σ of the balances of the clients' accounts (and stripes) whose ids name one of the logical
 * shards, as the source holds them while the range is fenced. Locks: none (the fence stops their writes).
 */
export async function movedNets(source: Shard, logicalShards: readonly number[]): Promise<MovedNet[]> {
  const suffixes = logicalShards.map(idSuffix);
  const rows = await rawRows<{ e: string; c: string; n: string }>(
    source,
    `SELECT entity AS e, currency AS c, SUM(available + frozen + pending) AS n FROM accounts
     WHERE RIGHT(id, 2) IN (?) AND system_kind IS NULL GROUP BY entity, currency ORDER BY entity, currency`,
    [suffixes],
  );
  return rows.map((r) => ({ entity: r.e, currency: r.c, net: bigintOf(r.n) })).filter((n) => n.net !== 0n);
}

/**
 * The source's half, before the copy: the moved accounts' nets from the move's SHARD_MOVE accounts to the source's
 * clearing (`staying`: a logical shard the source keeps, which names its clearing when it has none yet).
 */
export async function postMoveOut(
  source: Shard,
  staying: LogicalShard,
  move: MoveIdentity,
  nets: readonly MovedNet[],
): Promise<PostingOutcome | null> {
  const legs: Leg[] = [];
  for (const { entity, currency, net } of nets) {
    const moved = await moveAccount(source, move, entity, currency);
    const clearing = await openSystemAccount(source, staying, {
      kind: 'CLEARING',
      currency,
      entity,
      counterpartyEntity: '',
    });
    legs.push({ accountId: moved, bucket: 'AVAILABLE', amount: -net, currency });
    legs.push({ accountId: clearing, bucket: 'AVAILABLE', amount: net, currency });
  }
  return post(source, move, legs, dedupeKeys.shardMoveOut(move.id));
}

/**
 * Zeroes the move's SHARD_MOVE accounts on a database against its clearing, from their balances there: the target's
 * half after the switch (`dedupeKey` shardMoveIn), or the source's first half taken back by an abort before the switch
 * (shardMoveOutReversal). `clearingOn` names the clearing when the database has none yet in that entity and currency.
 */
export async function settleMoveAccounts(
  shard: Shard,
  clearingOn: LogicalShard,
  move: MoveIdentity,
  dedupeKey: string,
): Promise<PostingOutcome | null> {
  const rows = await rawRows<{ id: string; e: string; c: string; n: string }>(
    shard,
    `SELECT id, entity AS e, currency AS c, available + frozen + pending AS n FROM accounts
     WHERE system_kind = 'SHARD_MOVE' AND counterparty_entity = ? ORDER BY entity, currency`,
    [shardMoveMark(move.id)],
  );
  const legs: Leg[] = [];
  for (const row of rows) {
    const balance = bigintOf(row.n);
    if (balance === 0n) continue;
    const moved = await moveAccount(shard, move, row.e, row.c);
    assert(moved === row.id, `the SHARD_MOVE account of move ${move.id} on ${shard.name} is ${row.id}`);
    const clearing = await openSystemAccount(shard, clearingOn, {
      kind: 'CLEARING',
      currency: row.c,
      entity: row.e,
      counterpartyEntity: '',
    });
    legs.push({ accountId: moved, bucket: 'AVAILABLE', amount: -balance, currency: row.c });
    legs.push({ accountId: clearing, bucket: 'AVAILABLE', amount: balance, currency: row.c });
  }
  return post(shard, move, legs, dedupeKey);
}

/** The move's SHARD_MOVE account of an entity and currency on a database, opened on the range's first logical shard. */
function moveAccount(shard: Shard, move: MoveIdentity, entity: string, currency: string): Promise<string> {
  return openSystemAccount(shard, toLogicalShard(move.first), {
    kind: 'SHARD_MOVE',
    currency,
    entity,
    counterpartyEntity: shardMoveMark(move.id),
  });
}

/** One SHARD_MOVE posting (its id on the range's first logical shard: it goes with the range); null with no legs. */
async function post(shard: Shard, move: MoveIdentity, legs: Leg[], dedupeKey: string): Promise<PostingOutcome | null> {
  if (legs.length === 0) return null;
  const spec: PostingSpec = {
    id: newId('posting', toLogicalShard(move.first)),
    kind: 'SHARD_MOVE',
    refId: null,
    dedupeKey,
    currency: legs[0]!.currency!,
    legs,
  };
  const outcome = await postOne<PostingOutcome>(shard, { kind: 'spec', spec, finish: async (_tx, o) => o });
  assert(outcome.status !== 'REJECTED', `SHARD_MOVE posting ${dedupeKey} on ${shard.name} rejected`);
  return outcome;
}
