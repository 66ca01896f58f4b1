import { shardOf } from '@paygraph/shared/ids';
import { shareAccountStatuses } from '@paygraph/shared/ledger/index';
import { refuseFenced } from '@paygraph/shared/control/index';
import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import { asShardUnavailable } from '@paygraph/shared/shards/unavailable';
import { errnoOf, LockTimeout, mysqlErrno, type Tx } from '@paygraph/shared/shards/transaction';
import { assert } from '@paygraph/shared/result';
import { log } from '@paygraph/shared/log';
import type { CreditedAccount } from '../domain/refund-rules';

/** The accounts a cross-database refund credits, by where they live: the payment's database, or others (by one). */
export interface CreditedPlaces {
  here: string[];
  away: Array<{ shard: Shard; ids: string[] }>;
}

/**
 * Where the accounts a refund credits live, as the process's map places them: the payer (always, on the payment's
 * logical shard) and every credited account read; those on other databases than `home` grouped by database, in
 * database order, the order a reservation locks them in (at most one: a payment of legs has one CAMPAIGN leg).
 */
export function creditedPlaces(
  shards: ShardSet,
  home: Shard,
  payerAccountId: string,
  credited: readonly CreditedAccount[],
): CreditedPlaces {
  const ids = [...new Set([payerAccountId, ...credited.map((a) => a.id)])];
  const away = new Map<Shard, string[]>();
  for (const id of ids) {
    const shard = shards.of('account', id);
    if (shard !== home) away.set(shard, [...(away.get(shard) ?? []), id]);
  }
  return {
    here: ids.filter((id) => shards.of('account', id) === home),
    away: [...away].sort(([a], [b]) => a.index - b.index).map(([shard, group]) => ({ shard, ids: group })),
  };
}

/**
 * Share locks on credited accounts on other databases than the payment's (a campaign's funder), each in a transaction
 * of its own on the account's database, taken when the reservation asks (after the payment's lock) and held until
 * `release`, which the reservation calls once its own transaction has ended: a close of such an account (FOR UPDATE on
 * its home row) then either committed before the lock and is read CLOSED, or waits for the reservation's commit and
 * then counts its refund in flight (read-model/account.ts fundedMoneyInFlight, a plain read of every database). The
 * close holds that row while it reads with plain reads and takes stripes NOWAIT, so it never waits for the reservation
 * in turn (beyond fence rows, which only a mover's fence write holds); each wait of ours for a row lock is bounded by
 * the connection's lock wait (lockWaitSeconds), and its error (LockTimeout naming that database, or a deadlock, which
 * runs the reservation again) rolls the reservation back whole.
 *
 * Connections are taken in database order: before each attempt of the reservation takes the payment's database's
 * connection (`readyBefore`), a hold on a database before it is opened and one after it that an earlier attempt left is
 * ended; one after it is opened inside. Taken in any order, reservations in opposite directions (a payment on A
 * crediting a funder on B, one on B crediting a funder on A) could each hold the last connections of one pool while
 * waiting for the other's, every payment of both databases waiting with them until the pools' acquire timeout.
 */
export class CreditedHold {
  private readonly open = new Map<Shard, OpenTransaction>();
  private readonly statuses = new Map<Shard, CreditedAccount[]>();

  constructor(
    private readonly home: Shard,
    private readonly away: CreditedPlaces['away'],
  ) {}

  /**
   * Before each attempt of the reservation takes the payment's database's connection: holds on databases after it (an
   * earlier attempt's) ended, holds on databases before it opened (connection, BEGIN) where none lives.
   */
  async readyBefore(): Promise<void> {
    for (const { shard } of this.away) if (shard.index > this.home.index) this.drop(shard);
    for (const { shard } of this.away)
      if (shard.index < this.home.index) await this.runOn(shard, async () => undefined);
  }

  /**
   * Every away account's status under its row's share lock, read under its logical shard's fence row (refuseFenced,
   * first, a posting's order: a logical shard being moved answers FencedWrite, SHARD_UNAVAILABLE, retryable; a copy's
   * row, locked, would hold back no close of the account where it lives now). Once per database while its hold lives.
   */
  async lock(): Promise<CreditedAccount[]> {
    const read: CreditedAccount[] = [];
    for (const { shard, ids } of this.away) {
      let statuses = this.statuses.get(shard);
      if (!statuses) {
        statuses = await this.runOn(shard, async (tx) => {
          await refuseFenced(tx, shard.name, [...new Set(ids.map((id) => shardOf('account', id)))]);
          return [...(await shareAccountStatuses(tx, ids))].map(([id, status]) => ({ id, status }));
        });
        this.statuses.set(shard, statuses);
      }
      read.push(...statuses);
    }
    return read;
  }

  /**
   * The reservation's last step before its COMMIT: each hold's transaction reads its rows again under the same locks,
   * so one the server ended since (a connection cut, a node's restart, a Galera abort) fails the reservation instead of
   * letting it commit with the funder's row unheld (a close could have taken it meanwhile). Only the round trip to
   * the reservation's COMMIT is left uncovered.
   */
  async confirm(): Promise<void> {
    for (const { shard, ids } of this.away) {
      assert(this.open.has(shard) && this.statuses.has(shard), `confirm before the hold on ${shard.name} was taken`);
      const again = await this.runOn(shard, (tx) => shareAccountStatuses(tx, ids));
      for (const { id, status } of this.statuses.get(shard) ?? [])
        assert(again.get(id) === status, `${id}'s status changed under its share lock: ${status} → ${again.get(id)}`);
    }
  }

  /** Ends every hold (each commits, letting its locks go), not awaited: the reservation has ended already. */
  release(): void {
    for (const [shard, open] of this.open) {
      open.end();
      open.done.catch((error: unknown) =>
        log().warn({ err: error, shard: shard.name }, 'a credited hold did not end cleanly'),
      );
    }
    this.open.clear();
    this.statuses.clear();
  }

  /** Runs `step` in the hold on `shard` (opened if none); its failure ends the hold, named for that database. */
  private async runOn<T>(shard: Shard, step: (tx: Tx) => Promise<T>): Promise<T> {
    let open = this.open.get(shard);
    if (!open) this.open.set(shard, (open = new OpenTransaction(shard)));
    try {
      return await open.run(step);
    } catch (error) {
      this.drop(shard);
      if (errnoOf(error) === mysqlErrno.lockWaitTimeout) throw new LockTimeout(shard.name);
      throw asShardUnavailable(shard.name, error);
    }
  }

  private drop(shard: Shard): void {
    this.open.get(shard)?.end();
    this.open.delete(shard);
    this.statuses.delete(shard);
  }
}

/**
 * A transaction on one database kept open between the steps the reservation gives it, run in order, until `end`. Its
 * connection is taken and BEGIN sent at construction; a step that fails rolls it back (`done` rejects), and every step
 * given after answers that failure.
 */
class OpenTransaction {
  private readonly steps: Array<(tx: Tx) => Promise<void>> = [];
  private wake: (() => void) | null = null;
  private ended = false;
  readonly done: Promise<void>;

  constructor(shard: Shard) {
    this.done = shard.db.transaction(async (tx) => {
      for (;;) {
        const step = this.steps.shift();
        if (step) await step(tx);
        else if (this.ended) return;
        else await new Promise<void>((resolve) => (this.wake = resolve));
      }
    });
    // Its failure reaches the reservation through the step it failed (run), and the log through release.
    this.done.catch(() => undefined);
  }

  /** Runs `step` in the transaction after those given before it; answers its result, or the transaction's failure. */
  run<T>(step: (tx: Tx) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.done.then(() => reject(new Error('the held transaction has ended')), reject);
      this.steps.push(async (tx) => resolve(await step(tx)));
      this.wake?.();
    });
  }

  /** Commits once the steps given have run: a transaction that only read and locked releases its locks so. */
  end(): void {
    this.ended = true;
    this.wake?.();
  }
}
