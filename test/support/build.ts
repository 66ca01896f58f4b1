import { ensureBuilt } from '../../scripts/lib/build';

/**
 * vitest's global set-up (vitest.config.ts): dist/ built when missing or stale, before any test
 * file runs, so that on a plain clone the gateways the tests start serve the Explorer's bundle,
 * and every process a test spawns runs compiled (test/support/processes.ts). Tests run the sources
 * in process (vitest); under `npx vitest` in watch mode this does not run again after an edit:
 * npm test is the way in.
 */
export default async function setup(): Promise<void> {
  await ensureBuilt((line) => console.log(`[build] ${line}`));
}
