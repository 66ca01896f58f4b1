/**
 * Availability figures of a fault test: every request a client sent, when, whether it needed
 * the faulted part, and how it was answered; the phases the test went through; and from these
 * the share served per phase, the latency of the answers and the time to recover.
 */

/**
 * ok: the operation's result (its entity); refused: a business refusal (a UserError);
 * unavailable: SHARD_UNAVAILABLE; failed: anything else (transport error, timeout, other error).
 */
export type Outcome = 'ok' | 'refused' | 'unavailable' | 'failed';

export interface Sample {
  startedAt: number;
  endedAt: number;
  /** The request needed the faulted shard (an account or payment on it). */
  touches: boolean;
  outcome: Outcome;
  /** For an unserved request, what it got (error code or transport error), to name the causes. */
  detail?: string;
}

export interface Phase {
  /** 'baseline', the fault's name while it lasts, or 'after <fault>' once it is lifted. */
  name: string;
  from: number;
  /** Infinity while the phase is the current one. */
  to: number;
}

export interface PhaseFigures {
  phase: string;
  durationMs: number;
  requests: number;
  /** Requests that did not need the faulted shard, and the share of them served (ok or refused). */
  unaffected: { requests: number; servedShare: number };
  /** Requests that needed it: the share answered within the deadline with a result or SHARD_UNAVAILABLE. */
  affected: { requests: number; answeredInTimeShare: number; servedShare: number };
  /** Latency of every request of the phase, ms. */
  latencyMs: { p50: number; p99: number; max: number };
  /** Latency of the SHARD_UNAVAILABLE answers (the fail-fast ones), ms. */
  failFastMs: { count: number; p50: number; p99: number; max: number };
}

export function served(outcome: Outcome): boolean {
  return outcome === 'ok' || outcome === 'refused';
}

/** The q-quantile (0..1) of the values by nearest rank; NaN for none. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? sorted[0]!;
}

function share(part: number, whole: number): number {
  return whole === 0 ? Number.NaN : part / whole;
}

/**
 * The requests that tell of a phase: those that started in it, except those still running when
 * a fault began, which tell of that fault; and for a fault, those that were still running when
 * it began too.
 */
export function samplesOf(
  phase: Phase,
  phases: readonly Phase[],
  samples: readonly Sample[],
  isFault: (name: string) => boolean,
): Sample[] {
  const faultDuring = (s: Sample) => phases.find((p) => isFault(p.name) && p.from > s.startedAt && p.from < s.endedAt);
  return samples.filter((s) => {
    const overlapped = faultDuring(s);
    if (overlapped) return overlapped === phase;
    return s.startedAt >= phase.from && s.startedAt < phase.to;
  });
}

export function phaseFigures(phase: Phase, mine: readonly Sample[], answerWithinMs: number): PhaseFigures {
  const unaffected = mine.filter((s) => !s.touches);
  const affected = mine.filter((s) => s.touches);
  const inTime = affected.filter((s) => s.endedAt - s.startedAt <= answerWithinMs && s.outcome !== 'failed');
  const failFast = mine.filter((s) => s.outcome === 'unavailable').map((s) => s.endedAt - s.startedAt);
  const latencies = mine.map((s) => s.endedAt - s.startedAt);
  return {
    phase: phase.name,
    durationMs:
      (Number.isFinite(phase.to) ? phase.to : Math.max(phase.from, ...mine.map((s) => s.endedAt))) - phase.from,
    requests: mine.length,
    unaffected: {
      requests: unaffected.length,
      servedShare: share(unaffected.filter((s) => served(s.outcome)).length, unaffected.length),
    },
    affected: {
      requests: affected.length,
      answeredInTimeShare: share(inTime.length, affected.length),
      servedShare: share(affected.filter((s) => served(s.outcome)).length, affected.length),
    },
    latencyMs: { p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), max: quantile(latencies, 1) },
    failFastMs: {
      count: failFast.length,
      p50: quantile(failFast, 0.5),
      p99: quantile(failFast, 0.99),
      max: quantile(failFast, 1),
    },
  };
}

/**
 * How long after `from` the faulted part served again for good: the end of the first request
 * from which on every request was served. Requests counted: those that need it (by default,
 * that touch the faulted shard), started after `from` and ended before `to`. Infinity when
 * the last one was not served, or there was none.
 */
export function recoveryMs(
  samples: readonly Sample[],
  from: number,
  to: number,
  needs: (s: Sample) => boolean = (s) => s.touches,
): number {
  // A request still running when the next fault began tells of that fault, not of this recovery.
  const after = samples
    .filter((s) => needs(s) && s.startedAt >= from && s.endedAt < to)
    .sort((a, b) => a.startedAt - b.startedAt);
  let first = after.length;
  while (first > 0 && served(after[first - 1]!.outcome)) first--;
  const back = after[first];
  return back === undefined ? Number.POSITIVE_INFINITY : Math.max(0, back.endedAt - from);
}

/** The commonest reasons requests were not served, most frequent first. */
export function unservedCauses(mine: readonly Sample[], top: number): string {
  const causes = new Map<string, number>();
  for (const s of mine) {
    if (served(s.outcome)) continue;
    const cause = `${s.touches ? 'affected' : 'unaffected'} ${s.detail ?? s.outcome}`;
    causes.set(cause, (causes.get(cause) ?? 0) + 1);
  }
  return [...causes]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([cause, n]) => `${n}× ${cause}`)
    .join('; ');
}

export function formatFigures(f: PhaseFigures): string {
  const pct = (x: number) => (Number.isNaN(x) ? '  -  ' : `${(100 * x).toFixed(1)}%`);
  const ms = (x: number) => (Number.isNaN(x) ? '-' : `${Math.round(x)}`);
  return (
    `${f.phase.padEnd(16)} ${String(Math.round(f.durationMs)).padStart(6)} ms ${String(f.requests).padStart(5)} req | ` +
    `unaffected ${String(f.unaffected.requests).padStart(4)} served ${pct(f.unaffected.servedShare)} | ` +
    `latency p50/p99/max ${ms(f.latencyMs.p50)}/${ms(f.latencyMs.p99)}/${ms(f.latencyMs.max)} ms | ` +
    `affected ${String(f.affected.requests).padStart(4)} in-time ${pct(f.affected.answeredInTimeShare)} served ${pct(f.affected.servedShare)} | ` +
    `SHARD_UNAVAILABLE ${f.failFastMs.count} p50/p99/max ${ms(f.failFastMs.p50)}/${ms(f.failFastMs.p99)}/${ms(f.failFastMs.max)} ms`
  );
}
