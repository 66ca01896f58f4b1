import { failpoints, type Failpoint } from '../config';
import { failpointAfterAnswerWaitMs } from '../limits';

/**
 * TRANSACTION_FAILPOINT names a point where this process kills itself with SIGKILL, as a crash
 * would: tests use it to show that a payment cut off between its two halves completes
 * exactly once after a restart. Unset in every real deployment, and refused in one (config.ts
 * refuses it with NODE_ENV=production, and a name that is no failpoint, at start-up).
 */
export { failpoints, type Failpoint };

let armed: Failpoint | null = null;

/** Set once by main.ts from the configuration (config.ts: TRANSACTION_FAILPOINT); never read from the environment here. */
export function armFailpoint(point: Failpoint | null): void {
  armed = point;
}

export function hitFailpoint(point: Failpoint): void {
  if (armed === point) process.kill(process.pid, 'SIGKILL');
}

/**
 * A failpoint past a request's answer: armed, the process dies once the answer has had failpointAfterAnswerWaitMs to go
 * out (its resolvers may still read after the service returned), so the client holds an answer whose work the process
 * never finished.
 */
export async function hitFailpointAfterAnswer(point: Failpoint): Promise<void> {
  if (armed !== point) return;
  await new Promise((resolve) => setTimeout(resolve, failpointAfterAnswerWaitMs));
  process.kill(process.pid, 'SIGKILL');
}
