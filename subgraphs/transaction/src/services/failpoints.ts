import { envString } from '@paygraph/shared/config';

/**
 * PAYGRAPH_FAILPOINT names a point where this process kills itself with SIGKILL, as a crash
 * would: tests use it to show that a payment cut off between its two halves completes
 * exactly once after a restart. Unset in every real deployment, and refused in one
 * (checkFailpointSetting, called by main.ts before anything starts).
 */
export const failpoints = ['payment-after-debit', 'refund-after-reserve', 'capture-after-debit', 'sweep-after-debit'] as const;
export type Failpoint = (typeof failpoints)[number];

export function hitFailpoint(point: Failpoint): void {
  if (envString('PAYGRAPH_FAILPOINT', '') === point) process.kill(process.pid, 'SIGKILL');
}

/**
 * Throws, naming the variable, when PAYGRAPH_FAILPOINT is set under NODE_ENV=production (a
 * stray test setting would kill live payments half way) or names no known failpoint (a typo
 * would silently test nothing).
 */
export function checkFailpointSetting(env: { NODE_ENV?: string | undefined; PAYGRAPH_FAILPOINT?: string | undefined }): void {
  const point = env.PAYGRAPH_FAILPOINT ?? '';
  if (point === '') return;
  if (env.NODE_ENV === 'production') {
    throw new Error(`PAYGRAPH_FAILPOINT is set ("${point}") with NODE_ENV=production: failpoints kill the process on purpose and are for tests only; unset PAYGRAPH_FAILPOINT`);
  }
  if (!(failpoints as readonly string[]).includes(point)) {
    throw new Error(`PAYGRAPH_FAILPOINT must be one of ${failpoints.join(', ')}, got "${point}"`);
  }
}
