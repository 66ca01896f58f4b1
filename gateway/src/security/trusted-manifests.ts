import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { Kind, parse, type OperationTypeNode } from 'graphql';
import { err, ok, type Result } from '@paygraph/shared/result';
import { log } from '@paygraph/shared/log';
import { startWorker, type Worker } from '@paygraph/shared/worker';
import { trustedDocumentsMax, trustedManifestBytesMax } from '../limits';

/**
 * Manifests of trusted documents, in the two formats client tool chains write:
 *  - Apollo's persisted query manifest (`@apollo/generate-persisted-query-manifest`):
 *    `{"format":"apollo-persisted-query-manifest","version":1,"operations":[{"id","name","type","body"}]}`;
 *  - GraphQL Code Generator's persisted documents (client preset, `persistedDocuments: true`):
 *    `{"<id>":"<body>",...}`, the id bare hex or `sha256:<hex>` (the GraphQL-over-HTTP
 *    persisted-documents proposal's prefixed form).
 * Every id must be the SHA-256 of its body (what both tools write by default): so an Apollo
 * `sha256Hash` and a `documentId` name the same document, and a body sent with an id can be
 * checked against it. A manifest is taken whole or not at all: an id that is not its body's hash,
 * a body that does not parse, two entries with one id, or too many documents refuse the file.
 */
export interface TrustedDocument {
  /** SHA-256 of the body, lowercase hex (no prefix). */
  hash: string;
  body: string;
  /** The operation's name (Apollo's manifest says it; from the body otherwise); null when it has none. */
  name: string | null;
  type: OperationTypeNode | null;
  /** The client whose manifest holds it (the name it is configured under). */
  client: string;
}

/** A manifest the gateway loads: where it lies and which client ships it. */
export interface ManifestSource {
  client: string;
  path: string;
}

const hexHash = /^[0-9a-f]{64}$/;
const prefixedHash = /^sha256:([0-9a-f]{64})$/;

export function documentHash(body: string): string {
  return createHash('sha256').update(body).digest('hex');
}

/** A document id as a request or manifest writes it (`sha256:<hex>` or bare hex) → the hash; null when malformed. */
export function hashOfId(id: string): string | null {
  if (hexHash.test(id)) return id;
  return prefixedHash.exec(id)?.[1] ?? null;
}

/** One manifest's text → its documents, or why it is refused. */
export function parseManifest(text: string, client: string): Result<TrustedDocument[], string> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return err(`not JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return err('not a JSON object');
  const entries =
    'format' in json ? apolloEntries(json as Record<string, unknown>) : codegenEntries(json as Record<string, unknown>);
  if (!entries.ok) return entries;
  const documents: TrustedDocument[] = [];
  const seen = new Set<string>();
  for (const entry of entries.value) {
    const checked = checkEntry(entry, client);
    if (!checked.ok) return checked;
    if (seen.has(checked.value.hash)) return err(`id ${entry.id} appears twice`);
    seen.add(checked.value.hash);
    documents.push(checked.value);
  }
  if (documents.length > trustedDocumentsMax)
    return err(`${documents.length} documents; at most ${trustedDocumentsMax} are accepted`);
  return ok(documents);
}

interface RawEntry {
  id: string;
  body: unknown;
  name: unknown;
}

function apolloEntries(json: Record<string, unknown>): Result<RawEntry[], string> {
  if (json.format !== 'apollo-persisted-query-manifest') return err(`unknown format ${JSON.stringify(json.format)}`);
  if (json.version !== 1)
    return err(`unknown version ${JSON.stringify(json.version)} of apollo-persisted-query-manifest`);
  if (!Array.isArray(json.operations)) return err('operations is not an array');
  const entries: RawEntry[] = [];
  for (const [index, operation] of json.operations.entries()) {
    if (typeof operation !== 'object' || operation === null) return err(`operations[${index}] is not an object`);
    const { id, body, name } = operation as Record<string, unknown>;
    if (typeof id !== 'string') return err(`operations[${index}] has no string id`);
    entries.push({ id, body, name });
  }
  return ok(entries);
}

function codegenEntries(json: Record<string, unknown>): Result<RawEntry[], string> {
  return ok(Object.entries(json).map(([id, body]) => ({ id, body, name: undefined })));
}

function checkEntry(entry: RawEntry, client: string): Result<TrustedDocument, string> {
  const hash = hashOfId(entry.id);
  if (hash === null)
    return err(
      `id ${JSON.stringify(entry.id.slice(0, 80))} is not a SHA-256 hash (64 hex digits, optionally prefixed sha256:)`,
    );
  if (typeof entry.body !== 'string') return err(`id ${entry.id}: the body is not a string`);
  if (documentHash(entry.body) !== hash) return err(`id ${entry.id} is not the SHA-256 of its body`);
  let operation;
  try {
    operation = parse(entry.body).definitions.find((d) => d.kind === Kind.OPERATION_DEFINITION);
  } catch (error) {
    return err(`id ${entry.id}: the body does not parse: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (!operation || operation.kind !== Kind.OPERATION_DEFINITION)
    return err(`id ${entry.id}: the body holds no operation`);
  const name = typeof entry.name === 'string' ? entry.name : (operation.name?.value ?? null);
  return ok({ hash, body: entry.body, name, type: operation.operation, client });
}

/** Reads and parses every manifest; the first refusal names its file. */
export function readManifests(sources: readonly ManifestSource[]): Result<Map<string, TrustedDocument>, string> {
  const documents = new Map<string, TrustedDocument>();
  for (const source of sources) {
    let text: string;
    try {
      const bytes = statSync(source.path).size;
      if (bytes > trustedManifestBytesMax)
        return err(`${source.path}: ${bytes} bytes; at most ${trustedManifestBytesMax} are read`);
      text = readFileSync(source.path, 'utf8');
    } catch (error) {
      return err(`${source.path}: ${error instanceof Error ? error.message : String(error)}`);
    }
    const parsed = parseManifest(text, source.client);
    if (!parsed.ok) return err(`${source.path} (client ${source.client}): ${parsed.error}`);
    // The same hash in two manifests is the same body; the first manifest's client keeps it.
    for (const document of parsed.value) if (!documents.has(document.hash)) documents.set(document.hash, document);
    if (documents.size > trustedDocumentsMax) return err(`more than ${trustedDocumentsMax} documents in all manifests`);
  }
  return ok(documents);
}

/** The trusted documents now in force, re-read on an interval and on demand (SIGHUP, main.ts). */
export interface TrustedDocumentSet {
  get(hash: string): TrustedDocument | undefined;
  /** The document whose body is exactly this text: a request's text is screened before anything hashes it. */
  byBody(text: string): TrustedDocument | undefined;
  size(): number;
  /**
   * Re-reads every manifest; a refused one leaves the set as it was, and says why in the log. Answers whether the set
   * was replaced.
   */
  reload(): boolean;
  stop(): Promise<void>;
}

/**
 * Reads the manifests now (a refusal at start-up throws: the gateway does not start on a broken
 * manifest), then every reloadMs (null: on reload() only).
 */
export function loadTrustedDocuments(sources: readonly ManifestSource[], reloadMs: number | null): TrustedDocumentSet {
  const first = readManifests(sources);
  if (!first.ok) throw new Error(`trusted documents: ${first.error}`);
  let documents = first.value;
  let bodies = bodiesOf(documents);
  const reload = (): boolean => {
    const next = readManifests(sources);
    if (!next.ok) {
      log().error(
        { reason: next.error },
        `trusted documents: a manifest was refused; the ${documents.size} documents loaded before stay in force`,
      );
      return false;
    }
    documents = next.value;
    bodies = bodiesOf(documents);
    return true;
  };
  const worker: Worker | null =
    reloadMs === null
      ? null
      : startWorker({
          name: 'trusted-documents reload',
          intervalMs: reloadMs,
          pass: async () => (reload() ? documents.size : 0),
        });
  return {
    get: (hash) => documents.get(hash),
    byBody: (text) => bodies.get(text),
    size: () => documents.size,
    reload,
    stop: async () => {
      await worker?.stop();
    },
  };
}

function bodiesOf(documents: ReadonlyMap<string, TrustedDocument>): Map<string, TrustedDocument> {
  return new Map([...documents.values()].map((document) => [document.body, document]));
}
