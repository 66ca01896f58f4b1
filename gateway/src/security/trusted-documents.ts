import { fileURLToPath } from 'node:url';
import { GraphQLError } from 'graphql';
import type { ApolloServerPlugin } from '@apollo/server';
import { roles, type Role } from '@paygraph/shared/identity';
import { log, type Logger } from '@paygraph/shared/log';
import type { ScreenedRequest, ScreenRefusal } from '@paygraph/shared/server/http';
import type { GatewayContext } from '../context';
import { untrustedDocumentsLoggedMax } from '../limits';
import {
  documentHash,
  hashOfId,
  type ManifestSource,
  type TrustedDocument,
  type TrustedDocumentSet,
} from './trusted-manifests';

/**
 * Trusted documents (persisted operations, safelisting): a client may name a document of a
 * manifest by its id instead of sending its text, and a role in `require` mode may run nothing
 * else. Two stages:
 *  - before Apollo Server (resolveTrustedRequest, the HTTP server's `resolve` hook): an id —
 *    GraphQL-over-HTTP's `documentId` (`sha256:<hex>`) or Apollo's
 *    `extensions.persistedQuery.sha256Hash` — is checked and replaced by its document's text;
 *  - once the caller and the operation are known (the plugin's didResolveOperation, before any
 *    subgraph is called, on both the forwarded and the planned path): the text's SHA-256 is looked
 *    up in the manifests, and the caller's role's mode says what an unknown one gets.
 * An id Apollo's automatic persisted queries registered (not in a manifest) still works in `off`
 * and `log` mode; in `require` mode its text is refused like any unknown text.
 */

/** off: anything runs; log: unknown documents run and are logged (name and hash); require: they are refused. */
export const trustedDocumentsModes = ['off', 'log', 'require'] as const;
export type TrustedDocumentsMode = (typeof trustedDocumentsModes)[number];

/** The mode of each role, and of callers without a valid token (`default`). */
export type TrustedDocumentsModes = Record<Role | 'default', TrustedDocumentsMode>;

/** The manifest of the contract's operations, written by `npm run build` (scripts/lib/contract-manifest.ts). */
export const contractManifestPath = fileURLToPath(new URL('../../trusted-documents/contract.json', import.meta.url));
/** The client name the contract's manifest is loaded under. */
export const contractManifestClient = 'paygraph-contract';

/** The refusals' codes (README, "Clients"). */
export type TrustedDocumentCode =
  'DOCUMENT_ID_MALFORMED' | 'DOCUMENT_ID_UNKNOWN' | 'DOCUMENT_ID_MISMATCH' | 'DOCUMENT_NOT_TRUSTED';

function refusal(code: TrustedDocumentCode, message: string): ScreenRefusal {
  return { status: 400, body: { errors: [{ message, extensions: { code } }] } };
}

/** What a request says of its document: its text, and the ids it names it by. */
interface Named {
  query: unknown;
  documentId: unknown;
  /** Apollo's persistedQuery extension when it is version 1 (another version is Apollo's to refuse). */
  persistedHash: unknown;
  /** The request's fields as Apollo Server reads them, to rebuild it with the text in place of the ids. */
  rebuild(query: string): ScreenedRequest;
}

/**
 * The request with a trusted document's text in place of its id, the request as it came when it
 * names no id (or an id Apollo's persisted query cache may know), or a refusal: a malformed id,
 * two ids that differ, an id that is not the SHA-256 of the text sent with it, a `documentId`
 * no manifest holds.
 */
export function resolveTrustedRequest(
  request: ScreenedRequest,
  documents: TrustedDocumentSet,
): ScreenedRequest | ScreenRefusal {
  const named = namedOf(request);
  if (named === null || (named.documentId === undefined && named.persistedHash === undefined)) return request;
  const ids = [named.documentId, named.persistedHash].filter((id) => id !== undefined);
  const hashes = ids.map((id) => (typeof id === 'string' ? hashOfId(id) : null));
  if (hashes.some((hash) => hash === null)) {
    return refusal(
      'DOCUMENT_ID_MALFORMED',
      'a document id is `sha256:` followed by 64 lowercase hex digits (documentId), or the 64 hex digits (extensions.persistedQuery.sha256Hash)',
    );
  }
  const hash = hashes[0]!;
  if (hashes.some((other) => other !== hash))
    return refusal(
      'DOCUMENT_ID_MISMATCH',
      'documentId and extensions.persistedQuery.sha256Hash name different documents',
    );
  if (typeof named.query === 'string' && named.query !== '') {
    if (documentHash(named.query) !== hash)
      return refusal(
        'DOCUMENT_ID_MISMATCH',
        'the document id is not the SHA-256 of the query sent with it: send the id alone, or the text it names',
      );
    return request;
  }
  const document = documents.get(hash);
  if (document) return named.rebuild(document.body);
  // An Apollo hash alone may name a document registered by automatic persisted queries: Apollo Server looks it up.
  if (named.documentId === undefined) return request;
  return refusal(
    'DOCUMENT_ID_UNKNOWN',
    `no trusted document has the id ${typeof named.documentId === 'string' ? named.documentId : ''}`,
  );
}

function namedOf(request: ScreenedRequest): Named | null {
  if (request.method === 'GET') {
    const params = new URLSearchParams(request.search);
    const extensions = jsonObject(params.get('extensions'));
    return {
      query: params.get('query') ?? undefined,
      documentId: params.get('documentId') ?? undefined,
      persistedHash: persistedHashOf(extensions),
      rebuild: (query) => {
        const rebuilt = new URLSearchParams(params);
        rebuilt.delete('documentId');
        rebuilt.set('query', query);
        const rest = withoutPersistedQuery(extensions);
        if (rest === null) rebuilt.delete('extensions');
        else rebuilt.set('extensions', JSON.stringify(rest));
        return { ...request, search: `?${rebuilt.toString()}` };
      },
    };
  }
  const body = request.body;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return null;
  const fields = body as Record<string, unknown>;
  const extensions =
    typeof fields.extensions === 'object' && fields.extensions !== null
      ? (fields.extensions as Record<string, unknown>)
      : null;
  return {
    query: fields.query,
    documentId: fields.documentId,
    persistedHash: persistedHashOf(extensions),
    rebuild: (query) => {
      const { documentId: _documentId, extensions: _extensions, ...rest } = fields;
      const others = withoutPersistedQuery(extensions);
      return { ...request, body: { ...rest, query, ...(others === null ? {} : { extensions: others }) } };
    },
  };
}

function jsonObject(text: string | null): Record<string, unknown> | null {
  if (text === null) return null;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    // Apollo Server refuses the unreadable extensions itself.
    return null;
  }
}

function persistedHashOf(extensions: Record<string, unknown> | null): unknown {
  const persisted = extensions?.persistedQuery;
  if (typeof persisted !== 'object' || persisted === null) return undefined;
  const { version, sha256Hash } = persisted as Record<string, unknown>;
  return version === 1 ? sha256Hash : undefined;
}

/** The extensions without persistedQuery (the text now travels in `query`), or null when nothing is left. */
function withoutPersistedQuery(extensions: Record<string, unknown> | null): Record<string, unknown> | null {
  if (extensions === null) return null;
  const { persistedQuery: _persistedQuery, ...rest } = extensions;
  return Object.keys(rest).length === 0 ? null : rest;
}

/** The trusted document a request ran, by Apollo's request object: client awareness reads its manifest's client. */
const trustedByRequest = new WeakMap<object, TrustedDocument>();

export function trustedDocumentOf(request: object): TrustedDocument | undefined {
  return trustedByRequest.get(request);
}

/**
 * What the gate decided of a document: trusted (a manifest holds it), served untrusted (off, log), or refused
 * (require).
 */
export type DocumentJudgement =
  { kind: 'trusted'; document: TrustedDocument } | { kind: 'served' } | { kind: 'refused'; error: GraphQLError };

/**
 * Judges a document by its text's SHA-256 and the caller's role (null: no valid token): what a
 * manifest holds is trusted; otherwise the role's mode says — `require` refuses it, `log` logs
 * the operation's name, the hash and the role (never the variables: they may hold personal
 * data) once per distinct document, `off` serves it. One gate serves HTTP (the plugin) and
 * graphql-ws (subscriptions/server.ts), so both log a document once between them.
 */
export function trustedDocumentsGate(
  documents: TrustedDocumentSet,
  modes: TrustedDocumentsModes,
): (hash: string, role: Role | null, operationName: string | null, logger: Logger) => DocumentJudgement {
  const logged = new Set<string>();
  return (hash, role, operationName, logger) => {
    const trusted = documents.get(hash);
    if (trusted) return { kind: 'trusted', document: trusted };
    const mode = modes[role ?? 'default'];
    if (mode === 'require') {
      return {
        kind: 'refused',
        error: new GraphQLError(
          'this operation is not one of the trusted documents; send one of your registered operations (by its id or its exact text)',
          {
            extensions: { code: 'DOCUMENT_NOT_TRUSTED' satisfies TrustedDocumentCode, http: { status: 400 } },
          },
        ),
      };
    }
    if (mode === 'log' && !logged.has(hash) && logged.size <= untrustedDocumentsLoggedMax) {
      logged.add(hash);
      if (logged.size > untrustedDocumentsLoggedMax)
        logger.warn(
          `untrusted document: ${untrustedDocumentsLoggedMax} distinct documents logged; further ones are not`,
        );
      else logger.warn({ operationName, documentHash: hash, role }, 'untrusted document served');
    }
    return { kind: 'served' };
  };
}

export type TrustedDocumentsGate = ReturnType<typeof trustedDocumentsGate>;

/**
 * The gate on HTTP, once the caller and the operation are known (didResolveOperation, before any
 * subgraph is called, on the forwarded and the planned path alike). Operations the graphql-ws
 * server runs for a subscriber it judged already (their texts are its own) are not judged again.
 */
export function trustedDocumentsPlugin(gate: TrustedDocumentsGate): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ request, queryHash, operationName, contextValue }) {
          if (contextValue.documentJudged === true) return;
          const role = contextValue.auth.ok ? contextValue.auth.identity.role : null;
          const judged = gate(queryHash, role, operationName, contextValue.log ?? log());
          if (judged.kind === 'refused') throw judged.error;
          if (judged.kind === 'trusted') trustedByRequest.set(request, judged.document);
        },
      };
    },
  };
}

/** What createGateway needs of trusted documents; absent: the contract's manifest, every mode off, no reload. */
export interface TrustedDocumentsOptions {
  /** Manifests loaded after the contract's. */
  manifests: ManifestSource[];
  modes: TrustedDocumentsModes;
  /** Null: re-read on reload() only. */
  reloadMs: number | null;
}

/**
 * The gateway configuration's part that trustedDocumentsOptions reads (config.ts, trustedDocumentsConfig; config.ts
 * imports this file).
 */
export interface TrustedDocumentsSettings {
  trustedDocuments: {
    mode: TrustedDocumentsMode;
    roleModes: Partial<Record<Role, TrustedDocumentsMode>>;
    manifests: ManifestSource[];
    reloadMs: number;
  };
}

/**
 * The settings from the gateway's configuration: TRUSTED_DOCUMENTS_MODE (`require` unless set,
 * under any NODE_ENV) for every role and tokenless callers, TRUSTED_DOCUMENTS_ROLE_MODES over it
 * (`operator=off` unless set), TRUSTED_DOCUMENTS_MANIFESTS and TRUSTED_DOCUMENTS_RELOAD_MS.
 */
export function trustedDocumentsOptions(config: TrustedDocumentsSettings): TrustedDocumentsOptions {
  const { mode, roleModes, manifests, reloadMs } = config.trustedDocuments;
  return { manifests, modes: { ...uniformModes(mode), ...roleModes }, reloadMs };
}

/** Every role and tokenless callers in one mode, operators included (tests, and what a deployment spells out). */
export function uniformModes(mode: TrustedDocumentsMode): TrustedDocumentsModes {
  return Object.fromEntries([...roles, 'default' as const].map((role) => [role, mode])) as TrustedDocumentsModes;
}
