import { assertWritesMatchPlan, balancesBefore } from '../rules/plan-check';
import type { Shard } from '../../shards/pool';
import { mysqlErrno } from '../../shards/transaction';
import { inPostingTransaction, type PostingTx, type Statement } from '../../shards/posting-transaction';
import { batchWitness, lockAndReadPrior, writePostings, writeRejections, type PriorOutcome } from '../store/postings';
import { invariantBroken } from '../../result';
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
  /** A group whose check starts with one locking read may let the batch send that read: LeadingRead. */
  readonly lead?: LeadingRead<I, R>;
}

/**
 * A prepare group's first statement (the lock of its business rows, e.g. a batch's outbox rows),
 * sent by the batch in its first round trip, in front of the accounts' lock and the prior outcomes:
 * one round trip less per batch, the same lock order (business rows, then accounts). So that the
 * accounts are locked before the group has decided, `reach` names, for each input, every account
 * a decision may post to and the dedupe key it would post under; the batch locks and reads them
 * too (a decision that does not post leaves its rows locked unused until COMMIT). A decision
 * posting beyond its reach is a bug, and crashes the batch before anything is decided. Rows the
 * group writes beyond its postings (a payment's ending: its outbox row and its record) move with
 * their logical shards in a shard move: `reach` names those too (`logicalShards`), and their fence
 * rows are read with the accounts' (ledger/store/postings.ts lockAndReadPrior), else a write with
 * no posting of its shard in the batch would read no fence.
 */
export interface LeadingRead<I, R> {
  statement(inputs: readonly I[]): Statement;
  reach(input: I): Reach;
  /** The group's check from the statement's rows: what run does after sending it. */
  decide(tx: PostingTx, inputs: readonly I[], rows: unknown[]): Promise<Array<PrepareDecision<R>>>;
}

/** What an input of a LeadingRead's group may write: LeadingRead says why each is named. */
export interface Reach {
  accountIds: readonly string[];
  dedupeKey: string | null;
  logicalShards?: readonly number[];
  /**
   * The key is one this input's own check mints, and a decision posts under it only when the check found it unused
   * (a payment's key claimed in its debit: services/payment-claims.ts), so no outcome can precede it in any
   * transaction: the batch reads none for it (one statement less for a batch of such debits alone).
   */
  keyIsNew?: boolean;
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
 * How an item's posting is decided, one of three and never two, told by `kind`: a posting known
 * up front (`spec`), a check of its own that runs first inside the transaction (`prepare`: it may
 * lock its own business rows, e.g. the payment being refunded, and may decide not to post), or
 * its part in a check many items share (`grouped`). Each form carries its own field alone, so a
 * combination that means nothing does not type-check, and a switch on `kind` sees every form.
 * In a merged batch the group checks run first, then every prepare in item order, all before
 * any finish; so a prepare must itself record whatever a later item's prepare has to see (a
 * refund reserves its amount in prepare).
 */
export type PostingStep<R> =
  | { kind: 'spec'; spec: PostingSpec }
  | { kind: 'prepare'; prepare: (tx: PostingTx) => Promise<PrepareDecision<R>> }
  | { kind: 'grouped'; grouped: GroupedPrepare<R> };

/** What a caller posts: how its posting is decided (PostingStep), then a write of the business record that sees the outcome. */
export type PostingItem<R> = PostingStep<R> & {
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
};

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
  if (items.length > postingBatchSizeMax) invariantBroken(`batch of ${items.length} exceeds postingBatchSizeMax`);
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
  const { prepared, states, prior } = await prepareAndLock(tx, items);
  let timed = timedSpecs(prepared, items, now);
  const asked = specsOf(timed);
  // Postings between entities gain their intercompany legs (rules/intercompany.ts); in one entity, the same array.
  const specs = await withIntercompany(shard, tx, asked, states);
  if (specs !== asked) timed = timed.map((t, i) => ({ spec: specs[i]!, at: t.at }));
  const before = balancesBefore(states);
  const outcomes = decide(specs, states, prior);
  const { applied, drafts } = appliedOf(timed, outcomes);
  const entries = chainEntries(drafts, states);
  const touched = touchedAccounts(entries, states);
  // What is about to be written must be what the postings planned, or nothing is.
  assertWritesMatchPlan(specsOf(applied), entries, touched, before);
  await writePostings(tx, applied, entries, touched);
  await addClassDays(tx, classDaysOf(applied, entries, states));
  const rejections = newRejections(specs, outcomes);
  await writeRejections(tx, rejections, now);
  written.push(...entries);
  for (const r of rejections) rejected.push(r.dedupeKey);
  const results: R[] = [];
  const deferred = new DeferredInserts();
  let next = 0;
  for (const [i, item] of items.entries()) {
    const p = prepared[i]!;
    if (!p.proceed) {
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

/** Each item's decision, in item order. */
type Prepared<R> = Array<PrepareDecision<R>>;

/*
 * The passes over a batch's arrays here are loops, not callbacks (map, filter, flatMap): a callback written inline is a
 * new closure at every call, V8 keeps optimised code only while a closure uses it, and a major collection between two
 * batches dropped it, so each callback was compiled again, 70-82 times in one bulk run (docs/PERFORMANCE.md).
 */

interface TimedSpec {
  spec: PostingSpec;
  at: Date;
}

/** The postings of the items that proceed, in item order, each at its item's instant (the batch's clock if none). */
function timedSpecs<R>(prepared: Prepared<R>, items: ReadonlyArray<PostingItem<R>>, now: Date): TimedSpec[] {
  const timed: TimedSpec[] = [];
  for (let i = 0; i < prepared.length; i++) {
    const p = prepared[i]!;
    if (p.proceed) timed.push({ spec: p.spec, at: items[i]!.at ?? now });
  }
  return timed;
}

function specsOf(timed: readonly TimedSpec[]): PostingSpec[] {
  const specs: PostingSpec[] = [];
  for (const t of timed) specs.push(t.spec);
  return specs;
}

/** The postings applied (in order) and their entries' drafts, in the same order. */
function appliedOf(
  timed: readonly TimedSpec[],
  outcomes: readonly PostingOutcome[],
): { applied: TimedSpec[]; drafts: EntryDraft[] } {
  const applied: TimedSpec[] = [];
  const drafts: EntryDraft[] = [];
  for (let i = 0; i < outcomes.length; i++) {
    const outcome = outcomes[i]!;
    if (outcome.status !== 'APPLIED') continue;
    applied.push(timed[i]!);
    for (const entry of outcome.entries) drafts.push(entry);
  }
  return { applied, drafts };
}

/** The accounts the entries move, each once, in the order of their first entry. */
function touchedAccounts(entries: readonly EntryDraft[], states: ReadonlyMap<string, Account>): Account[] {
  const seen = new Set<string>();
  const touched: Account[] = [];
  for (const e of entries) {
    if (seen.has(e.accountId)) continue;
    seen.add(e.accountId);
    touched.push(states.get(e.accountId)!);
  }
  return touched;
}

/**
 * Every item's check, then the lock of the accounts the postings move and their prior outcomes.
 * When every check is a LeadingRead or there is none (a payment's debits and credits, its
 * completions' endings), the checks' reads, the locks and the prior outcomes go out in one round
 * trip; otherwise each check runs first, in round trips of its own, as it needs.
 */
async function prepareAndLock<R>(
  tx: PostingTx,
  items: ReadonlyArray<PostingItem<R>>,
): Promise<{ prepared: Prepared<R>; states: Map<string, Account>; prior: Map<string, PriorOutcome> }> {
  if (!allLed(items)) {
    const prepared = await prepareAll(tx, items);
    const specs: PostingSpec[] = [];
    for (const p of prepared) if (p.proceed) specs.push(p.spec);
    const { states, prior } = await lockPostings(tx, specs, []);
    return { prepared, states, prior };
  }
  const groups = [...groupsOf(items)];
  const leading: Statement[] = [];
  const reach: Reach[] = [];
  for (const [group, { inputs }] of groups) {
    leading.push(group.lead!.statement(inputs));
    for (const input of inputs) reach.push(group.lead!.reach(input));
  }
  const known: PostingSpec[] = [];
  for (const item of items) if (item.kind === 'spec') known.push(item.spec);
  const { states, prior, answers } = await lockPostings(tx, known, leading, reach);
  const decisions = new Array<PrepareDecision<R>>(items.length);
  for (let k = 0; k < groups.length; k++) {
    const [group, { members, inputs }] = groups[k]!;
    const decided = await group.lead!.decide(tx, inputs, answers[k]!);
    if (decided.length !== members.length) invariantBroken(`prepare group ${group.name} answered ${decided.length}`);
    for (let n = 0; n < members.length; n++) {
      const decision = decided[n]!;
      if (decision.proceed) assertWithinReach(group.name, decision.spec, reach);
      decisions[members[n]!] = decision;
    }
  }
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    if (item.kind === 'spec') decisions[i] = { proceed: true, spec: item.spec };
  }
  return { prepared: decisions, states, prior };
}

/** Whether every item's check is a LeadingRead's or there is none (a posting known up front). */
function allLed<R>(items: ReadonlyArray<PostingItem<R>>): boolean {
  for (const item of items) {
    const led = item.kind === 'grouped' ? item.grouped.group.lead !== undefined : item.kind === 'spec';
    if (!led) return false;
  }
  return true;
}

/** The accounts of the postings (and of the reach) locked, and the prior outcomes of their keys read, after `leading`. */
async function lockPostings(
  tx: PostingTx,
  specs: readonly PostingSpec[],
  leading: readonly Statement[],
  reach: readonly Reach[] = [],
): Promise<{ states: Map<string, Account>; prior: Map<string, PriorOutcome>; answers: unknown[][] }> {
  const ids: string[] = [];
  const keys: string[] = [];
  const written: number[] = [];
  for (const s of specs) {
    for (const l of s.legs) ids.push(l.accountId);
    if (s.dedupeKey) keys.push(s.dedupeKey);
  }
  for (const r of reach) {
    for (const id of r.accountIds) ids.push(id);
    if (r.dedupeKey && !r.keyIsNew) keys.push(r.dedupeKey);
    for (const logical of r.logicalShards ?? []) written.push(logical);
  }
  const system = new Set<string>();
  for (const id of ids) if (isKnownSystemAccount(id)) system.add(id);
  const { states, prior, led } = await lockAndReadPrior(tx, ids, system, keys, leading, written);
  return { states, prior, answers: led };
}

/** A group's posting must stay within what its LeadingRead said it may reach: those rows alone were locked and read. */
function assertWithinReach(name: string, spec: PostingSpec, reach: readonly Reach[]): void {
  const key = spec.dedupeKey ?? null;
  for (const r of reach) if (r.dedupeKey === key && legsWithin(spec, r.accountIds)) return;
  invariantBroken(`prepare group ${name} posted ${spec.id} beyond the reach its leading read named`);
}

function legsWithin(spec: PostingSpec, accountIds: readonly string[]): boolean {
  for (const l of spec.legs) if (!accountIds.includes(l.accountId)) return false;
  return true;
}

/** The grouped items by their group, in item order: each member's index and its input. */
function groupsOf<R>(
  items: ReadonlyArray<PostingItem<R>>,
): Map<PrepareGroup<unknown, R>, { members: number[]; inputs: unknown[] }> {
  const groups = new Map<PrepareGroup<unknown, R>, { members: number[]; inputs: unknown[] }>();
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    if (item.kind !== 'grouped') continue;
    const { group, input } = item.grouped;
    const known = groups.get(group);
    if (known) {
      known.members.push(i);
      known.inputs.push(input);
    } else groups.set(group, { members: [i], inputs: [input] });
  }
  return groups;
}

async function prepareAll<R>(tx: PostingTx, items: ReadonlyArray<PostingItem<R>>): Promise<Prepared<R>> {
  const decisions = new Array<PrepareDecision<R>>(items.length);
  for (const [group, { members, inputs }] of groupsOf(items)) {
    const decided = await group.run(tx, inputs);
    if (decided.length !== members.length) {
      invariantBroken(`prepare group ${group.name} answered ${decided.length} of ${members.length}`);
    }
    for (let k = 0; k < members.length; k++) decisions[members[k]!] = decided[k]!;
  }
  for (const [i, item] of items.entries()) {
    if (item.kind !== 'grouped') decisions[i] = await prepareAlone(tx, item);
  }
  return decisions;
}

/** One item's check on its own: the naive engine's way, and any item outside a group. */
export async function prepareAlone<R>(tx: PostingTx, item: PostingItem<R>): Promise<PrepareDecision<R>> {
  switch (item.kind) {
    case 'grouped': {
      const [decision] = await item.grouped.group.run(tx, [item.grouped.input]);
      if (!decision) invariantBroken(`prepare group ${item.grouped.group.name} answered nothing`);
      return decision;
    }
    case 'prepare':
      return item.prepare(tx);
    case 'spec':
      return { proceed: true, spec: item.spec };
  }
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
  const outcomes: PostingOutcome[] = [];
  for (const spec of specs) outcomes.push(decideOne(spec, states, prior));
  return outcomes;
}

function decideOne(spec: PostingSpec, states: Map<string, Account>, prior: Map<string, PriorOutcome>): PostingOutcome {
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
}

/** Refusals decided now (not replayed) are kept, when they have a dedupe key. */
function newRejections(specs: readonly PostingSpec[], outcomes: readonly PostingOutcome[]) {
  const rejections: Array<{ dedupeKey: string; postingId: string; rejection: PostingRejection }> = [];
  for (let i = 0; i < specs.length; i++) {
    const spec = specs[i]!;
    const outcome = outcomes[i]!;
    if (outcome.status === 'REJECTED' && !outcome.replayed && spec.dedupeKey)
      rejections.push({ dedupeKey: spec.dedupeKey, postingId: spec.id, rejection: outcome.rejection });
  }
  return rejections;
}
