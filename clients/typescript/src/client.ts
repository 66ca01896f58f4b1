import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import {
  createClient,
  type Client as SocketClient,
  type FormattedExecutionResult,
  type SubscribePayload,
} from 'graphql-ws';

/**
 * paygraph's operations sent the way a mobile or web app ships them: by the id of a trusted
 * document, never as text. The documents (generated/graphql.ts, GraphQL Code Generator's client
 * preset in `replaceDocumentWithHash` mode) carry only their id and their types, and
 * generated/persisted-documents.json is the manifest the gateway loads for this client
 * (TRUSTED_DOCUMENTS_MANIFESTS=paygraph-typescript=…): queries and mutations go as
 * GraphQL-over-HTTP's `documentId`, subscriptions over graphql-ws with the same `documentId` and
 * an empty `query` (graphql-ws wants the field).
 */

/** A generated document: its result and variables types, and its id under `__meta__.hash`. */
export type PersistedDocument<Result, Variables> = TypedDocumentNode<Result, Variables> & {
  __meta__?: { hash?: unknown };
};

export interface PaygraphClientOptions {
  /** The gateway's GraphQL endpoint, e.g. `https://api.example.com/graphql`; subscriptions use the same URL over ws(s). */
  url: string;
  /** The caller's JWT, sent as `Authorization: Bearer <token>` and as the socket's `authorization`. */
  token: string;
  /** `apollographql-client-name` and `-version`: they label the gateway's metrics and audit lines. */
  name?: string;
  version?: string;
  /** Another fetch (a test's recorder, React Native's); the global one when absent. */
  fetch?: typeof fetch;
  /** A WebSocket class where there is no global one (Node before 22: the `ws` package's). */
  webSocketImpl?: unknown;
}

export interface PaygraphClient {
  /** Runs a query or mutation; the result as the gateway answered it, refusals (HTTP 400) included. */
  execute<Result, Variables>(
    document: PersistedDocument<Result, Variables>,
    variables: Variables,
  ): Promise<FormattedExecutionResult<Result>>;
  /** The events of a subscription until the caller stops iterating (`break`) or the server ends it. */
  subscribe<Result, Variables>(
    document: PersistedDocument<Result, Variables>,
    variables: Variables,
  ): AsyncIterableIterator<FormattedExecutionResult<Result, unknown>>;
  /** Closes the socket, if one was opened. */
  dispose(): Promise<void>;
}

/** The document's id, `sha256:<hex>`; a document generated without persisted documents has none. */
export function documentIdOf(document: object): string {
  const id = (document as { __meta__?: { hash?: unknown } }).__meta__?.hash;
  if (typeof id !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(id)) {
    throw new Error(
      "this document has no sha256 id: generate it with the client preset's persistedDocuments (hashAlgorithm sha256)",
    );
  }
  return id;
}

export function createPaygraphClient(options: PaygraphClientOptions): PaygraphClient {
  const send = options.fetch ?? fetch;
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/graphql-response+json, application/json',
    authorization: `Bearer ${options.token}`,
    ...(options.name === undefined ? {} : { 'apollographql-client-name': options.name }),
    ...(options.version === undefined ? {} : { 'apollographql-client-version': options.version }),
  };
  let socket: SocketClient | null = null;
  const socketClient = (): SocketClient => {
    socket ??= createClient({
      url: options.url.replace(/^http/, 'ws'),
      connectionParams: { authorization: `Bearer ${options.token}` },
      lazy: true,
      ...(options.webSocketImpl === undefined ? {} : { webSocketImpl: options.webSocketImpl }),
    });
    return socket;
  };
  return {
    async execute<Result, Variables>(
      document: PersistedDocument<Result, Variables>,
      variables: Variables,
    ): Promise<FormattedExecutionResult<Result>> {
      const response = await send(options.url, {
        method: 'POST',
        headers,
        body: JSON.stringify({ documentId: documentIdOf(document), variables }),
      });
      const type = response.headers.get('content-type') ?? '';
      if (!/json/.test(type))
        throw new Error(
          `the gateway answered ${response.status} with ${type || 'no content type'}, not a GraphQL response`,
        );
      return (await response.json()) as FormattedExecutionResult<Result>;
    },
    subscribe<Result, Variables>(
      document: PersistedDocument<Result, Variables>,
      variables: Variables,
    ): AsyncIterableIterator<FormattedExecutionResult<Result, unknown>> {
      // graphql-ws checks that `query` is a string; the gateway reads the document from documentId.
      const payload: SubscribePayload & { documentId: string } = {
        query: '',
        documentId: documentIdOf(document),
        variables: variables as Record<string, unknown>,
      };
      return socketClient().iterate<Result, unknown>(payload);
    },
    async dispose() {
      await socket?.dispose();
    },
  };
}
