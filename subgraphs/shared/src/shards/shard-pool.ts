import mysql from 'mysql2/promise';
import {
  shardAcquireTimeoutMs, shardCloseTimeoutMs, shardConnectTimeoutMs, shardProbeTimeoutMs, shardStatementProbeAfterMs, shardStatementTimeoutMs,
} from '../limits';
import { ShardBreaker, type BreakerState } from './breaker';
import { shardPoolWaitSeconds, watchBreaker } from '../metrics';
import { asShardUnavailable, isShardUnreachable, ShardUnavailable } from './unavailable';
import { inStatementSpan, tracingOn } from '../tracing';

/** What the pool needs of one shard: mysql2's pool options (the URL among them) and the shard's name. */
export interface ShardPoolOptions {
  /** The shard's database name: the only name its errors carry. */
  name: string;
  uri: string;
  pool: mysql.PoolOptions;
  /** Runs on every new connection before its first statement (session settings), on mysql2's callback connection. */
  onConnection?: (connection: { query(sql: string): unknown }) => void;
}

/** What a statement is sent with: SQL text, or mysql2's options object (drizzle sends one). */
type Statement = string | mysql.QueryOptions;

/**
 * A mysql2 pool with every wait bounded, a circuit breaker, and every unreachability error turned
 * into ShardUnavailable at this boundary, so no caller (drizzle, the posting transaction, the
 * coalescer, the relay, the balance feed) can hang on a shard or pass a host name on.
 *
 * - Connect: mysql2's connectTimeout (shardConnectTimeoutMs) covers TCP and the handshake.
 * - Acquire: mysql2's pool queue has no timeout of its own (sidorares/node-mysql2#673), so the
 *   wait is raced against shardAcquireTimeoutMs here; a connection that arrives after the
 *   caller gave up goes straight back to the pool.
 * - Statement: mysql2's per-query `timeout` (shardStatementTimeoutMs) bounds each statement; a
 *   timed-out connection is destroyed, since MySQL may still answer on it later. A statement
 *   slower than shardStatementProbeAfterMs makes the breaker probe the shard, which tells a lock
 *   wait (the probe answers) from a dead link (it does not) well before that bound; so does a
 *   slow acquire, and again each shardStatementProbeAfterMs while either waits.
 * - Breaker (breaker.ts): open, every statement and acquire fails at once, and everything
 *   waiting on the shard when it opens fails then too.
 *
 * It answers the subset of mysql2's promise Pool that drizzle and this code use: query, execute,
 * getConnection, end. Statements always run on a connection of our own taking (pool.query too),
 * so a timed-out connection is never handed back to the pool.
 */
export class ShardPool {
  readonly breaker: ShardBreaker;
  private readonly pool: mysql.Pool;
  /** Rejects of the acquires and statements waiting now, failed all at once when the breaker opens. */
  private readonly waiting = new Set<(error: ShardUnavailable) => void>();
  private readonly probeConfig: mysql.ConnectionOptions;
  /**
   * Bumped each time the breaker opens. A pooled connection opened before then went over the
   * link that failed: it may be silently dead (its bytes lost), and a statement on it would wait
   * for the whole statement timeout although the shard answers again. It is dropped, not used.
   */
  private generation = 0;
  private readonly bornIn = new WeakMap<object, number>();
  /** Takes the pool off the metrics' list of breakers (metrics.ts) when it ends. */
  private readonly unwatchBreaker: () => void;
  /**
   * Round trips sent to the shard (one text, of one statement or several): each costs both
   * processes a system call and a wake-up, so tests count them as they count statements
   * (Shard.queryCount) to keep folded paths folded.
   */
  roundTrips = 0;

  constructor(readonly options: ShardPoolOptions) {
    this.pool = mysql.createPool({ ...options.pool, uri: options.uri, connectTimeout: shardConnectTimeoutMs });
    // The pool's 'connection' event hands over mysql2's callback connection, once connected.
    this.pool.on('connection', (connection) => {
      this.bornIn.set(connection, this.generation);
      options.onConnection?.(connection);
    });
    this.probeConfig = { uri: options.uri, connectTimeout: shardProbeTimeoutMs };
    this.breaker = new ShardBreaker(options.name, () => this.probe());
    this.breaker.onOpen((error) => {
      this.generation += 1;
      for (const reject of [...this.waiting]) reject(error);
    });
    this.unwatchBreaker = watchBreaker(this);
  }

  get name(): string {
    return this.options.name;
  }

  get state(): BreakerState {
    return this.breaker.state;
  }

  async getConnection(): Promise<ShardConnection> {
    this.breaker.admit();
    const acquiring = this.acquireTrusted();
    const waited = shardPoolWaitSeconds.startTimer({ shard: this.name });
    try {
      // Watched like a statement: a connection being opened over a dead link is found out by the
      // probe as soon as a stalled statement would be, not at shardConnectTimeoutMs.
      const connection = await this.bounded(acquiring, shardAcquireTimeoutMs, `no free connection within ${shardAcquireTimeoutMs} ms`, true);
      waited({ result: 'ok' });
      return new ShardConnection(this, connection);
    } catch (error) {
      waited({ result: 'failed' });
      // The caller has gone: a connection that still arrives goes back unused.
      acquiring.then((late) => late.release(), () => {});
      throw this.failure(error);
    }
  }

  /** A pooled connection opened since the breaker last opened (see generation). */
  private async acquireTrusted(): Promise<mysql.PoolConnection> {
    for (;;) {
      const connection = await this.pool.getConnection();
      if (this.bornIn.get(connection.connection) === this.generation) return connection;
      connection.destroy();
    }
  }

  async query(sql: Statement, values?: unknown): Promise<[unknown, unknown]> {
    const connection = await this.getConnection();
    try {
      return await connection.query(sql, values);
    } finally {
      connection.release();
    }
  }

  async execute(sql: Statement, values?: unknown): Promise<[unknown, unknown]> {
    const connection = await this.getConnection();
    try {
      return await connection.execute(sql, values);
    } finally {
      connection.release();
    }
  }

  /** Closes the pool; connections that do not answer the goodbye within shardCloseTimeoutMs are left to the socket's end. */
  async end(): Promise<void> {
    this.breaker.stop();
    this.unwatchBreaker();
    let timer: NodeJS.Timeout | undefined;
    const giveUp = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, shardCloseTimeoutMs);
    });
    await Promise.race([this.pool.end().catch(() => {}), giveUp]);
    clearTimeout(timer);
  }

  /** Runs one statement on a connection: admitted by the breaker, bounded, its errors mapped. */
  async run(connection: ShardConnection, send: (timeout: number) => Promise<[unknown, unknown]>): Promise<[unknown, unknown]> {
    // A connection that lost its link earlier is not written to again: mysql2 would answer "Can't
    // add new command when connection is in closed state" (no code), or queue the statement
    // behind one that never ends. Drizzle's transaction sends ROLLBACK after the failed
    // statement, and that error, not the first, would reach the client as an internal error.
    if (connection.isBroken) throw new ShardUnavailable(this.name, 'the connection was lost earlier in this transaction');
    try {
      this.breaker.admit();
    } catch (error) {
      connection.markBroken();
      throw error;
    }
    this.roundTrips += 1;
    try {
      const result = await this.bounded(send(shardStatementTimeoutMs), null, '', true);
      this.breaker.succeeded();
      return result;
    } catch (error) {
      if (isShardUnreachable(error) || (error as { fatal?: unknown }).fatal === true) connection.markBroken();
      throw this.failure(error);
    }
  }

  /**
   * Counts an unreachability failure in the breaker (not our own acquire timeout or refusal) and
   * maps it. A connect timeout opens the breaker at once (see isConnectTimeout).
   */
  private failure(error: unknown): unknown {
    if (!(error instanceof ShardUnavailable) && isShardUnreachable(error)) {
      const detail = error instanceof Error ? error.message : String(error);
      if (isConnectTimeout(error)) this.breaker.unreachable(detail);
      else this.breaker.failed(detail);
    }
    return asShardUnavailable(this.name, error);
  }

  /**
   * The work's outcome, unless the breaker opens first, or limitMs passes first (then
   * ShardUnavailable with limitDetail). With watch, a slow one makes the breaker probe the shard.
   */
  private bounded<T>(work: Promise<T>, limitMs: number | null, limitDetail: string, watch: boolean): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timers: NodeJS.Timeout[] = [];
      const settle = (): void => {
        this.waiting.delete(abandon);
        for (const timer of timers) clearTimeout(timer); // clears intervals as well
      };
      const abandon = (error: ShardUnavailable): void => {
        settle();
        reject(error);
      };
      this.waiting.add(abandon);
      if (limitMs !== null) timers.push(setTimeout(() => abandon(new ShardUnavailable(this.name, limitDetail)), limitMs));
      // Again each interval while it waits: a probe that answered before the link died (a lock
      // wait nearby made it) must not leave this statement unwatched until its timeout.
      if (watch) timers.push(setInterval(() => this.breaker.suspect(), shardStatementProbeAfterMs));
      work.then(
        (value) => {
          settle();
          resolve(value);
        },
        (error: unknown) => {
          settle();
          reject(error);
        },
      );
    });
  }

  /** A fresh connection outside the pool and SELECT 1, all within shardProbeTimeoutMs. */
  private async probe(): Promise<void> {
    let connection: mysql.Connection | null = null;
    const opening = mysql.createConnection(this.probeConfig);
    const deadline = new Promise<never>((_, reject) => {
      setTimeout(() => reject(new Error(`probe unanswered within ${shardProbeTimeoutMs} ms`)), shardProbeTimeoutMs).unref();
    });
    try {
      connection = await Promise.race([opening, deadline]);
      await Promise.race([connection.query({ sql: 'SELECT 1', timeout: shardProbeTimeoutMs }), deadline]);
    } finally {
      if (connection) connection.destroy();
      else opening.then((late) => late.destroy(), () => {});
    }
  }
}

/**
 * mysql2's connectTimeout (or the kernel's) expired while opening a connection. Unlike a refusal
 * or a reset, which cost nothing, each one held its caller shardConnectTimeoutMs; counting three
 * of them before opening would make three clients wait that long, and the next request on a pool
 * that had no open connection left (after the shard came back and failed again, say) would wait
 * it again instead of failing fast.
 */
function isConnectTimeout(error: unknown): boolean {
  const { code, syscall } = (error ?? {}) as { code?: unknown; syscall?: unknown };
  return code === 'ETIMEDOUT' && syscall === 'connect';
}

/**
 * A connection taken from a ShardPool: the promise PoolConnection's query, execute, format,
 * release and destroy, with every statement going through the pool's guard. A connection that
 * failed in a way that leaves its protocol state unknown (a timeout, a lost link, the breaker
 * opening under it) is destroyed on release instead of going back to the pool.
 */
export class ShardConnection {
  private broken = false;

  constructor(
    private readonly owner: ShardPool,
    private readonly connection: mysql.PoolConnection,
  ) {}

  /**
   * One statement, or several in one text. `placeholders` is what a trace shows of a text whose
   * values are bound already (the posting transaction's round trips): the same statements with
   * their `?`; without it the trace shows `sql`, which then must hold placeholders only.
   */
  query(sql: Statement, values?: unknown, placeholders?: readonly string[]): Promise<[unknown, unknown]> {
    return this.traced(sql, placeholders, (timeout) => {
      const options = typeof sql === 'string' ? { sql, timeout } : { ...sql, timeout: sql.timeout ?? timeout };
      const sent = values === undefined ? this.connection.query(options) : this.connection.query(options, values as never);
      return sent as Promise<[unknown, unknown]>;
    });
  }

  execute(sql: Statement, values?: unknown): Promise<[unknown, unknown]> {
    return this.traced(sql, undefined, (timeout) => {
      const options = typeof sql === 'string' ? { sql, timeout } : { ...sql, timeout: sql.timeout ?? timeout };
      const sent = values === undefined ? this.connection.execute(options) : this.connection.execute(options, values as never);
      return sent as Promise<[unknown, unknown]>;
    });
  }

  /** Runs through the pool's guard, in a statement span when tracing is on (tracing.ts). */
  private traced(sql: Statement, placeholders: readonly string[] | undefined, send: (timeout: number) => Promise<[unknown, unknown]>): Promise<[unknown, unknown]> {
    if (!tracingOn()) return this.owner.run(this, send);
    const texts = placeholders ?? [typeof sql === 'string' ? sql : sql.sql];
    return inStatementSpan(this.owner.name, texts, () => this.owner.run(this, send));
  }

  /** SQL with its values bound and escaped, as mysql2 would send it. */
  format(sql: string, values: readonly unknown[] = []): string {
    return this.connection.format(sql, values as unknown[]);
  }

  get isBroken(): boolean {
    return this.broken;
  }

  markBroken(): void {
    this.broken = true;
  }

  release(): void {
    if (this.broken) this.connection.destroy();
    else this.connection.release();
  }

  destroy(): void {
    this.connection.destroy();
  }
}
