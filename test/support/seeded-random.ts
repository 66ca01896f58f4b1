import { randomInt } from 'node:crypto';
import { relative } from 'node:path';
import { beforeEach } from 'vitest';
import { parseTestSeed, seedRange } from './run-config';

/**
 * Random test inputs that can be replayed: every generator comes from a 32-bit seed, taken
 * from TEST_SEED when it is set and fresh otherwise, and a failing test prints the seed, so
 * `TEST_SEED=<seed> npm test -- <file>` makes the same choices again. Where choices happen
 * in concurrent tasks, each task takes its own generator (`fork`), so that what one task
 * picks does not depend on how the tasks interleave.
 */
export interface SeededRandom {
  readonly seed: number;
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [0, bound). */
  below(bound: number): number;
  /** An integer in [low, high]. */
  between(low: number, high: number): number;
  pick<T>(list: readonly T[]): T;
  /** A generator of its own for task `index`, derived from this one's seed. */
  fork(index: number): SeededRandom;
}

/** The seed from TEST_SEED (a decimal integer below 2^32), or a fresh one. */
export function testSeed(): number {
  const raw = process.env.TEST_SEED;
  if (raw === undefined || raw === '') return randomInt(seedRange);
  return parseTestSeed(raw);
}

/**
 * mulberry32 (Tommy Ettinger's, public domain): a well-known generator with one 32-bit word
 * of state, in a few lines; plenty for choosing test inputs, not for anything secret.
 */
export function seededRandom(seed: number): SeededRandom {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / seedRange;
  };
  const below = (bound: number): number => {
    if (!Number.isSafeInteger(bound) || bound <= 0)
      throw new Error(`below() needs a positive integer bound, got ${bound}`);
    return Math.floor(next() * bound);
  };
  return {
    seed,
    next,
    below,
    between: (low, high) => low + below(high - low + 1),
    pick: (list) => {
      if (list.length === 0) throw new Error('pick() from an empty list');
      return list[below(list.length)]!;
    },
    // A golden-ratio step apart, so forks of nearby indexes start far apart in the sequence.
    fork: (index) => seededRandom((seed + Math.imul(index + 1, 0x9e3779b9)) >>> 0),
  };
}

/**
 * The seeded generator of a test file: call once at the top of the file. Every test of the
 * file that fails prints the seed and how to replay it.
 */
export function useSeededRandom(): SeededRandom {
  const random = seededRandom(testSeed());
  beforeEach(({ task, onTestFailed }) => {
    onTestFailed(() => {
      const file = relative(process.cwd(), task.file.filepath);
      console.error(
        `[seed] "${task.name}" failed with TEST_SEED=${random.seed}; replay: TEST_SEED=${random.seed} npm test -- ${file}`,
      );
    });
  });
  return random;
}
