import { FencedWrite } from '@paygraph/shared/shards/unavailable';
import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import {
  type EntryRow,
  type Account,
  stripeShardsOf,
  accountsByIds,
  stripesOfMerchants,
  tailEntries,
} from '@paygraph/shared/ledger/index';
import { assert } from '@paygraph/shared/result';
import { abortError } from '@paygraph/shared/streams/abortable';
import { createRedisSubscriber, type RedisSubscriber } from '@paygraph/shared/events/redis-pubsub';
import { decodeHints, ledgerHintChannel } from '@paygraph/shared/events/ledger-hints';
import { balanceFeedReads, balanceFeedStripesRead, balanceStreamsOpen } from '@paygraph/shared/metrics';
import { log } from '@paygraph/shared/log';
import { groupBy, pushTo } from '@paygraph/shared/collections';
import { startWorker, type Worker } from '@paygraph/shared/worker';
import { balanceFeedCacheEntriesPerStripeMax } from '../limits';

/**
 * The balance feed of one account-subgraph process: it learns when the stripes that its
 * subscribers watch get new entries, and keeps the newest of them so that live subscribers
 * need no read of their own.
 *
 * The ledger tables are the only source. A read takes, in ONE statement per shard, the new
 * entries of the stripes it asks for, after the highest sequence the feed knows of each. The
 * timer (every pollIntervalMs) asks for every watched stripe of the shard; a Redis hint asks, as
 * soon as it arrives, for only the watched stripes it names beyond what the feed knows, so the
 * work an event costs does not grow with the number of subscribers (a hint read names one or a
 * few stripes however many are watched). With hints the timer only backs them up: a lost hint
 * delays an event by at most one interval and never loses it. Readers never take an entry from
 * a hint, only from the database (or this cache of what was read from it), always asking for
 * "the entries after the ones I have".
 *
 * The timer's read and the discovery of merchants' new stripes are workers (shared/worker.ts):
 * a pass at a time, and stop() returns once the running passes, and any read a hint started,
 * have ended, so nothing reads a pool after its owner closed it.
 */
export interface FeedSettings {
  /** How often every watched stripe is read: the fan-out itself without Redis, a safety net with it. */
  pollIntervalMs: number;
  /** How often watched merchants' stripes are looked for, since a first payment on a new shard opens one. */
  discoveryIntervalMs: number;
  /** Redis to take ledger hints from; null reads on the timer alone. */
  redisUrl: string | null;
}

interface StripeState {
  id: string;
  shard: Shard;
  /** The highest sequence known to be committed. */
  tail: bigint;
  /** The newest entries, consecutive and ending at `tail` (possibly empty). */
  cache: EntryRow[];
  account: WatchedAccount;
}

/** The feed's bookkeeping for one watched account (not the account itself: that is the ledger's Account). */
interface WatchedAccount {
  id: string;
  merchant: boolean;
  stripes: Set<string>;
  watchers: number;
  listeners: Set<() => void>;
}

/** What the feed watches on one shard and what it has been asked to read there. */
interface ShardFeed {
  shard: Shard;
  /** The watched stripes that live on this shard, by id. */
  stripes: Map<string, StripeState>;
  /** Every watched stripe is due a read (the timer, or a reconnect to Redis). */
  allDue: boolean;
  /** Stripes due a read of their own (hinted, or not read to the end last time). */
  due: Set<string>;
  /** The read running on this shard, or null; what falls due meanwhile is read right after it. */
  reading: Promise<void> | null;
}

type ReadTrigger = 'poll' | 'hint';

export interface FeedWatch {
  /** The account's stripes known now; a merchant's list grows as new stripes are found. */
  stripes(): string[];
  /** The highest committed sequence the feed knows per stripe: the account's position now. */
  tails(): Map<string, bigint>;
  /** Resolves once some stripe has an entry beyond `position`; rejects with AbortError on abort. */
  wait(position: ReadonlyMap<string, bigint>, signal: AbortSignal): Promise<void>;
  release(): void;
}

export class BalanceFeed {
  private readonly shardFeeds = new Map<Shard, ShardFeed>();
  private readonly stripeStates = new Map<string, StripeState>();
  private readonly accountStates = new Map<string, WatchedAccount>();
  /** Shards whose hinted stripes wait for the next turn of the event loop, to be read together. */
  private readonly hinted = new Set<ShardFeed>();
  private hintScheduled = false;
  private workers: Worker[] = [];
  private stopped = false;
  private redis: RedisSubscriber | null = null;
  private announceSubscribed: () => void = () => {};
  /**
   * Resolves once the feed has subscribed to Redis and read every watched stripe after it (hints
   * sent before the subscription are lost; that read covers them): from then on a posting's hint
   * reaches the feed. Resolves at once without Redis.
   */
  readonly subscribed: Promise<void> = new Promise((resolve) => (this.announceSubscribed = resolve));
  /** Reads run, for tests and metrics: proves that one statement per shard serves every stripe. */
  ticks = 0;
  /** Stripes those reads asked for, by trigger: a hint read asks for the hinted stripes only. */
  readonly stripesRead: Record<ReadTrigger, number> = { poll: 0, hint: 0 };

  constructor(
    private readonly shards: ShardSet,
    private readonly settings: FeedSettings,
  ) {}

  start(): void {
    this.workers = [
      startWorker({
        name: 'balance feed poll',
        intervalMs: this.settings.pollIntervalMs,
        pass: () => this.refreshAll(),
      }),
      startWorker({
        name: 'balance feed stripe discovery',
        intervalMs: this.settings.discoveryIntervalMs,
        pass: () => this.discoverStripes(),
      }),
    ];
    if (this.settings.redisUrl !== null) {
      this.redis = createRedisSubscriber(
        this.settings.redisUrl,
        ledgerHintChannel,
        (message) => this.onHints(message),
        // Hints sent while we were not subscribed are lost: read everything once.
        () => void this.refreshAll().then(this.announceSubscribed),
      );
    } else {
      this.announceSubscribed();
    }
  }

  /** No read starts after this; resolves once the running passes and reads have ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    const workers = this.workers.splice(0);
    await Promise.all([...workers.map((w) => w.stop()), this.redis?.close()]);
    this.redis = null;
    await Promise.all([...this.shardFeeds.values()].map((feed) => feed.reading));
  }

  /**
   * Starts watching an account: `rows` are its home row and stripes as just read, whose
   * last_sequence tells the feed how far each ledger is known to go.
   */
  watch(accountId: string, rows: ReadonlyArray<Pick<Account, 'id' | 'type' | 'lastSequence'>>): FeedWatch {
    let account = this.accountStates.get(accountId);
    if (!account) {
      const home = rows.find((r) => r.id === accountId);
      assert(home, `watching ${accountId} without its row`);
      account = {
        id: accountId,
        merchant: home.type === 'MERCHANT',
        stripes: new Set(),
        watchers: 0,
        listeners: new Set(),
      };
      this.accountStates.set(accountId, account);
    }
    account.watchers += 1;
    balanceStreamsOpen.inc();
    for (const row of rows) this.learnStripe(account, row.id, row.lastSequence);
    const state = account;
    let released = false;
    return {
      stripes: () => [...state.stripes],
      tails: () => new Map([...state.stripes].map((id) => [id, this.stripeStates.get(id)!.tail])),
      wait: (position, signal) => this.wait(state, position, signal),
      release: () => {
        if (released) return;
        released = true;
        this.unwatch(state);
      },
    };
  }

  /**
   * Resolves once the hints received so far have been served and no read runs: what a test awaits
   * instead of waiting for time to show that nothing more is read.
   */
  async idle(): Promise<void> {
    // onHints starts its read on the next turn of the event loop (hints that arrive together share one): let it start.
    await new Promise((resolve) => setImmediate(resolve));
    await Promise.all([...this.shardFeeds.values()].map((feed) => feed.reading));
  }

  /** Ledger hints from Redis: a watched stripe beyond what we know is read now, and only it. */
  onHints(message: string): void {
    for (const hint of decodeHints(message)) {
      const stripe = this.stripeStates.get(hint.accountId);
      if (!stripe || hint.sequence <= stripe.tail) continue;
      const feed = this.shardFeeds.get(stripe.shard)!;
      feed.due.add(stripe.id);
      this.hinted.add(feed);
    }
    if (this.hinted.size === 0 || this.hintScheduled) return;
    // Hints that arrive together (one per committed batch) are served by one read per shard.
    this.hintScheduled = true;
    setImmediate(() => {
      this.hintScheduled = false;
      const feeds = [...this.hinted];
      this.hinted.clear();
      for (const feed of feeds) void this.requestRead(feed, false);
    });
  }

  private learnStripe(account: WatchedAccount, stripeId: string, lastSequence: bigint): void {
    let stripe = this.stripeStates.get(stripeId);
    if (!stripe) {
      stripe = { id: stripeId, shard: this.shards.of('account', stripeId), tail: lastSequence, cache: [], account };
      this.stripeStates.set(stripeId, stripe);
      this.shardFeedOf(stripe.shard).stripes.set(stripeId, stripe);
    } else if (lastSequence > stripe.tail) {
      // Known further than the cache reaches: the cache must end at the tail, so it starts over.
      stripe.tail = lastSequence;
      stripe.cache = [];
    }
    if (!account.stripes.has(stripeId)) {
      account.stripes.add(stripeId);
      this.notify(account);
    }
  }

  private unwatch(account: WatchedAccount): void {
    balanceStreamsOpen.dec();
    account.watchers -= 1;
    if (account.watchers > 0) return;
    this.accountStates.delete(account.id);
    for (const id of account.stripes) {
      const stripe = this.stripeStates.get(id);
      this.stripeStates.delete(id);
      if (!stripe) continue;
      const feed = this.shardFeeds.get(stripe.shard)!;
      feed.stripes.delete(id);
      feed.due.delete(id);
    }
  }

  /**
   * Stripes a shard move took to another database are read there from the next pass: the live shard map routes each id
   * (issue 50), and a stripe watched before the move would otherwise be read on the source, where nothing is written
   * any more. A stripe whose logical shard is fenced stays where it is until the fence lifts.
   */
  private followMoves(): void {
    for (const stripe of this.stripeStates.values()) {
      let shard: Shard;
      try {
        shard = this.shards.of('account', stripe.id);
      } catch (error) {
        if (error instanceof FencedWrite) continue;
        throw error;
      }
      if (shard === stripe.shard) continue;
      const from = this.shardFeeds.get(stripe.shard);
      from?.stripes.delete(stripe.id);
      from?.due.delete(stripe.id);
      stripe.shard = shard;
      this.shardFeedOf(shard).stripes.set(stripe.id, stripe);
    }
  }

  private shardFeedOf(shard: Shard): ShardFeed {
    let feed = this.shardFeeds.get(shard);
    if (!feed) {
      feed = { shard, stripes: new Map(), allDue: false, due: new Set(), reading: null };
      this.shardFeeds.set(shard, feed);
    }
    return feed;
  }

  /** The stripes of a watched account known to the feed (none when it is not watched here). */
  stripesOf(accountId: string): string[] {
    return [...(this.accountStates.get(accountId)?.stripes ?? [])];
  }

  /**
   * A watched stripe's entries from `from` on, out of the cache; null when the stripe is not
   * watched here or the cache does not reach back that far (the caller reads the shard).
   */
  cached(stripeId: string, from: bigint, limit: number): EntryRow[] | null {
    const stripe = this.stripeStates.get(stripeId);
    const first = stripe?.cache[0];
    if (!stripe || !first || first.sequence > from) return null;
    const start = Number(from - first.sequence);
    return stripe.cache.slice(start, start + limit);
  }

  /** Entries of a stripe read from its shard by someone else: the feed learns from them too. */
  offer(stripeId: string, rows: readonly EntryRow[]): void {
    const stripe = this.stripeStates.get(stripeId);
    if (stripe) this.absorb(stripe, rows);
  }

  /**
   * Takes consecutive entries of a stripe (from a tick or a subscriber's read) into the feed:
   * those beyond the tail move it and join the cache, and the account's waiters wake.
   */
  private absorb(stripe: StripeState, rows: readonly EntryRow[]): void {
    const fresh = rows.filter((r) => r.sequence > stripe.tail);
    if (fresh.length === 0) return;
    assert(
      fresh[0]!.sequence === stripe.tail + 1n,
      `entries of ${stripe.id} skip from ${stripe.tail} to ${fresh[0]!.sequence}`,
    );
    stripe.cache.push(...fresh);
    if (stripe.cache.length > balanceFeedCacheEntriesPerStripeMax) {
      stripe.cache.splice(0, stripe.cache.length - balanceFeedCacheEntriesPerStripeMax);
    }
    stripe.tail = fresh.at(-1)!.sequence;
    this.notify(stripe.account);
  }

  private wait(account: WatchedAccount, position: ReadonlyMap<string, bigint>, signal: AbortSignal): Promise<void> {
    const ready = () => [...account.stripes].some((id) => this.stripeStates.get(id)!.tail > (position.get(id) ?? 0n));
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(abortError());
      if (ready()) return resolve();
      const cleanup = () => {
        account.listeners.delete(listener);
        signal.removeEventListener('abort', onAbort);
      };
      const listener = () => {
        if (!ready()) return;
        cleanup();
        resolve();
      };
      const onAbort = () => {
        cleanup();
        reject(abortError());
      };
      account.listeners.add(listener);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private notify(account: WatchedAccount): void {
    for (const listener of [...account.listeners]) listener();
  }

  /** The timer's read (and a reconnect's): every watched stripe of every shard; answers how many shards it read. */
  private async refreshAll(): Promise<number> {
    this.followMoves();
    const watched = [...this.shardFeeds.values()].filter((feed) => feed.stripes.size > 0);
    await Promise.all(watched.map((feed) => this.requestRead(feed, true)));
    return watched.length;
  }

  /**
   * Reads the shard now, or right after the read that runs there (one read per shard at a time);
   * settles when what was asked has been read.
   */
  private requestRead(feed: ShardFeed, all: boolean): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (all) feed.allDue = true;
    feed.reading ??= this.readShard(feed).finally(() => {
      feed.reading = null;
    });
    return feed.reading;
  }

  /**
   * Reads what is due on one shard, one statement per round, until nothing is: every watched
   * stripe when the timer asked, else only the stripes asked for by name. A stripe that got a
   * full read's worth of entries may have more and is read again at once.
   */
  private async readShard(feed: ShardFeed): Promise<void> {
    try {
      while (feed.allDue || feed.due.size > 0) {
        const trigger: ReadTrigger = feed.allDue ? 'poll' : 'hint';
        const ids = feed.allDue ? [...feed.stripes.keys()] : [...feed.due];
        feed.allDue = false;
        feed.due.clear();
        const asked = ids.map((id) => feed.stripes.get(id)).filter((s): s is StripeState => s !== undefined);
        if (asked.length === 0) continue;
        this.ticks += 1;
        this.stripesRead[trigger] += asked.length;
        balanceFeedReads.inc({ trigger });
        balanceFeedStripesRead.inc({ trigger }, asked.length);
        const rows = await tailEntries(
          feed.shard,
          asked.map((s) => ({ stripeId: s.id, after: s.tail })),
          balanceFeedCacheEntriesPerStripeMax,
        );
        for (const [id, list] of groupBy(rows, (row) => row.accountId)) {
          const stripe = feed.stripes.get(id);
          if (stripe) this.absorb(stripe, list);
          if (list.length === balanceFeedCacheEntriesPerStripeMax && stripe) feed.due.add(id);
        }
      }
    } catch (error) {
      // The next timer read tries again; subscribers only wait a little longer.
      log().error({ err: error }, `balance feed: reading ${feed.shard.name} failed`);
    }
  }

  /**
   * Looks for watched merchants' new stripes through their stripe directories
   * (ledger/stripes.ts): one primary-key read per home shard for the directories, then a read
   * only on shards a directory names where the feed knows no stripe of that merchant yet — in
   * the steady state, none. A shard that cannot be read is tried again next time; the others
   * are still served. Answers how many stripes it found.
   */
  private async discoverStripes(): Promise<number> {
    const merchants = [...this.accountStates.values()].filter((a) => a.merchant);
    if (merchants.length === 0) return 0;
    const byHome = new Map<Shard, string[]>();
    for (const m of merchants) {
      const home = this.shards.of('account', m.id);
      pushTo(byHome, home, m.id);
    }
    const homes = await this.eachShard([...byHome], 'reading stripe directories', (shard, ids) =>
      accountsByIds(shard.db, ids),
    );
    const toAsk = new Map<Shard, string[]>();
    for (const home of homes) {
      const account = this.accountStates.get(home.id);
      if (!account) continue;
      const covered = new Set(
        [...account.stripes].filter((id) => id !== home.id).map((id) => this.stripeStates.get(id)?.shard),
      );
      for (const shard of stripeShardsOf(this.shards, home)) {
        if (!covered.has(shard)) pushTo(toAsk, shard, home.id);
      }
    }
    const found = await this.eachShard([...toAsk], 'looking for new stripes', (shard, ids) =>
      stripesOfMerchants(shard.db, ids),
    );
    let learned = 0;
    for (const row of found) {
      const account = row.parentId === null ? undefined : this.accountStates.get(row.parentId);
      if (!account || account.stripes.has(row.id)) continue;
      this.learnStripe(account, row.id, row.lastSequence);
      learned += 1;
    }
    return learned;
  }

  /** A read per shard, in parallel; a shard whose read fails is logged and skipped. */
  private async eachShard<T>(
    work: ReadonlyArray<[Shard, string[]]>,
    what: string,
    read: (shard: Shard, ids: string[]) => Promise<T[]>,
  ): Promise<T[]> {
    const answers = await Promise.all(
      work.map(async ([shard, ids]) => {
        try {
          return await read(shard, ids);
        } catch (error) {
          log().error({ err: error }, `balance feed: ${what} on ${shard.name} failed`);
          return [];
        }
      }),
    );
    return answers.flat();
  }
}
