import { and, eq, sql } from 'drizzle-orm';
import { accounts } from '@paygraph/shared/ledger/store/schema';
import type { ShardSet } from '@paygraph/shared/shards/pool';
import { rawRows } from '@paygraph/shared/db/raw';
import { shardOf } from '@paygraph/shared/ids';
import {
  balanceOf,
  exposureOf,
  offerOf,
  stripeIdentityBroken,
  type Buckets,
  type Model,
  type OfferPrediction,
} from './model';
import { docs, type Sender } from './driver';

/**
 * What the simulator checks after every step, each against the model: the FX position the
 * platform holds, each campaign's spending, each owner's net position per currency, every
 * balance, the credit exposure, issue 33's advances (each merchant's offer, its flows against its
 * balance, each stripe's pending, available and outstanding advance), and the ledger's own health (every shard nets to
 * zero per currency). Each answers
 * the first difference as a sentence, or null.
 */
export type Actual = Map<number, Buckets>;

/** What AdvanceOffer answered per merchant handle. */
export type Offers = Map<number, OfferPrediction>;

/**
 * Every account's balance, and each merchant's AdvanceOffer, in aliased queries of at most 25
 * fields (the gateway's alias limit is 30): with the simulation's 23 accounts and 4 merchants, one request.
 */
export async function readBalances(
  s: Sender,
  operator: string,
  ids: readonly string[],
  merchants: readonly number[] = [],
): Promise<{ balances: Actual; offers: Offers }> {
  const fields = [
    ...ids.map((id, handle) => ({ kind: 'balance' as const, id, handle })),
    ...merchants.map((handle) => ({ kind: 'offer' as const, id: ids[handle]!, handle })),
  ];
  const balances: Actual = new Map();
  const offers: Offers = new Map();
  const perRequest = 27;
  for (let start = 0; start < fields.length; start += perRequest) {
    const chunk = fields.slice(start, start + perRequest);
    const selections = chunk.map((f, i) =>
      f.kind === 'balance'
        ? `a${i}: account(id: $i${i}) { balance { available frozen pending } }`
        : `a${i}: advanceOffer(merchantAccountId: $i${i}) { allowedAmount outstanding feeBps }`,
    );
    const doc = `query SimBalances(${chunk.map((_, i) => `$i${i}: ID!`).join(', ')}) { ${selections.join(' ')} }`;
    const response = await s.send(doc, Object.fromEntries(chunk.map((f, i) => [`i${i}`, f.id])), operator);
    if (response.errors) throw new Error(`balance read failed: ${JSON.stringify(response.errors)}`);
    chunk.forEach((f, i) => {
      const v = response.data![`a${i}`];
      if (f.kind === 'balance')
        balances.set(f.handle, {
          available: BigInt(v.balance.available),
          pending: BigInt(v.balance.pending),
          frozen: BigInt(v.balance.frozen),
        });
      else
        offers.set(f.handle, {
          allowed: BigInt(v.allowedAmount),
          outstanding: BigInt(v.outstanding),
          feeBps: v.feeBps,
        });
    });
  }
  return { balances, offers };
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
      .select({
        currency: accounts.currency,
        total: sql<string>`sum(${accounts.available} + ${accounts.pending} + ${accounts.frozen})`,
      })
      .from(accounts)
      .where(and(eq(accounts.type, 'SYSTEM'), eq(accounts.systemKind, kind)))
      .groupBy(accounts.currency);
    for (const r of rows) totals.set(r.currency, (totals.get(r.currency) ?? 0n) + BigInt(r.total));
  }
  return totals;
}

/**
 * The platform's FX position per currency, as moved since the run began, against the model's:
 * a refund that gives the payer back more than the rate allows shows here, the position short.
 */
export function checkSystemTotals(
  label: string,
  want: Map<string, bigint>,
  baseline: Map<string, bigint>,
  now: Map<string, bigint>,
): string | null {
  for (const currency of new Set([...want.keys(), ...now.keys()])) {
    const moved = (now.get(currency) ?? 0n) - (baseline.get(currency) ?? 0n);
    const expected = want.get(currency) ?? 0n;
    if (moved !== expected)
      return `the platform's ${label} in ${currency} moved ${moved}; expected ${expected} (${moved - expected > 0n ? '+' : ''}${moved - expected}, the platform ${moved < expected ? 'short' : 'over'})`;
  }
  return null;
}

export async function checkLedgerHealth(s: Sender, operator: string): Promise<string | null> {
  const response = await s.send(docs.ledgerHealth, {}, operator);
  if (response.errors) return `ledgerHealth failed: ${JSON.stringify(response.errors)}`;
  const health = response.data!.ledgerHealth;
  const bad = (
    health.shards as Array<{ shard: string; currency: string; balanced: boolean; debits: string; credits: string }>
  ).filter((x) => !x.balanced);
  if (!health.balanced || bad.length > 0) return `ledger unbalanced: ${JSON.stringify(bad)}`;
  return null;
}

/**
 * Issue 33's invariant: the platform's credit exposure (creditExposure, over every shard) equals
 * the sum of the negative balances, per currency, and counts the accounts below zero. The run
 * has databases of its own, so every account the query counts is the model's.
 */
export type Exposure = Map<string, { used: bigint; accounts: number }>;

/**
 * Query.creditExposure as read, per currency: before a run, what earlier runs on the databases left (their accounts are
 * not the model's).
 */
export async function readExposure(s: Sender, operator: string): Promise<Exposure | string> {
  const response = await s.send(docs.creditExposure, {}, operator);
  if (response.errors) return `creditExposure failed: ${JSON.stringify(response.errors)}`;
  const lines = response.data!.creditExposure as Array<{ currency: string; used: string; accounts: number }>;
  return new Map(lines.map((l) => [l.currency, { used: BigInt(l.used), accounts: l.accounts }]));
}

/** The exposure now, less what was there before the run, against the model's negative balances. */
export async function checkExposure(s: Sender, operator: string, m: Model, before: Exposure): Promise<string | null> {
  const now = await readExposure(s, operator);
  if (typeof now === 'string') return now;
  const want = exposureOf(m);
  for (const currency of new Set([...want.keys(), ...now.keys()])) {
    const base = before.get(currency) ?? { used: 0n, accounts: 0 };
    const got = now.get(currency) ?? { used: 0n, accounts: 0 };
    const used = got.used - base.used;
    const accounts = got.accounts - base.accounts;
    const expected = want.get(currency) ?? { used: 0n, accounts: 0 };
    if (used !== expected.used || accounts !== expected.accounts) {
      return `credit exposure in ${currency} (less ${base.used} over ${base.accounts} accounts before the run): ${used} over ${accounts} accounts; the negative balances add up to ${expected.used} over ${expected.accounts}`;
    }
  }
  return null;
}

/**
 * Issue 33's advances, against the model: each merchant's AdvanceOffer (read with the balances)
 * answers the model's allowedAmount, outstanding and fee rate exactly (those read); and each merchant's money
 * as its flows count it (deposits + credits − refunds given back − settlement and advance fees)
 * equals what it holds (available + pending + frozen): an advance paid out again by the date's
 * settlement, or pending paid twice, shows here as a merchant richer than its flows.
 */
export function checkAdvances(m: Model, actual: Actual, offers: Offers, names: readonly string[]): string | null {
  for (const a of m.accounts) {
    if (a.type !== 'MERCHANT') continue;
    const want = offerOf(a);
    const got = offers.get(a.handle);
    if (got && (got.allowed !== want.allowed || got.outstanding !== want.outstanding || got.feeBps !== want.feeBps)) {
      return `advance offer of ${names[a.handle]}: expected allowed ${want.allowed} outstanding ${want.outstanding} fee ${want.feeBps} bps, actual allowed ${got.allowed} outstanding ${got.outstanding} fee ${got.feeBps} bps`;
    }
    const b = actual.get(a.handle)!;
    const held = b.available + b.pending + b.frozen;
    if (held !== a.flow)
      return `${names[a.handle]} holds ${held} ${a.currency}; its money in less refunds and fees is ${a.flow} (${held > a.flow ? '+' : ''}${held - a.flow}: ${held > a.flow ? 'paid twice' : 'short'})`;
  }
  return stripeIdentityBroken(m);
}

/**
 * Each merchant stripe of `handles`, read from its database: pending, available and outstanding advance
 * (advance_outstanding) equal the model's, and no stripe the model does not know holds anything.
 * One query per database.
 */
export async function checkStripes(
  shards: ShardSet,
  m: Model,
  ids: readonly string[],
  names: readonly string[],
  handles: readonly number[],
): Promise<string | null> {
  const merchants = handles.map((h) => m.accounts[h]!);
  const byId = new Map(merchants.map((a) => [ids[a.handle]!, a]));
  const list = [...byId.keys()];
  type Row = { id: string; parent_id: string | null; available: string; pending: string; outstanding: string | null };
  const perShard = await Promise.all(
    shards.all.map((shard) =>
      rawRows<Row>(
        shard,
        `SELECT a.id, a.parent_id, a.available, a.pending, o.outstanding FROM accounts a LEFT JOIN advance_outstanding o ON o.stripe_account_id = a.id
     WHERE a.id IN (?) OR a.parent_id IN (?)`,
        [list, list],
      ),
    ),
  );
  // A stripe is the model's by its id's logical shard (the payer's: stripeIdOf), the home row by the merchant's.
  const seen = new Set<string>();
  for (const [index, rows] of perShard.entries()) {
    const shard = shards.all[index]!;
    for (const row of rows) {
      const a = byId.get(row.parent_id ?? row.id)!;
      const logical = shardOf('account', row.id);
      seen.add(`${a.handle}:${logical}`);
      const model = a.stripes.get(logical) ?? { available: 0n, pending: 0n, frozen: 0n };
      const outstanding = a.outstanding.get(logical) ?? 0n;
      const got = {
        available: BigInt(row.available),
        pending: BigInt(row.pending),
        outstanding: BigInt(row.outstanding ?? 0),
      };
      if (got.available !== model.available || got.pending !== model.pending || got.outstanding !== outstanding) {
        return `stripe ${row.id} of ${names[a.handle]} on database ${shard.index}: expected available ${model.available} pending ${model.pending} outstanding ${outstanding}, actual available ${got.available} pending ${got.pending} outstanding ${got.outstanding}`;
      }
    }
  }
  for (const a of merchants)
    for (const [logical, model] of a.stripes) {
      const held = model.available !== 0n || model.pending !== 0n || (a.outstanding.get(logical) ?? 0n) !== 0n;
      if (held && !seen.has(`${a.handle}:${logical}`))
        return `${names[a.handle]} has no stripe on logical shard ${logical}; the model's holds available ${model.available} pending ${model.pending}`;
    }
  return null;
}
