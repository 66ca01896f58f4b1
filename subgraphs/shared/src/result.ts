/** Expected failures are values: domain functions return a Result, never throw for them. */
export type Result<T, E> = { ok: true; value: T } | { ok: false; error: E };

export function ok<T>(value: T): { ok: true; value: T } {
  return { ok: true, value };
}

export function err<E>(error: E): { ok: false; error: E } {
  return { ok: false, error };
}

/** A broken invariant is a bug: it crashes loudly instead of becoming a value. */
export class InvariantViolation extends Error {
  override name = 'InvariantViolation';
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new InvariantViolation(message);
}

/**
 * Throws the InvariantViolation of a check that failed: `if (!ok) invariantBroken('…')` where a
 * check runs per row, entry, leg or id, since assert(ok, '…') builds its message before it looks
 * at `ok`, on every check that passes (a BigInt's digits, an id quoted, a list joined). shardOf
 * spent about 90 of its 244 ns a call quoting its id for a message it never threw (Node 24); the
 * pair assertion's and insertRows' messages were most of their 15.7 KB of the transaction
 * subgraph's garbage a payment (docs/PERFORMANCE.md, "a-70's tail").
 */
export function invariantBroken(message: string): never {
  throw new InvariantViolation(message);
}

/** Makes a switch exhaustive: adding a union member without handling it fails to compile. */
export function unreachable(value: never): never {
  throw new InvariantViolation(`unreachable: ${JSON.stringify(value)}`);
}
