import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { isAbsolute, join } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * Runs a service's main.ts under the V8 CPU profiler, controlled by SIGUSR2: the first signal
 * starts the profiler, the second stops it and writes BENCH_PROFILE_FILE. The benchmark uses
 * this rather than `node --cpu-prof` because --cpu-prof writes only on a clean exit, and a
 * profile should cover the measured scenarios, not start-up and fixtures.
 */
const entry = process.env.BENCH_PROFILE_ENTRY;
const file = process.env.BENCH_PROFILE_FILE;
if (!entry || !file) throw new Error('profiled-entry needs BENCH_PROFILE_ENTRY and BENCH_PROFILE_FILE');

const session = new Session();
session.connect();
await session.post('Profiler.enable');
let running = false;
process.on('SIGUSR2', () => {
  void (async () => {
    if (!running) {
      running = true;
      await session.post('Profiler.start');
      return;
    }
    running = false;
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(file, JSON.stringify(profile));
  })();
});
await import(pathToFileURL(isAbsolute(entry) ? entry : join(process.cwd(), entry)).href);
