import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

/** Worker threads of the larger probe: Node's own 7 threads and these, against the 7 alone. */
const extraThreads = 8;
/** How long the burner is sampled once perf samples. */
const burnSampledMs = 2000;
/**
 * The burner's samples against its CPU time × perfSampleHz: /proc counts CPU in 10 ms ticks and perf's first and last
 * moments fall either side of the two reads, so a few samples either way; another process's samples would double it.
 */
const samplesShareMin = 0.6;
const samplesShareMax = 1.2;
const samplesSlack = 10;
/** A burner ends by itself after this, far past the test's need (≈ 5 s): a worker that dies leaves none spinning. */
const burnerLifeMs = 60_000;

afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

/** A Node process with `workers` worker threads besides Node's own, burning CPU (burnerLifeMs at most), or idle. */
async function startProbe(workers: number, burn: boolean): Promise<number> {
  const code = `
    const { Worker } = require('node:worker_threads');
    let online = 0;
    const ready = () => { if (online === ${workers}) process.stdout.write('ready\\n'); };
    for (let i = 0; i < ${workers}; i++)
      new Worker('setInterval(() => {}, 1000)', { eval: true }).once('online', () => { online += 1; ready(); });
    ready();
    const end = Date.now() + ${burnerLifeMs};
    if (${burn}) setImmediate(() => { let x = 0; while (Date.now() < end) x += Math.sqrt(x + 1); });
    else setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (status) => reject(new Error(`the probe exited (${status}) before it was ready`)));
  });
  return child.pid!;
}

function perfEventsOpen(pid: number | undefined): number {
  if (pid === undefined) throw new Error('perf did not start');
  return readdirSync(`/proc/${pid}/fd`).filter((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`) === 'anon_inode:[perf_event]';
    } catch {
      return false; // closed between the listing and the read
    }
  }).length;
}

describe("the benchmark's perf sampler", () => {
  it('can sample every CPU here (npm test runs as root with linux-perf installed)', () => {
    expect(perfAvailable()).toBe(true);
  });

  it("opens events per CPU, as many for 15 threads as for 7: none switched with a thread's", async () => {
    const counts: number[] = [];
    for (const workers of [0, extraThreads]) {
      const session = startPerf(new Map([['probe', await startProbe(workers, false)]]));
      try {
        await session.sampling(); // every event is open by then
        counts.push(perfEventsOpen(session.pid));
      } finally {
        await session.stop();
      }
    }
    // `-p <pid>` held 28 for Node's 7 threads and 60 for 15 here; `-a` 6 for both (3 per CPU on 2 CPUs).
    expect(counts[0]).toBeGreaterThan(0);
    expect(counts[1]).toBe(counts[0]);
  });

  it('leaves neither perf nor its record behind when perf cannot start', async () => {
    const nowhere = mkdtempSync(join(tmpdir(), 'bench-no-perf-')); // a PATH where no perf is found
    const path = process.env.PATH;
    process.env.PATH = nowhere;
    let session: ReturnType<typeof startPerf>;
    try {
      session = startPerf(new Map([['self', process.pid]]));
    } finally {
      process.env.PATH = path;
      rmSync(nowhere, { recursive: true, force: true });
    }
    expect(existsSync(session.dataDir)).toBe(true);
    await expect(session.sampling()).rejects.toThrow(/perf exited before it sampled/);
    expect(existsSync(session.dataDir)).toBe(false);
  });

  it("charges the listed process its own samples: as many as its CPU time calls for, none of another's", async () => {
    const listed = await startProbe(0, true);
    await startProbe(0, true); // burning beside it, not listed: its samples must not be the listed one's
    const session = startPerf(new Map([['burner', listed]]));
    let cpuMs: number;
    try {
      await session.sampling();
      const before = cpuMsOf(listed);
      await sleep(burnSampledMs);
      const after = cpuMsOf(listed);
      if (before === undefined || after === undefined) throw new Error('the burner ended');
      cpuMs = after - before;
    } catch (error) {
      await session.stop();
      throw error;
    }
    const { samples, mainThread } = (await session.stop()).burner!;
    const expected = (cpuMs / 1000) * perfSampleHz;
    expect(samples).toBeGreaterThan(expected * samplesShareMin - samplesSlack);
    expect(samples).toBeLessThan(expected * samplesShareMax + samplesSlack);
    expect(mainThread).toBeGreaterThan(samples / 2);
  });
});
