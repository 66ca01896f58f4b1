/**
 * Which settlements the settlement worker runs in a pass, from the merchants' due pairs and the settlements they hold:
 * pure, the worker (services/worker.ts) reads and runs.
 *
 * A due pair is a merchant and a business date with something unsettled (a payment, a MERCHANT leg, a refund). Most
 * pairs' settlement is not SETTLED yet, and runs as itself. A pair whose settlement is SETTLED holds stragglers: items
 * dated D that committed after D's settlement had read its stripe. A payment takes its business date from its
 * request's instant, before its posting's transaction, so the clock may pass the cut-off meanwhile (a slow request, a
 * lock wait, a deadlock's retry keeping the date, clock skew between hosts), and no lock orders the two (a part reads
 * its items before it locks the stripe, and READ COMMITTED takes no gap locks). D's settlement is final, so the
 * merchant's next settlement not SETTLED after D takes them with its own date's items: the earliest later due date, a
 * later settlement still PROCESSING, or the latest settleable date; when every one of those is SETTLED too, they wait
 * for the next date to fall due. Run as themselves they were answered SETTLED on every pass, counted settled, and the
 * money stayed in pending for good.
 *
 * Only SETTLED dates are stragglers: a date not settled yet keeps its payments and legs for its own settlement, even
 * when a later date is settled first (an operator may run any closed date), so settling day 3 never takes day 2's
 * payments. A straggler is settled at the fee of the settlement that takes it.
 */

export interface DuePair {
  merchantId: string;
  businessDate: string;
}

export interface SettlementRunPlan extends DuePair {
  /** Earlier SETTLED dates whose unsettled items this settlement takes. */
  stragglers: string[];
  /** Claimed for the stragglers alone: its own date holds nothing due and it is not PROCESSING (runSettlement). */
  stragglersOnly: boolean;
}

export const pairKey = (p: DuePair): string => `${p.merchantId}|${p.businessDate}`;

export function oldestFirst<P extends DuePair>(pairs: P[]): P[] {
  return pairs.sort((a, b) => a.businessDate.localeCompare(b.businessDate) || a.merchantId.localeCompare(b.merchantId));
}

/** Per merchant, the due dates whose settlement is SETTLED (`settled`: the pairKeys of SETTLED settlements). */
export function stragglerDatesOf(due: readonly DuePair[], settled: ReadonlySet<string>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const d of due) {
    if (!settled.has(pairKey(d))) continue;
    const dates = out.get(d.merchantId) ?? [];
    dates.push(d.businessDate);
    out.set(d.merchantId, dates);
  }
  return out;
}

/**
 * The runs of a pass, oldest first. `settled`: pairKeys of SETTLED settlements among the due pairs and each merchant's
 * `through` (the latest settleable date); `processing`: settlements still PROCESSING up to `through`, each resumed
 * (a run cut off, a part that waited or was refused: one whose own date is no longer due was otherwise never run
 * again), and each a settlement not SETTLED that stragglers may go to.
 *
 * A straggler goes to the earliest later date of its merchant that runs anyway (due and not SETTLED, or PROCESSING);
 * else to `through`, claimed for it, unless that is SETTLED or the merchant has a date open before the straggler's:
 * that date's run, first in the pass, may take what made the pair due (a refund of its payment), and a claim for
 * nothing would leave an empty settlement. Else it waits for a later pass.
 */
export function planSettlementRuns(
  due: readonly DuePair[],
  settled: ReadonlySet<string>,
  processing: readonly DuePair[],
  through: string,
): SettlementRunPlan[] {
  const runs = new Map<string, SettlementRunPlan>();
  const openDates = new Map<string, string[]>();
  for (const d of [...due.filter((p) => !settled.has(pairKey(p))), ...processing]) {
    if (runs.has(pairKey(d))) continue;
    runs.set(pairKey(d), {
      merchantId: d.merchantId,
      businessDate: d.businessDate,
      stragglers: [],
      stragglersOnly: false,
    });
    openDates.set(d.merchantId, [...(openDates.get(d.merchantId) ?? []), d.businessDate]);
  }
  for (const [merchantId, stragglers] of stragglerDatesOf(due, settled)) {
    const open = (openDates.get(merchantId) ?? []).sort();
    const throughFree = !settled.has(pairKey({ merchantId, businessDate: through }));
    for (const date of stragglers) {
      let target = open.find((o) => o > date);
      if (target === undefined && throughFree && through > date && !open.some((o) => o < date)) target = through;
      if (target === undefined) continue;
      const key = pairKey({ merchantId, businessDate: target });
      const run = runs.get(key) ?? { merchantId, businessDate: target, stragglers: [], stragglersOnly: true };
      run.stragglers.push(date);
      runs.set(key, run);
    }
  }
  for (const run of runs.values()) run.stragglers.sort();
  return oldestFirst([...runs.values()]);
}
