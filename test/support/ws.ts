import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import type { FormattedExecutionResult, GraphQLFormattedError } from 'graphql';

/**
 * A real graphql-ws client (graphql-transport-ws over the ws package) that records what a
 * subscription delivers, how it ended and how its socket closed.
 */
export interface BalanceEvent {
  cursor: string;
  sequence: number;
  [field: string]: any;
}

export interface Subscription {
  /** Every `next` payload, in arrival order. */
  readonly results: FormattedExecutionResult[];
  /** The balanceChanged events among them. */
  readonly events: BalanceEvent[];
  /** What ended it with an error: GraphQL errors (an `error` message) or a close event. */
  error: unknown;
  completed: boolean;
  /** The close code of the socket, once closed. */
  readonly closeCode: number | null;
  /** The underlying socket, e.g. to pause reading and play a slow consumer. */
  socket(): WebSocket | null;
  waitFor(condition: () => boolean, what: string, timeoutMs?: number): Promise<void>;
  /** Unsubscribes (complete) and closes the connection. */
  close(): Promise<void>;
}

export const waitTimeoutMsDefault = 15_000;
const waitPollMs = 10;

export interface SubscribeOptions {
  /** connectionParams.authorization; omitted entirely when null. */
  authorization: string | null;
  query: string;
  variables?: Record<string, unknown>;
  /** Where the event sits in each result (the field's response key). */
  responseKey?: string;
}

/** One graphql-ws connection that can carry several subscriptions. */
export interface Connection {
  subscribe(query: string, variables?: Record<string, unknown>, responseKey?: string): Subscription;
  /** The close code of the socket, once closed. */
  readonly closeCode: number | null;
  socket(): WebSocket | null;
  close(): Promise<void>;
}

export function connect(url: string, authorization: string | null): Connection {
  let socket: WebSocket | null = null;
  let closeCode: number | null = null;
  // Subclassing keeps a handle on the socket the client opens, for pause() and resume().
  class RecordedWebSocket extends WebSocket {
    constructor(address: string, protocols?: string | string[]) {
      super(address, protocols);
      // eslint-disable-next-line @typescript-eslint/no-this-alias -- the test's handle on the socket
      socket = this;
    }
  }
  const client: Client = createClient({
    url,
    webSocketImpl: RecordedWebSocket,
    lazy: true,
    retryAttempts: 0,
    ...(authorization === null ? {} : { connectionParams: { authorization } }),
    on: {
      closed: (event) => {
        closeCode = (event as { code?: number }).code ?? null;
      },
    },
  });
  const connection: Connection = {
    get closeCode() {
      return closeCode;
    },
    socket: () => socket,
    subscribe: (query, variables = {}, responseKey = 'balanceChanged') => {
      let unsubscribe = () => {};
      const state: Subscription = {
        results: [],
        events: [],
        error: null,
        completed: false,
        get closeCode() {
          return closeCode;
        },
        socket: () => socket,
        waitFor: async (condition, what, timeoutMs = waitTimeoutMsDefault) => {
          const deadline = Date.now() + timeoutMs;
          while (!condition()) {
            if (Date.now() > deadline) {
              throw new Error(
                `timed out after ${timeoutMs} ms waiting for ${what} (events: ${state.events.length}, error: ${describe(state.error)}, closed: ${closeCode})`,
              );
            }
            await new Promise((resolve) => setTimeout(resolve, waitPollMs));
          }
        },
        close: async () => {
          unsubscribe();
          await client.dispose();
        },
      };
      unsubscribe = client.subscribe(
        { query, variables },
        {
          next: (result) => {
            state.results.push(result as FormattedExecutionResult);
            const event = (result.data as Record<string, unknown> | null | undefined)?.[responseKey];
            if (event) state.events.push(event as BalanceEvent);
          },
          error: (error) => {
            state.error = error;
          },
          complete: () => {
            state.completed = true;
          },
        },
      );
      return state;
    },
    close: async () => {
      await client.dispose();
    },
  };
  return connection;
}

/** A connection of its own for one subscription. */
export function subscribe(url: string, options: SubscribeOptions): Subscription {
  return connect(url, options.authorization).subscribe(options.query, options.variables ?? {}, options.responseKey);
}

/** The GraphQL errors an `error` message carried (empty for a close event or none). */
export function errorsOf(subscription: Subscription): GraphQLFormattedError[] {
  return Array.isArray(subscription.error) ? (subscription.error as GraphQLFormattedError[]) : [];
}

function describe(error: unknown): string {
  if (error === null || error === undefined) return 'none';
  if (Array.isArray(error)) return JSON.stringify(error);
  const code = (error as { code?: unknown }).code;
  return code === undefined ? String(error) : `close ${String(code)}`;
}
