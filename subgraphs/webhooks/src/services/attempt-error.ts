import { errorCauseDepthMax } from '../limits';
/**
 * A failed attempt's error as last_error keeps it, which the partner reads: only the error's
 * class name and its code, never its message. Messages name what the receiver's name resolved
 * to — a system error's "connect ECONNREFUSED 10.0.0.7:443", undici's ConnectTimeoutError's
 * "attempted addresses: …", a TLS error's "IP: … is not in the cert's list" — internal details a
 * partner must not learn (an allow-list of what may be said, not a deny-list of what may not).
 */
/** What a code or a name may look like to be repeated: identifiers, never free text. */
const identifierPattern = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

function identifierOr(value: unknown, fallback: string): string {
  return typeof value === 'string' && identifierPattern.test(value) ? value : fallback;
}

export function attemptError(error: unknown): string {
  // The first error along the cause chain with a code names it (undici wraps system errors, TLS errors keep theirs).
  for (
    let current: unknown = error, depth = 0;
    depth < errorCauseDepthMax && current instanceof Error;
    current = current.cause, depth++
  ) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && identifierPattern.test(code))
      return `${identifierOr(current.name, 'Error')}: connection failed (${code})`;
  }
  // No code: a fixed text under the error's class name (TimeoutError, AbortError), nothing of its message.
  return `${error instanceof Error ? identifierOr(error.name, 'Error') : 'Error'}: connection failed`;
}
