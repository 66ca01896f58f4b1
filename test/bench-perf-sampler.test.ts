import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readlinkSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { perfAvailable, startPerf } from '../scripts/bench/perf-sampler';
import { cpuMsOf } from '../scripts/bench/proc-stats';
import { perfSampleHz } from '../scripts/bench/limits';

/**
 * The benchmark's perf sampler on real processes (perf from Debian's linux-perf, which npm test
 * installs: scripts/lib/system-packages.ts). It samples every CPU rather than the processes'
 * threads: per-thread events are switched out and in at every context switch of a sampled
 * thread, ≈ 8 µs a switch on this VM (perf-sampler.ts), a cost the benchmark would charge the
 * system it measures.
 */
const children: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

/** A Node process with `workers` worker threads (each a thread of its own besides Node's), burning CPU or idle. */
async function startProbe(workers: number, burn: boolean): Promise<number> {
  const code = `
    const { Worker } = require('node:worker_threads');
    let online = 0;
    const ready = () => { if (online === ${workers}) process.stdout.write('ready\\n'); };
    for (let i = 0; i < ${workers}; i++)
      new Worker('setInterval(() => {}, 1000)', { eval: true }).once('online', () => { online += 1; ready(); });
    ready();
    if (${burn}) { const end = Date.now() + 20000; let x = 0; while (Date.now() < end) x += Math.sqrt(x + 1); }
    else setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (status) => reject(new Error(`the probe exited (${status}) before it was ready`)));
  });
  return child.pid!;
}

function perfEventsOpen(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).filter((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`) === 'anon_inode:[perf_event]';
    } catch {
      return false; // closed between the listing and the read
    }
  }).length;
}

/** The perf events perf holds once it has opened them all: the same count three reads in a row, 100 ms apart. */
async function settledPerfEvents(pid: number): Promise<number> {
  const counts: number[] = [];
  for (let i = 0; i < 50; i++) {
    counts.push(perfEventsOpen(pid));
    const last = counts.slice(-3);
    if (last.length === 3 && last[0]! > 0 && last.every((c) => c === last[0])) return last[0]!;
    await sleep(100);
  }
  throw new Error(`perf's events never settled: ${counts.join(', ')}`);
}

describe("the benchmark's perf sampler", () => {
  it('can sample every CPU here (npm test runs as root with linux-perf installed)', () => {
    expect(perfAvailable()).toBe(true);
  });

  it("opens events per CPU: as many for a process of 16 threads as for one of 7, none switched with a thread's", async () => {
    const counts: number[] = [];
    for (const workers of [0, 8]) {
      const session = startPerf(new Map([['probe', await startProbe(workers, false)]]));
      try {
        counts.push(await settledPerfEvents(session.pid!));
      } finally {
        await session.stop();
      }
    }
    // `-p <pid>` held 28 for Node's 7 threads and 60 for 15 here; `-a` 6 for both (two kinds of event on 2 CPUs, and one more).
    expect(counts[0]).toBeGreaterThan(0);
    expect(counts[1]).toBe(counts[0]);
  });

  it("charges the listed process its own samples: as many as its CPU time calls for, none of another's", async () => {
    const listed = await startProbe(0, true);
    await startProbe(0, true); // burning beside it, not listed: its samples must not be the listed one's
    const session = startPerf(new Map([['burner', listed]]));
    await settledPerfEvents(session.pid!);
    const cpuBeforeMs = cpuMsOf(listed)!;
    await sleep(2000);
    const expected = ((cpuMsOf(listed)! - cpuBeforeMs) / 1000) * perfSampleHz;
    const { samples, mainThread } = (await session.stop()).burner!;
    // Its events open, perf may still be reading the machine's processes before it samples: it can see less than
    // the 2 s of CPU, never more but for /proc's 10 ms ticks and perf's last moments.
    expect(samples).toBeGreaterThan(expected * 0.4);
    expect(samples).toBeLessThan(expected * 1.2 + 10);
    expect(mainThread).toBeGreaterThan(samples / 2);
  });
});
