import { shardBreakerFailuresToOpen, shardBreakerProbeIntervalMs } from '../limits';
import { ShardUnavailable } from './unavailable';
import { log } from '../log';

/**
 * closed: statements go to the shard. open: they fail at once, and a probe runs every
 * shardBreakerProbeIntervalMs. half-open: a probe is out; statements still fail at once, since
 * only the probe (not a client's request) should spend time finding out.
 */
export type BreakerState = 'closed' | 'open' | 'half-open';

/**
 * One shard's circuit breaker. Owned rather than taken from a library (opossum was considered):
 * opossum wraps one function call and counts failure percentages over a window, and its
 * half-open state lets a client's request be the trial, which against a blackholed shard waits a
 * whole timeout. Here the failures that count are only unreachability (isShardUnreachable, not a
 * duplicate key or a lock wait), they count consecutively, and the trial is a probe on a fresh
 * connection outside the pool, so a shard comes back within a probe interval of answering
 * again, with no traffic needed and no client kept waiting.
 */
export class ShardBreaker {
  private current: BreakerState = 'closed';
  private failures = 0;
  private suspecting = false;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly openListeners = new Set<(error: ShardUnavailable) => void>();

  /**
   * probe resolves when the shard answers (a fresh connection and SELECT 1) and rejects otherwise;
   * it tells a slow statement from a dead link. recover is what an open breaker tries each
   * interval: the same probe for a single server; for a shard of several nodes, finding the
   * first healthy node and moving the pool onto it (shard-pool.ts, failover), which the first
   * try does at once and the next ones sooner than a single server's probes: the nodes that
   * survive are usually there, and wait only for the cluster to agree the dead one is gone.
   */
  constructor(
    private readonly shard: string,
    private readonly probe: () => Promise<void>,
    private readonly recovery: { recover: () => Promise<void>; firstTryDelayMs: number; retryDelayMs: number } = {
      recover: probe,
      firstTryDelayMs: shardBreakerProbeIntervalMs,
      retryDelayMs: shardBreakerProbeIntervalMs,
    },
  ) {}

  get state(): BreakerState {
    return this.current;
  }

  /** Throws ShardUnavailable unless the breaker is closed: no network wait at all. */
  admit(): void {
    if (this.current !== 'closed') throw new ShardUnavailable(this.shard, `circuit breaker ${this.current}`);
  }

  /** The shard answered a statement. */
  succeeded(): void {
    this.failures = 0;
  }

  /** A statement or a connection failed because the shard could not be reached. */
  failed(detail: string): void {
    this.failures += 1;
    if (this.failures >= shardBreakerFailuresToOpen) this.open(detail);
  }

  /**
   * A fresh connection could not be opened within shardConnectTimeoutMs (wall clock): what a
   * failed probe would tell (and each such attempt cost a client that long), so the breaker opens now.
   */
  unreachable(detail: string): void {
    this.open(detail);
  }

  /**
   * A statement is taking long: a lock wait, or a dead link. One probe at a time tells them
   * apart; a failed one opens the breaker (and fails the statements waiting on the shard).
   */
  suspect(): void {
    if (this.current !== 'closed' || this.suspecting || this.stopped) return;
    this.suspecting = true;
    this.probe().then(
      () => {
        this.suspecting = false;
      },
      (error: unknown) => {
        this.suspecting = false;
        this.open(`probe after a slow statement failed: ${describe(error)}`);
      },
    );
  }

  /** Called with the error of every statement still waiting when the breaker opens. */
  onOpen(listener: (error: ShardUnavailable) => void): () => void {
    this.openListeners.add(listener);
    return () => this.openListeners.delete(listener);
  }

  /** No more probes (the pool is closing). */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private open(detail: string): void {
    if (this.current !== 'closed' || this.stopped) return;
    this.current = 'open';
    this.failures = 0;
    log().error(`shard ${this.shard}: circuit breaker opened (${detail})`);
    const error = new ShardUnavailable(this.shard, `circuit breaker opened: ${detail}`);
    for (const listener of [...this.openListeners]) listener(error);
    this.scheduleProbe(this.recovery.firstTryDelayMs);
  }

  private scheduleProbe(delayMs = this.recovery.retryDelayMs): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.probeOnce(), delayMs);
    // A breaker waiting to probe keeps no process alive on its own.
    this.timer.unref();
  }

  private async probeOnce(): Promise<void> {
    this.timer = null;
    if (this.stopped) return;
    this.current = 'half-open';
    try {
      await this.recovery.recover();
      if (this.stopped) return;
      this.current = 'closed';
      log().info(`shard ${this.shard}: circuit breaker closed (the shard answers again)`);
    } catch {
      this.current = 'open';
      this.scheduleProbe();
    }
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
