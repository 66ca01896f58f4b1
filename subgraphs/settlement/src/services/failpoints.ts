import type { Failpoint } from '../config';

/**
 * SETTLEMENT_FAILPOINT names a point where this process kills itself with SIGKILL, as a crash
 * would: tests use it to show that an advance cut off between its pieces ends all or nothing
 * after a restart. Unset in every real deployment, and refused in one (config.ts refuses it
 * with NODE_ENV=production, and a name that is no failpoint, at start-up).
 */
let armed: Failpoint | null = null;

/** Set once by main.ts from the configuration; never read from the environment here. */
export function armFailpoint(point: Failpoint | null): void {
  armed = point;
}

export function hitFailpoint(point: Failpoint): void {
  if (armed === point) process.kill(process.pid, 'SIGKILL');
}
