import mysql from 'mysql2/promise';
import {
  shardAcquireTimeoutMs,
  shardAcquireWaitersMax,
  shardCloseTimeoutMs,
  shardConnectTimeoutMs,
  shardFailoverBarrierTimeoutMs,
  shardFailoverRetryMs,
  shardProbeTimeoutMs,
  shardProbeWallTimeoutMs,
  shardStatementProbeAfterMs,
  shardStatementTimeoutMs,
} from '../limits';
import { ShardBreaker, type BreakerState } from './breaker';
import { shardPoolWaitSeconds, watchBreaker } from '../metrics';
import { asShardUnavailable, isShardUnreachable, ShardUnavailable } from './unavailable';
import { inStatementSpan, tracingOn } from '../tracing';
import { assert } from '../result';
import { log } from '../log';
import { loopDeadline } from './loop-deadline';
import { galeraCatchUpStatements, galeraNodeProblem, galeraStateQuery, type GaleraStatusRow } from './galera';

/**
 * What mysql2's pool hands its 'connection' listeners: the callback connection under the promise
 * API (its typings say the promise one), so a statement's outcome arrives through a callback.
 */
export interface CallbackConnection {
  query(sql: string, callback?: (error: { errno?: number } | null) => void): unknown;
}

/** A shard's pool moved to another node (nodes by their place in MYSQL_SHARDS). */
export interface FailoverEvent {
  shard: string;
  from: number;
  to: number;
  at: number;
}

/**
 * mysql2's own binding (its `format`, sql-escaper), except for a text sent without values: mysql2 binds every query,
 * and with no values sql-escaper still reads the whole text for its first `?` before it finds nothing to bind. The
 * posting transaction's round trips (posting-transaction.ts) are such texts, their values bound as each statement
 * was held, up to megabytes on a batch of createPayments: that read was 3.3% of the transaction subgraph's CPU on
 * c-bulk-1000 (docs/PERFORMANCE.md). The answer is the same: a text with no values is sent as written.
 */
function bindUnlessBound(this: { config: { timezone?: string } }, sql: string, values: unknown): string {
  if (values === undefined || (Array.isArray(values) && values.length === 0)) return sql;
  return mysql.format(sql, values as Parameters<typeof mysql.format>[1], false, this.config.timezone);
}

/** What the pool needs of one shard: its nodes' URLs, mysql2's pool options and the shard's name. */
export interface ShardPoolOptions {
  /** The shard's database name: the only name its errors carry. */
  name: string;
  /**
   * The shard's nodes in MYSQL_SHARDS order: one URL for a single server, several for the nodes
   * of a Galera cluster. Statements go to one of them at a time, the primary (see failover).
   */
  nodes: readonly string[];
  pool: mysql.PoolOptions;
  /** Runs on every new connection before its first statement (session settings), on mysql2's callback connection. */
  onConnection?: (connection: CallbackConnection) => void;
  /** Acquires that may wait at once (shardAcquireWaitersMax unless a test says otherwise). */
  acquireWaitersMax?: number;
  /** The client's bound on one statement; shardStatementTimeoutMs when absent (pool.ts, ShardSetOptions). */
  statementTimeoutMs?: number;
}

/** What a statement is sent with: SQL text, or mysql2's options object (drizzle sends one). */
type Statement = string | mysql.QueryOptions;

/**
 * A mysql2 pool with every wait bounded, a circuit breaker, and every unreachability error turned
 * into ShardUnavailable at this boundary, so no caller (drizzle, the posting transaction, the
 * coalescer, the relay, the balance feed) can hang on a shard or pass a host name on.
 *
 * - Connect: mysql2's connectTimeout (shardConnectTimeoutMs, wall clock) covers TCP and the
 *   handshake; a dead link is found first by the acquire's probe, which a stall of this process
 *   cannot fail.
 * - Acquire: mysql2's pool queue has no timeout of its own (sidorares/node-mysql2#673), so the
 *   wait is raced against shardAcquireTimeoutMs here; a connection that arrives after the
 *   caller gave up goes straight back to the pool.
 * - Statement: mysql2's per-query `timeout` (the pool's statementTimeoutMs, else shardStatementTimeoutMs) bounds
 *   each statement; a timed-out connection is destroyed, since MySQL may still answer on it later. A statement
 *   slower than shardStatementProbeAfterMs makes the breaker probe the shard, which tells a lock
 *   wait (the probe answers) from a dead link (it does not) well before that bound; so does a
 *   slow acquire, and again each shardStatementProbeAfterMs while either waits.
 * - Breaker (breaker.ts): open, every statement and acquire fails at once, and everything
 *   waiting on the shard when it opens fails then too.
 *
 * - Failover (a shard of several nodes, a Galera cluster): every statement goes to one node, the
 *   primary, so that this process's writes never race each other's certification on two nodes.
 *   The primary starts as the first node and stays the same until it fails: then the breaker
 *   opens as for a single server, and its first recovery, at once, probes every node and moves
 *   the pool onto the first in MYSQL_SHARDS order that answers and is Synced (a joiner or donor
 *   is not). Every process chooses by the same rule from the same list, so they converge on the
 *   same node; a node that rejoins later does not take the primary back (no flap under load),
 *   it is chosen again only when the current primary fails and it comes first in the list.
 *   The pool moves only once the new node has applied every write committed before
 *   (failoverBarrier), so reads after a failover see them.
 *
 * It answers the subset of mysql2's promise Pool that drizzle and this code use: query, execute,
 * getConnection, end. Statements always run on a connection of our own taking (pool.query too),
 * so a timed-out connection is never handed back to the pool.
 */
export class ShardPool {
  readonly breaker: ShardBreaker;
  /** The primary node's pool; replaced when the pool fails over to another node. */
  private pool: mysql.Pool;
  /** Index in options.nodes of the node statements go to. */
  private primaryNode = 0;
  /** When the pool last moved to another node (epoch ms), or null if it never has. */
  private movedAt: number | null = null;
  private readonly failoverListeners = new Set<(event: FailoverEvent) => void>();
  /** Rejects of the acquires and statements waiting now, failed all at once when the breaker opens. */
  private readonly waiting = new Set<(error: ShardUnavailable) => void>();
  /** Acquires mysql2's queue holds now, their callers waiting or gone: at most acquireWaitersMax. */
  private acquiring = 0;
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
    assert(options.nodes.length >= 1, `shard ${options.name} has no node`);
    this.pool = this.openNodePool(this.primaryNode);
    // Is the primary still there? Answering in the primary component is enough: a node that
    // donates the writes a rejoining node missed (IST) is not Synced meanwhile, but takes writes.
    const probeCurrent = () => this.probe(this.primaryNode, 'alive');
    this.breaker =
      options.nodes.length === 1
        ? new ShardBreaker(options.name, probeCurrent)
        : new ShardBreaker(options.name, probeCurrent, {
            recover: () => this.failOver(),
            firstTryDelayMs: 0,
            retryDelayMs: shardFailoverRetryMs,
          });
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

  /**
   * The node statements go to, by its place in MYSQL_SHARDS (never its address, which errors and answers do not carry).
   */
  get primary(): number {
    return this.primaryNode;
  }

  /** When the pool last moved to another node (epoch ms), or null if it never has. */
  get primarySince(): number | null {
    return this.movedAt;
  }

  /** Called each time the pool moves to another node. */
  onFailover(listener: (event: FailoverEvent) => void): () => void {
    this.failoverListeners.add(listener);
    return () => this.failoverListeners.delete(listener);
  }

  /**
   * Starts on a node other than the first, before any statement: what the start-up check
   * (nodes.ts) does when the first node does not answer, so that the process starts on the
   * node every other process would choose.
   */
  startOn(node: number): void {
    assert(node >= 0 && node < this.options.nodes.length, `shard ${this.name} has no node ${node}`);
    if (node !== this.primaryNode) this.moveTo(node);
  }

  private openNodePool(node: number): mysql.Pool {
    const pool = mysql.createPool({
      ...this.options.pool,
      uri: this.options.nodes[node]!,
      connectTimeout: shardConnectTimeoutMs,
      queryFormat: bindUnlessBound,
    });
    // The pool's 'connection' event hands over mysql2's callback connection, once connected.
    pool.on('connection', (connection) => {
      this.bornIn.set(connection, this.generation);
      this.options.onConnection?.(connection as unknown as CallbackConnection);
    });
    return pool;
  }

  /**
   * An open breaker's recovery on a shard of several nodes: probes every node at once and moves
   * to the first in list order that answers and is Synced, once that node has applied every
   * write the cluster committed before (failoverBarrier); rejects (the breaker stays open and
   * tries again) when no node will do.
   */
  private async failOver(): Promise<void> {
    const failed = this.primaryNode;
    // Why each probe failed, filled in as they settle (firstInOrder decides once every node before
    // the chosen one has failed, so their reasons are known by then).
    const refused: boolean[] = this.options.nodes.map(() => false);
    const probes = this.options.nodes.map((_, node) =>
      this.probe(node, 'candidate').catch((error: unknown) => {
        refused[node] = isRefused(error);
        throw error;
      }),
    );
    let chosen = await firstInOrder(probes);
    // A node before the chosen one that answered but was not ready, or did not answer in time,
    // may be in the middle of the view change that follows a death, or slow under load: asked
    // once more, so that a process does not settle on a later node than the others because of
    // one probe. A refused connection is a dead node, and the failed primary is not asked again.
    const before = chosen ?? this.options.nodes.length;
    const recheck = this.options.nodes.map((_, node) => node < before && node !== failed && !refused[node]);
    if (recheck.some((r) => r)) {
      const again = await firstInOrder(
        this.options.nodes.map((_, node) =>
          recheck[node] ? this.probe(node, 'candidate') : Promise.reject(new Error('not asked again')),
        ),
      );
      if (again !== null) chosen = again;
    }
    if (chosen === null) throw new Error(`no node of ${this.options.nodes.length} answers and is synced`);
    await this.failoverBarrier(chosen);
    if (chosen !== this.primaryNode) this.moveTo(chosen);
  }

  /**
   * Reads after a failover see every write committed before it: on a fresh connection to the
   * new primary, one read with wsrep_sync_wait waits until that node has applied everything
   * the cluster had committed (a node applies a certified write a moment after the node that
   * took it answered its client). Until then the breaker stays open, so no statement is sent to
   * a node that may not show the old primary's last writes — the commit witness, a retry's
   * idempotency key, the relay's outbox row — and none waits on a cluster still agreeing that the
   * old primary is gone. Bounded by shardFailoverBarrierTimeoutMs.
   */
  private async failoverBarrier(node: number): Promise<void> {
    let connection: mysql.Connection | null = null;
    const opening = mysql.createConnection({ uri: this.options.nodes[node]!, connectTimeout: shardProbeTimeoutMs });
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`node ${node}: not caught up within ${shardFailoverBarrierTimeoutMs} ms`)),
        shardFailoverBarrierTimeoutMs,
      );
    });
    try {
      connection = await Promise.race([opening, deadline]);
      for (const sql of galeraCatchUpStatements)
        await Promise.race([connection.query({ sql, timeout: shardFailoverBarrierTimeoutMs }), deadline]);
    } finally {
      clearTimeout(timer);
      if (connection) connection.destroy();
      else
        opening.then(
          (late) => late.destroy(),
          () => {},
        );
    }
  }

  private moveTo(node: number): void {
    const from = this.primaryNode;
    const retired = this.pool;
    this.primaryNode = node;
    this.movedAt = Date.now();
    this.generation += 1;
    this.pool = this.openNodePool(node);
    // The old node is dead or no longer ours: its idle connections are closed without waiting
    // (a dead node would never answer the goodbye); connections lent out go back to it and end with it.
    retired.end().catch(() => {});
    log().warn(`shard ${this.name}: primary moved from node ${from} to node ${node}`);
    for (const listener of [...this.failoverListeners])
      listener({ shard: this.name, from, to: node, at: this.movedAt });
  }

  async getConnection(): Promise<ShardConnection> {
    this.breaker.admit();
    const waitersMax = this.options.acquireWaitersMax ?? shardAcquireWaitersMax;
    // Refused before mysql2 queues it, and not counted by the breaker: the shard answers, this process is behind.
    if (this.acquiring >= waitersMax)
      throw new ShardUnavailable(this.name, `${this.acquiring} requests already wait for a connection`);
    this.acquiring += 1;
    const acquiring = this.acquireTrusted();
    const settled = (): void => void (this.acquiring -= 1);
    acquiring.then(settled, settled);
    const waited = shardPoolWaitSeconds.startTimer({ shard: this.name });
    try {
      // Watched like a statement: a connection being opened over a dead link is found out by the
      // probe as soon as a stalled statement would be, not at shardConnectTimeoutMs (a wall-clock
      // bound that this process's own stall must not reach: see limits.ts).
      const connection = await this.bounded(
        acquiring,
        shardAcquireTimeoutMs,
        `no free connection within ${shardAcquireTimeoutMs} ms`,
        true,
      );
      waited({ result: 'ok' });
      return new ShardConnection(this, connection);
    } catch (error) {
      waited({ result: 'failed' });
      // The caller has gone: a connection that still arrives goes back unused.
      acquiring.then(
        (late) => late.release(),
        () => {},
      );
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

  /** `placeholders`: what a trace shows of a text whose values are written in already (ShardConnection.query). */
  async query(sql: Statement, values?: unknown, placeholders?: readonly string[]): Promise<[unknown, unknown]> {
    const connection = await this.getConnection();
    try {
      return await connection.query(sql, values, placeholders);
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

  /**
   * Closes the pool; connections that do not answer the goodbye within shardCloseTimeoutMs are left to the socket's
   * end.
   */
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
  async run(
    connection: ShardConnection,
    send: (timeout: number) => Promise<[unknown, unknown]>,
  ): Promise<[unknown, unknown]> {
    // A connection that lost its link earlier is not written to again: mysql2 would answer "Can't
    // add new command when connection is in closed state" (no code), or queue the statement
    // behind one that never ends. Drizzle's transaction sends ROLLBACK after the failed
    // statement, and that error, not the first, would reach the client as an internal error.
    if (connection.isBroken)
      throw new ShardUnavailable(this.name, 'the connection was lost earlier in this transaction');
    try {
      this.breaker.admit();
    } catch (error) {
      connection.markBroken();
      throw error;
    }
    this.roundTrips += 1;
    try {
      const result = await this.bounded(
        send(this.options.statementTimeoutMs ?? shardStatementTimeoutMs),
        null,
        '',
        true,
      );
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
      // On a shard of several nodes a refused connection opens at once as well: nothing listens
      // on the primary's port, and another node can take over now rather than after three
      // failures (which an idle process would find only at its third health probe).
      if (isConnectTimeout(error) || (this.options.nodes.length > 1 && isRefused(error)))
        this.breaker.unreachable(detail);
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
      if (limitMs !== null)
        timers.push(setTimeout(() => abandon(new ShardUnavailable(this.name, limitDetail)), limitMs));
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

  /**
   * A fresh connection outside the pool to one node and SELECT 1, all within shardProbeTimeoutMs
   * of the process's own listening time (loop-deadline.ts).
   * A node of several must also be ready for writes: in the primary component with wsrep_ready
   * ON, and, to be chosen as a new primary, Synced (a node that is joining or donating a full
   * copy is not).
   */
  private async probe(node: number, purpose: 'alive' | 'candidate'): Promise<void> {
    let connection: mysql.Connection | null = null;
    const opening = mysql.createConnection({ uri: this.options.nodes[node]!, connectTimeout: shardProbeWallTimeoutMs });
    const deadline = loopDeadline(
      shardProbeTimeoutMs,
      () => new Error(`probe unanswered within ${shardProbeTimeoutMs} ms`),
    );
    try {
      connection = await Promise.race([opening, deadline.expired]);
      if (this.options.nodes.length === 1) {
        await Promise.race([connection.query({ sql: 'SELECT 1', timeout: shardProbeWallTimeoutMs }), deadline.expired]);
      } else {
        const [rows] = await Promise.race([
          connection.query({ sql: galeraStateQuery, timeout: shardProbeWallTimeoutMs }),
          deadline.expired,
        ]);
        const problem = galeraNodeProblem(rows as GaleraStatusRow[], purpose === 'candidate');
        if (problem !== null) throw new Error(`node ${node}: ${problem}`);
      }
    } finally {
      deadline.cancel();
      if (connection) connection.destroy();
      else
        opening.then(
          (late) => late.destroy(),
          () => {},
        );
    }
  }
}

/**
 * The index of the first promise in list order that resolves, known as soon as every one before
 * it has rejected (a blackholed node's probe does not hold up a later node's answer once an
 * earlier one has answered), or null when all reject.
 */
export function firstInOrder(attempts: ReadonlyArray<Promise<unknown>>): Promise<number | null> {
  return new Promise((resolve) => {
    const outcome: Array<boolean | undefined> = attempts.map(() => undefined);
    const decide = (): void => {
      for (const [i, ok] of outcome.entries()) {
        if (ok === undefined) return;
        if (ok) return resolve(i);
      }
      resolve(null);
    };
    attempts.forEach((attempt, i) => {
      attempt.then(
        () => {
          outcome[i] = true;
          decide();
        },
        () => {
          outcome[i] = false;
          decide();
        },
      );
    });
  });
}

/** The node refused the connection: nothing listens there, it is down. */
function isRefused(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'ECONNREFUSED';
}

/**
 * mysql2's connectTimeout (or the kernel's) expired while opening a connection. Unlike a refusal
 * or a reset, which cost nothing, each one held its caller shardConnectTimeoutMs; counting three
 * of them before opening would make three clients wait that long, and the next request on a pool
 * that had no open connection left (after the shard came back and failed again, say) would wait
 * it again instead of failing fast. (The acquire's probe usually opens the breaker first.)
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
      const sent =
        values === undefined ? this.connection.query(options) : this.connection.query(options, values as never);
      return sent as Promise<[unknown, unknown]>;
    });
  }

  execute(sql: Statement, values?: unknown): Promise<[unknown, unknown]> {
    return this.traced(sql, undefined, (timeout) => {
      const options = typeof sql === 'string' ? { sql, timeout } : { ...sql, timeout: sql.timeout ?? timeout };
      const sent =
        values === undefined ? this.connection.execute(options) : this.connection.execute(options, values as never);
      return sent as Promise<[unknown, unknown]>;
    });
  }

  /** Runs through the pool's guard, in a statement span when tracing is on (tracing.ts). */
  private traced(
    sql: Statement,
    placeholders: readonly string[] | undefined,
    send: (timeout: number) => Promise<[unknown, unknown]>,
  ): Promise<[unknown, unknown]> {
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
