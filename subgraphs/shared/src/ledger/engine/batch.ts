import { assertWritesMatchPlan, balancesBefore } from '../rules/plan-check';
import type { Shard } from '../../shards/pool';
import { mysqlErrno } from '../../shards/transaction';
import { inPostingTransaction, type PostingTx } from '../../shards/posting-transaction';
import { batchWitness, lockAndReadPrior, writePostings, writeRejections, type PriorOutcome } from '../store/postings';
import { assert } from '../../result';
import { postingBatchSizeMax } from '../../limits';
import { notifyCommitted } from './events';
import { chainEntries } from '../rules/tamper';
import { isKnownSystemAccount } from '../system-accounts';
import { DeferredInserts } from '../../db/deferred';
import { applyPosting, type EntryDraft, type PostingRejection, type PostingSpec } from '../rules/posting-rules';
import type { Account } from '../rules/account';
import { withIntercompany } from './intercompany';
import { addClassDays } from '../store/class-days';
import { classDaysOf } from './class-days';

/**
 * The only writer of balances. postBatch applies several postings for one shard in ONE local
 * transaction: lock every account involved (one statement, id order), decide each posting in
 * turn with the pure rules, write postings, entries and balances with multi-row statements,
 * commit once. A posting that is rejected (insufficient funds, frozen account) fails alone;
 * the others still commit. This is what merged posting (batching) builds on.
 */
export type PostingOutcome =
  | { status: 'APPLIED'; postingId: string; entries: EntryDraft[] }
  | { status: 'DUPLICATE'; postingId: string }
  | { status: 'REJECTED'; rejection: PostingRejection; replayed: boolean };

export type PrepareDecision<R> = { proceed: true; spec: PostingSpec } | { proceed: false; result: R };

/**
 * A check that many items of one kind share: a batch runs it once for all of its items that
 * name it, as a few set-wise statements (take these 200 outbox rows), instead of once per item.
 * It answers one decision per input, in order.
 */
export interface PrepareGroup<I, R> {
  readonly name: string;
  run(tx: PostingTx, inputs: readonly I[]): Promise<Array<PrepareDecision<R>>>;
}

/** An item's part in a PrepareGroup; made with inGroup so that input and group agree. */
export interface GroupedPrepare<R> {
  readonly group: PrepareGroup<unknown, R>;
  readonly input: unknown;
}

export function inGroup<I, R>(group: PrepareGroup<I, R>, input: I): GroupedPrepare<R> {
  return { group: group as PrepareGroup<unknown, R>, input };
}

/**
 * What a caller posts: optionally a check that runs first inside the transaction (it may lock
 * its own business rows, e.g. the payment being refunded, and may decide not to post) — its
 * own `prepare`, or its part in a group check (`grouped`) — then the posting, then a write of
 * the business record that sees the outcome.
 * In a merged batch the group checks run first, then every prepare in item order, all before
 * any finish; so a prepare must itself record whatever a later item's prepare has to see (a
 * refund reserves its amount in prepare).
 */
export interface PostingItem<R> {
  prepare?: (tx: PostingTx) => Promise<PrepareDecision<R>>;
  grouped?: GroupedPrepare<R>;
  spec?: PostingSpec;
  /**
   * Writes the business record. Rows added to `deferred` are inserted after every finish of
   * the batch, one multi-row statement per table; a finish that reads what an earlier item of
   * the batch wrote (a DUPLICATE's) sees it, because the buffer is flushed before it runs.
   */
  finish: (
    tx: PostingTx,
    outcome: PostingOutcome,
    accounts: ReadonlyMap<string, Account>,
    deferred: DeferredInserts,
  ) => Promise<R>;
  /** The instant the posting belongs to (created_at, business date); the batch's clock when absent. */
  at?: Date;
}

export interface PostBatchOptions {
  /** The clock for created_at; injectable so tests can stand at a chosen instant. */
  now?: () => Date;
  /** A shorter lock wait than the connection's, for a retry after a batch gave up on a lock. */
  lockWaitSeconds?: number;
}

export async function postBatch<R>(
  shard: Shard,
  items: ReadonlyArray<PostingItem<R>>,
  options: PostBatchOptions = {},
): Promise<R[]> {
  assert(items.length <= postingBatchSizeMax, `batch of ${items.length} exceeds postingBatchSizeMax`);
  const now = options.now ?? (() => new Date());
  // A duplicate dedupe key racing in another transaction makes our insert fail; running the
  // batch again then finds the committed posting and answers DUPLICATE.
  const written: EntryDraft[] = [];
  const rejected: string[] = [];
  const results = await inPostingTransaction(
    shard,
    (tx) => {
      written.length = 0;
      rejected.length = 0;
      return runBatch(shard, tx, items, now(), written, rejected);
    },
    {
      retryOn: [mysqlErrno.deadlock, mysqlErrno.duplicateEntry],
      // A COMMIT whose answer was lost is told by a posting or rejection this attempt wrote.
      witness: () => batchWitness(written[0]?.postingId, rejected[0]),
      ...(options.lockWaitSeconds === undefined ? {} : { lockWaitSeconds: options.lockWaitSeconds }),
    },
  );
  notifyCommitted(shard.index, written);
  return results;
}

async function runBatch<R>(
  shard: Shard,
  tx: PostingTx,
  items: ReadonlyArray<PostingItem<R>>,
  now: Date,
  written: EntryDraft[],
  rejected: string[],
): Promise<R[]> {
  const prepared = await prepareAll(tx, items);
  let timed = prepared.flatMap((p, i) => ('spec' in p ? [{ spec: p.spec, at: items[i]!.at ?? now }] : []));
  const asked = timed.map((t) => t.spec);
  const ids = asked.flatMap((s) => s.legs.map((l) => l.accountId));
  const keys = asked.flatMap((s) => (s.dedupeKey ? [s.dedupeKey] : []));
  const { states, prior } = await lockAndReadPrior(tx, ids, new Set(ids.filter(isKnownSystemAccount)), keys);
  // Postings between entities gain their intercompany legs (rules/intercompany.ts); in one entity, the same array.
  const specs = await withIntercompany(shard, tx, asked, states);
  if (specs !== asked) timed = timed.map((t, i) => ({ spec: specs[i]!, at: t.at }));
  const before = balancesBefore(states);
  const outcomes = decide(specs, states, prior);
  const applied = timed.filter((_, i) => outcomes[i]!.status === 'APPLIED');
  const entries = chainEntries(
    outcomes.flatMap((o) => (o.status === 'APPLIED' ? o.entries : [])),
    states,
  );
  const touched = [...new Set(entries.map((e) => e.accountId))].map((id) => states.get(id)!);
  // What is about to be written must be what the postings planned, or nothing is.
  assertWritesMatchPlan(
    applied.map((a) => a.spec),
    entries,
    touched,
    before,
  );
  await writePostings(tx, applied, entries, touched);
  await addClassDays(tx, classDaysOf(applied, entries, states));
  const rejections = newRejections(specs, outcomes);
  await writeRejections(tx, rejections, now);
  written.push(...entries);
  rejected.push(...rejections.map((r) => r.dedupeKey));
  const results: R[] = [];
  const deferred = new DeferredInserts();
  let next = 0;
  for (const [i, item] of items.entries()) {
    const p = prepared[i]!;
    if ('result' in p) {
      results.push(p.result);
      continue;
    }
    const outcome = outcomes[next++]!;
    if (outcome.status === 'DUPLICATE' && deferred.size > 0) await deferred.flush(tx);
    results.push(await item.finish(tx, outcome, states, deferred));
  }
  await deferred.flush(tx);
  return results;
}

async function prepareAll<R>(
  tx: PostingTx,
  items: ReadonlyArray<PostingItem<R>>,
): Promise<Array<{ spec: PostingSpec } | { result: R }>> {
  const decisions = new Array<PrepareDecision<R>>(items.length);
  const groups = new Map<PrepareGroup<unknown, R>, number[]>();
  items.forEach((item, i) => {
    if (!item.grouped) return;
    const members = groups.get(item.grouped.group);
    if (members) members.push(i);
    else groups.set(item.grouped.group, [i]);
  });
  for (const [group, members] of groups) {
    const decided = await group.run(
      tx,
      members.map((i) => items[i]!.grouped!.input),
    );
    assert(
      decided.length === members.length,
      `prepare group ${group.name} answered ${decided.length} of ${members.length}`,
    );
    members.forEach((item, k) => (decisions[item] = decided[k]!));
  }
  for (const [i, item] of items.entries()) {
    if (!item.grouped) decisions[i] = await prepareAlone(tx, item);
  }
  return decisions.map((d) => (d.proceed ? { spec: d.spec } : { result: d.result }));
}

/** One item's check on its own: the naive engine's way, and any item outside a group. */
export async function prepareAlone<R>(tx: PostingTx, item: PostingItem<R>): Promise<PrepareDecision<R>> {
  if (item.grouped) {
    const [decision] = await item.grouped.group.run(tx, [item.grouped.input]);
    assert(decision, `prepare group ${item.grouped.group.name} answered nothing`);
    return decision;
  }
  if (item.prepare) return item.prepare(tx);
  assert(item.spec, 'a posting item needs a spec or a prepare step');
  return { proceed: true, spec: item.spec };
}

/**
 * Decides every posting in order. A dedupe key that was posted or refused before (or earlier
 * in this batch) gets that same outcome again.
 */
function decide(
  specs: readonly PostingSpec[],
  states: Map<string, Account>,
  prior: Map<string, PriorOutcome>,
): PostingOutcome[] {
  return specs.map((spec) => {
    const earlier = spec.dedupeKey ? prior.get(spec.dedupeKey) : undefined;
    if (earlier?.kind === 'posted') return { status: 'DUPLICATE', postingId: earlier.postingId };
    if (earlier?.kind === 'rejected') return { status: 'REJECTED', rejection: earlier.rejection, replayed: true };
    const result = applyPosting(states, spec);
    if (spec.dedupeKey) {
      prior.set(
        spec.dedupeKey,
        result.ok ? { kind: 'posted', postingId: spec.id } : { kind: 'rejected', rejection: result.error },
      );
    }
    if (!result.ok) return { status: 'REJECTED', rejection: result.error, replayed: false };
    return { status: 'APPLIED', postingId: spec.id, entries: result.value };
  });
}

/** Refusals decided now (not replayed) are kept, when they have a dedupe key. */
function newRejections(specs: readonly PostingSpec[], outcomes: readonly PostingOutcome[]) {
  return specs.flatMap((spec, i) => {
    const outcome = outcomes[i]!;
    return outcome.status === 'REJECTED' && !outcome.replayed && spec.dedupeKey
      ? [{ dedupeKey: spec.dedupeKey, rejection: outcome.rejection }]
      : [];
  });
}
