import { getVariableValues, type GraphQLError, type GraphQLSchema, type OperationDefinitionNode } from 'graphql';

/**
 * An operation's variables as execution will see them: coerced against the gateway's schema (the
 * API schema, whose Amount, Date and DateTime parse as the subgraphs' do: server.ts), defaults
 * applied. Coerced once per request, where the security plugin resolves the operation, and read
 * from there by everything that needs them: the operation limits (a defaulted `first` is measured
 * at its default), the rate limiter's weights and the audit, and the pass-through executor, which
 * refuses variables that do not coerce exactly as @apollo/gateway's executor does (its
 * validateIncomingRequest: graphql-js's getVariableValues over the same schema, default options),
 * so that nothing is sent to a subgraph and both paths answer the same.
 */
export type CoercedVariables =
  { ok: true; values: Readonly<Record<string, unknown>> } | { ok: false; errors: readonly GraphQLError[] };

export function coerceVariables(
  schema: GraphQLSchema,
  operation: OperationDefinitionNode,
  raw: Readonly<Record<string, unknown>> | undefined,
): CoercedVariables {
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], raw ?? {});
  return coerced.errors ? { ok: false, errors: coerced.errors } : { ok: true, values: coerced.coerced };
}

interface Remembered {
  schema: GraphQLSchema;
  operation: OperationDefinitionNode;
  raw: Readonly<Record<string, unknown>> | undefined;
  coerced: CoercedVariables;
}

/**
 * The last coercion made for a request context (Apollo hands the plugin and the executor the
 * same contextValue). graphql-ws runs every operation of a connection with the connection's one
 * context, so an entry is used only for the very operation and variables object it was made for;
 * anything else is coerced afresh: the memo saves work and never decides an answer.
 */
const remembered = new WeakMap<object, Remembered>();

export function coercedVariablesOf(
  context: object,
  schema: GraphQLSchema,
  operation: OperationDefinitionNode,
  raw: Readonly<Record<string, unknown>> | undefined,
): CoercedVariables {
  const known = remembered.get(context);
  if (known && known.schema === schema && known.operation === operation && known.raw === raw) return known.coerced;
  const coerced = coerceVariables(schema, operation, raw);
  remembered.set(context, { schema, operation, raw, coerced });
  return coerced;
}
