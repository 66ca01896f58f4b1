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
 * gateway cannot execute subscriptions through the query planner, so a subscription to
 * balanceChanged is served by pages of
 *
 *   query <name>(<client's variables>, $after: String, $first: Int!) {
 *     <key>: balanceChanges(accountId: <client's argument>, after: $after, first: $first) {
 *       <cursor alias>: cursor
 *       <client's selection>
 *     }
 *   }
 *
 * run through the gateway's own query execution with the subscriber's token: authorization
 * applies to every page, and fields of other subgraphs (entry { payment }) resolve through
 * federation like in any query. The extra cursor field tells the gateway where the client is,
 * whatever the client selected, and is removed before an event is sent.
 *
 * When every field the client selected is the account subgraph's own (subgraphFields), the
 * federated page read would be one fetch to that subgraph and nothing more, so the gateway
 * forwards the subscription instead (`forwardQuery`: the client's selection and the cursor field
 * under the subgraph's balanceChanged, resuming after `$after`), and the events come over the
 * upstream socket as they commit, without a page query per event.
 */
export const subscriptionFieldName = 'balanceChanged';
export const pageQueryFieldName = 'balanceChanges';

export interface BalanceSubscription {
  accountId: string;
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
   * The subscription to send the account subgraph itself when it alone serves the selection
   * (its `after` variable is afterVariable); null when the events are read page by page.
   */
  forwardQuery: string | null;
}

export type OperationPlan =
  | { kind: 'subscription'; subscription: BalanceSubscription }
  | { kind: 'execute'; document: DocumentNode; operationName: string | null; variables: Record<string, unknown> };

/**
 * Validates the document against the gateway's API schema and plans it: a subscription must
 * select balanceChanged (directly, as the only root field); queries and mutations are executed
 * as they are. Errors are GraphQL errors for the client, never thrown.
 */
export function planOperation(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null,
  variables: Record<string, unknown>,
  accountFields: SubgraphFields | null = null,
): Result<OperationPlan, GraphQLError[]> {
  const invalid = validate(schema, document);
  if (invalid.length > 0) return err([...invalid]);
  const operation = getOperationAST(document, operationName);
  if (!operation)
    return err([
      new GraphQLError('name the operation to run (operationName)', { extensions: { code: 'BAD_USER_INPUT' } }),
    ]);
  if (operation.operation !== 'subscription') return ok({ kind: 'execute', document, operationName, variables });
  const [root, ...others] = operation.selectionSet.selections;
  if (
    !root ||
    others.length > 0 ||
    root.kind !== Kind.FIELD ||
    root.name.value !== subscriptionFieldName ||
    (root.directives?.length ?? 0) > 0
  ) {
    return err([
      new GraphQLError(
        `a subscription selects ${subscriptionFieldName} directly, as its only field, without directives`,
        {
          extensions: { code: 'BAD_USER_INPUT' },
        },
      ),
    ]);
  }
  const fieldDef = schema.getSubscriptionType()?.getFields()[subscriptionFieldName];
  if (!fieldDef) return err([new GraphQLError(`this schema has no ${subscriptionFieldName} subscription`)]);
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], variables);
  if (coerced.errors) return err(coerced.errors.map(withCode('BAD_USER_INPUT')));
  let args: { accountId?: unknown; after?: unknown };
  try {
    args = getArgumentValues(fieldDef, root, coerced.coerced);
  } catch (error) {
    return err([error instanceof GraphQLError ? withCode('BAD_USER_INPUT')(error) : new GraphQLError(String(error))]);
  }
  if (typeof args.accountId !== 'string')
    return err([new GraphQLError('accountId is required', { extensions: { code: 'BAD_USER_INPUT' } })]);
  const after = typeof args.after === 'string' ? args.after : null;
  const names = freshNames(document);
  const fragments = document.definitions.filter(
    (d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION,
  );
  const subscriptionType = schema.getSubscriptionType()!.name;
  const forwarded =
    accountFields?.serves(subscriptionType, operation.selectionSet, new Map(fragments.map((f) => [f.name.value, f]))) ??
    false;
  return ok({
    kind: 'subscription',
    subscription: {
      accountId: args.accountId,
      after,
      operationName,
      variables,
      ...names,
      pageQuery: rewrite(operation, root, fragments, names, OperationTypeNode.QUERY),
      forwardQuery: forwarded ? rewrite(operation, root, fragments, names, OperationTypeNode.SUBSCRIPTION) : null,
      responseKey: root.alias?.value ?? root.name.value,
    },
  });
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
function freshNames(document: DocumentNode): AddedNames {
  // Variables and response keys are separate namespaces; a response key is checked against
  // every field and alias in the document, which is more than needed and never too little.
  const variables = new Set<string>();
  const keys = new Set<string>();
  visit(document, {
    Variable: (node) => void variables.add(node.name.value),
    Field: (node) => void keys.add(node.alias?.value ?? node.name.value),
  });
  return {
    afterVariable: freshName('balanceAfter', variables),
    firstVariable: freshName('balanceFirst', variables),
    cursorKey: freshName('balanceCursor', keys),
  };
}

/**
 * The client's operation with a cursor field added and variables no longer used pruned: as a
 * query, the page query (balanceChanges after $after, first $first); as a subscription, the
 * account subgraph's balanceChanged after $after.
 */
function rewrite(
  operation: OperationDefinitionNode,
  root: FieldNode,
  fragments: readonly FragmentDefinitionNode[],
  names: AddedNames,
  type: OperationTypeNode.QUERY | OperationTypeNode.SUBSCRIPTION,
): string {
  const page = type === OperationTypeNode.QUERY;
  const accountIdArgument = root.arguments?.find((a) => a.name.value === 'accountId');
  const cursorField: FieldNode = {
    kind: Kind.FIELD,
    alias: { kind: Kind.NAME, value: names.cursorKey },
    name: { kind: Kind.NAME, value: 'cursor' },
  };
  const field: FieldNode = {
    kind: Kind.FIELD,
    alias: { kind: Kind.NAME, value: root.alias?.value ?? root.name.value },
    name: { kind: Kind.NAME, value: page ? pageQueryFieldName : subscriptionFieldName },
    arguments: [
      ...(accountIdArgument ? [accountIdArgument] : []),
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
