import { err, ok, type Result } from '@paygraph/shared/result';
import { isOwnerId, type ExternalAccountStatus } from './external-accounts';
import { linkEventCursorCharsMax, linkEventSequenceMax, linkEventsPerOwnerMax } from '../limits';

/**
 * Events of an owner's linked external accounts, pure: which event a link's move is, and where a
 * stream of them stands (its cursor). An owner's events are numbered 1, 2, 3… without a gap
 * (db/schema/link-events.ts says how), so a position is one number: the last event delivered.
 *
 * A cursor is base64url of "links:<ownerId>/<sequence>" (sequence 0: nothing seen yet). An owner
 * id may hold ':' but never '/', so the last '/' ends it.
 */
export type LinkEventType = 'LINKED' | 'VERIFIED' | 'REJECTED' | 'UNLINKED' | 'PAYOUT';

/** The event a link's move to `status` is: PENDING again (or first) is LINKED. */
export function eventOfStatus(status: ExternalAccountStatus): Exclude<LinkEventType, 'PAYOUT'> {
  switch (status) {
    case 'PENDING':
      return 'LINKED';
    case 'VERIFIED':
    case 'REJECTED':
    case 'UNLINKED':
      return status;
  }
}

export interface LinkEventPosition {
  ownerId: string;
  /** The number of the last event delivered; 0 before the first. */
  sequence: bigint;
}

export type LinkStreamRefusal =
  | { kind: 'OwnerIdMalformed' }
  | { kind: 'CursorMalformed' }
  | { kind: 'CursorOfAnotherOwner' }
  | { kind: 'CursorAhead' }
  | { kind: 'CursorExpired' };

/**
 * The number of the oldest event kept of an owner whose last is `head`: an owner keeps its newest
 * linkEventsPerOwnerMax (1 while it has no more). Older rows may linger until later events drop them,
 * but are never read.
 */
export function firstKeptLinkEvent(head: bigint): bigint {
  const first = head - BigInt(linkEventsPerOwnerMax) + 1n;
  return first > 1n ? first : 1n;
}

/** A sequence as a cursor writes it: no sign, no leading zero, within BIGINT. */
const sequencePattern = /^(0|[1-9][0-9]{0,18})$/;
const prefix = 'links:';

export function encodeLinkEventCursor(position: LinkEventPosition): string {
  return Buffer.from(`${prefix}${position.ownerId}/${position.sequence}`, 'utf8').toString('base64url');
}

/** Reads a cursor issued for `ownerId`; how far the owner's events go is for the caller to check (decideLinkStart). */
export function decodeLinkEventCursor(cursor: string, ownerId: string): Result<LinkEventPosition, LinkStreamRefusal> {
  const malformed = err({ kind: 'CursorMalformed' as const });
  if (cursor.length === 0 || cursor.length > linkEventCursorCharsMax) return malformed;
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  // Only the canonical spelling: base64url that decodes the same from other text would be two cursors for one place.
  if (Buffer.from(text, 'utf8').toString('base64url') !== cursor || !text.startsWith(prefix)) return malformed;
  const slash = text.lastIndexOf('/');
  const owner = text.slice(prefix.length, slash);
  const sequence = text.slice(slash + 1);
  if (slash < 0 || !isOwnerId(owner) || !sequencePattern.test(sequence) || BigInt(sequence) > linkEventSequenceMax)
    return malformed;
  if (owner !== ownerId) return err({ kind: 'CursorOfAnotherOwner' });
  return ok({ ownerId, sequence: BigInt(sequence) });
}

/** An owner id a client sent: refused before anything is authorized or read. */
export function checkOwnerId(ownerId: string): LinkStreamRefusal | null {
  return isOwnerId(ownerId) ? null : { kind: 'OwnerIdMalformed' };
}

/**
 * Where a stream or a page starts: after the cursor's event, which may not be beyond the owner's
 * last (`head`) nor before what is kept (its next event dropped: firstKeptLinkEvent); without a
 * cursor a stream starts at the head (what commits from now on) and a page at the oldest event kept
 * (`from`).
 */
export function decideLinkStart(
  ownerId: string,
  head: bigint,
  after: string | null,
  from: 'head' | 'beginning',
): Result<LinkEventPosition, LinkStreamRefusal> {
  const beforeKept = firstKeptLinkEvent(head) - 1n;
  if (after === null) return ok({ ownerId, sequence: from === 'head' ? head : beforeKept });
  const decoded = decodeLinkEventCursor(after, ownerId);
  if (!decoded.ok) return decoded;
  if (decoded.value.sequence > head) return err({ kind: 'CursorAhead' });
  return decoded.value.sequence < beforeKept ? err({ kind: 'CursorExpired' }) : decoded;
}

export function describeLinkStreamRefusal(refusal: LinkStreamRefusal): string {
  switch (refusal.kind) {
    case 'OwnerIdMalformed':
      return 'ownerId must be 1-64 characters of [A-Za-z0-9_.:@-]';
    case 'CursorMalformed':
      return 'the cursor is malformed: pass the `cursor` of an externalAccountChanged event unchanged';
    case 'CursorOfAnotherOwner':
      return 'the cursor was issued for another owner';
    case 'CursorAhead':
      return "the cursor is ahead of the owner's events";
    case 'CursorExpired':
      return `the events after the cursor are no longer kept (an owner's newest ${linkEventsPerOwnerMax} are): start again without \`after\``;
  }
}
