/**
 * Where a posting's time went in a window: the transaction subgraph's merger histograms (subgraphs/shared/src/metrics.ts,
 * paygraph_ledger_posting_queue_seconds and paygraph_ledger_merged_batch_seconds), read from its /metrics before and after the window, summed over its shards. A cross-shard payment's answer waits
 * for two postings (its debit, then its credit), so the means say whether a slow answer queued for its batches or
 * ran in them (docs/PERFORMANCE.md, "a-70's tail").
 */
import { metricsReadTimeoutMs } from './limits';

/** The three histograms' sums and counts, over every shard. */
export interface PostingCounters {
  queueSecondsSum: number;
  postings: number;
  batchSecondsSum: number;
  batches: number;
}

export interface PostingStages {
  postings: number;
  batches: number;
  postingsPerBatch: number;
  /** Mean wait of a posting for its batch to start (a slot, the merge wait). */
  queueMsMean: number;
  /** Mean run of a batch, start to answer (its round trips and commit). */
  batchMsMean: number;
}

const series: Record<string, keyof PostingCounters> = {
  paygraph_ledger_posting_queue_seconds_sum: 'queueSecondsSum',
  paygraph_ledger_posting_queue_seconds_count: 'postings',
  paygraph_ledger_merged_batch_seconds_sum: 'batchSecondsSum',
  paygraph_ledger_merged_batch_seconds_count: 'batches',
};

/** Sums the histograms' _sum and _count series of a Prometheus text, every label set together. */
export function parsePostingCounters(text: string): PostingCounters {
  const counters: PostingCounters = { queueSecondsSum: 0, postings: 0, batchSecondsSum: 0, batches: 0 };
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const name = line.slice(0, line.search(/[{ ]/));
    const key = series[name];
    if (key === undefined) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) counters[key] += value;
  }
  return counters;
}

/** The stages between two readings; null when no posting was batched in between. */
export function postingStagesBetween(before: PostingCounters, after: PostingCounters): PostingStages | null {
  const postings = after.postings - before.postings;
  const batches = after.batches - before.batches;
  if (postings <= 0 || batches <= 0) return null;
  const round = (n: number, places: number) => Math.round(n * 10 ** places) / 10 ** places;
  return {
    postings,
    batches,
    postingsPerBatch: round(postings / batches, 1),
    queueMsMean: round(((after.queueSecondsSum - before.queueSecondsSum) / postings) * 1000, 2),
    batchMsMean: round(((after.batchSecondsSum - before.batchSecondsSum) / batches) * 1000, 2),
  };
}

/** Reads the counters from a process's /metrics; null when it does not answer (a --target run, a restart). */
export async function readPostingCounters(metricsUrl: string): Promise<PostingCounters | null> {
  try {
    const response = await fetch(metricsUrl, { signal: AbortSignal.timeout(metricsReadTimeoutMs) });
    return response.ok ? parsePostingCounters(await response.text()) : null;
  } catch {
    return null;
  }
}

export function describePostingStages(s: PostingStages): string {
  return `postings ${s.postingsPerBatch} a batch, waited ${s.queueMsMean} ms for it, a batch ran ${s.batchMsMean} ms (means)`;
}
