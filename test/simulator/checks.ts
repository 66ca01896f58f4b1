import { and, eq, sql } from 'drizzle-orm';
import { accounts } from '@paygraph/shared/db/schema/ledger';
import type { ShardSet } from '@paygraph/shared/shards/pool';
import { balanceOf, exposureOf, type Buckets, type Model } from './model';
import { docs, type Sender } from './driver';

/**
 * What the simulator checks after every step, each against the model: the FX position the
 * platform holds, each campaign's spending, each owner's net position per currency, every
 * balance, the credit exposure, and the ledger's own health (every shard nets to zero per currency). Each answers
 * the first difference as a sentence, or null.
 */
export type Actual = Map<number, Buckets>;

/** Every account's balance in one aliased query per 25 accounts (the gateway's alias limit is 30). */
export async function readBalances(s: Sender, operator: string, ids: readonly string[]): Promise<Actual> {
  const actual: Actual = new Map();
  for (let start = 0; start < ids.length; start += 25) {
    const chunk = ids.slice(start, start + 25);
    const doc = `query SimBalances(${chunk.map((_, i) => `$i${i}: ID!`).join(', ')}) { ${chunk.map((_, i) => `a${i}: account(id: $i${i}) { balance { available frozen pending } }`).join(' ')} }`;
    const response = await s.send(doc, Object.fromEntries(chunk.map((id, i) => [`i${i}`, id])), operator);
    if (response.errors) throw new Error(`balance read failed: ${JSON.stringify(response.errors)}`);
    chunk.forEach((_, i) => {
      const b = response.data![`a${i}`].balance;
      actual.set(start + i, { available: BigInt(b.available), pending: BigInt(b.pending), frozen: BigInt(b.frozen) });
    });
  }
  return actual;
}

const show = (b: Buckets): string => `available ${b.available} pending ${b.pending} frozen ${b.frozen}`;

export function checkBalances(m: Model, actual: Actual, names: readonly string[]): string | null {
  for (const a of m.accounts) {
    const want = balanceOf(a);
    const got = actual.get(a.handle)!;
    if (want.available !== got.available || want.pending !== got.pending || want.frozen !== got.frozen) {
      return `balance of ${names[a.handle]} (${a.owner}, ${a.type} ${a.currency}): expected ${show(want)}, actual ${show(got)}`;
    }
  }
  return null;
}

/** Each owner's total per currency: a drain shows as an owner richer than the model says. */
export function checkOwners(m: Model, actual: Actual): string | null {
  const totals = new Map<string, { want: bigint; got: bigint }>();
  for (const a of m.accounts) {
    const key = `${a.owner} ${a.currency}`;
    const t = totals.get(key) ?? { want: 0n, got: 0n };
    const w = balanceOf(a);
    const g = actual.get(a.handle)!;
    t.want += w.available + w.pending + w.frozen;
    t.got += g.available + g.pending + g.frozen;
    totals.set(key, t);
  }
  const off = [...totals].filter(([, t]) => t.want !== t.got);
  if (off.length === 0) return null;
  return `owners' net positions differ: ${off.map(([k, t]) => `${k}: expected ${t.want}, actual ${t.got} (${t.got > t.want ? '+' : ''}${t.got - t.want})`).join('; ')}`;
}

/**
 * Each campaign's spending: what its funding account paid beyond the model's figure is
 * spending its rules do not allow (the model's figure is the sum of the discounts they allow).
 */
export function checkCampaigns(m: Model, actual: Actual): string | null {
  for (const c of m.campaigns) {
    const funding = m.accounts[c.funding]!;
    const extra = balanceOf(funding).available - actual.get(funding.handle)!.available;
    if (extra !== 0n) return `campaign #${c.handle} spent ${c.spent + extra} ${c.currency}; its rules allow ${c.spent}`;
  }
  return null;
}

/** Σ of one kind of system account per currency over every shard. */
export async function systemTotals(shards: ShardSet, kind: 'FX_POSITION' | 'FEE_INCOME'): Promise<Map<string, bigint>> {
  const totals = new Map<string, bigint>();
  for (const shard of shards.all) {
    const rows = await shard.db
      .select({ currency: accounts.currency, total: sql<string>`sum(${accounts.available} + ${accounts.pending} + ${accounts.frozen})` })
      .from(accounts).where(and(eq(accounts.type, 'SYSTEM'), eq(accounts.systemKind, kind))).groupBy(accounts.currency);
    for (const r of rows) totals.set(r.currency, (totals.get(r.currency) ?? 0n) + BigInt(r.total));
  }
  return totals;
}

/**
 * The platform's FX position per currency, as moved since the run began, against the model's:
 * a refund that gives the payer back more than the rate allows shows here, the position short.
 */
export function checkSystemTotals(label: string, want: Map<string, bigint>, baseline: Map<string, bigint>, now: Map<string, bigint>): string | null {
  for (const currency of new Set([...want.keys(), ...now.keys()])) {
    const moved = (now.get(currency) ?? 0n) - (baseline.get(currency) ?? 0n);
    const expected = want.get(currency) ?? 0n;
    if (moved !== expected) return `the platform's ${label} in ${currency} moved ${moved}; expected ${expected} (${moved - expected > 0n ? '+' : ''}${moved - expected}, the platform ${moved < expected ? 'short' : 'over'})`;
  }
  return null;
}

export async function checkLedgerHealth(s: Sender, operator: string): Promise<string | null> {
  const response = await s.send(docs.ledgerHealth, {}, operator);
  if (response.errors) return `ledgerHealth failed: ${JSON.stringify(response.errors)}`;
  const health = response.data!.ledgerHealth;
  const bad = (health.shards as Array<{ shard: string; currency: string; balanced: boolean; debits: string; credits: string }>).filter((x) => !x.balanced);
  if (!health.balanced || bad.length > 0) return `ledger unbalanced: ${JSON.stringify(bad)}`;
  return null;
}

/**
 * Issue 33's invariant: the platform's credit exposure (creditExposure, over every shard) equals
 * the sum of the negative balances, per currency, and counts the accounts below zero. The run
 * has databases of its own, so every account the query counts is the model's.
 */
export async function checkExposure(s: Sender, operator: string, m: Model): Promise<string | null> {
  const response = await s.send(docs.creditExposure, {}, operator);
  if (response.errors) return `creditExposure failed: ${JSON.stringify(response.errors)}`;
  const lines = response.data!.creditExposure as Array<{ currency: string; used: string; accounts: number }>;
  const want = exposureOf(m);
  for (const currency of new Set([...want.keys(), ...lines.map((l) => l.currency)])) {
    const got = lines.find((l) => l.currency === currency);
    const used = got ? BigInt(got.used) : 0n;
    const expected = want.get(currency) ?? { used: 0n, accounts: 0 };
    if (used !== expected.used || (got?.accounts ?? 0) !== expected.accounts) {
      return `credit exposure in ${currency}: ${used} over ${got?.accounts ?? 0} accounts; the negative balances add up to ${expected.used} over ${expected.accounts}`;
    }
  }
  return null;
}
