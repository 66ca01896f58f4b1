import { abortable } from './abortable';

/** What a stream's heads read: its position now, a wait for a position beyond one, and the end of the watch. */
export interface HeadWatch<P> {
  position(): P;
  /** Resolves once the stream has moved beyond `position`; rejects with AbortError on abort. */
  wait(position: P, signal: AbortSignal): Promise<void>;
  release(): void;
}

/**
 * A stream's position (as a cursor) now, and again each time its watch sees it move. Positions in between may be
 * skipped: a reader only needs to know that there is something after the position it holds. What the gateway listens
 * to before it forwards a stream (the account subgraph's balance events, the transaction subgraph's link events). The
 * watch is opened when the stream starts and released however it ends.
 */
export function streamHeads<P>(open: () => HeadWatch<P>, cursorOf: (position: P) => string): AsyncGenerator<string> {
  return abortable(async function* heads(signal) {
    const watch = open();
    try {
      let position = watch.position();
      yield cursorOf(position);
      for (;;) {
        await watch.wait(position, signal);
        position = watch.position();
        yield cursorOf(position);
      }
    } finally {
      watch.release();
    }
  });
}
