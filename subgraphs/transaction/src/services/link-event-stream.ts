import type { Forbidden } from '@paygraph/shared/authorization';
import { err, ok, type Result } from '@paygraph/shared/result';
import type { ShardSet } from '@paygraph/shared/shards/pool';
import { abortable } from '@paygraph/shared/streams/abortable';
import { streamHeads } from '@paygraph/shared/streams/heads';
import type { LinkEventRow } from '../db/schema/link-events';
import { encodeLinkEventCursor, type LinkEventPosition, type LinkStreamRefusal } from '../domain/link-events';
import { linkEventPageSizeMax } from '../limits';
import type { ServiceContext } from './context';
import type { LinkEventFeed, LinkWatch } from './link-event-feed';
import { linkEventsAfter, linkEventStart } from './link-events';

/**
 * The externalAccountChanged stream this subgraph serves (and the gateway forwards or reads page
 * by page, as balanceChanged): the owner's events after a position, read from the database a
 * page at a time, and when there are none, a wait for the feed to see the owner's head move. One
 * rule for replay and live alike: the next events are those after the last one delivered, so
 * nothing is skipped or repeated.
 */

/** A stream the process would follow past its bounds (link-event-feed.ts): refused, SUBSCRIPTION_LIMIT_REACHED. */
export interface StreamLimitReached {
  kind: 'StreamLimitReached';
}

export interface OpenedLinkStream {
  watch: LinkWatch;
  start: LinkEventPosition;
}

/**
 * An owner's stream, opened for a caller who may follow it (link-events.ts linkEventStart):
 * after the cursor, or without one at the owner's last event now.
 */
export async function openLinkStream(
  ctx: ServiceContext,
  feed: LinkEventFeed,
  ownerId: string,
  after: string | null,
): Promise<Result<OpenedLinkStream, LinkStreamRefusal | Forbidden | StreamLimitReached>> {
  const start = await linkEventStart(ctx, ownerId, after, 'head');
  if (!start.ok) return start;
  // The head read by linkEventStart: an event committed since is beyond it, and the feed's next poll wakes the stream.
  const watch = feed.watch(ownerId, start.value.sequence);
  return watch ? ok({ watch, start: start.value }) : err({ kind: 'StreamLimitReached' });
}

export function linkEventStream(
  shards: ShardSet,
  { watch, start }: OpenedLinkStream,
  pageSize: number = linkEventPageSizeMax,
): AsyncGenerator<LinkEventRow, void, undefined> {
  return abortable(async function* stream(signal) {
    let position = start;
    try {
      for (;;) {
        const read = await linkEventsAfter(shards, position, pageSize);
        // The stream fell a whole bound of the owner's events behind (dropped since it read them last): it ends, and the
        // gateway's subscription again from the last cursor is refused CursorExpired, which ends the client's.
        if (!read.ok) return;
        const page = read.value;
        for (const event of page) {
          position = { ownerId: position.ownerId, sequence: event.sequence };
          yield event;
        }
        if (page.length < pageSize) await watch.wait(position.sequence, signal);
      }
    } finally {
      watch.release();
    }
  });
}

/**
 * The owner's position (a cursor) now, and again each time the feed sees its head move; positions
 * in between may be skipped. What the gateway listens to before it forwards a stream without a
 * cursor, and for a stream it reads page by page.
 */
export function linkEventHeads({ watch, start }: OpenedLinkStream): AsyncGenerator<string, void, undefined> {
  return streamHeads(
    () => ({
      position: () => ({ ownerId: start.ownerId, sequence: watch.head() }),
      wait: (position, signal) => watch.wait(position.sequence, signal),
      release: () => watch.release(),
    }),
    encodeLinkEventCursor,
  );
}
