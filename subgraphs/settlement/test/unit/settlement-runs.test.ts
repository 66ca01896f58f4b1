import { describe, expect, it } from 'vitest';
import { pairKey, planSettlementRuns, type DuePair } from '../../src/domain/settlement-runs';

const due = (merchantId: string, ...dates: string[]): DuePair[] =>
  dates.map((businessDate) => ({ merchantId, businessDate }));
const settledOf = (...pairs: DuePair[]): Set<string> => new Set(pairs.map(pairKey));
const none = new Map<string, string[]>();

describe("the settlement worker's runs", () => {
  it('runs each date not SETTLED as itself, oldest first, and takes no earlier open date into a later one', () => {
    const runs = planSettlementRuns(
      [...due('m2', '2100-01-03'), ...due('m1', '2100-01-03', '2100-01-02')],
      new Set(),
      none,
      '2100-01-03',
    );
    expect(runs).toEqual([
      { merchantId: 'm1', businessDate: '2100-01-02', stragglers: [] },
      { merchantId: 'm1', businessDate: '2100-01-03', stragglers: [] },
      { merchantId: 'm2', businessDate: '2100-01-03', stragglers: [] },
    ]);
  });

  it("gives a SETTLED date's stragglers to the earliest later date not SETTLED, never to an earlier one", () => {
    const pairs = due('m', '2100-01-01', '2100-01-02', '2100-01-04');
    const runs = planSettlementRuns(pairs, settledOf(...due('m', '2100-01-02')), none, '2100-01-05');
    expect(runs).toEqual([
      { merchantId: 'm', businessDate: '2100-01-01', stragglers: [] },
      { merchantId: 'm', businessDate: '2100-01-04', stragglers: ['2100-01-02'] },
    ]);
  });

  it('gives them to a later settlement still PROCESSING, else to the latest settleable date', () => {
    const pairs = due('m', '2100-01-02');
    const settled = settledOf(...due('m', '2100-01-02'));
    expect(planSettlementRuns(pairs, settled, new Map([['m', ['2100-01-03']]]), '2100-01-05')).toEqual([
      { merchantId: 'm', businessDate: '2100-01-03', stragglers: ['2100-01-02'] },
    ]);
    expect(planSettlementRuns(pairs, settled, none, '2100-01-05')).toEqual([
      { merchantId: 'm', businessDate: '2100-01-05', stragglers: ['2100-01-02'] },
    ]);
  });

  it('leaves them for the next date to fall due when every later date is SETTLED', () => {
    const pairs = due('m', '2100-01-02', '2100-01-05');
    const settled = settledOf(...due('m', '2100-01-02', '2100-01-05'));
    expect(planSettlementRuns(pairs, settled, none, '2100-01-05')).toEqual([]);
    // The settleable date's own stragglers wait too: no later date is settleable yet.
    expect(
      planSettlementRuns(due('m', '2100-01-05'), settledOf(...due('m', '2100-01-05')), none, '2100-01-05'),
    ).toEqual([]);
  });

  it('gives several stragglers of one merchant each to its own next date', () => {
    const pairs = due('m', '2100-01-01', '2100-01-02', '2100-01-03', '2100-01-04');
    const settled = settledOf(...due('m', '2100-01-01', '2100-01-03'));
    expect(planSettlementRuns(pairs, settled, none, '2100-01-04')).toEqual([
      { merchantId: 'm', businessDate: '2100-01-02', stragglers: ['2100-01-01'] },
      { merchantId: 'm', businessDate: '2100-01-04', stragglers: ['2100-01-03'] },
    ]);
  });
});
