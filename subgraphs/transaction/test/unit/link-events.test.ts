import { describe, expect, it } from 'vitest';
import {
  decideLinkStart,
  decodeLinkEventCursor,
  encodeLinkEventCursor,
  eventOfStatus,
  firstKeptLinkEvent,
} from '@paygraph/transaction/domain/link-events';
import { linkEventCursorCharsMax, linkEventsPerOwnerMax } from '@paygraph/transaction/limits';

/**
 * Where a stream of an owner's link events stands (domain/link-events.ts): its cursor, read back only in its own
 * spelling and only for its owner, and where a stream or a page starts from one. The streams themselves are in
 * gateway/test/link-event-subscriptions.test.ts.
 */
const cursorOf = (text: string) => Buffer.from(text, 'utf8').toString('base64url');

describe('a link event cursor', () => {
  it('reads back what it wrote, an owner id with colons and the longest one included', () => {
    for (const ownerId of ['alice', 'org:acme:user@x.io', 'x'.repeat(64)]) {
      for (const sequence of [0n, 1n, 2n ** 63n - 1n]) {
        const cursor = encodeLinkEventCursor({ ownerId, sequence });
        expect(cursor.length).toBeLessThanOrEqual(linkEventCursorCharsMax);
        expect(decodeLinkEventCursor(cursor, ownerId)).toEqual({ ok: true, value: { ownerId, sequence } });
      }
    }
  });

  it('refuses any other spelling as malformed, and a cursor of another owner as such', () => {
    const malformed = [
      '',
      'not base64 !',
      cursorOf('links:alice/01'),
      cursorOf('links:alice/-1'),
      cursorOf('links:alice/1.0'),
      cursorOf(`links:alice/${2n ** 63n}`),
      cursorOf('links:alice'),
      cursorOf('balance:alice/1'),
      cursorOf('links:al ice/1'),
      cursorOf('links:/1'),
      // Base64 with padding decodes to the same text: only the canonical spelling is a cursor.
      Buffer.from('links:alice/1', 'utf8').toString('base64'),
      'a'.repeat(linkEventCursorCharsMax + 1),
    ];
    for (const cursor of malformed)
      expect(decodeLinkEventCursor(cursor, 'alice'), cursor).toEqual({ ok: false, error: { kind: 'CursorMalformed' } });
    expect(decodeLinkEventCursor(cursorOf('links:bob/3'), 'alice')).toEqual({
      ok: false,
      error: { kind: 'CursorOfAnotherOwner' },
    });
  });
});

describe("where an owner's stream or page starts", () => {
  it('starts a stream at the head and a page at the beginning without a cursor, after the cursor with one', () => {
    expect(decideLinkStart('alice', 7n, null, 'head')).toEqual({ ok: true, value: { ownerId: 'alice', sequence: 7n } });
    expect(decideLinkStart('alice', 7n, null, 'beginning')).toEqual({
      ok: true,
      value: { ownerId: 'alice', sequence: 0n },
    });
    const at = (n: bigint) => encodeLinkEventCursor({ ownerId: 'alice', sequence: n });
    expect(decideLinkStart('alice', 7n, at(7n), 'head')).toEqual({
      ok: true,
      value: { ownerId: 'alice', sequence: 7n },
    });
    expect(decideLinkStart('alice', 7n, at(8n), 'head')).toEqual({ ok: false, error: { kind: 'CursorAhead' } });
  });

  it('starts a page at the oldest event kept, and refuses a cursor whose next event is no longer kept', () => {
    const head = BigInt(linkEventsPerOwnerMax) + 40n;
    const at = (n: bigint) => encodeLinkEventCursor({ ownerId: 'alice', sequence: n });
    expect(firstKeptLinkEvent(BigInt(linkEventsPerOwnerMax))).toBe(1n);
    expect(firstKeptLinkEvent(head)).toBe(41n);
    expect(decideLinkStart('alice', head, null, 'beginning')).toEqual({
      ok: true,
      value: { ownerId: 'alice', sequence: 40n },
    });
    expect(decideLinkStart('alice', head, at(40n), 'head')).toEqual({
      ok: true,
      value: { ownerId: 'alice', sequence: 40n },
    });
    expect(decideLinkStart('alice', head, at(39n), 'beginning')).toEqual({
      ok: false,
      error: { kind: 'CursorExpired' },
    });
    expect(decideLinkStart('alice', head, at(0n), 'head')).toEqual({ ok: false, error: { kind: 'CursorExpired' } });
  });

  it('names a link move by the status it reaches: PENDING again is LINKED', () => {
    expect((['PENDING', 'VERIFIED', 'REJECTED', 'UNLINKED'] as const).map(eventOfStatus)).toEqual([
      'LINKED',
      'VERIFIED',
      'REJECTED',
      'UNLINKED',
    ]);
  });
});
