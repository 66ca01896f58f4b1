import type { Shard, ShardSet } from '../shards/pool';
import {
  accountCounts,
  classSumsOn,
  classSumsUpTo,
  intercompanySumsUpTo,
  totalsAndSubtotals,
  type AccountCount,
  type ClassSum,
} from './store/class-days';
import { ledgerClassOf, type LedgerClass } from './rules/entities';
import type { AccountType, SystemKind } from './rules/account';

/**
 * The books across shards (docs/BOOKS.md): an entity's accounts live on every shard, so each of
 * its sums is the sum of every shard's. Entities, GL codes and kept exports live on the control
 * shard, the first of the set.
 */
export function controlShard(shards: ShardSet): Shard {
  return shards.all[0]!;
}

/** Sums of many shards, one line per entity, class, counterparty and currency. */
function merged(perShard: readonly ClassSum[][]): ClassSum[] {
  const lines = new Map<string, ClassSum>();
  for (const sum of perShard.flat()) {
    const key = `${sum.entity}|${sum.ledgerClass}|${sum.counterpartyEntity}|${sum.currency}`;
    const line = lines.get(key);
    if (!line) lines.set(key, { ...sum });
    else {
      line.debits += sum.debits;
      line.credits += sum.credits;
      line.debitPostings += sum.debitPostings;
      line.creditPostings += sum.creditPostings;
    }
  }
  return [...lines.values()];
}

/** An entity's cumulative sums up to the end of `asOf`, and its accounts per class and currency. */
export async function trialBalanceSums(
  shards: ShardSet,
  entity: string,
  asOf: string,
): Promise<{ sums: ClassSum[]; accounts: Map<string, number> }> {
  const [sums, counts] = await Promise.all([
    Promise.all(shards.all.map((shard) => classSumsUpTo(shard, entity, asOf))),
    Promise.all(shards.all.map((shard) => accountCounts(shard, entity))),
  ]);
  return { sums: merged(sums), accounts: accountsPerClass(counts.flat()) };
}

/** Accounts per "class|currency": a merchant counts in both of its classes. */
function accountsPerClass(counts: readonly AccountCount[]): Map<string, number> {
  const out = new Map<string, number>();
  const add = (ledgerClass: LedgerClass, currency: string, n: number) =>
    out.set(`${ledgerClass}|${currency}`, (out.get(`${ledgerClass}|${currency}`) ?? 0) + n);
  for (const c of counts) {
    const account = { type: c.type, systemKind: c.systemKind as SystemKind | null };
    add(ledgerClassOf(account, 'AVAILABLE'), c.currency, c.accounts);
    if (c.type === 'MERCHANT') add(ledgerClassOf(account, 'PENDING'), c.currency, c.accounts);
  }
  return out;
}

/** An entity's sums of one business date. */
export async function daySums(shards: ShardSet, entity: string, businessDate: string): Promise<ClassSum[]> {
  return merged(await Promise.all(shards.all.map((shard) => classSumsOn(shard, entity, businessDate))));
}

/** Every entity's intercompany sums up to the end of `asOf`. */
export async function intercompanySums(shards: ShardSet, asOf: string): Promise<ClassSum[]> {
  return merged(await Promise.all(shards.all.map((shard) => intercompanySumsUpTo(shard, asOf))));
}

/** One difference the total–subtotal check found. */
export interface TotalSubtotalDifference {
  shard: string;
  entity: string;
  ledgerClass: string;
  currency: string;
  /** Σ credits − Σ debits of the class's daily sums, all dates. */
  total: bigint;
  /** Σ of the class's accounts' balances (the buckets the class is made of). */
  subtotal: bigint;
}

/**
 * The seeds' "total–subtotal" check, per shard, entity, class and currency: the books' figure
 * (the daily sums) equals the sum of its accounts' balances. Both sides are read in one
 * consistent snapshot of each shard, so a posting in flight is on both sides or on neither.
 */
export async function totalSubtotalCheck(shards: ShardSet): Promise<TotalSubtotalDifference[]> {
  const found: TotalSubtotalDifference[] = [];
  for (const shard of shards.all) {
    const { totals, balances } = await totalsAndSubtotals(shard);
    const side = new Map<string, { total: bigint; subtotal: bigint }>();
    const at = (entity: string, ledgerClass: string, currency: string) => {
      const key = `${entity}|${ledgerClass}|${currency}`;
      const line = side.get(key) ?? { total: 0n, subtotal: 0n };
      side.set(key, line);
      return line;
    };
    for (const t of totals) at(t.entity, t.ledgerClass, t.currency).total += t.net;
    for (const b of balances) {
      const account = { type: b.type as AccountType, systemKind: b.systemKind as SystemKind | null };
      if (b.type === 'MERCHANT') {
        at(b.entity, 'MERCHANT_FUNDS', b.currency).subtotal += b.settled;
        at(b.entity, 'MERCHANT_PENDING', b.currency).subtotal += b.inPending;
      } else at(b.entity, ledgerClassOf(account, 'AVAILABLE'), b.currency).subtotal += b.settled + b.inPending;
    }
    for (const [key, line] of side) {
      if (line.total === line.subtotal) continue;
      const [entity, ledgerClass, currency] = key.split('|') as [string, string, string];
      found.push({ shard: shard.name, entity, ledgerClass, currency, ...line });
    }
  }
  return found;
}
