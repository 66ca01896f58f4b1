import { ensureBuilt } from '../../scripts/lib/build';

/**
 * vitest's global set-up (vitest.config.ts): dist/ built when missing or stale, before any test
 * file runs, so that on a plain clone the gateways the tests start serve the Explorer's bundle,
 * and test/build.test.ts finds the compiled processes. Most tests run the sources (tsx, vitest).
 */
export default async function setup(): Promise<void> {
  await ensureBuilt((line) => console.log(`[build] ${line}`));
}
