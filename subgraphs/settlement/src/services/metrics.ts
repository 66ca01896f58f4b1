import { Counter } from 'prom-client';
import { processRegistry } from '@paygraph/shared/metrics';
import type { SubsetStats } from '../domain/matching';

/** The settlement subgraph's metrics, on the process's registry (served at /metrics). Labels are fixed sets. */
export const batchSearches = new Counter({
  name: 'paygraph_reconciliation_batch_searches_total',
  help: "Channel reconciliation's ONE_TO_MANY weighings of an item against one date's members (domain/batches.ts), by outcome: searched, out_of_budget (not searched: the run's subsetSearchStepsTotalMax ran out), over_candidates (more than subsetCandidatesMax members, whose sum as a whole did not fit). The last two leave their items as exceptions.",
  labelNames: ['outcome'] as const,
  registers: [processRegistry],
});

export function countBatchSearches(stats: SubsetStats): void {
  batchSearches.inc({ outcome: 'searched' }, stats.searches - stats.outOfBudget - stats.overCandidates);
  batchSearches.inc({ outcome: 'out_of_budget' }, stats.outOfBudget);
  batchSearches.inc({ outcome: 'over_candidates' }, stats.overCandidates);
}
