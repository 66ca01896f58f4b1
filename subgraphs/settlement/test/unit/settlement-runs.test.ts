import { describe, expect, it } from 'vitest';
import { pairKey, planSettlementRuns, type DuePair } from '../../src/domain/settlement-runs';

const due = (merchantId: string, ...dates: string[]): DuePair[] =>
  dates.map((businessDate) => ({ merchantId, businessDate }));
const settledOf = (...pairs: DuePair[]): Set<string> => new Set(pairs.map(pairKey));
const run = (merchantId: string, businessDate: string, stragglers: string[] = [], stragglersOnly = false) => ({
  merchantId,
  businessDate,
  stragglers,
  stragglersOnly,
});

describe("the settlement worker's runs", () => {
  it('runs each date not SETTLED as itself, oldest first, and takes no earlier open date into a later one', () => {
    const pairs = [...due('m2', '2100-01-03'), ...due('m1', '2100-01-03', '2100-01-02')];
    expect(planSettlementRuns(pairs, new Set(), [], '2100-01-03')).toEqual([
      run('m1', '2100-01-02'),
      run('m1', '2100-01-03'),
      run('m2', '2100-01-03'),
    ]);
  });

  it("gives a SETTLED date's stragglers to the earliest later date not SETTLED, never to an earlier one", () => {
    const pairs = due('m', '2100-01-01', '2100-01-02', '2100-01-04');
    expect(planSettlementRuns(pairs, settledOf(...due('m', '2100-01-02')), [], '2100-01-05')).toEqual([
      run('m', '2100-01-01'),
      run('m', '2100-01-04', ['2100-01-02']),
    ]);
  });

  it('gives them to a later settlement still PROCESSING, else to the latest settleable date', () => {
    const pairs = due('m', '2100-01-02');
    const settled = settledOf(...due('m', '2100-01-02'));
    expect(planSettlementRuns(pairs, settled, due('m', '2100-01-03'), '2100-01-05')).toEqual([
      run('m', '2100-01-03', ['2100-01-02']),
    ]);
    // Claimed for them alone: runSettlement claims nothing when all of them wait for a payment in flight.
    expect(planSettlementRuns(pairs, settled, [], '2100-01-05')).toEqual([
      run('m', '2100-01-05', ['2100-01-02'], true),
    ]);
  });

  it('resumes every settlement left PROCESSING, due or not', () => {
    const processing = [...due('m', '2100-01-01'), ...due('n', '2100-01-02')];
    expect(planSettlementRuns(due('m', '2100-01-01'), new Set(), processing, '2100-01-05')).toEqual([
      run('m', '2100-01-01'),
      run('n', '2100-01-02'),
    ]);
  });

  it('leaves them for the next date to fall due when every later date is SETTLED', () => {
    const pairs = due('m', '2100-01-02', '2100-01-05');
    const settled = settledOf(...due('m', '2100-01-02', '2100-01-05'));
    expect(planSettlementRuns(pairs, settled, [], '2100-01-05')).toEqual([]);
    // The settleable date's own stragglers wait too: no later date is settleable yet.
    expect(planSettlementRuns(due('m', '2100-01-05'), settledOf(...due('m', '2100-01-05')), [], '2100-01-05')).toEqual(
      [],
    );
  });

  it('claims no settlement for stragglers alone while an earlier date of the merchant is open', () => {
    // 01-01's run may take what made 01-02 due (a refund of its payment); a claim of 01-05 would then move nothing.
    const pairs = due('m', '2100-01-01', '2100-01-02');
    expect(planSettlementRuns(pairs, settledOf(...due('m', '2100-01-02')), [], '2100-01-05')).toEqual([
      run('m', '2100-01-01'),
    ]);
    // A later date that runs anyway still takes them.
    const more = due('m', '2100-01-01', '2100-01-02', '2100-01-04');
    expect(planSettlementRuns(more, settledOf(...due('m', '2100-01-02')), [], '2100-01-05')).toEqual([
      run('m', '2100-01-01'),
      run('m', '2100-01-04', ['2100-01-02']),
    ]);
  });

  it('gives several stragglers of one merchant each to its own next date', () => {
    const pairs = due('m', '2100-01-01', '2100-01-02', '2100-01-03', '2100-01-04');
    const settled = settledOf(...due('m', '2100-01-01', '2100-01-03'));
    expect(planSettlementRuns(pairs, settled, [], '2100-01-04')).toEqual([
      run('m', '2100-01-02', ['2100-01-01']),
      run('m', '2100-01-04', ['2100-01-03']),
    ]);
  });
});
