import {
  GraphQLError,
  Kind,
  OperationTypeNode,
  getArgumentValues,
  getOperationAST,
  getVariableValues,
  print,
  validate,
  visit,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type VariableDefinitionNode,
} from 'graphql';
import { err, ok, type Result } from '@paygraph/shared/result';
import type { SubgraphFields } from './served-by';

/**
 * Reading a client's subscription and turning it into the query that reads its events. The
 * gateway cannot execute subscriptions through the query planner, so a subscription to one of
 * the event streams (streamKinds: balanceChanged, externalAccountChanged) is served by pages of
 *
 *   query <name>(<client's variables>, $after: String, $first: Int!) {
 *     <key>: <pageField>(<key argument>: <client's argument>, after: $after, first: $first) {
 *       <cursor alias>: cursor
 *       <client's selection>
 *     }
 *   }
 *
 * run through the gateway's own query execution with the subscriber's token: authorization
 * applies to every page, and fields of other subgraphs (entry { payment }, payout { account })
 * resolve through federation like in any query. The extra cursor field tells the gateway where
 * the client is, whatever the client selected, and is removed before an event is sent.
 *
 * When every field the client selected is the stream's subgraph's own (subgraphFields), the
 * federated page read would be one fetch to that subgraph and nothing more, so the gateway
 * forwards the subscription instead (`forwardQuery`: the client's selection and the cursor field
 * under the subgraph's own subscription field, resuming after `$after`), and the events come over
 * the upstream socket as they commit, without a page query per event.
 */

/** A stream the gateway bridges: the subgraph that serves it and the fields its events are read through. */
export interface StreamKind {
  /** The subscription field a client selects. */
  field: string;
  /** The query field that reads the same events a page at a time. */
  pageField: string;
  /** The subgraph's @inaccessible subscription to the stream's position now and on every move. */
  headField: string;
  /** The argument that names what is followed (an account, an owner), an ID!. */
  keyArgument: string;
  /** The subgraph that serves the stream, its head and its pages. */
  subgraph: string;
  /** How the names the gateway adds to a client's document begin (balanceAfter, balanceCursor…). */
  namePrefix: string;
}

export const streamKinds: readonly StreamKind[] = [
  {
    field: 'balanceChanged',
    pageField: 'balanceChanges',
    headField: 'balanceHead',
    keyArgument: 'accountId',
    subgraph: 'account',
    namePrefix: 'balance',
  },
  {
    field: 'externalAccountChanged',
    pageField: 'externalAccountChanges',
    headField: 'externalAccountHead',
    keyArgument: 'ownerId',
    subgraph: 'transaction',
    namePrefix: 'link',
  },
];

/** The subgraphs the gateway opens graphql-ws connections to, one per client connection each. */
export const streamingSubgraphs: readonly string[] = [...new Set(streamKinds.map((k) => k.subgraph))];

export interface StreamSubscription {
  stream: StreamKind;
  /** What is followed: the value of the stream's key argument (an account id, an owner id). */
  key: string;
  after: string | null;
  /** The page query, printed once, and the names of its added variables and cursor field. */
  pageQuery: string;
  operationName: string | null;
  afterVariable: string;
  firstVariable: string;
  cursorKey: string;
  /** The client's variables as sent; `after` and `first` are added per page. */
  variables: Record<string, unknown>;
  /** Where the event sits in each result: the client's alias or the field name. */
  responseKey: string;
  /**
   * The subscription to send the stream's subgraph itself when it alone serves the selection
   * (its `after` variable is afterVariable); null when the events are read page by page.
   */
  forwardQuery: string | null;
}

export type OperationPlan =
  | { kind: 'subscription'; subscription: StreamSubscription }
  | { kind: 'execute'; document: DocumentNode; operationName: string | null; variables: Record<string, unknown> };

/** The fields a subgraph serves alone (served-by.ts), by the subgraph's name; null until the supergraph is loaded. */
export type ServedFields = (subgraph: string) => SubgraphFields | null;

/**
 * Validates the document against the gateway's API schema and plans it: a subscription must
 * select one of the streams' fields (directly, as the only root field); queries and mutations
 * are executed as they are. Errors are GraphQL errors for the client, never thrown.
 */
export function planOperation(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null,
  variables: Record<string, unknown>,
  servedBy: ServedFields | null = null,
): Result<OperationPlan, GraphQLError[]> {
  const invalid = validate(schema, document);
  if (invalid.length > 0) return err([...invalid]);
  const operation = getOperationAST(document, operationName);
  if (!operation) return err([badUserInput('name the operation to run (operationName)')]);
  if (operation.operation !== 'subscription') return ok({ kind: 'execute', document, operationName, variables });
  const root = streamRoot(operation);
  if (!root.ok) return root;
  const { field, stream } = root.value;
  const fieldDef = schema.getSubscriptionType()?.getFields()[stream.field];
  if (!fieldDef) return err([new GraphQLError(`this schema has no ${stream.field} subscription`)]);
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], variables);
  if (coerced.errors) return err(coerced.errors.map(withCode('BAD_USER_INPUT')));
  let args: Record<string, unknown>;
  try {
    args = getArgumentValues(fieldDef, field, coerced.coerced);
  } catch (error) {
    return err([error instanceof GraphQLError ? withCode('BAD_USER_INPUT')(error) : new GraphQLError(String(error))]);
  }
  const key = args[stream.keyArgument];
  if (typeof key !== 'string') return err([badUserInput(`${stream.keyArgument} is required`)]);
  const names = freshNames(document, stream.namePrefix);
  const fragments = document.definitions.filter(
    (d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION,
  );
  const subscriptionType = schema.getSubscriptionType()!.name;
  const fragmentsByName = new Map(fragments.map((f) => [f.name.value, f]));
  const forwarded = servedBy?.(stream.subgraph)?.serves(subscriptionType, operation.selectionSet, fragmentsByName);
  const rewritten = (type: OperationTypeNode.QUERY | OperationTypeNode.SUBSCRIPTION) =>
    rewrite({ operation, root: field, fragments, names, stream }, type);
  return ok({
    kind: 'subscription',
    subscription: {
      stream,
      key,
      after: typeof args.after === 'string' ? args.after : null,
      operationName,
      variables,
      ...names,
      pageQuery: rewritten(OperationTypeNode.QUERY),
      forwardQuery: forwarded === true ? rewritten(OperationTypeNode.SUBSCRIPTION) : null,
      responseKey: field.alias?.value ?? field.name.value,
    },
  });
}

/** The subscription's one root field and the stream it selects, or why the document is refused. */
function streamRoot(
  operation: OperationDefinitionNode,
): Result<{ field: FieldNode; stream: StreamKind }, GraphQLError[]> {
  const [root, ...others] = operation.selectionSet.selections;
  const stream = root?.kind === Kind.FIELD ? streamKinds.find((k) => k.field === root.name.value) : undefined;
  if (!root || others.length > 0 || root.kind !== Kind.FIELD || !stream || (root.directives?.length ?? 0) > 0) {
    const fields = streamKinds.map((k) => k.field).join(' or ');
    return err([badUserInput(`a subscription selects ${fields} directly, as its only field, without directives`)]);
  }
  return ok({ field: root, stream });
}

function badUserInput(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT' } });
}

function withCode(code: string) {
  return (error: GraphQLError) =>
    new GraphQLError(error.message, { nodes: error.nodes ?? null, extensions: { ...error.extensions, code } });
}

/** A name not in `taken`. */
function freshName(base: string, taken: ReadonlySet<string>): string {
  let name = base;
  for (let i = 1; taken.has(name); i++) name = `${base}${i}`;
  return name;
}

function variable(name: string) {
  return { kind: Kind.VARIABLE, name: { kind: Kind.NAME, value: name } } as const;
}

function variableDefinition(name: string, type: string, nonNull: boolean): VariableDefinitionNode {
  const named = { kind: Kind.NAMED_TYPE, name: { kind: Kind.NAME, value: type } } as const;
  return {
    kind: Kind.VARIABLE_DEFINITION,
    variable: variable(name),
    type: nonNull ? { kind: Kind.NON_NULL_TYPE, type: named } : named,
    directives: [],
  };
}

interface AddedNames {
  afterVariable: string;
  firstVariable: string;
  cursorKey: string;
}

/** Names for the added variables and cursor field that the client's document does not use. */
function freshNames(document: DocumentNode, prefix: string): AddedNames {
  // Variables and response keys are separate namespaces; a response key is checked against
  // every field and alias in the document, which is more than needed and never too little.
  const variables = new Set<string>();
  const keys = new Set<string>();
  visit(document, {
    Variable: (node) => void variables.add(node.name.value),
    Field: (node) => void keys.add(node.alias?.value ?? node.name.value),
  });
  return {
    afterVariable: freshName(`${prefix}After`, variables),
    firstVariable: freshName(`${prefix}First`, variables),
    cursorKey: freshName(`${prefix}Cursor`, keys),
  };
}

/**
 * The client's operation with a cursor field added and variables no longer used pruned: as a
 * query, the page query (balanceChanges after $after, first $first); as a subscription, the
 * stream's subgraph's own field (balanceChanged) after $after.
 */
/** What a rewrite starts from: the client's operation, its one root field and fragments, and the stream. */
interface RewriteSource {
  operation: OperationDefinitionNode;
  root: FieldNode;
  fragments: readonly FragmentDefinitionNode[];
  names: AddedNames;
  stream: StreamKind;
}

function rewrite(
  { operation, root, fragments, names, stream }: RewriteSource,
  type: OperationTypeNode.QUERY | OperationTypeNode.SUBSCRIPTION,
): string {
  const page = type === OperationTypeNode.QUERY;
  const keyArgument = root.arguments?.find((a) => a.name.value === stream.keyArgument);
  const cursorField: FieldNode = {
    kind: Kind.FIELD,
    alias: { kind: Kind.NAME, value: names.cursorKey },
    name: { kind: Kind.NAME, value: 'cursor' },
  };
  const field: FieldNode = {
    kind: Kind.FIELD,
    alias: { kind: Kind.NAME, value: root.alias?.value ?? root.name.value },
    name: { kind: Kind.NAME, value: page ? stream.pageField : stream.field },
    arguments: [
      ...(keyArgument ? [keyArgument] : []),
      { kind: Kind.ARGUMENT, name: { kind: Kind.NAME, value: 'after' }, value: variable(names.afterVariable) },
      ...(page
        ? [
            {
              kind: Kind.ARGUMENT,
              name: { kind: Kind.NAME, value: 'first' },
              value: variable(names.firstVariable),
            } as const,
          ]
        : []),
    ],
    directives: [],
    selectionSet: { kind: Kind.SELECTION_SET, selections: [cursorField, ...(root.selectionSet?.selections ?? [])] },
  };
  const used = new Set<string>();
  const collect = { Variable: (node: { name: { value: string } }) => void used.add(node.name.value) };
  visit(field, collect);
  for (const fragment of fragments) visit(fragment, collect);
  const rewritten: OperationDefinitionNode = {
    ...operation,
    operation: type,
    variableDefinitions: [
      ...(operation.variableDefinitions ?? []).filter((v) => used.has(v.variable.name.value)),
      variableDefinition(names.afterVariable, 'String', false),
      ...(page ? [variableDefinition(names.firstVariable, 'Int', true)] : []),
    ],
    selectionSet: { kind: Kind.SELECTION_SET, selections: [field] },
  };
  return print({ kind: Kind.DOCUMENT, definitions: [rewritten, ...fragments] });
}
