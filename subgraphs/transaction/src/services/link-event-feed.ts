import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import { abortError } from '@paygraph/shared/streams/abortable';
import { passOverDatabases, startWorker, type Worker } from '@paygraph/shared/worker';
import { groupBy } from '@paygraph/shared/collections';
import { headsOf } from '../db/link-events';
import { ownerLinkShard } from '../domain/external-accounts';
import { linkEventHeadsReadMax, linkEventOwnersWatchedMax, linkEventStreamsPerOwnerMax } from '../limits';

/**
 * The link event feed of one transaction-subgraph process: it learns when an owner that its
 * streams follow has new events (services/link-event-stream.ts) and wakes them. Every
 * pollIntervalMs, while anything is followed, it reads the head rows of the followed owners, one
 * statement per database (per linkEventHeadsReadMax owners); a stream woken reads its events
 * itself. The head says only when to read: a stream always reads "the events after the last one
 * I delivered" from the database, so a late or skipped poll delays an event and never loses one.
 *
 * Events of links are rare (a verification, an unlink, a payout), so one poll of heads per tick
 * stays cheap and there are no Redis hints for them; the cost is up to pollIntervalMs (100 ms) of
 * added latency.
 */
export interface LinkFeedSettings {
  pollIntervalMs: number;
}

interface FollowedOwner {
  ownerId: string;
  shard: Shard;
  /** The last event number known to be committed. */
  head: bigint;
  streams: number;
  listeners: Set<() => void>;
}

export interface LinkWatch {
  /** The owner's last event number as the feed knows it now. */
  head(): bigint;
  /** Resolves once the owner has an event beyond `sequence`; rejects with AbortError on abort. */
  wait(sequence: bigint, signal: AbortSignal): Promise<void>;
  release(): void;
}

export class LinkEventFeed {
  private readonly owners = new Map<string, FollowedOwner>();
  private worker: Worker | null = null;
  /** Polls run, for tests. */
  polls = 0;

  constructor(
    private readonly shards: ShardSet,
    private readonly settings: LinkFeedSettings,
  ) {}

  start(): void {
    this.worker = startWorker({
      name: 'link event feed poll',
      intervalMs: this.settings.pollIntervalMs,
      pass: () => this.poll(),
    });
  }

  /** No poll starts after this; resolves once a running one has ended. */
  async stop(): Promise<void> {
    await this.worker?.stop();
    this.worker = null;
  }

  /**
   * Follows an owner whose last event, as just read, is `head`; null when the process follows as
   * many owners, or streams of this owner, as it may.
   */
  watch(ownerId: string, head: bigint): LinkWatch | null {
    let owner = this.owners.get(ownerId);
    if (!owner && this.owners.size >= linkEventOwnersWatchedMax) return null;
    if (owner && owner.streams >= linkEventStreamsPerOwnerMax) return null;
    if (!owner) {
      owner = {
        ownerId,
        shard: this.shards.byLogical(ownerLinkShard(ownerId)),
        head,
        streams: 0,
        listeners: new Set(),
      };
      this.owners.set(ownerId, owner);
    }
    owner.streams += 1;
    this.learn(owner, head);
    const state = owner;
    let released = false;
    return {
      head: () => state.head,
      wait: (sequence, signal) => this.wait(state, sequence, signal),
      release: () => {
        if (released) return;
        released = true;
        state.streams -= 1;
        if (state.streams === 0) this.owners.delete(state.ownerId);
      },
    };
  }

  /**
   * Reads the heads of every followed owner, a statement per database and page of owners, and wakes those moved. Every
   * database's reads end before the poll does (worker.ts passOverDatabases): a database away delays its owners' streams
   * only, and the next poll never overlaps this one's reads.
   */
  private async poll(): Promise<number> {
    if (this.owners.size === 0) return 0;
    this.polls += 1;
    const byShard = groupBy([...this.owners.values()], (o) => o.shard);
    return passOverDatabases('link event feed poll', [...byShard.keys()], async (shard) => {
      const owners = byShard.get(shard)!;
      let moved = 0;
      for (let i = 0; i < owners.length; i += linkEventHeadsReadMax) {
        const page = owners.slice(i, i + linkEventHeadsReadMax);
        const heads = await headsOf(
          shard.db,
          page.map((o) => o.ownerId),
        );
        for (const owner of page) if (this.learn(owner, heads.get(owner.ownerId) ?? 0n)) moved += 1;
      }
      return moved;
    });
  }

  /** A head read from the database: beyond what the feed knew, it moves and the owner's streams wake. */
  private learn(owner: FollowedOwner, head: bigint): boolean {
    if (head <= owner.head) return false;
    owner.head = head;
    const listeners = [...owner.listeners];
    owner.listeners.clear();
    for (const listener of listeners) listener();
    return true;
  }

  private wait(owner: FollowedOwner, sequence: bigint, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(abortError());
    if (owner.head > sequence) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        owner.listeners.delete(listener);
        reject(abortError());
      };
      const listener = (): void => {
        if (owner.head <= sequence) {
          owner.listeners.add(listener);
          return;
        }
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      owner.listeners.add(listener);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}
