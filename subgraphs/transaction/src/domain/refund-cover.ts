import type { Account } from '@paygraph/shared/ledger/index';
import { assert } from '@paygraph/shared/result';
import type { StripeGiveBack } from './refund-rules';

/**
 * Where a refund's give-back comes from when the row it gives back from lacks it (issue 45; the
 * contract's AdvanceSettlement): the merchant's pending first, on any stripe, then its available
 * on any row, then its credit line. A merchant is paid on the stripe of the payer's shard and a
 * refund gives back from that row in that shard's transaction (pending first for an unsettled
 * payment, then available, down to the line on the home row), so what the row lacks is first
 * moved to it from the merchant's other rows (services/refund-top-up.ts): pending from other
 * stripes, as far as an advance moved the row's own pending out (the advance moves with it),
 * largest first; then available from other stripes, largest first; then the home row's
 * available and line in one move. Ties go to the lower database index, then the lower id, so the
 * simulator's model (which plans with this function) makes the same moves.
 */
/** A merchant row as the plan sees it: the account's balances (Account's shape), its place and its advance. */
export interface MerchantRow extends Pick<Account, 'id' | 'pending' | 'available'> {
  /** Its database's index: the tie-break among equal amounts. */
  order: number;
  home: boolean;
  /** The home row's credit line (0 without one, and on a stripe). */
  creditLimit: bigint;
  /**
   * What stands advanced against the row's money (its outstanding advance): what an advance moved out of its pending,
   * so the most of its unsettled shares that other stripes' pending may give back for it.
   */
  advanced: bigint;
}

/** A row of the merchant the refund gives back from, with the refund's shares there. */
export interface CoverTarget {
  rowId: string;
  giveBacks: readonly StripeGiveBack[];
}

export interface CoverMove {
  fromId: string;
  toId: string;
  bucket: 'PENDING' | 'AVAILABLE';
  amount: bigint;
}

/** The moves, all of them, or none when the merchant's pending, available and line together fall short. */
export type CoverPlan = { covered: true; moves: CoverMove[] } | { covered: false };

const positive = (n: bigint): bigint => (n > 0n ? n : 0n);
const min = (a: bigint, b: bigint): bigint => (a < b ? a : b);

/** What the shares take from the row's pending (unsettled) and from its available (settled). */
export function needsOf(giveBacks: readonly StripeGiveBack[]): { fromPending: bigint; fromAvailable: bigint } {
  let fromPending = 0n;
  let fromAvailable = 0n;
  for (const g of giveBacks) {
    assert(g.amount >= 0n, `a give-back of ${g.amount}`);
    if (g.fromPending) fromPending += g.amount;
    else fromAvailable += g.amount;
  }
  return { fromPending, fromAvailable };
}

/** Rows other than the target with `free` to give, largest first, then by database and id. */
function sources(rows: MerchantRow[], target: MerchantRow, free: (r: MerchantRow) => bigint): MerchantRow[] {
  return rows
    .filter((r) => r.id !== target.id && free(r) > 0n)
    .sort((a, b) => {
      const [fa, fb] = [free(a), free(b)];
      if (fa !== fb) return fa > fb ? -1 : 1;
      if (a.order !== b.order) return a.order - b.order;
      return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
    });
}

/**
 * The moves that let every target give its shares back, planned on copies of the rows, each
 * target in turn (the payee's first). A row's own shares are set aside before it gives to
 * another target, so two targets of one refund never take each other's money.
 */
export function planRefundCover(targets: readonly CoverTarget[], rows: readonly MerchantRow[]): CoverPlan {
  const state = rows.map((r) => ({ ...r }));
  const byId = new Map(state.map((r) => [r.id, r]));
  const own = new Map(targets.map((t) => [t.rowId, needsOf(t.giveBacks)]));
  const keptPending = (r: MerchantRow) => positive(r.pending - (own.get(r.id)?.fromPending ?? 0n));
  const keptAvailable = (r: MerchantRow) => positive(r.available - (own.get(r.id)?.fromAvailable ?? 0n));
  const moves: CoverMove[] = [];
  const move = (from: MerchantRow, to: MerchantRow, bucket: CoverMove['bucket'], amount: bigint) => {
    const key = bucket === 'PENDING' ? 'pending' : 'available';
    from[key] -= amount;
    to[key] += amount;
    // A move of pending moves the advance with it.
    if (bucket === 'PENDING') [from.advanced, to.advanced] = [from.advanced + amount, to.advanced - amount];
    moves.push({ fromId: from.id, toId: to.id, bucket, amount });
  };
  for (const t of targets) {
    const x = byId.get(t.rowId);
    assert(x, `a refund gives back from ${t.rowId}, which is not a row of the merchant`);
    const { fromPending, fromAvailable } = own.get(t.rowId)!;
    // What the row's pending lacks, as far as an advance moved it out; beyond that it falls to available.
    const short = positive(fromPending - positive(x.pending));
    const advanced = min(short, positive(x.advanced));
    let spill = advanced;
    for (const r of sources(state, x, keptPending)) {
      if (spill === 0n) break;
      const take = min(spill, keptPending(r));
      move(r, x, 'PENDING', take);
      spill -= take;
    }
    spill += short - advanced;
    // What the refund's posting takes from the row's available: its settled shares and the pending still lacking.
    const need = fromAvailable + spill;
    let lacking = positive(need - positive(x.available));
    for (const r of sources(state, x, (s) => (s.home ? 0n : keptAvailable(s)))) {
      if (lacking === 0n) break;
      const take = min(lacking, keptAvailable(r));
      move(r, x, 'AVAILABLE', take);
      lacking -= take;
    }
    const home = state.find((r) => r.home);
    if (x.home) {
      if (x.available + x.creditLimit < need) return { covered: false };
    } else if (lacking > 0n) {
      if (!home || home.available + home.creditLimit < lacking) return { covered: false };
      move(home, x, 'AVAILABLE', lacking);
    }
  }
  return { covered: true, moves };
}
