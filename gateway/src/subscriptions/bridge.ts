import { GraphQLError, type ExecutionResult, type GraphQLFormattedError, type FormattedExecutionResult } from 'graphql';
import type { Client } from 'graphql-ws';
import { CloseCode } from 'graphql-ws';
import { abortable, sleep } from '@paygraph/shared/streams/abortable';
import type { BalanceSubscription } from './operation';

/**
 * One client subscription, bridged. The account subgraph tells the gateway (over graphql-ws,
 * with the subscriber's token) each time the account's ledger moves; the gateway then reads
 * the events after the client's position, a page at a time, through its own query execution
 * (again with the subscriber's token, so authorization applies to every page and fields of
 * other subgraphs resolve through federation), and hands them to graphql-ws one by one.
 *
 * The client sets the pace: the next page is read only once graphql-ws has written the last
 * event to the socket, so the gateway holds at most one page per subscription and a slow
 * client simply falls behind, with the ledger as its buffer. Past that, a client whose socket
 * has not taken an event for consumerStallMsMax, or holds more than socketBufferBytesMax
 * unsent, is ended with SLOW_CONSUMER and the cursor of the last event handed to its socket,
 * from which it resumes. When the account subgraph goes away (restart, deploy) the bridge
 * listens again and reads on from the client's position, so the client notices nothing.
 *
 * A subscription whose selection the account subgraph serves alone (operation.ts,
 * `forwardQuery`) is forwarded instead: the gateway subscribes to the subgraph's balanceChanged
 * after the client's position and hands each event on as it arrives, without a page query per
 * event (in bench:events that query, through Apollo and an HTTP hop, was most of the gateway's
 * and the subgraph's CPU per event). The same bounds hold: at most pageSize events wait per
 * subscription (past that the upstream stream is dropped and taken up again, after the last
 * event received, once the client has taken them), the same stall and buffer checks end a slow
 * consumer, and a lost upstream is subscribed again after the last event received.
 */
export interface BridgeLimits {
  /** Events read per page, and so held per subscription at most. */
  pageSize: number;
  consumerStallMsMax: number;
  socketBufferBytesMax: number;
  reconnectAttemptsMax: number;
  reconnectDelayMs: number;
}

export interface BridgeDeps {
  /** graphql-ws client to the account subgraph, authenticated as the subscriber. */
  upstream: Client;
  /** Runs the page query for the events after `after` through the gateway. */
  readPage: (after: string | null, first: number) => Promise<FormattedExecutionResult>;
  /** The client's socket: how much it holds unsent, and closing it on a refusal. */
  socket: { bufferedAmount: number; close(code: number, reason: string): void };
  limits: BridgeLimits;
  /** Told when a stream is ended for a slow consumer (metrics, tests). */
  onSlowConsumer?: () => void;
  /** Told when a forwarded stream is dropped for pageSize events waiting, to be taken up again (tests). */
  onForwardPaused?: () => void;
  /**
   * Whether the subscriber's token is still honoured: checked before each forwarded event, as
   * the gateway checks it for each page query it runs.
   */
  tokenHonoured: () => boolean;
}

const headQuery = 'subscription BalanceHead($accountId: ID!) { balanceHead(accountId: $accountId) }';

type Ending =
  | { kind: 'denied'; code: number; reason: string }
  | { kind: 'slow' }
  | { kind: 'failed'; error: GraphQLFormattedError }
  | { kind: 'stopped' };

export function bridgeBalanceStream(
  subscription: BalanceSubscription,
  deps: BridgeDeps,
  onEnd: () => void,
): AsyncGenerator<ExecutionResult, void, undefined> {
  return abortable(async function* bridge(signal) {
    const { limits } = deps;
    // Objects, so that TypeScript sees the callbacks' writes when the loop reads them.
    const forward = subscription.forwardQuery;
    const state: {
      ending: Ending | null;
      /** The cursor of the last event handed to the client's socket. */
      position: string | null;
      dirty: boolean;
      /** Forwarded events received and not yet handed on, each with its own errors. */
      queue: ForwardedEvent[];
      /** The cursor of the last forwarded event received: an upstream subscribed again goes on after it. */
      received: string | null;
      /** The upstream stream was dropped because pageSize events waited; taken up again once they are sent. */
      paused: boolean;
    } = {
      ending: null,
      position: subscription.after,
      dirty: forward === null && subscription.after !== null,
      queue: [],
      received: null,
      paused: false,
    };
    let wake: (() => void) | null = null;
    let failures = 0;
    let disposeUpstream: (() => void) | null = null;
    let retryTimer: NodeJS.Timeout | null = null;

    const poke = () => {
      const resolve = wake;
      wake = null;
      resolve?.();
    };
    const finish = (end: Ending) => {
      if (state.ending === null && end.kind === 'slow') deps.onSlowConsumer?.();
      state.ending ??= end;
      disposeUpstream?.();
      disposeUpstream = null;
      if (retryTimer) clearTimeout(retryTimer);
      poke();
    };
    const retry = () => {
      failures += 1;
      if (failures > limits.reconnectAttemptsMax) {
        return finish({ kind: 'failed', error: { message: 'the balance stream is unavailable; resume later from extensions.lastCursor', extensions: { code: 'UPSTREAM_UNAVAILABLE' } } });
      }
      retryTimer = setTimeout(listen, limits.reconnectDelayMs);
    };
    /** Codes that are the client's to act on; any other failure to read a page is tried again. */
    const finalCodes = ['BAD_USER_INPUT', 'FORBIDDEN', 'UNAUTHENTICATED'];
    /**
     * The subgraph refused the upstream subscription or ended it with an error: a code that is
     * the client's to act on ends the stream with it; anything else (a shard away, a read that
     * failed under load) is tried again like a lost socket, from the last event received, as a
     * failed page read is.
     */
    const refused = (errors: readonly GraphQLFormattedError[]) =>
      (errors.some((e) => finalCodes.includes(String(e.extensions?.code))) ? finish(endingFor(errors)) : retry());
    function listen(): void {
      if (state.ending || signal.aborted) return;
      let settled = false;
      const stop = () => {
        settled = true;
        const dispose = disposeUpstream;
        disposeUpstream = null;
        dispose?.();
      };
      // A forwarded stream without `after` first learns where the account stands (its head),
      // so that an upstream lost before the first event is taken up from there, not from a
      // later end of the ledger.
      const from = state.received ?? state.position;
      const request = forward === null || from === null
        ? { query: headQuery, variables: { accountId: subscription.accountId } }
        : { query: forward, variables: { ...subscription.variables, [subscription.afterVariable]: from } };
      disposeUpstream = deps.upstream.subscribe<Record<string, unknown>>(
        request,
        {
          next: (result) => {
            if (settled || state.ending) return;
            const event = forward === null ? undefined : result.data?.[subscription.responseKey];
            if (event !== undefined && event !== null) {
              failures = 0;
              const { [subscription.cursorKey]: cursor, ...fields } = event as Record<string, unknown>;
              state.received = cursor as string;
              state.queue.push({ cursor: cursor as string, fields, errors: result.errors });
              // The client is pageSize events behind: the ledger holds the rest until it catches up.
              if (state.queue.length >= limits.pageSize) {
                state.paused = true;
                stop();
                deps.onForwardPaused?.();
              }
              poke();
              return;
            }
            if (result.errors?.length) {
              settled = true;
              return refused(result.errors);
            }
            failures = 0;
            // Without `after`, the stream starts at the account's position when first heard.
            state.position ??= (result.data?.balanceHead as string | undefined) ?? null;
            if (forward !== null && state.position !== null) {
              // The start is known: forward the events after it.
              stop();
              listen();
              return;
            }
            state.dirty = true;
            poke();
          },
          error: (error: unknown) => {
            if (settled || state.ending) return;
            settled = true;
            if (Array.isArray(error)) return refused(error as GraphQLFormattedError[]);
            const code = closeCodeOf(error);
            if (code === CloseCode.Unauthorized || code === CloseCode.Forbidden) {
              return finish({ kind: 'denied', code, reason: code === CloseCode.Unauthorized ? 'Unauthorized' : 'Forbidden' });
            }
            retry();
          },
          complete: () => {
            if (settled || state.ending) return;
            // The subgraph ended a stream it never ends by itself: it is shutting down.
            settled = true;
            retry();
          },
        },
      );
    }

    let readFailures = 0;
    signal.addEventListener('abort', poke, { once: true });
    listen();
    /**
     * Hands one event to graphql-ws, unless the client is stuck: its socket holds too much, or
     * takes nothing for consumerStallMsMax (armed while graphql-ws writes the event).
     */
    async function* deliver(cursor: string, result: ExecutionResult): AsyncGenerator<ExecutionResult, boolean, undefined> {
      if (state.ending) return false;
      if (deps.socket.bufferedAmount > limits.socketBufferBytesMax) {
        finish({ kind: 'slow' });
        return false;
      }
      state.position = cursor;
      const stall = setTimeout(() => finish({ kind: 'slow' }), limits.consumerStallMsMax);
      try {
        yield result;
      } finally {
        clearTimeout(stall);
      }
      return true;
    }

    try {
      read: for (;;) {
        if (state.ending) break;
        const next = state.queue.shift();
        if (next) {
          if (!deps.tokenHonoured()) {
            finish({ kind: 'denied', code: CloseCode.Unauthorized, reason: 'Unauthorized' });
            break;
          }
          if (!(yield* deliver(next.cursor, forwardedResult(subscription.responseKey, next.fields, next.errors)))) break;
          continue;
        }
        if (forward !== null) {
          if (state.paused) {
            state.paused = false;
            listen();
          }
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          if (signal.aborted) return;
          continue;
        }
        if (state.position === null || !state.dirty) {
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          if (signal.aborted) return;
          continue;
        }
        state.dirty = false;
        const page = await deps.readPage(state.position, limits.pageSize);
        if (signal.aborted) return;
        const events = (page.data as Record<string, unknown> | null | undefined)?.[subscription.responseKey];
        if (!Array.isArray(events)) {
          const errors = page.errors ?? [{ message: 'the events could not be read', extensions: { code: 'INTERNAL_SERVER_ERROR' } }];
          readFailures += 1;
          if (errors.some((e) => finalCodes.includes(String(e.extensions?.code))) || readFailures > limits.reconnectAttemptsMax) {
            finish(endingFor(errors));
            break;
          }
          // A subgraph restarting or a shard failing over: read the same page again shortly.
          await sleep(limits.reconnectDelayMs, signal).catch(() => {});
          if (signal.aborted) return;
          state.dirty = true;
          continue;
        }
        readFailures = 0;
        if (hasCode(page.errors, 'UNAUTHENTICATED')) {
          finish({ kind: 'denied', code: CloseCode.Unauthorized, reason: 'Unauthorized' });
          break;
        }
        for (const [index, event] of events.entries()) {
          const { [subscription.cursorKey]: cursor, ...fields } = event as Record<string, unknown>;
          if (!(yield* deliver(cursor as string, eventResult(subscription.responseKey, fields, page.errors, index)))) break read;
        }
        if (events.length === limits.pageSize) state.dirty = true;
      }
      const end: Ending = state.ending ?? { kind: 'stopped' };
      switch (end.kind) {
        case 'denied':
          deps.socket.close(end.code, end.reason);
          return;
        case 'slow':
          throw new GraphQLError(
            'the subscriber fell too far behind and the stream ended; subscribe again with after: extensions.lastCursor to go on from the last event delivered',
            { extensions: { code: 'SLOW_CONSUMER', lastCursor: state.position } },
          );
        case 'failed':
          throw new GraphQLError(end.error.message, { extensions: { ...end.error.extensions, lastCursor: state.position } });
        case 'stopped':
          return;
      }
    } finally {
      finish({ kind: 'stopped' });
    }
  }, onEnd);
}

interface ForwardedEvent {
  cursor: string;
  fields: Record<string, unknown>;
  errors: readonly GraphQLFormattedError[] | undefined;
}

/** A forwarded event as the subscription's result: its errors' paths are the client's already. */
function forwardedResult(responseKey: string, event: Record<string, unknown>, errors: readonly GraphQLFormattedError[] | undefined): ExecutionResult {
  const converted = toGraphQLErrors(errors);
  return { data: { [responseKey]: event }, ...(converted && converted.length > 0 ? { errors: converted } : {}) };
}

/** Refusals close the client's socket like the subgraph's did; anything else ends the stream with it. */
function endingFor(errors: readonly GraphQLFormattedError[]): Ending {
  if (hasCode(errors, 'UNAUTHENTICATED')) return { kind: 'denied', code: CloseCode.Unauthorized, reason: 'Unauthorized' };
  if (hasCode(errors, 'FORBIDDEN')) return { kind: 'denied', code: CloseCode.Forbidden, reason: 'Forbidden' };
  return { kind: 'failed', error: errors[0] ?? { message: 'the balance stream failed', extensions: { code: 'INTERNAL_SERVER_ERROR' } } };
}

function hasCode(errors: readonly GraphQLFormattedError[] | undefined, code: string): boolean {
  return (errors ?? []).some((e) => e.extensions?.code === code);
}

function closeCodeOf(error: unknown): number | null {
  if (typeof error !== 'object' || error === null || !('code' in error)) return null;
  const code = (error as { code: unknown }).code;
  return typeof code === 'number' ? code : null;
}

/**
 * One event of a page as the subscription's result, with the page's errors that belong to it
 * (their paths go through its index, which is dropped).
 */
function eventResult(responseKey: string, event: Record<string, unknown>, errors: readonly GraphQLFormattedError[] | undefined, index: number): ExecutionResult {
  const own = (errors ?? []).filter((e) => e.path?.[0] === responseKey && e.path[1] === index)
    .map((e) => ({ ...e, path: [responseKey, ...e.path!.slice(2)] }));
  const converted = toGraphQLErrors(own);
  return { data: { [responseKey]: event }, ...(converted && converted.length > 0 ? { errors: converted } : {}) };
}

/** graphql-ws sends GraphQLError objects (it calls toJSON on them), not formatted ones. */
export function toGraphQLErrors(errors: readonly GraphQLFormattedError[] | undefined): GraphQLError[] | undefined {
  return errors?.map((e) => new GraphQLError(e.message, {
    ...(e.path ? { path: e.path } : {}),
    ...(e.extensions ? { extensions: e.extensions } : {}),
  }));
}
