import type { Result } from './result';

/**
 * A caller refused on authorization grounds. Services decide it and return it as a value; the
 * resolver edge answers it as the top-level FORBIDDEN error (graphql/errors.ts `allowed`),
 * never as a union member: the client did not get to ask a business question.
 */
export interface Forbidden {
  kind: 'Forbidden';
  message: string;
}

export function forbiddenBecause(message: string): Forbidden {
  return { kind: 'Forbidden', message };
}

/** What a read the caller may be refused answers: the value (null when there is none), or why not. */
export type Readable<T> = Result<T | null, Forbidden>;
