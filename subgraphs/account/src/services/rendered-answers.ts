import type {
  ApolloServerPlugin,
  GraphQLRequestContext,
  GraphQLRequestListener,
  GraphQLResponse,
} from '@apollo/server';
import { HeaderMap } from '@apollo/server';
import {
  Kind,
  getNamedType,
  getOperationAST,
  isObjectType,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
  type SelectionSetNode,
} from 'graphql';
import { randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { PerReaderCache, type PerReaderBounds } from '@paygraph/shared/per-reader-cache';
import { renderedData, whenWritten } from '@paygraph/shared/graphql/rendered-answers';
import { renderedAnswers as renderedAnswersCounter } from '@paygraph/shared/metrics';
import type { AccountContext } from '../context';
import { accountRowReader } from '../db/account-views';
import type { Account } from '@paygraph/shared/ledger/index';
import type { AccountView } from '../domain/account-view';
import {
  renderedAnswersBytesMax,
  renderedAnswerBytesMax,
  renderedAnswersBytesPerReaderMax,
  renderedAnswersPerReaderMax,
  renderedDocumentsMax,
  renderedTagPrefixBytes,
  unreusableAccountsMax,
} from '../limits';
import { readerOf } from './access';
import { renderedTagHeader, type LaneAnswers, type LaneOperation } from '@paygraph/shared/server/subgraph-lane';
import { handedOverByLane } from '@paygraph/shared/graphql/jit-executor';

/**
 * Rendered answers of account reads (GetAccount): a read whose answer is a function of things the
 * subgraph can check in one primary-key read is answered again with the text it was answered
 * with, without reading its page of entries, executing or writing it again. A page of 100 entries
 * cost the account subgraph ≈ 1.1 ms of CPU per read, a third of it garbage (docs/PERFORMANCE.md).
 *
 * What an answer depends on, and so what keys it:
 * - the reader (access.ts readerOf: every predicate decides from the caller's subject and role):
 *   an answer is kept per reader and never served to another, and each reader holds a bounded
 *   share (limits.ts renderedAnswersPerReaderMax, renderedAnswersBytesPerReaderMax);
 * - the request: the document (its hash and operation name) and the variables as sent;
 * - the account row's state (stateOf): every change to the row bumps its version, and a new entry
 *   moves its last sequence (and the version), so after a payment, a status or a credit limit the
 *   kept answer no longer matches and is rendered again (a state never comes back: only the
 *   request's last answer is kept);
 * - its entries at or below that last sequence: append-only, never changed.
 *
 * A request with an answer kept reads the account's row by its primary key and is served the
 * answer if the row's state is the one it shows; a request with none is executed as ever (the row
 * and its page in one round trip) and its answer kept. Only documents that read nothing else are
 * reused (reusableFields): one root field `account(id:)`, and below it the row's fields, its
 * balance and its first page of entries (`entries(first:)`, no `after`), through any aliases,
 * fragments and directives. A MERCHANT account is never reused: its balance and entries live on
 * stripes whose changes its home row does not record. Only answers of data alone are kept: an
 * error (FORBIDDEN, SHARD_UNAVAILABLE, BAD_USER_INPUT) is rendered every time. An answer is kept
 * only when the page it shows was read at the row's state (its newest entry is the row's last):
 * the row and the page are two statements of one round trip, between which a posting may commit.
 */
export interface RenderedAnswers {
  plugin: ApolloServerPlugin<AccountContext>;
  /** The same, on the subgraph's express lane (shared/src/server/subgraph-lane.ts). */
  lane: LaneAnswers<AccountContext>;
}

/** The header with which @apollo/gateway asks a subgraph for an inline trace (ftv1) of its answer. */
const inlineTraceHeader = 'apollo-federation-include-trace';

/** A read the plugin may answer again: the document's account id and whether it shows entries. */
interface ReusableRead {
  accountId: string;
  selectsEntries: boolean;
}

/** What a document may select for its answer to be reused, by type: the row, its balance, its first page. */
const reusableFields: Readonly<Record<string, ReadonlySet<string>>> = {
  Account: new Set(['id', 'type', 'ownerId', 'currency', 'status', 'balance', 'entries', 'version', 'createdAt']),
  Balance: new Set(['available', 'frozen', 'pending', 'total', 'creditLimit', 'creditUsed']),
  EntryConnection: new Set(['edges', 'pageInfo']),
  EntryEdge: new Set(['cursor', 'node']),
  Entry: new Set(['id', 'sequence', 'amount', 'direction', 'bucket', 'balanceAfter', 'postingId', 'createdAt']),
  PageInfo: new Set(['hasNextPage', 'endCursor']),
};

/** How much is kept (limits.ts by default; tests pass smaller ones to see the bounds hold). */
export type RenderedAnswerBounds = PerReaderBounds;

export const renderedAnswerBoundsDefault: RenderedAnswerBounds = {
  answersPerReader: renderedAnswersPerReaderMax,
  bytesPerReader: renderedAnswersBytesPerReaderMax,
  bytes: renderedAnswersBytesMax,
  bytesOfOne: renderedAnswerBytesMax,
};

export function renderedAnswers(bounds: RenderedAnswerBounds = renderedAnswerBoundsDefault): RenderedAnswers {
  // Per reader, an LRU of answers by request (document and variables), each the last one rendered and the account
  // state it was rendered at.
  const readers = new PerReaderCache<KeptAnswer>(bounds, (kept) => kept.text.length);
  const documents = new LRUCache<string, { shape: DocumentShape | null }>({ max: renderedDocumentsMax });
  const unreusable = new LRUCache<string, true>({ max: unreusableAccountsMax });
  const rowOf = accountRowReader();

  const tags = renderedTags();
  /** Keeps an answer under a new tag; the tag when it was kept (not too large). */
  const keep = (reader: string, key: string, answer: Omit<KeptAnswer, 'tag'>): string | undefined => {
    const tag = tags.next();
    if (!readers.set(reader, key, { ...answer, tag })) return undefined;
    renderedAnswersCounter.inc({ outcome: 'kept' });
    return tag;
  };

  const readOf = readFinderOf(documents, unreusable);

  /**
   * Before an operation runs: the text kept for it when the account's row is still at the state it shows; else what to
   * do with its answer's data (keep the text it is written as, when it may be served again), or nothing.
   */
  const before: LaneAnswers<AccountContext>['before'] = async (operation) => {
    const read = readOf(operation);
    if (read === null) return { withData: null };
    const ctx = operation.context;
    const reader = readerOf(ctx.identity);
    const key = requestKey(operation);
    const kept = readers.get(reader, key);
    // Nothing kept: no row is read ahead of the execution, which reads it with its page in one round trip.
    const row = kept === undefined ? null : await currentRowOf(rowOf, ctx, read.accountId);
    if (kept !== undefined && row !== null && reusableRow(row) && stateOf(row) === kept.state) {
      renderedAnswersCounter.inc({ outcome: 'hit' });
      return { text: kept.text, tag: kept.tag };
    }
    renderedAnswersCounter.inc({ outcome: 'miss' });
    return {
      withData: async (data) => {
        const view = await ctx.accounts.load(read.accountId);
        if (view === null) return;
        if (view.type === 'MERCHANT') unreusable.set(view.id, true);
        if (!reusableView(view) || !pageReadAtRow(ctx, read, view)) return;
        const state = stateOf(view);
        whenWritten(data, (text) => {
          const tag = keep(reader, key, { state, text });
          if (tag !== undefined) operation.onKept?.(tag);
        });
      },
    };
  };

  return { plugin: pluginOf(before), lane: { before } };
}

/** Apollo Server's path: the same two steps, as its plugin hooks. */
function pluginOf(before: LaneAnswers<AccountContext>['before']): ApolloServerPlugin<AccountContext> {
  const listener = (): GraphQLRequestListener<AccountContext> => {
    let withData: ((data: object) => Promise<void>) | null = null;
    return {
      async responseForOperation(request) {
        // Run on the express lane already, and handed over for its errors: decided there (a miss, nothing to keep).
        if (handedOverByLane(request.contextValue)) return null;
        const operation = operationOf(request);
        if (operation === null) return null;
        const decided = await before(operation);
        if ('text' in decided) return renderedResponse(decided.text, decided.tag);
        withData = decided.withData;
        return null;
      },
      async willSendResponse(request) {
        const { response } = request;
        if (withData === null || response.body.kind !== 'single') return;
        const { data, errors } = response.body.singleResult;
        if (errors !== undefined || typeof data !== 'object' || data === null) return;
        await withData(data);
      },
    };
  };

  return { requestDidStart: async () => listener() };
}

/**
 * An Apollo Server request as the lane's operation, or null when it is not one to serve again: it asks for an inline
 * trace (the gateway's, for Apollo's usage reporting: it is executed to trace it), or has no document.
 */
function operationOf(request: GraphQLRequestContext<AccountContext>): LaneOperation<AccountContext> | null {
  if (!request.document || !request.queryHash) return null;
  if (request.request.http?.headers.get(inlineTraceHeader) !== undefined) return null;
  return {
    schema: request.schema,
    queryHash: request.queryHash,
    operationName: request.operationName ?? null,
    document: request.document,
    variables: request.request.variables,
    context: request.contextValue,
  };
}

/** The account a request reads, when its document is one whose answer may be served again; null otherwise. */
function readFinderOf(
  documents: LRUCache<string, { shape: DocumentShape | null }>,
  unreusable: LRUCache<string, true>,
) {
  return (operation: LaneOperation<AccountContext>): ReusableRead | null => {
    const documentKey = `${operation.queryHash}:${operation.operationName ?? ''}`;
    let known = documents.get(documentKey);
    if (known === undefined) {
      known = { shape: documentShape(operation.document, operation.operationName, operation.schema) };
      documents.set(documentKey, known);
    }
    if (known.shape === null) return null;
    const accountId = known.shape.accountId(operation.variables ?? {});
    if (accountId === null || unreusable.has(accountId)) return null;
    return { accountId, selectsEntries: known.shape.selectsEntries };
  };
}

/**
 * The account's own row as it is now, by its primary key, read with other requests' (db/account-views.ts
 * accountRowReader); null when it cannot be read (the request is then executed, and answers what that read meets:
 * SHARD_UNAVAILABLE, not found).
 */
async function currentRowOf(
  rowOf: (shards: AccountContext['shards'], id: string) => Promise<Account | null>,
  ctx: AccountContext,
  accountId: string,
): Promise<Account | null> {
  try {
    return await rowOf(ctx.shards, accountId);
  } catch {
    return null;
  }
}

/** An account that is its one row: not a MERCHANT (whose stripes its row does not follow), not a stripe. */
function reusableRow(row: Account): boolean {
  return row.type !== 'MERCHANT' && row.parentId === null;
}

/** A PERSONAL or SYSTEM account read whole: its home row is all there is of it. */
function reusableView(view: AccountView): boolean {
  return view.type !== 'MERCHANT' && view.stripeIds.length === 0 && view.unreadStripeShard === undefined;
}

/** The page the answer shows was read at the row's state: its newest entry is the row's last (db/account-views.ts). */
function pageReadAtRow(ctx: AccountContext, read: ReusableRead, view: AccountView): boolean {
  if (!read.selectsEntries) return true;
  const page = ctx.entriesRead.get(read.accountId);
  return page !== undefined && (page.rows[0]?.sequence ?? 0n) === view.lastSequence;
}

/**
 * An answer kept: its text, the account row's state it shows (stateOf), and its tag: a name no other answer this
 * process keeps has, with which the gateway asks whether the copy it holds is still the answer (renderedTags).
 */
interface KeptAnswer {
  state: string;
  text: string;
  tag: string;
}

/**
 * Tags of kept answers: this process's random prefix and a counter. A tag names one kept text and no other, in any
 * subgraph process (another's prefix differs), so a copy held under a tag is that text, whoever asked for it.
 */
function renderedTags(): { next(): string } {
  const prefix = randomBytes(renderedTagPrefixBytes).toString('base64url');
  let counter = 0;
  return { next: () => `${prefix}.${(counter++).toString(36)}` };
}

/** The request's key under its reader: the document (hash, operation) and the variables as sent. */
function requestKey(operation: LaneOperation<AccountContext>): string {
  return `${operation.queryHash}\n${operation.operationName ?? ''}\n${JSON.stringify(operation.variables ?? {})}`;
}

/**
 * The account row's state as an answer shows it. The version alone would do (every change to the row bumps it); the
 * last entry and the fields shown are named too, so that a write that forgot the version would still change it.
 */
function stateOf(
  view: Pick<
    AccountView,
    'id' | 'version' | 'lastSequence' | 'status' | 'available' | 'frozen' | 'pending' | 'creditLimit'
  >,
): string {
  return [
    view.id,
    view.version,
    view.lastSequence,
    view.status,
    view.available,
    view.frozen,
    view.pending,
    view.creditLimit,
  ].join(':');
}

/** A kept answer as Apollo Server's path writes it: its text, with its tag as the lane names it (never "the same"). */
function renderedResponse(text: string, tag: string | undefined): GraphQLResponse {
  const headers = new HeaderMap();
  if (tag !== undefined) headers.set(renderedTagHeader, tag);
  return {
    http: { headers },
    body: { kind: 'single', singleResult: { data: renderedData(text) } },
  };
}

/** A reusable document: how to find its account's id in a request's variables, and whether it shows entries. */
interface DocumentShape {
  accountId(variables: Record<string, unknown>): string | null;
  selectsEntries: boolean;
}

/**
 * The shape of a document whose answer can be reused, or null: a query whose one root selection
 * is the field `account` (no directive on it; `__typename` beside it) with its `id` given as a string or a variable, and
 * below it only reusableFields (with `__typename`), `entries` with no argument but `first`.
 */
export function documentShape(
  document: DocumentNode,
  operationName: string | null,
  schema: GraphQLSchema,
): DocumentShape | null {
  const operation = getOperationAST(document, operationName);
  if (!operation || operation.operation !== 'query') return null;
  const [root, ...others] = operation.selectionSet.selections.filter(
    (s) => !(s.kind === Kind.FIELD && s.name.value === '__typename' && (s.directives ?? []).length === 0),
  );
  if (root === undefined || others.length > 0 || root.kind !== Kind.FIELD || root.name.value !== 'account') return null;
  if ((root.directives ?? []).length > 0 || !root.selectionSet) return null;
  const [idArgument, ...otherArguments] = root.arguments ?? [];
  if (idArgument === undefined || otherArguments.length > 0 || idArgument.name.value !== 'id') return null;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions)
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  const found = { entries: false };
  if (!reusableSelection(schema, fragments, root.selectionSet, 'Account', new Set(), found)) return null;
  const value = idArgument.value;
  const accountId =
    value.kind === Kind.STRING
      ? () => value.value
      : value.kind === Kind.VARIABLE
        ? (variables: Record<string, unknown>) => {
            const given = variables[value.name.value];
            return typeof given === 'string' ? given : null;
          }
        : null;
  return accountId === null ? null : { accountId, selectsEntries: found.entries };
}

function reusableSelection(
  schema: GraphQLSchema,
  fragments: ReadonlyMap<string, FragmentDefinitionNode>,
  selectionSet: SelectionSetNode,
  typeName: string,
  spread: ReadonlySet<string>,
  found: { entries: boolean },
): boolean {
  const type = schema.getType(typeName);
  const allowed = reusableFields[typeName];
  if (!isObjectType(type) || allowed === undefined) return false;
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) {
      const name = selection.name.value;
      if (name === '__typename') continue;
      const field = type.getFields()[name];
      if (!allowed.has(name) || field === undefined) return false;
      const isEntries = typeName === 'Account' && name === 'entries';
      if ((selection.arguments ?? []).some((a) => !(isEntries && a.name.value === 'first'))) return false;
      found.entries ||= isEntries;
      const below = selection.selectionSet;
      const named = getNamedType(field.type).name;
      if (below && !reusableSelection(schema, fragments, below, named, spread, found)) return false;
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      if (selection.typeCondition && selection.typeCondition.name.value !== typeName) return false;
      if (!reusableSelection(schema, fragments, selection.selectionSet, typeName, spread, found)) return false;
    } else {
      const name = selection.name.value;
      const fragment = fragments.get(name);
      if (!fragment || fragment.typeCondition.name.value !== typeName || spread.has(name)) return false;
      const deeper = new Set([...spread, name]);
      if (!reusableSelection(schema, fragments, fragment.selectionSet, typeName, deeper, found)) return false;
    }
  }
  return true;
}
