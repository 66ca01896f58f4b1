import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { startWorker, startWorkerPerDatabase } from '../../src/worker';
import type { Shard } from '../../src/shards/pool';

/**
 * The worker's timers run on vitest's fake clock: the tests move it (advanceTimersByTimeAsync,
 * which also settles the promises each timer leads to) instead of waiting for real time.
 */
beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

/** A promise and the function that settles it, to hold a pass open for as long as a test needs. */
function gate(): { opened: Promise<void>; open(): void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

/** Runs the timers due within `ms` of the fake clock and the promises they settle. */
const advance = (ms: number) => vi.advanceTimersByTimeAsync(ms);

describe('startWorker', () => {
  it('stop() waits for the running pass to end, and no pass starts after it', async () => {
    const release = gate();
    let started = 0;
    let finished = 0;
    const worker = startWorker({
      name: 'test',
      intervalMs: 1,
      pass: async () => {
        started += 1;
        await release.opened;
        finished += 1;
        return 1;
      },
    });
    await advance(10);
    expect(started).toBe(1);
    let stopped = false;
    const stopping = worker.stop().then(() => (stopped = true));
    await advance(10);
    // The pass still runs: stop() has not returned.
    expect(stopped).toBe(false);
    release.open();
    await stopping;
    expect(finished).toBe(1);
    // Ten intervals later, still no second pass.
    await advance(10);
    expect(started).toBe(1);
  });

  it('runs one pass at a time, the next intervalMs after the last ended, and goes on after a failed pass', async () => {
    let running = 0;
    let overlapped = false;
    let passes = 0;
    const worker = startWorker({
      name: 'test',
      intervalMs: 5,
      pass: async () => {
        running += 1;
        overlapped ||= running > 1;
        passes += 1;
        await new Promise((resolve) => setTimeout(resolve, 10));
        running -= 1;
        if (passes === 1) throw new Error('a failed pass');
        return passes;
      },
    });
    // drain() runs after the running pass, never beside it, and answers its own pass's count.
    const draining = worker.drain();
    await advance(20);
    expect(await draining).toBeGreaterThanOrEqual(2);
    // Four passes' worth of the clock (a pass 10 ms, a pause 5 ms).
    await advance(60);
    const stopping = worker.stop();
    await advance(10);
    await stopping;
    expect(overlapped).toBe(false);
    expect(passes).toBeGreaterThan(2);
  });

  it('refuses an interval that is not a positive whole number of milliseconds', () => {
    expect(() => startWorker({ name: 'test', intervalMs: 0, pass: async () => 0 })).toThrow(
      /intervalMs must be a positive integer/,
    );
  });
});

describe('startWorkerPerDatabase', () => {
  it("runs each database's ticks apart, and starts a worker for a database listed later by the next pass", async () => {
    const database = (name: string) => ({ name }) as unknown as Shard;
    const [a, b, c] = [database('a'), database('b'), database('c')];
    const listed = [a, b];
    const held = gate();
    const ticks = new Map<string, number>();
    const worker = startWorkerPerDatabase({
      name: 'test',
      intervalMs: 10,
      databases: () => listed,
      tick: async (shard) => {
        ticks.set(shard.name, (ticks.get(shard.name) ?? 0) + 1);
        // b's first tick never ends until the test lets go: a slow database.
        if (shard === b) await held.opened;
        return 1;
      },
    });
    await advance(35);
    // a went on pass after pass while b's first tick waited.
    expect(ticks.get('b')).toBe(1);
    expect(ticks.get('a')).toBeGreaterThanOrEqual(3);
    // A database the map adds (a shard move's target) gets its worker by the next pass of another.
    listed.push(c);
    await advance(25);
    expect(ticks.get('c')).toBeGreaterThanOrEqual(1);
    held.open();
    const stopping = worker.stop();
    await advance(10);
    await stopping;
  });
});
