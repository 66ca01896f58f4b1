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
  if (raw === undefined) return [...fallback];
  const shares = raw.split(',').map((part) => boundedArg('open-shares', part.trim(), 0, max));
  const twice = shares.find((share, i) => shares.indexOf(share) !== i);
  if (twice !== undefined) throw new Error(`--open-shares names ${twice} twice`);
  return shares;
}
