import { describe, expect, it } from 'vitest';
import { startWorker } from '../../src/worker';

/** A promise and the function that settles it, to hold a pass open for as long as a test needs. */
function gate(): { opened: Promise<void>; open(): void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 10));

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
    await tick();
    expect(started).toBe(1);
    let stopped = false;
    const stopping = worker.stop().then(() => (stopped = true));
    await tick();
    // The pass still runs: stop() has not returned.
    expect(stopped).toBe(false);
    release.open();
    await stopping;
    expect(finished).toBe(1);
    await tick();
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
        await tick();
        running -= 1;
        if (passes === 1) throw new Error('a failed pass');
        return passes;
      },
    });
    // drain() runs after the running pass, never beside it, and answers its own pass's count.
    const drained = await worker.drain();
    expect(drained).toBeGreaterThanOrEqual(2);
    await new Promise((resolve) => setTimeout(resolve, 60));
    await worker.stop();
    expect(overlapped).toBe(false);
    expect(passes).toBeGreaterThan(2);
  });

  it('refuses an interval that is not a positive whole number of milliseconds', () => {
    expect(() => startWorker({ name: 'test', intervalMs: 0, pass: async () => 0 })).toThrow(/intervalMs must be a positive integer/);
  });
});
