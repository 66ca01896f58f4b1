import { envString } from '@paygraph/shared/config';

/**
 * PAYGRAPH_FAILPOINT names a point where this process kills itself with SIGKILL, as a crash
 * would: tests use it to show that a payment cut off between its two halves completes
 * exactly once after a restart. Unset in every real deployment.
 */
export type Failpoint = 'payment-after-debit' | 'refund-after-reserve' | 'capture-after-debit' | 'sweep-after-debit';

export function hitFailpoint(point: Failpoint): void {
  if (envString('PAYGRAPH_FAILPOINT', '') === point) process.kill(process.pid, 'SIGKILL');
}
