import { bigintOf, rawRows, type SqlTarget } from '../../db/raw';

/**
 * Per entity and currency on one shard: Σ of its accounts' balances, which is Σ of their
 * entries (balanceMismatches checks that), and must be zero: every posting balances within each
 * entity, by its intercompany legs (rules/intercompany.ts). One statement, one snapshot.
 * Locks: none.
 */
export async function entityNets(db: SqlTarget): Promise<Array<{ entity: string; currency: string; net: bigint }>> {
  const rows = await rawRows<{ e: string; c: string; n: string }>(
    db,
    'SELECT entity AS e, currency AS c, SUM(available + frozen + pending) AS n FROM accounts GROUP BY entity, currency',
  );
  return rows.map((r) => ({ entity: r.e, currency: r.c, net: bigintOf(r.n) }));
}
