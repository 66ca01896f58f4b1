import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { seededRandom, testSeed } from './support/seeded-random';

/** Seeded test randomness: the same seed makes the same choices, and a failure names its seed. */
const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../', import.meta.url));

function sequence(seed: number, length: number): number[] {
  const random = seededRandom(seed);
  return Array.from({ length }, () => random.below(1_000_000));
}

describe('seeded randomness', () => {
  it('is mulberry32: the same seed gives the same sequence, another seed another', () => {
    // The reference implementation (bryc's, of Tommy Ettinger's mulberry32) gives this for seed 0.
    expect(seededRandom(0).next()).toBe(0.26642920868471265);
    expect(sequence(42, 20)).toEqual(sequence(42, 20));
    expect(sequence(42, 20)).not.toEqual(sequence(43, 20));
  });

  it('gives each fork a sequence of its own, the same for the same seed and index', () => {
    const a = seededRandom(7);
    const b = seededRandom(7);
    const forks = [0, 1, 2].map((i) => Array.from({ length: 10 }, () => a.fork(i).below(1_000_000)));
    expect(new Set(forks.map((f) => f.join())).size).toBe(3);
    expect([0, 1, 2].map((i) => Array.from({ length: 10 }, () => b.fork(i).below(1_000_000)))).toEqual(forks);
  });

  it('keeps its choices in range', () => {
    const random = seededRandom(testSeed());
    for (let i = 0; i < 10_000; i++) {
      const n = random.between(3, 5);
      expect(n >= 3 && n <= 5 && Number.isInteger(n)).toBe(true);
    }
    expect(() => random.pick([])).toThrow(/empty list/);
  });

  it('takes TEST_SEED, refusing one out of range', () => {
    const saved = process.env.TEST_SEED;
    try {
      process.env.TEST_SEED = '12345';
      expect(testSeed()).toBe(12345);
      process.env.TEST_SEED = '-1';
      expect(() => testSeed()).toThrow(/TEST_SEED must be an integer in \[0, 2\^32\)/);
    } finally {
      if (saved === undefined) delete process.env.TEST_SEED;
      else process.env.TEST_SEED = saved;
    }
  });

  it('prints the seed and the command that replays it when a seeded test fails', async () => {
    const vitest = `${repoRoot}node_modules/.bin/vitest`;
    const failed = await run(vitest, ['run', '--config', 'test/fixtures/vitest.fixtures.config.ts'], {
      cwd: repoRoot,
      env: { ...process.env, TEST_SEED: '4242' },
    }).then(
      () => null,
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
    expect(failed?.code).toBe(1);
    expect(`${failed?.stdout}${failed?.stderr}`).toMatch(
      /\[seed\] "fails after a seeded choice" failed with TEST_SEED=4242; replay: TEST_SEED=4242 npm test -- test\/fixtures\/seeded-failure\.fixture\.ts/,
    );
  });
});
