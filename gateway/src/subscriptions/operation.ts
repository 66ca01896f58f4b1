import {
  GraphQLError, Kind, OperationTypeNode, getArgumentValues, getOperationAST, getVariableValues, print, validate, visit,
  type DocumentNode, type FieldNode, type GraphQLSchema, type OperationDefinitionNode, type VariableDefinitionNode,
} from 'graphql';
import { err, ok, type Result } from '@paygraph/shared/result';

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
): Result<OperationPlan, GraphQLError[]> {
  const invalid = validate(schema, document);
  if (invalid.length > 0) return err([...invalid]);
  const operation = getOperationAST(document, operationName);
  if (!operation) return err([new GraphQLError('name the operation to run (operationName)', { extensions: { code: 'BAD_USER_INPUT' } })]);
  if (operation.operation !== 'subscription') return ok({ kind: 'execute', document, operationName, variables });
  const [root, ...others] = operation.selectionSet.selections;
  if (!root || others.length > 0 || root.kind !== Kind.FIELD || root.name.value !== subscriptionFieldName || (root.directives?.length ?? 0) > 0) {
    return err([new GraphQLError(`a subscription selects ${subscriptionFieldName} directly, as its only field, without directives`, {
      extensions: { code: 'BAD_USER_INPUT' },
    })]);
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
  if (typeof args.accountId !== 'string') return err([new GraphQLError('accountId is required', { extensions: { code: 'BAD_USER_INPUT' } })]);
  const after = typeof args.after === 'string' ? args.after : null;
  const page = pageQuery(document, operation, root);
  return ok({
    kind: 'subscription',
    subscription: {
      accountId: args.accountId, after, operationName, variables, ...page,
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

/** The page query: the root field swapped, a cursor field added, variables no longer used pruned. */
function pageQuery(document: DocumentNode, operation: OperationDefinitionNode, root: FieldNode) {
  // Variables and response keys are separate namespaces; a response key is checked against
  // every field and alias in the document, which is more than needed and never too little.
  const variables = new Set<string>();
  const keys = new Set<string>();
  visit(document, {
    Variable: (node) => void variables.add(node.name.value),
    Field: (node) => void keys.add(node.alias?.value ?? node.name.value),
  });
  const afterVariable = freshName('balanceAfter', variables);
  const firstVariable = freshName('balanceFirst', variables);
  const cursorKey = freshName('balanceCursor', keys);
  const accountIdArgument = root.arguments?.find((a) => a.name.value === 'accountId');
  const cursorField: FieldNode = {
    kind: Kind.FIELD,
    alias: { kind: Kind.NAME, value: cursorKey },
    name: { kind: Kind.NAME, value: 'cursor' },
  };
  const field: FieldNode = {
    kind: Kind.FIELD,
    alias: { kind: Kind.NAME, value: root.alias?.value ?? root.name.value },
    name: { kind: Kind.NAME, value: pageQueryFieldName },
    arguments: [
      ...(accountIdArgument ? [accountIdArgument] : []),
      { kind: Kind.ARGUMENT, name: { kind: Kind.NAME, value: 'after' }, value: variable(afterVariable) },
      { kind: Kind.ARGUMENT, name: { kind: Kind.NAME, value: 'first' }, value: variable(firstVariable) },
    ],
    directives: [],
    selectionSet: { kind: Kind.SELECTION_SET, selections: [cursorField, ...(root.selectionSet?.selections ?? [])] },
  };
  const fragments = document.definitions.filter((d) => d.kind === Kind.FRAGMENT_DEFINITION);
  const used = new Set<string>();
  const collect = { Variable: (node: { name: { value: string } }) => void used.add(node.name.value) };
  visit(field, collect);
  for (const fragment of fragments) visit(fragment, collect);
  const query: OperationDefinitionNode = {
    ...operation,
    operation: OperationTypeNode.QUERY,
    variableDefinitions: [
      ...(operation.variableDefinitions ?? []).filter((v) => used.has(v.variable.name.value)),
      variableDefinition(afterVariable, 'String', false),
      variableDefinition(firstVariable, 'Int', true),
    ],
    selectionSet: { kind: Kind.SELECTION_SET, selections: [field] },
  };
  return { pageQuery: print({ kind: Kind.DOCUMENT, definitions: [query, ...fragments] }), afterVariable, firstVariable, cursorKey };
}
