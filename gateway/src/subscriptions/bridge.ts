import { GraphQLError, type ExecutionResult, type GraphQLFormattedError, type FormattedExecutionResult } from 'graphql';
import type { Client, FormattedExecutionResult as UpstreamResult } from 'graphql-ws';
import { CloseCode } from 'graphql-ws';
import { abortable, sleep } from '@paygraph/shared/streams/abortable';
import type { StreamSubscription } from './operation';

/**
 * One client subscription, bridged. The stream's subgraph (the account subgraph for
 * balanceChanged, the transaction subgraph for externalAccountChanged: operation.ts streamKinds)
 * tells the gateway (over graphql-ws, with the subscriber's token) each time what is followed
 * moves (an account's ledger, an owner's link events); the gateway then reads
 * the events after the client's position, a page at a time, through its own query execution
 * (again with the subscriber's token, so authorization applies to every page and fields of
 * other subgraphs resolve through federation), and hands them to graphql-ws one by one.
 *
 * The client sets the pace: the next page is read only once graphql-ws has written the last
 * event to the socket, so the gateway holds at most one page per subscription and a slow
 * client simply falls behind, with the ledger as its buffer. Past that, a client whose socket
 * has not taken an event for consumerStallMsMax, or holds more than socketBufferBytesMax
 * unsent, is ended with SLOW_CONSUMER and the cursor of the last event handed to its socket,
 * from which it resumes. When the subgraph goes away (restart, deploy) the bridge
 * listens again and reads on from the client's position, so the client notices nothing.
 *
 * A subscription whose selection the stream's subgraph serves alone (operation.ts,
 * `forwardQuery`) is forwarded instead: the gateway subscribes to the subgraph's own field
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
  /** graphql-ws client to the stream's subgraph, authenticated as the subscriber. */
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

type Ending =
  | { kind: 'denied'; code: number; reason: string }
  | { kind: 'slow' }
  | { kind: 'failed'; error: GraphQLFormattedError }
  | { kind: 'stopped' };

export function bridgeEventStream(
  subscription: StreamSubscription,
  deps: BridgeDeps,
  onEnd: () => void,
): AsyncGenerator<ExecutionResult, void, undefined> {
  return abortable((signal) => new StreamBridge(subscription, deps, signal).run(), onEnd);
}

/** The subscription to what is followed's position (its head): the stream's @inaccessible head field. */
function headQuery(subscription: StreamSubscription): string {
  const { headField, keyArgument } = subscription.stream;
  return `subscription StreamHead($key: ID!) { ${headField}(${keyArgument}: $key) }`;
}

/**
 * Codes that are the client's to act on; any other failure to read a page is tried again. A
 * subgraph that follows as many streams as it may (the transaction subgraph's link feed) answers
 * SUBSCRIPTION_LIMIT_REACHED, as the gateway's own limits do.
 */
const finalCodes = ['BAD_USER_INPUT', 'FORBIDDEN', 'UNAUTHENTICATED', 'SUBSCRIPTION_LIMIT_REACHED'];

/**
 * What a turn of the bridge's loop leaves: go on, end the stream (as `ending` says), or stop at once (the client went
 * away).
 */
type Turn = 'go-on' | 'ended' | 'aborted';

/** One upstream subscription: once settled (failed, completed or dropped) its later callbacks are ignored. */
interface UpstreamAttempt {
  settled: boolean;
}

/**
 * The state machine of one bridged subscription: the loop (run) hands events to graphql-ws, and
 * each upstream callback (a result, an error, a completion) is a method of its own that updates
 * the state and wakes the loop.
 */
class StreamBridge {
  private readonly forward: string | null;
  private ending: Ending | null = null;
  /** The cursor of the last event handed to the client's socket. */
  private position: string | null;
  /** A page read is due (streams that are not forwarded). */
  private dirty: boolean;
  /** Forwarded events received and not yet handed on, each with its own errors. */
  private readonly queue: ForwardedEvent[] = [];
  /** The cursor of the last forwarded event received: an upstream subscribed again goes on after it. */
  private received: string | null = null;
  /** The upstream stream was dropped because pageSize events waited; taken up again once they are sent. */
  private paused = false;
  private wake: (() => void) | null = null;
  /** Upstream failures since the last event or head, and page reads failed in a row. */
  private failures = 0;
  private readFailures = 0;
  private disposeUpstream: (() => void) | null = null;
  private retryTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly subscription: StreamSubscription,
    private readonly deps: BridgeDeps,
    private readonly signal: AbortSignal,
  ) {
    this.forward = subscription.forwardQuery;
    this.position = subscription.after;
    this.dirty = this.forward === null && subscription.after !== null;
  }

  async *run(): AsyncGenerator<ExecutionResult, void, undefined> {
    this.signal.addEventListener('abort', this.poke, { once: true });
    this.listen();
    try {
      while (!this.ending) {
        const turn = yield* this.step();
        if (turn === 'aborted') return;
        if (turn === 'ended') break;
      }
      this.end(this.ending ?? { kind: 'stopped' });
    } finally {
      this.finish({ kind: 'stopped' });
    }
  }

  /** One turn: hand on a forwarded event, wait for news, or read a page. */
  private async *step(): AsyncGenerator<ExecutionResult, Turn, undefined> {
    const next = this.queue.shift();
    if (next) return yield* this.handOn(next);
    if (this.forward !== null) {
      if (this.paused) {
        this.paused = false;
        this.listen();
      }
      return await this.untilPoked();
    }
    if (this.position === null || !this.dirty) return await this.untilPoked();
    return yield* this.readPage();
  }

  private async untilPoked(): Promise<Turn> {
    await new Promise<void>((resolve) => {
      this.wake = resolve;
    });
    return this.signal.aborted ? 'aborted' : 'go-on';
  }

  private async *handOn(next: ForwardedEvent): AsyncGenerator<ExecutionResult, Turn, undefined> {
    if (!this.deps.tokenHonoured()) {
      this.finish({ kind: 'denied', code: CloseCode.Unauthorized, reason: 'Unauthorized' });
      return 'ended';
    }
    return (yield* this.deliver(next.cursor, forwardedResult(this.subscription.responseKey, next.fields, next.errors)))
      ? 'go-on'
      : 'ended';
  }

  /** Reads the page after the client's position and hands its events on. */
  private async *readPage(): AsyncGenerator<ExecutionResult, Turn, undefined> {
    const { pageSize } = this.deps.limits;
    const { responseKey, cursorKey } = this.subscription;
    this.dirty = false;
    const page = await this.deps.readPage(this.position, pageSize);
    if (this.signal.aborted) return 'aborted';
    const events = (page.data as Record<string, unknown> | null | undefined)?.[responseKey];
    if (!Array.isArray(events)) return await this.pageFailed(page.errors);
    this.readFailures = 0;
    if (hasCode(page.errors, 'UNAUTHENTICATED')) {
      this.finish({ kind: 'denied', code: CloseCode.Unauthorized, reason: 'Unauthorized' });
      return 'ended';
    }
    for (const [index, event] of events.entries()) {
      const { [cursorKey]: cursor, ...fields } = event as Record<string, unknown>;
      if (!(yield* this.deliver(cursor as string, eventResult(responseKey, fields, page.errors, index))))
        return 'ended';
    }
    if (events.length === pageSize) this.dirty = true;
    return 'go-on';
  }

  private async pageFailed(pageErrors: readonly GraphQLFormattedError[] | undefined): Promise<Turn> {
    const errors = pageErrors ?? [
      { message: 'the events could not be read', extensions: { code: 'INTERNAL_SERVER_ERROR' } },
    ];
    this.readFailures += 1;
    if (
      errors.some((e) => finalCodes.includes(String(e.extensions?.code))) ||
      this.readFailures > this.deps.limits.reconnectAttemptsMax
    ) {
      this.finish(endingFor(errors));
      return 'ended';
    }
    // A subgraph restarting or a shard failing over: read the same page again shortly.
    await sleep(this.deps.limits.reconnectDelayMs, this.signal).catch(() => {});
    if (this.signal.aborted) return 'aborted';
    this.dirty = true;
    return 'go-on';
  }

  /**
   * Hands one event to graphql-ws, unless the client is stuck: its socket holds too much, or
   * takes nothing for consumerStallMsMax (armed while graphql-ws writes the event).
   */
  private async *deliver(cursor: string, result: ExecutionResult): AsyncGenerator<ExecutionResult, boolean, undefined> {
    if (this.ending) return false;
    if (this.deps.socket.bufferedAmount > this.deps.limits.socketBufferBytesMax) {
      this.finish({ kind: 'slow' });
      return false;
    }
    this.position = cursor;
    const stall = setTimeout(() => this.finish({ kind: 'slow' }), this.deps.limits.consumerStallMsMax);
    try {
      yield result;
    } finally {
      clearTimeout(stall);
    }
    return true;
  }

  /** How the stream ends for the client: its socket closed on a refusal, an error with the last cursor, or done. */
  private end(ending: Ending): void {
    switch (ending.kind) {
      case 'denied':
        this.deps.socket.close(ending.code, ending.reason);
        return;
      case 'slow':
        throw new GraphQLError(
          'the subscriber fell too far behind and the stream ended; subscribe again with after: extensions.lastCursor to go on from the last event delivered',
          { extensions: { code: 'SLOW_CONSUMER', lastCursor: this.position } },
        );
      case 'failed':
        throw new GraphQLError(ending.error.message, {
          extensions: { ...ending.error.extensions, lastCursor: this.position },
        });
      case 'stopped':
        return;
    }
  }

  private readonly poke = (): void => {
    const resolve = this.wake;
    this.wake = null;
    resolve?.();
  };

  private finish(end: Ending): void {
    if (this.ending === null && end.kind === 'slow') this.deps.onSlowConsumer?.();
    this.ending ??= end;
    this.disposeUpstream?.();
    this.disposeUpstream = null;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.poke();
  }

  private retry(): void {
    this.failures += 1;
    if (this.failures > this.deps.limits.reconnectAttemptsMax) {
      return this.finish({
        kind: 'failed',
        error: {
          message: 'the event stream is unavailable; resume later from extensions.lastCursor',
          extensions: { code: 'UPSTREAM_UNAVAILABLE' },
        },
      });
    }
    this.retryTimer = setTimeout(() => this.listen(), this.deps.limits.reconnectDelayMs);
  }

  /**
   * The subgraph refused the upstream subscription or ended it with an error: a code that is
   * the client's to act on ends the stream with it; anything else (a shard away, a read that
   * failed under load) is tried again like a lost socket, from the last event received, as a
   * failed page read is.
   */
  private refused(errors: readonly GraphQLFormattedError[]): void {
    if (errors.some((e) => finalCodes.includes(String(e.extensions?.code)))) this.finish(endingFor(errors));
    else this.retry();
  }

  /**
   * Subscribes upstream: to the head of what is followed, or, forwarded, to its events after the
   * last one received. A forwarded stream without `after` first learns where it stands (its
   * head), so that an upstream lost before the first event is taken up from there, not from a
   * later end of the ledger.
   */
  private listen(): void {
    if (this.ending || this.signal.aborted) return;
    const attempt: UpstreamAttempt = { settled: false };
    const from = this.received ?? this.position;
    const request =
      this.forward === null || from === null
        ? { query: headQuery(this.subscription), variables: { key: this.subscription.key } }
        : {
            query: this.forward,
            variables: { ...this.subscription.variables, [this.subscription.afterVariable]: from },
          };
    this.disposeUpstream = this.deps.upstream.subscribe<Record<string, unknown>>(request, {
      next: (result) => this.onUpstreamResult(attempt, result),
      error: (error: unknown) => this.onUpstreamError(attempt, error),
      complete: () => this.onUpstreamComplete(attempt),
    });
  }

  /** Drops the current upstream subscription; its later callbacks are ignored. */
  private dropUpstream(attempt: UpstreamAttempt): void {
    attempt.settled = true;
    const dispose = this.disposeUpstream;
    this.disposeUpstream = null;
    dispose?.();
  }

  private onUpstreamResult(attempt: UpstreamAttempt, result: UpstreamResult<Record<string, unknown>, unknown>): void {
    if (attempt.settled || this.ending) return;
    const event = this.forward === null ? undefined : result.data?.[this.subscription.responseKey];
    if (event !== undefined && event !== null)
      return this.onForwardedEvent(attempt, event as Record<string, unknown>, result.errors);
    if (result.errors?.length) {
      attempt.settled = true;
      return this.refused(result.errors);
    }
    this.failures = 0;
    // Without `after`, the stream starts at the position of what is followed when first heard.
    this.position ??= (result.data?.[this.subscription.stream.headField] as string | undefined) ?? null;
    if (this.forward !== null && this.position !== null) {
      // The start is known: forward the events after it.
      this.dropUpstream(attempt);
      this.listen();
      return;
    }
    this.dirty = true;
    this.poke();
  }

  private onForwardedEvent(
    attempt: UpstreamAttempt,
    event: Record<string, unknown>,
    errors: readonly GraphQLFormattedError[] | undefined,
  ): void {
    this.failures = 0;
    const { [this.subscription.cursorKey]: cursor, ...fields } = event;
    this.received = cursor as string;
    this.queue.push({ cursor: cursor as string, fields, errors });
    // The client is pageSize events behind: the ledger holds the rest until it catches up.
    if (this.queue.length >= this.deps.limits.pageSize) {
      this.paused = true;
      this.dropUpstream(attempt);
      this.deps.onForwardPaused?.();
    }
    this.poke();
  }

  private onUpstreamError(attempt: UpstreamAttempt, error: unknown): void {
    if (attempt.settled || this.ending) return;
    attempt.settled = true;
    if (Array.isArray(error)) return this.refused(error as GraphQLFormattedError[]);
    const code = closeCodeOf(error);
    if (code === CloseCode.Unauthorized || code === CloseCode.Forbidden) {
      return this.finish({
        kind: 'denied',
        code,
        reason: code === CloseCode.Unauthorized ? 'Unauthorized' : 'Forbidden',
      });
    }
    this.retry();
  }

  private onUpstreamComplete(attempt: UpstreamAttempt): void {
    if (attempt.settled || this.ending) return;
    // The subgraph ended a stream it never ends by itself: it is shutting down.
    attempt.settled = true;
    this.retry();
  }
}

interface ForwardedEvent {
  cursor: string;
  fields: Record<string, unknown>;
  errors: readonly GraphQLFormattedError[] | undefined;
}

/** A forwarded event as the subscription's result: its errors' paths are the client's already. */
function forwardedResult(
  responseKey: string,
  event: Record<string, unknown>,
  errors: readonly GraphQLFormattedError[] | undefined,
): ExecutionResult {
  const converted = toGraphQLErrors(errors);
  return { data: { [responseKey]: event }, ...(converted && converted.length > 0 ? { errors: converted } : {}) };
}

/** Refusals close the client's socket like the subgraph's did; anything else ends the stream with it. */
function endingFor(errors: readonly GraphQLFormattedError[]): Ending {
  if (hasCode(errors, 'UNAUTHENTICATED'))
    return { kind: 'denied', code: CloseCode.Unauthorized, reason: 'Unauthorized' };
  if (hasCode(errors, 'FORBIDDEN')) return { kind: 'denied', code: CloseCode.Forbidden, reason: 'Forbidden' };
  return {
    kind: 'failed',
    error: errors[0] ?? { message: 'the event stream failed', extensions: { code: 'INTERNAL_SERVER_ERROR' } },
  };
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
function eventResult(
  responseKey: string,
  event: Record<string, unknown>,
  errors: readonly GraphQLFormattedError[] | undefined,
  index: number,
): ExecutionResult {
  const own = (errors ?? [])
    .filter((e) => e.path?.[0] === responseKey && e.path[1] === index)
    .map((e) => ({ ...e, path: [responseKey, ...e.path!.slice(2)] }));
  const converted = toGraphQLErrors(own);
  return { data: { [responseKey]: event }, ...(converted && converted.length > 0 ? { errors: converted } : {}) };
}

/** graphql-ws sends GraphQLError objects (it calls toJSON on them), not formatted ones. */
export function toGraphQLErrors(errors: readonly GraphQLFormattedError[] | undefined): GraphQLError[] | undefined {
  return errors?.map(
    (e) =>
      new GraphQLError(e.message, {
        ...(e.path ? { path: e.path } : {}),
        ...(e.extensions ? { extensions: e.extensions } : {}),
      }),
  );
}
