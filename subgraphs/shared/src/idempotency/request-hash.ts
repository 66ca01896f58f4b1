import { hash } from 'node:crypto';

/**
 * The fingerprint of a request's parameters, to tell a replay (same key, same parameters)
 * from a reused key (same key, other parameters). Client context (device, IP) is left out:
 * a retry from another network is still the same request.
 */
export function requestHash(operation: string, fields: Record<string, string | bigint | null>): string {
  const canonical = Object.keys(fields)
    .sort()
    .map((k) => `${k}=${fields[k] === null ? '' : String(fields[k])}`)
    .join('\n');
  return hash('sha256', `${operation}\n${canonical}`, 'hex');
}
