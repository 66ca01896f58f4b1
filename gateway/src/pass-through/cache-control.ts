/**
 * The cache-control header of an answer the gateway writes from one subgraph's answer, as Apollo Server writes it when
 * nothing else hints: the subgraph's data source restricts the response's cache policy by the subgraph's own
 * cache-control header (RemoteGraphQLDataSource's respond and parseCacheControlHeader: max-age when it is digits, else
 * 0; `private` or `public` when named), and Apollo Server's cache-control plugin writes `max-age=N, scope` for a policy
 * whose max-age is over 0 (scope PUBLIC unless named) and `no-store` for any other. The express lane writes what the
 * plugin would (express-lane.ts); pass-through.test and gateway.test hold the two to each other.
 */
export const uncacheable = 'no-store';

export interface CacheHint {
  maxAge: number;
  scope?: 'PRIVATE' | 'PUBLIC';
}

/** The hint a subgraph's cache-control header gives (absent or unreadable: max-age 0). */
export function cacheHintOf(header: string | null | undefined): CacheHint {
  const hint: CacheHint = { maxAge: 0 };
  if (!header) return hint;
  const directives = new Map<string, string | true>();
  for (const part of header.trim().split(/\s*,\s*/)) {
    const [name, value] = part.split(/\s*=\s*/, 2);
    directives.set(name!, value === undefined ? true : value.replace(/^"|"$/g, ''));
  }
  const maxAge = directives.get('max-age');
  if (typeof maxAge === 'string' && /^[0-9]+$/.test(maxAge)) hint.maxAge = Number(maxAge);
  if (directives.get('private') === true) hint.scope = 'PRIVATE';
  if (directives.get('public') === true) hint.scope = 'PUBLIC';
  return hint;
}

/** The header Apollo Server's cache-control plugin writes for an answer without errors under this hint alone. */
export function cacheControlOf(hint: CacheHint): string {
  return hint.maxAge > 0 ? `max-age=${hint.maxAge}, ${(hint.scope ?? 'PUBLIC').toLowerCase()}` : uncacheable;
}
