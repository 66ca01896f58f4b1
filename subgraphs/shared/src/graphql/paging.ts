import { pageSizeDefault, pageSizeMax } from '../limits';
import { badUserInput } from './errors';

/** Cursors are opaque to clients: base64url of "<kind>:<value>". */
export function encodeCursor(kind: string, value: string): string {
  return Buffer.from(`${kind}:${value}`, 'utf8').toString('base64url');
}

export function decodeCursor(kind: string, cursor: string): string {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!text.startsWith(`${kind}:`) || encodeCursor(kind, text.slice(kind.length + 1)) !== cursor) {
    throw badUserInput(`cursor "${cursor}" was not issued for this list`);
  }
  return text.slice(kind.length + 1);
}

/** A page size between 1 and pageSizeMax; anything else is refused, not silently clamped. */
export function pageSize(first: number | null | undefined): number {
  if (first === null || first === undefined) return pageSizeDefault;
  if (!Number.isInteger(first) || first < 1 || first > pageSizeMax) {
    throw badUserInput(`first must be between 1 and ${pageSizeMax}`);
  }
  return first;
}
