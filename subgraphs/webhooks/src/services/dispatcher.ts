import { request, type Agent } from 'undici';
import { log } from '@paygraph/shared/log';
import { assert } from '@paygraph/shared/result';
import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import { inTransaction } from '@paygraph/shared/shards/transaction';
import { deleteInBatches, passOverDatabases, startWorker, type Worker } from '@paygraph/shared/worker';
import { isShardUnreachable } from '@paygraph/shared/shards/unavailable';
import { decodeHints, ledgerHintChannel } from '@paygraph/shared/events/ledger-hints';
import { createRedisSubscriber, type RedisSubscriber } from '@paygraph/shared/events/redis-pubsub';
import {
  attemptGroups,
  pendingOfStream,
  pendingOfStreams,
  queueState,
  recordAttempts,
  type AttemptWrite,
} from '../db/deliveries';
import {
  anyStreamDue,
  claimDueStreams,
  extendLease,
  releaseStreams,
  streamsWithWork,
  type StreamKey,
} from '../db/streams';
import type { DeliveryRow, StreamRow } from '../db/schema/webhooks';
import type { DispatcherSettings } from '../config';
import type { DestinationPolicy } from './destination';
import { failingTooLong, nextAttempt, outcomeOfStatus, type AttemptOutcome } from '../domain/retry';
import {
  busyEndpointsListedMax,
  claimStreamsMax,
  deliveriesPerClaimMax,
  materializeStreamsMax,
  deliveryPurgeBatchMax,
  deliveryPurgeBatchesPerPassMax,
  disabledSweepMs,
  handBackBatchMax,
  pendingReadPerStream,
  releaseAttemptsMax,
  releaseRetryDelayMs,
  dispatcherConcurrencyMax,
  endpointConcurrencyMax,
  ownerSharesHeldFree,
  queueDepthCountMax,
  responseBytesMax,
} from '../limits';
import { EndpointDirectory, type KnownEndpoint } from './endpoint-directory';
import type { Signing } from './signer';
import { materializeShard } from './materialize';
import {
  deliveryAttempts,
  webhookAttemptSeconds,
  webhookCommitToDeliverySeconds,
  webhookOldestPendingSeconds,
  webhookQueueDepth,
  type AttemptLabel,
} from './metrics';
import { createSafeAgent, DestinationRefused, type Resolver } from './safe-agent';
import { closeEndpointQueues } from './disabled-endpoints';
import { disableByDispatcher, markFailing, markHealthy } from './endpoint-health';
import { materializeFailedRefunds } from './record-events';
import { materializeVerifiedLinks } from './link-events';
import { attemptError } from './attempt-error';
import { busyEndpointIds } from '../domain/busy-endpoints';
import { eraseSecretsHere, purgeFinishedHere, writableHere } from './writable-here';
import { shardOf } from '@paygraph/shared/ids';

/**
 * The webhook dispatcher: every replica of the webhooks subgraph runs one, and they share the
 * work through the database. Per shard, every intervalMs (with Redis: when a ledger hint or a
 * hand-back says there may be work, and every safetyIntervalMs), it (1) turns new ledger entries into
 * deliveries (materialize.ts) and (2) claims due streams — one (endpoint, account) each — with
 * FOR UPDATE SKIP LOCKED and a lease, and sends each claimed stream's deliveries one at a time
 * in sequence order: a later event waits while an earlier one retries. Streams of other
 * accounts and endpoints go on meanwhile; an endpoint has at most endpointConcurrencyMax
 * requests in flight from a process, so a slow one holds only its own slots.
 */
export interface DispatcherDependencies {
  policy: DestinationPolicy;
  secretKey: Buffer;
  /** DNS for receivers' names; c-ares with a timeout and a TTL cache (safe-agent.ts) unless a test stubs it. */
  resolver?: Resolver;
  now?: () => Date;
  random?: () => number;
  /**
   * Redis to take ledger hints from: they wake a shard's pass, and passes poll at safetyIntervalMs only; null or absent
   * polls at intervalMs.
   */
  redisUrl?: string | null;
}

const epoch = new Date(0);

interface HandBackQueue {
  waiting: Array<{
    key: StreamKey;
    writes: readonly AttemptWrite[];
    resolve: () => void;
    reject: (error: unknown) => void;
  }>;
  flushing: boolean;
}

export class Dispatcher {
  readonly directory: EndpointDirectory;
  private readonly agent: Agent;
  private readonly now: () => Date;
  private readonly random: () => number;
  private readonly inFlight = new Map<string, number>();
  /** Requests in flight per owner (the endpoints' ownerId): owners hold a fair share of the slots. */
  private readonly inFlightOfOwner = new Map<string, number>();
  /** The owner each endpoint's slots were taken for, so freeing finds it after a refresh too. */
  private readonly ownerOfSlot = new Map<string, string>();
  private inFlightTotal = 0;
  private readonly running = new Set<Promise<void>>();
  private stopped = false;
  private workers: Worker[] = [];
  private refreshWorker: Worker | null = null;
  private announceSubscribed: () => void = () => {};
  /**
   * Resolves once subscribed to the ledger hints (at once without Redis): from then on a posting's hint wakes a pass.
   */
  readonly subscribed: Promise<void> = new Promise((resolve) => (this.announceSubscribed = resolve));
  /** Each shard's dispatching worker, for hints to wake. */
  private readonly shardWorkers = new Map<Shard, Worker>();
  /** Each shard worker's poll (intervalMs, or safetyIntervalMs with hints): set by start. */
  private intervalMs = 0;
  private readonly redisUrl: string | null;
  private hints: RedisSubscriber | null = null;
  /** Shards hinted since the last turn of the event loop: the hints of one turn wake each once. */
  private readonly hinted = new Set<Shard>();
  /** Shards with a pass due at intervalMs because streams were left behind their accounts (with hints only). */
  private readonly rechecks = new Map<Shard, NodeJS.Timeout>();
  private readonly handBacks = new Map<Shard, HandBackQueue>();
  /** Disabled endpoints whose queues this process has closed once (disabled-endpoints.ts). */
  private readonly closed = new Set<string>();

  constructor(
    private readonly shards: ShardSet,
    private readonly options: DispatcherSettings,
    deps: DispatcherDependencies,
  ) {
    this.now = deps.now ?? (() => new Date());
    this.random = deps.random ?? Math.random;
    this.redisUrl = deps.redisUrl ?? null;
    this.directory = new EndpointDirectory(shards, deps.secretKey, this.now);
    this.agent = createSafeAgent({
      policy: deps.policy,
      ...(deps.resolver ? { resolver: deps.resolver } : {}),
      connectTimeoutMs: options.attemptTimeoutMs,
      connectionsPerOriginMax: dispatcherConcurrencyMax,
    });
  }

  async start(): Promise<void> {
    await this.directory
      .refresh()
      .catch((error: unknown) => log().error({ err: error }, 'webhooks: first endpoint refresh failed'));
    const { endpointRefreshIntervalMs } = this.options;
    // With hints the poll only backs them up (limits.ts: dispatchSafetyIntervalMsDefault).
    const intervalMs = this.redisUrl === null ? this.options.intervalMs : this.options.safetyIntervalMs;
    const startedAt = Date.now();
    this.intervalMs = intervalMs;
    this.adoptDatabases();
    this.refreshWorker = startWorker({
      name: 'webhook endpoints refresh',
      intervalMs: endpointRefreshIntervalMs,
      pass: () => this.refresh(),
    });
    this.workers = [
      this.refreshWorker,
      startWorker({
        name: 'webhook queue metrics',
        intervalMs: this.options.metricsIntervalMs,
        pass: async () => (await this.measure(), 0),
      }),
      // The first purge an interval after start: a starting process has enough to do (the worker's first pass is at
      // once).
      startWorker({
        name: 'webhook delivery purge',
        intervalMs: this.options.purgeIntervalMs,
        pass: () => (Date.now() - startedAt < this.options.purgeIntervalMs ? Promise.resolve(0) : this.purge()),
      }),
      // Its first pass at once: a rotated-out secret past its 24 h is erased within a purge interval, however recent the start.
      startWorker({
        name: 'webhook secret erasure',
        intervalMs: this.options.purgeIntervalMs,
        pass: () => this.eraseSecrets(),
      }),
    ];
    if (this.redisUrl !== null) {
      // Hints sent while not subscribed are lost: every shard passes once on each (re)subscription.
      this.hints = createRedisSubscriber(
        this.redisUrl,
        ledgerHintChannel,
        (message) => this.onHints(message),
        () => {
          this.wakeAll();
          this.announceSubscribed();
        },
      );
    } else {
      this.announceSubscribed();
    }
  }

  /**
   * One worker per database (a slow or unreachable one delays only its own streams), for those this process knew at
   * start and those a new version of the shard map opened since (a move to a new database): every pass, hint and
   * refresh looks for new ones, so a moved account's stream is sent from its new database without a restart.
   */
  private adoptDatabases(): void {
    if (this.stopped || this.shardWorkers.size === this.shards.all.length) return;
    for (const shard of this.shards.all) {
      if (this.shardWorkers.has(shard)) continue;
      const pass = () => this.pass(shard);
      this.shardWorkers.set(
        shard,
        startWorker({ name: `webhook dispatcher ${shard.name}`, intervalMs: this.intervalMs, pass }),
      );
    }
  }

  /**
   * Ledger hints: the shards of the accounts named pass now. A hint says only where to look; what is sent is read from
   * the database.
   */
  private onHints(message: string): void {
    this.adoptDatabases();
    for (const hint of decodeHints(message)) this.hinted.add(this.shards.of('account', hint.accountId));
    if (this.hinted.size === 0) return;
    setImmediate(() => {
      for (const shard of this.hinted) this.shardWorkers.get(shard)?.wake();
      this.hinted.clear();
    });
  }

  /**
   * With hints, a shard whose streams were behind their accounts passes again after intervalMs:
   * a stream may wait at a cross-shard payment until its record finishes (domain/events.ts),
   * which no hint announces, or have more entries than a pass takes. Without streams behind, no timer.
   */
  private recheckSoon(shard: Shard): void {
    if (this.redisUrl === null || this.stopped || this.rechecks.has(shard)) return;
    const timer = setTimeout(() => {
      this.rechecks.delete(shard);
      this.shardWorkers.get(shard)?.wake();
    }, this.options.intervalMs);
    timer.unref();
    this.rechecks.set(shard, timer);
  }

  /**
   * Rereads the endpoints now (after a running refresh) and answers once done: tests await it instead of the refresh
   * interval.
   */
  async refreshed(): Promise<void> {
    await this.refreshWorker?.drain();
  }

  /** Passes every shard now and waits for the attempts they started: whatever was due has been sent (tests). */
  async drained(): Promise<void> {
    await Promise.all([...this.shardWorkers.values()].map((worker) => worker.drain()));
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  private wakeAll(): void {
    for (const worker of this.shardWorkers.values()) worker.wake();
  }

  /** Stops claiming, waits for the attempts in flight (each bounded by attemptTimeoutMs), closes the agent. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.rechecks.values()) clearTimeout(timer);
    this.rechecks.clear();
    await this.hints?.close();
    this.hints = null;
    await Promise.all([...this.workers, ...this.shardWorkers.values()].map((worker) => worker.stop()));
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
    await this.agent.close();
  }

  private track(work: Promise<void>): Promise<void> {
    this.running.add(work);
    return work.finally(() => this.running.delete(work));
  }

  /**
   * The slots one owner may hold: an equal share of dispatcherConcurrencyMax among the owners
   * holding slots (this one counted), with ownerSharesHeldFree shares more in the divisor — kept
   * free, so that an owner whose work arrives while another's receivers are slow finds slots at
   * once instead of waiting for theirs to answer. However many endpoints an owner has, it holds
   * at most its share; its slow requests (2xx or not) hold its slots, not its neighbours'.
   */
  private ownerSlotsMax(ownerId: string): number {
    const owners = this.inFlightOfOwner.size + (this.inFlightOfOwner.has(ownerId) ? 0 : 1);
    return Math.ceil(dispatcherConcurrencyMax / (owners + ownerSharesHeldFree));
  }

  /** Takes a request slot of the endpoint if it, its owner and the process are below their bounds. */
  private takeSlot(endpointId: string): boolean {
    const ownerId = this.directory.get(endpointId)?.row.ownerId;
    if (ownerId === undefined) return false;
    const busy = this.inFlight.get(endpointId) ?? 0;
    const ownerBusy = this.inFlightOfOwner.get(ownerId) ?? 0;
    if (
      this.stopped ||
      busy >= endpointConcurrencyMax ||
      this.inFlightTotal >= dispatcherConcurrencyMax ||
      ownerBusy >= this.ownerSlotsMax(ownerId)
    )
      return false;
    this.inFlight.set(endpointId, busy + 1);
    this.inFlightOfOwner.set(ownerId, ownerBusy + 1);
    this.ownerOfSlot.set(endpointId, ownerId);
    this.inFlightTotal += 1;
    return true;
  }

  private freeSlot(endpointId: string): void {
    const busy = (this.inFlight.get(endpointId) ?? 1) - 1;
    const ownerId = this.ownerOfSlot.get(endpointId)!;
    const ownerBusy = (this.inFlightOfOwner.get(ownerId) ?? 1) - 1;
    // Idle endpoints and owners leave the maps: an owner counts towards the shares only while it holds slots.
    if (busy === 0) {
      this.inFlight.delete(endpointId);
      this.ownerOfSlot.delete(endpointId);
    } else this.inFlight.set(endpointId, busy);
    if (ownerBusy === 0) this.inFlightOfOwner.delete(ownerId);
    else this.inFlightOfOwner.set(ownerId, ownerBusy);
    this.inFlightTotal -= 1;
  }

  /** Endpoints a claim must skip: those at their own bound, and every endpoint of an owner at its share. */
  private busyEndpoints(): string[] {
    const full = new Set(
      [...this.inFlightOfOwner].filter(([owner, n]) => n >= this.ownerSlotsMax(owner)).map(([owner]) => owner),
    );
    return busyEndpointIds(
      this.inFlight,
      endpointConcurrencyMax,
      full,
      this.directory.enabledEndpoints(),
      busyEndpointsListedMax,
    );
  }

  /**
   * Materialises the shard's new entries, sending at once the streams that had nothing waiting
   * (claimed in the materialising transaction, their deliveries those just written), then claims
   * the other due streams (retries, redeliveries, events queued behind a stream in flight) and
   * starts sending them; answers the deliveries written and streams claimed.
   */
  private async pass(shard: Shard): Promise<number> {
    this.adoptDatabases();
    // No endpoint, nothing to read: an idle deployment costs its shards nothing.
    if (!this.directory.anyEnabled()) return 0;
    const enabled = (id: string) => this.directory.get(id)?.row.status === 'ENABLED';
    const now = this.now();
    // Streams of the logical shards the map places here now: not a moved range's copies, nor a fenced range's.
    const placed = this.shards.logicalOn(shard);
    // One statement finds both kinds of work: streams behind their accounts, and whether any is due.
    const work = await streamsWithWork(shard.db, placed, this.busyEndpoints(), now, materializeStreamsMax);
    const materialized = await materializeShard(
      this.shards,
      shard,
      this.directory,
      this.now,
      {
        leaseMs: this.options.leaseMs,
        take: (id) => enabled(id) && this.takeSlot(id),
        free: (id) => this.freeSlot(id),
      },
      work.lagging,
    );
    for (const { stream, deliveries } of materialized.claimed) this.send(shard, stream, deliveries);
    if (work.lagging.length > 0) this.recheckSoon(shard);
    const busy = this.busyEndpoints();
    const free = dispatcherConcurrencyMax - this.inFlightTotal;
    if (this.stopped || free <= 0 || work.due === false) return materialized.written + materialized.claimed.length;
    // Not known when the streams behind filled the read: a lock-free check first, then the claim.
    if (work.due === null && !(await anyStreamDue(shard.db, placed, busy, now)))
      return materialized.written + materialized.claimed.length;
    const leaseUntil = new Date(now.getTime() + this.options.leaseMs);
    // The placed logical shards whose fence rows are open (a process may learn of a fence after the database has it).
    const claimed = await inTransaction(shard, async (tx) =>
      claimDueStreams(
        tx,
        await writableHere(tx, placed, Number),
        busy,
        now,
        leaseUntil,
        Math.min(free, claimStreamsMax),
      ),
    );
    // The claimed streams' first deliveries in one read: at one event or two per claim (the common case) that is all of
    // them.
    const pending = await pendingOfStreams(shard.db, claimed, claimed.length * pendingReadPerStream);
    for (const stream of claimed) {
      // A stream of an endpoint this process does not know yet, knows disabled, or has no slot for waits for a later
      // pass.
      if (!enabled(stream.endpointId) || !this.takeSlot(stream.endpointId)) {
        await this.release(shard, stream);
        continue;
      }
      const known = pending.get(`${stream.endpointId}|${stream.stripeId}`);
      this.send(shard, stream, known !== undefined && known.length < pendingReadPerStream ? known : null);
    }
    return materialized.written + materialized.claimed.length + claimed.length;
  }

  /**
   * Sends a claimed stream in the background, its slot taken; `pending`: all its pending deliveries when known, null to
   * read them.
   */
  private send(shard: Shard, stream: StreamRow, pending: DeliveryRow[] | null): void {
    const endpoint = this.directory.get(stream.endpointId)!;
    void this.track(
      this.deliverStream(shard, stream, endpoint, pending)
        .catch((error: unknown) =>
          log().error({ err: error, endpointId: stream.endpointId }, 'webhooks: stream delivery failed'),
        )
        .finally(() => this.freeSlot(stream.endpointId)),
    );
  }

  /**
   * Hands a stream back with the attempts it made. Hand-backs of one shard are written together:
   * while one transaction is out, the next ones queue and go in the following one, so a busy
   * shard pays a few statements per batch instead of per stream. The queue is bounded by the
   * slots: a sender keeps its slot until its hand-back is written (send: freeSlot after
   * deliverStream), and a pass hands back the streams it could not send one at a time, so at most
   * dispatcherConcurrencyMax + 1 wait per shard.
   */
  private release(shard: Shard, key: StreamKey, writes: readonly AttemptWrite[] = []): Promise<void> {
    let queue = this.handBacks.get(shard);
    if (!queue) {
      queue = { waiting: [], flushing: false };
      this.handBacks.set(shard, queue);
    }
    const handBacks = queue;
    assert(
      handBacks.waiting.length <= dispatcherConcurrencyMax,
      `${handBacks.waiting.length} hand-backs wait on ${shard.name}: more than the slots allow`,
    );
    return new Promise<void>((resolve, reject) => {
      handBacks.waiting.push({ key, writes, resolve, reject });
      if (!handBacks.flushing) void this.flushHandBacks(shard, handBacks);
    });
  }

  private async flushHandBacks(shard: Shard, queue: HandBackQueue): Promise<void> {
    queue.flushing = true;
    try {
      while (queue.waiting.length > 0) {
        const batch = queue.waiting.splice(0, handBackBatchMax);
        try {
          const writes = batch.flatMap((b) => b.writes);
          await this.handBack(
            shard,
            batch.map((b) => b.key),
            writes,
          );
          for (const b of batch) b.resolve();
          // Events may have queued behind the streams just handed back: the shard passes now, not at its next poll.
          if (writes.length > 0) this.shardWorkers.get(shard)?.wake();
        } catch (error) {
          for (const b of batch) b.reject(error);
        }
      }
    } finally {
      queue.flushing = false;
    }
  }

  /**
   * One hand-back: the attempts, then the streams' release (apart: a crash between them leaves
   * the streams leased until their leases end, with the attempts written). Tried again a few
   * times (a lock held by a materialising pass, a shard away for a moment): streams not handed
   * back wait for their leases to end. Neither writes the rows of a logical shard a move has fenced
   * (writable-here.ts): the copy on the other side sends those deliveries again when the lease
   * ends there, under the same webhook-id (at least once, as every retry).
   */
  private async handBack(shard: Shard, keys: readonly StreamKey[], writes: readonly AttemptWrite[]): Promise<void> {
    let recorded = false;
    for (let attempt = 1; ; attempt++) {
      try {
        // Several statements go in one transaction, so that trying again cannot count an attempt twice.
        if (!recorded && writes.length > 0)
          await inTransaction(shard, async (tx) =>
            recordAttempts(tx, attemptGroups(await writableHere(tx, writes, (w) => shardOf('webhookDelivery', w.id)))),
          );
        recorded = true;
        await inTransaction(shard, async (tx) =>
          releaseStreams(tx, await writableHere(tx, keys, (k) => shardOf('account', k.stripeId)), epoch),
        );
        return;
      } catch (error) {
        if (attempt >= releaseAttemptsMax) throw error;
        await new Promise((resolve) => setTimeout(resolve, releaseRetryDelayMs * attempt));
      }
    }
  }

  /** The claimed stream's due deliveries in order, until one fails (it waits for its retry, the rest behind it). */
  private async deliverStream(
    shard: Shard,
    stream: StreamRow,
    claimedAs: KnownEndpoint,
    read: DeliveryRow[] | null,
  ): Promise<void> {
    let leaseUntil = new Date(this.now().getTime() + this.options.leaseMs);
    const writes: AttemptWrite[] = [];
    try {
      // Known with the claim (all of the stream's pending deliveries); its own read otherwise.
      const pending = read ?? (await pendingOfStream(shard.db, stream, deliveriesPerClaimMax));
      for (const delivery of pending) {
        const endpoint = this.directory.get(stream.endpointId) ?? claimedAs;
        const now = this.now();
        if (this.stopped || endpoint.row.status !== 'ENABLED' || endpoint.signer === null) break;
        if (delivery.nextAttemptAt !== null && delivery.nextAttemptAt > now) break;
        // The lease must outlast the attempt: otherwise another replica could send a later event meanwhile.
        if (leaseUntil.getTime() - now.getTime() < this.options.attemptTimeoutMs * 2) {
          leaseUntil = new Date(now.getTime() + this.options.leaseMs);
          // A stream whose logical shard a move fenced stops here: its copy goes on where the map places it.
          if (!(await this.extendLease(shard, stream, leaseUntil))) break;
        }
        const outcome = await this.attempt(endpoint, endpoint.signer, delivery);
        const { goOn, write } = await this.judge(endpoint, delivery, outcome);
        writes.push(write);
        if (!goOn) break;
      }
    } finally {
      await this.release(shard, stream, writes);
    }
  }

  /** Extends a claimed stream's lease unless a move fenced its logical shard (writable-here.ts); false if fenced. */
  private extendLease(shard: Shard, stream: StreamRow, leaseUntil: Date): Promise<boolean> {
    return inTransaction(shard, async (tx) => {
      const writable = await writableHere(tx, [stream], (s) => shardOf('account', s.stripeId));
      for (const key of writable) await extendLease(tx, key, leaseUntil);
      return writable.length > 0;
    });
  }

  /** One POST, bounded: attemptTimeoutMs for connection, headers and body; the answer read up to responseBytesMax. */
  private async attempt(
    endpoint: KnownEndpoint,
    signer: Signing,
    delivery: DeliveryRow,
  ): Promise<AttemptOutcome | { kind: 'refused'; error: string }> {
    const started = process.hrtime.bigint();
    try {
      const headers = {
        'content-type': 'application/json',
        'user-agent': 'paygraph-webhooks/1',
        ...signer.headers(delivery.id, this.now(), delivery.body),
      };
      const response = await request(endpoint.row.url, {
        method: 'POST',
        dispatcher: this.agent,
        headers,
        body: delivery.body,
        headersTimeout: this.options.attemptTimeoutMs,
        bodyTimeout: this.options.attemptTimeoutMs,
        signal: AbortSignal.timeout(this.options.attemptTimeoutMs),
      });
      await response.body.dump({ limit: responseBytesMax }).catch(() => undefined);
      return outcomeOfStatus(response.statusCode);
    } catch (error) {
      const refused =
        error instanceof DestinationRefused
          ? error
          : error instanceof Error && error.cause instanceof DestinationRefused
            ? error.cause
            : null;
      return refused
        ? { kind: 'refused', error: `${refused.name}: ${refused.message}` }
        : { kind: 'failed', statusCode: null, error: attemptError(error) };
    } finally {
      webhookAttemptSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
    }
  }

  /**
   * What an attempt's outcome writes (with the stream's hand-back) and whether the stream may go
   * on to its next delivery; the endpoint's own state (healthy, failing, disabled) is written at once.
   */
  private async judge(
    endpoint: KnownEndpoint,
    delivery: DeliveryRow,
    outcome: AttemptOutcome | { kind: 'refused'; error: string },
  ): Promise<{ goOn: boolean; write: AttemptWrite }> {
    const now = this.now();
    const write = (record: AttemptWrite['record']): AttemptWrite => ({ id: delivery.id, record, at: now });
    const count = (label: AttemptLabel) => deliveryAttempts.inc({ outcome: label });
    if (outcome.kind === 'delivered') {
      count('succeeded');
      await this.delivered(endpoint, delivery, now);
      return {
        goOn: true,
        write: write({ status: 'SUCCEEDED', statusCode: outcome.statusCode, error: null, nextAttemptAt: null }),
      };
    }
    if (outcome.kind === 'gone') {
      count('gone');
      const reason = `the receiver answered 410 Gone at ${now.toISOString()}`;
      // Not disabled when a move's fence refused the write (left for the next attempt's 410): the text says only that.
      const disabled = await disableByDispatcher(this.shards, this.directory, endpoint, reason, now);
      return {
        goOn: false,
        write: write({
          status: 'FAILED',
          statusCode: 410,
          error: disabled ? 'HTTP 410 Gone: endpoint disabled' : 'HTTP 410 Gone',
          nextAttemptAt: null,
        }),
      };
    }
    const statusCode = outcome.kind === 'failed' ? outcome.statusCode : null;
    const decision = nextAttempt(
      this.options.retry,
      delivery.attempts + 1,
      delivery.firstAttemptAt ?? now,
      now,
      this.random(),
    );
    const failed = write(
      decision.kind === 'retry'
        ? { status: 'PENDING', statusCode, error: outcome.error, nextAttemptAt: decision.at }
        : { status: 'FAILED', statusCode, error: outcome.error, nextAttemptAt: null },
    );
    count(outcome.kind === 'refused' ? 'refused' : decision.kind === 'retry' ? 'retrying' : 'failed');
    log().info(
      {
        endpointId: endpoint.row.id,
        deliveryId: delivery.id,
        statusCode,
        error: outcome.error,
        retry: decision.kind === 'retry',
      },
      'webhooks: attempt failed',
    );
    if (await this.failedTooLong(endpoint, outcome.error, now)) return { goOn: false, write: failed };
    // A delivery given up lets the stream go on to its next event; a retry holds the stream until then.
    return { goOn: decision.kind === 'give-up', write: failed };
  }

  /**
   * After a delivery succeeded: its commit-to-delivery time observed (first attempts only), and a failing endpoint
   * healthy again (under its fence: endpoint-health.ts).
   */
  private async delivered(endpoint: KnownEndpoint, delivery: DeliveryRow, now: Date): Promise<void> {
    if (delivery.attempts === 0)
      webhookCommitToDeliverySeconds.observe((now.getTime() - delivery.createdAt.getTime()) / 1000);
    await markHealthy(this.shards, this.directory, endpoint);
  }

  /**
   * After an attempt failed: the endpoint marked failing from now if it was not, and disabled
   * when it has failed for the whole window (disableAfterFailingMs); true when it was disabled (or its disabling was
   * left for a later pass by a fence: endpoint-health.ts).
   */
  private async failedTooLong(endpoint: KnownEndpoint, error: string, now: Date): Promise<boolean> {
    const failingSince = endpoint.row.failingSince ?? now;
    await markFailing(this.shards, this.directory, endpoint, now);
    if (!failingTooLong(failingSince, now, this.options.disableAfterFailingMs)) return false;
    const reason = `every attempt failed since ${failingSince.toISOString()} (last: ${error})`;
    await disableByDispatcher(this.shards, this.directory, endpoint, reason, now);
    return true;
  }

  /**
   * Rereads the endpoints, then disables those that have failed for the whole window even when
   * no attempt is due to notice it (their deliveries FAILED and nothing new came since).
   */
  private async refresh(): Promise<number> {
    this.adoptDatabases();
    await this.directory.refresh(this.options.discoveryIntervalMs);
    const now = this.now();
    const failing = this.directory
      .enabledIds()
      .map((id) => this.directory.get(id)!)
      .filter((e) => failingTooLong(e.row.failingSince, now, this.options.disableAfterFailingMs));
    // One at a time, each whole: a database away leaves that endpoint's writes for later and throws nothing
    // (endpoint-health.ts), so the scans below run whatever it is.
    for (const endpoint of failing) {
      const reason = `every attempt failed since ${endpoint.row.failingSince!.toISOString()}`;
      await disableByDispatcher(this.shards, this.directory, endpoint, reason, now);
    }
    const closed = await this.closeDisabled(now);
    // Failed refunds, one scan per shard (record-events.ts): a shard away delays only its own.
    const queued = await Promise.all(
      this.shards.all.map((shard) =>
        materializeFailedRefunds(this.shards, shard, this.directory, this.now).catch((error: unknown) => {
          log().warn({ err: error, shard: shard.name }, 'webhooks: scanning failed refunds failed');
          return 0;
        }),
      ),
    );
    // Links verified, one scan per shard (link-events.ts), the same way.
    const linked = await Promise.all(
      this.shards.all.map((shard) =>
        materializeVerifiedLinks(this.shards, shard, this.directory, this.now).catch((error: unknown) => {
          log().warn({ err: error, shard: shard.name }, 'webhooks: scanning verified links failed');
          return 0;
        }),
      ),
    );
    const recorded = [...queued, ...linked].reduce((a, b) => a + b, 0);
    return failing.length + closed + recorded;
  }

  /**
   * Closes the queues of disabled endpoints (disabled-endpoints.ts): each once per process (a
   * crash after disabling left them open), and again at every refresh for disabledSweepMs after
   * it was disabled, when an attempt in flight then may have written a retry since. A database away leaves the
   * endpoint not closed (its queues on the others are), so the next refresh closes it again; thrown, it ended the
   * refresh before its scans, and failed refunds and verified links waited on every database for the whole outage.
   */
  private async closeDisabled(now: Date): Promise<number> {
    const due = this.directory
      .disabled()
      .filter((e) => !this.closed.has(e.row.id) || now.getTime() - e.row.updatedAt.getTime() < disabledSweepMs);
    let failed = 0;
    for (const endpoint of due) {
      const endpointId = endpoint.row.id;
      try {
        failed += await closeEndpointQueues(this.shards, endpointId, endpoint.row.disabledReason ?? 'disabled');
        this.closed.add(endpointId);
      } catch (error) {
        if (!isShardUnreachable(error)) throw error;
        log().warn({ err: error, endpointId }, "webhooks: a disabled endpoint's queues left for the next refresh");
      }
    }
    return failed;
  }

  /**
   * Erases, on every shard, the rotated-out secrets whose overlap has ended (docs/WEBHOOKS.md: kept
   * 24 h, then gone from the row), each database's under its fence rows (writable-here.ts eraseSecretsHere); answers
   * how many (a database away is left for the next pass: worker.ts passOverDatabases). Tests call it instead of waiting
   * for the worker.
   */
  async eraseSecrets(): Promise<number> {
    const now = this.now();
    return passOverDatabases('webhook secret erasure', this.shards.all, (shard) => eraseSecretsHere(shard, now));
  }

  /**
   * Deletes finished deliveries past the retention, in bounded batches on every shard, each under the fence rows of
   * the logical shards it deletes from (writable-here.ts purgeFinishedHere); answers how many (a database away is left
   * for the next pass: worker.ts passOverDatabases).
   */
  async purge(): Promise<number> {
    const cutoff = new Date(this.now().getTime() - this.options.retentionMs);
    return passOverDatabases('webhook delivery purge', this.shards.all, (shard) =>
      deleteInBatches(
        (size) => purgeFinishedHere(shard, cutoff, size),
        deliveryPurgeBatchMax,
        deliveryPurgeBatchesPerPassMax,
      ),
    );
  }

  private async measure(): Promise<void> {
    const now = this.now();
    await passOverDatabases('webhook queue metrics', this.shards.all, async (shard) => {
      const state = await queueState(shard, queueDepthCountMax);
      webhookQueueDepth.set({ shard: shard.name }, state.pending);
      webhookOldestPendingSeconds.set(
        { shard: shard.name },
        state.oldestAt ? Math.max(0, (now.getTime() - state.oldestAt.getTime()) / 1000) : 0,
      );
      return 0;
    });
  }
}
