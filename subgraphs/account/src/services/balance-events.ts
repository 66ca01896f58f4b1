import { LRUCache } from 'lru-cache';
import type { ShardSet } from '@paygraph/shared/shards/pool';
import {
  type EntryRow,
  type Account,
  readAccountsWithStripes,
  accountsByIds,
  entriesFrom,
  entryById,
} from '@paygraph/shared/ledger/index';
import { parseId } from '@paygraph/shared/ids';
import { assert, err, ok, InvariantViolation, type Result } from '@paygraph/shared/result';
import { abortable } from '@paygraph/shared/streams/abortable';
import { streamHeads } from '@paygraph/shared/streams/heads';
import { advance, encodeBalanceCursor, type StreamPosition } from '../domain/balance-cursor';
import { addBuckets, applyMoves, noBuckets, type Buckets } from '../domain/balance-snapshot';
import type { StreamStartRefusal } from '../domain/stream-start';
import type { BalanceFeed } from './balance-feed';
import type { BalanceHistory } from './balance-history';
import {
  balanceEntryPageSizeMax,
  homeRowsRememberedMax,
  merchantStripeListsRememberedMax,
  stripeDiscoveryIntervalMs,
  homeRowFreshMs,
} from '../limits';

/**
 * Balance events, read from the ledger. There is one rule for replay and live alike: the next
 * events of a stripe are the entries after the sequence last delivered, read from the shard (or
 * from the feed's cache of what was just read from it). Nothing is ever taken from a
 * notification, so nothing can be skipped or repeated; notifications only say when to read.
 */
export interface BalanceEvent {
  /** The position right after this event: its cursor. */
  position: StreamPosition;
  stripeId: string;
  entry: EntryRow;
  /** The whole account's balance as of `position`. */
  buckets: Buckets;
  home: Account;
}

export class BalanceReader {
  /** Bounded, least recently used forgotten first; an entry is dropped once it is older than its freshness. */
  private readonly merchantStripes = new LRUCache<string, string[]>({
    max: merchantStripeListsRememberedMax,
    ttl: stripeDiscoveryIntervalMs,
  });
  private readonly homes = new LRUCache<string, Account>({ max: homeRowsRememberedMax, ttl: homeRowFreshMs });

  constructor(
    private readonly shards: ShardSet,
    private readonly feed: BalanceFeed,
    private readonly history: BalanceHistory,
  ) {}

  /** The account's home row (one read on its shard, reused for homeRowFreshMs); null when there is none. */
  async home(accountId: string): Promise<Account | null> {
    if (!parseId('account', accountId)) return null;
    const known = this.homes.get(accountId);
    if (known) return known;
    const [row] = await accountsByIds(this.shards.of('account', accountId).db, [accountId]);
    if (!row || row.parentId !== null) return null;
    this.homes.set(accountId, row);
    return row;
  }

  /**
   * The home row and every stripe with its last sequence: one read on the home shard, then for
   * a merchant one per shard its stripe directory names (ledger/stripes.ts).
   */
  async rows(accountId: string): Promise<Account[] | null> {
    if (!parseId('account', accountId)) return null;
    const rows = await readAccountsWithStripes(this.shards, [accountId]);
    const home = rows.find((r) => r.id === accountId);
    if (!home || home.parentId !== null) return null;
    if (home.type === 'MERCHANT')
      this.merchantStripes.set(
        accountId,
        rows.map((r) => r.id),
      );
    return rows;
  }

  /**
   * Up to `first` events after `position`. Within a stripe they come in sequence order; stripes
   * are interleaved by the time of their entries.
   */
  async after(
    home: Account,
    position: StreamPosition,
    first: number,
  ): Promise<Result<BalanceEvent[], StreamStartRefusal>> {
    const stripes = await this.stripesOf(home, [...position.sequences.keys()]);
    if ([...position.sequences.keys()].some((id) => !stripes.includes(id)))
      return err({ kind: 'CursorOfAnotherAccount' });
    const read = await Promise.all(
      stripes.map(async (stripe) => {
        const seen = position.sequences.get(stripe) ?? 0n;
        const [rows, buckets] = await Promise.all([
          this.entriesAfter(stripe, seen, first),
          this.history.stripeBucketsAt(stripe, seen),
        ]);
        return { stripe, rows, buckets };
      }),
    );
    const lists: EntryRow[][] = [];
    const balances = new Map<string, Buckets>();
    for (const { stripe, rows, buckets } of read) {
      if (rows === null || buckets === null) return err({ kind: 'CursorAhead' });
      lists.push(rows);
      balances.set(stripe, buckets);
    }
    let total = [...balances.values()].reduce(addBuckets, noBuckets);
    let current = position;
    const events: BalanceEvent[] = [];
    for (const entry of mergeByTime(lists).slice(0, first)) {
      const stripe = entry.accountId;
      const expected = (current.sequences.get(stripe) ?? 0n) + 1n;
      if (entry.sequence !== expected)
        throw new InvariantViolation(`stripe ${stripe} jumped to ${entry.sequence}, expected ${expected}`);
      const before = balances.get(stripe)!;
      const after = applyMoves(before, [entry]);
      balances.set(stripe, after);
      total = applyMoves(total, [entry]);
      current = advance(current, stripe, entry.sequence);
      events.push({ position: current, stripeId: stripe, entry, buckets: total, home });
    }
    // The next page starts where this one ended: remember each stripe's balance there.
    for (const [stripe, buckets] of balances)
      this.history.remember(stripe, current.sequences.get(stripe) ?? 0n, buckets);
    return ok(events);
  }

  /**
   * A stripe's entries after `seen`, read together with the entry at `seen` itself, which must
   * exist: otherwise the cursor claims more than the ledger holds (null).
   */
  private async entriesAfter(stripeId: string, seen: bigint, first: number): Promise<EntryRow[] | null> {
    const from = seen === 0n ? 1n : seen;
    const want = seen === 0n ? first : first + 1;
    let rows = this.feed.cached(stripeId, from, want);
    if (rows === null) {
      rows = await entriesFrom(this.shards.of('account', stripeId).db, stripeId, from, want);
      this.feed.offer(stripeId, rows);
    }
    if (seen === 0n) return rows;
    if (rows[0]?.sequence !== seen) return null;
    return rows.slice(1);
  }

  /**
   * The account itself, and for a merchant every stripe: the list is re-read once it is old or
   * misses one, and stripes the feed has just found count at once. A re-read takes the home
   * row's stripe directory fresh (`home` may be up to homeRowFreshMs old) and asks only the
   * shards it names.
   */
  private async stripesOf(home: Account, mustInclude: readonly string[]): Promise<string[]> {
    if (home.type !== 'MERCHANT') return [home.id];
    const known = this.merchantStripes.get(home.id);
    if (known) {
      const ids = [...new Set([...known, ...this.feed.stripesOf(home.id)])];
      if (mustInclude.every((id) => ids.includes(id))) return ids;
    }
    const found = await readAccountsWithStripes(this.shards, [home.id]);
    const ids = [home.id, ...found.filter((r) => r.parentId === home.id).map((r) => r.id)];
    this.merchantStripes.set(home.id, ids);
    return ids;
  }

  /** An entry by id, with the owner of the account (or stripe) it was written on. */
  async entryWithOwner(entryId: string): Promise<{ entry: EntryRow; ownerId: string } | null> {
    const parsed = parseId('entry', entryId);
    if (!parsed) return null;
    const entry = await entryById(this.shards.byLogical(parsed.shard).db, entryId);
    if (!entry) return null;
    const [account] = await accountsByIds(this.shards.of('account', entry.accountId).db, [entry.accountId]);
    assert(account, `entry ${entryId} has no account ${entry.accountId}`);
    return { entry, ownerId: account.ownerId };
  }
}

/**
 * Interleaves per-stripe lists by entry time, always taking the head of a list, so that each
 * stripe keeps its sequence order even where clocks of different posting processes disagree.
 */
function mergeByTime(lists: readonly EntryRow[][]): EntryRow[] {
  const heads = lists.map(() => 0);
  const merged: EntryRow[] = [];
  for (;;) {
    let pick = -1;
    for (let i = 0; i < lists.length; i++) {
      const candidate = lists[i]![heads[i]!];
      if (!candidate) continue;
      if (pick === -1 || candidate.createdAt < lists[pick]![heads[pick]!]!.createdAt) pick = i;
    }
    if (pick === -1) return merged;
    merged.push(lists[pick]![heads[pick]!]!);
    heads[pick]! += 1;
  }
}

/**
 * The balanceChanged stream served by this subgraph itself: pages of events after the
 * position, and when there are none, a wait for the feed to see the ledger move.
 */
export function balanceEvents(
  reader: BalanceReader,
  feed: BalanceFeed,
  rows: readonly Account[],
  start: StreamPosition,
  pageSize: number = balanceEntryPageSizeMax,
): AsyncGenerator<BalanceEvent, void, undefined> {
  return abortable(async function* stream(signal) {
    const home = rows.find((r) => r.id === start.accountId);
    assert(home, `streaming ${start.accountId} without its row`);
    const watch = feed.watch(home.id, rows);
    let position = start;
    try {
      for (;;) {
        const page = await reader.after(home, position, pageSize);
        if (!page.ok)
          throw new InvariantViolation(`the stream's own position of ${home.id} was refused: ${page.error.kind}`);
        for (const event of page.value) {
          position = event.position;
          yield event;
        }
        if (page.value.length < pageSize) await watch.wait(position.sequences, signal);
      }
    } finally {
      watch.release();
    }
  });
}

/**
 * The account's position (a cursor over every stripe) now, and again each time the feed sees
 * its ledger move. Positions in between may be skipped: a reader only needs to know that there
 * is something after the position it holds. This is what the gateway listens to.
 */
export function balanceHeads(feed: BalanceFeed, rows: readonly Account[]): AsyncGenerator<string, void, undefined> {
  return streamHeads(() => {
    const home = rows.find((r) => r.parentId === null);
    assert(home, 'heads without the home row');
    const watch = feed.watch(home.id, rows);
    return {
      position: () => ({ accountId: home.id, sequences: watch.tails() }),
      wait: (position, signal) => watch.wait(position.sequences, signal),
      release: () => watch.release(),
    };
  }, encodeBalanceCursor);
}
