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
