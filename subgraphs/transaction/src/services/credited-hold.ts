import { shardOf } from '@paygraph/shared/ids';
import { shareAccountStatuses } from '@paygraph/shared/ledger/index';
import { refuseFenced } from '@paygraph/shared/control/index';
import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import { asShardUnavailable } from '@paygraph/shared/shards/unavailable';
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

/** One database's hold: its statuses read under the rows' share locks, and how to end its transaction. */
interface Held {
  statuses: CreditedAccount[];
  release: () => void;
  done: Promise<unknown>;
}

/**
 * Share locks on credited accounts on other databases than the payment's (a campaign's funder), each in a transaction
 * of its own on the account's database, taken when the reservation asks (after the payment's lock) and held until
 * `release`, which the reservation calls once its own transaction has ended: a close of such an account (FOR UPDATE on
 * its home row) then either committed before the lock and is read CLOSED, or waits for the reservation's commit and
 * then counts its refund in flight (read-model/account.ts fundedMoneyInFlight, a plain read of every database). The
 * close holds that row while it reads with plain reads and takes stripes NOWAIT, so it never waits for the reservation
 * in turn (beyond fence rows, which only a mover's fence write holds); each wait of ours for a row lock is bounded by
 * the connection's lock wait (lockWaitSeconds), and its error (1205, or a deadlock) rejects `lock`, which rolls the
 * reservation back whole and this database's transaction with it.
 */
export class CreditedHold {
  private readonly held = new Map<Shard, Held>();

  constructor(private readonly away: CreditedPlaces['away']) {}

  /**
   * Every away account's status under its row's share lock, read under its logical shard's fence row (refuseFenced,
   * first, a posting's order: a logical shard being moved answers FencedWrite, SHARD_UNAVAILABLE, retryable; a copy's
   * row, locked, would hold back no close of the account where it lives now). Once per database: the reservation's
   * transaction run again (a deadlock on the payment's database) reads the locks it still holds.
   */
  async lock(): Promise<CreditedAccount[]> {
    const read: CreditedAccount[] = [];
    for (const { shard, ids } of this.away) {
      const held = this.held.get(shard) ?? (await this.holdOn(shard, ids));
      this.held.set(shard, held);
      read.push(...held.statuses);
    }
    return read;
  }

  /** Ends every transaction of the hold (they only read: a commit that fails has released the locks all the same). */
  async release(): Promise<void> {
    for (const held of this.held.values()) held.release();
    await Promise.allSettled([...this.held.values()].map((h) => h.done));
    this.held.clear();
  }

  /** A transaction on `shard` holding these rows' share locks until released; rejects if it could not take them. */
  private async holdOn(shard: Shard, ids: readonly string[]): Promise<Held> {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let read!: (statuses: CreditedAccount[]) => void;
    const statuses = new Promise<CreditedAccount[]>((resolve) => (read = resolve));
    // Not inTransaction: after a deadlock the reservation runs again (and asks `lock` again), not this hold alone.
    const done = shard.db.transaction(async (tx) => {
      await refuseFenced(tx, shard.name, [...new Set(ids.map((id) => shardOf('account', id)))]);
      read([...(await shareAccountStatuses(tx, ids))].map(([id, status]) => ({ id, status })));
      await released;
    });
    try {
      // `done` ends only after release, so it settles the race first only by failing (the locks not taken).
      return { statuses: await Promise.race([statuses, done.then(() => [])]), release, done };
    } catch (error) {
      throw asShardUnavailable(shard.name, error);
    }
  }
}
