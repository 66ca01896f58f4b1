/**
 * A whole-number command-line option in 1..max, or its default when not given; anything else stops the run with its
 * name.
 */
export function boundedArg(name: string, raw: string | undefined, fallback: number, max: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 1 || value > max)
    throw new Error(`--${name} must be an integer 1..${max}, got "${raw}"`);
  return value;
}

/**
 * --open-shares: the open-loop scenarios to run after a-max, each offering a whole percent of a-max's rate (a-70 is
 * issue 47's target 3): "50,70" runs a-50, then a-70. Each percent in 1..openLoopSharePercentMax, none twice.
 */
export function openSharesArg(raw: string | undefined, fallback: readonly number[], max: number): number[] {
  return distinctNumbersArg('open-shares', raw, fallback, max);
}

/**
 * --open-rates: open-loop scenarios at fixed payments per second after a-max (a-at-300 offers 300/s), so that runs
 * of two trees offer the same load whatever each one's a-max (an A B A B of latency). Each rate in 1..max, none twice.
 */
export function openRatesArg(raw: string | undefined, max: number): number[] {
  return distinctNumbersArg('open-rates', raw, [], max);
}

/**
 * --open-seconds: the measured window of the open loops (a-70, a-at-R). Given, that; else `seconds`, --seconds as parsed
 * where it was given (every window that long), null where not; else `fallback`, openLoopSecondsDefault (limits.ts says
 * why longer than the others').
 */
export function openSecondsArg(raw: string | undefined, seconds: number | null, fallback: number, max: number): number {
  if (raw !== undefined) return boundedArg('open-seconds', raw, fallback, max);
  return seconds ?? fallback;
}

/** A comma-separated list of whole numbers in 1..max, none twice, in the order given; `fallback` when not given. */
function distinctNumbersArg(name: string, raw: string | undefined, fallback: readonly number[], max: number): number[] {
  if (raw === undefined) return [...fallback];
  const values = raw.split(',').map((part) => boundedArg(name, part.trim(), 0, max));
  const twice = values.find((value, i) => values.indexOf(value) !== i);
  if (twice !== undefined) throw new Error(`--${name} names ${twice} twice`);
  return values;
}
