import {
  Kind,
  TypeInfo,
  getNamedType,
  isAbstractType,
  isEnumType,
  isObjectType,
  print,
  visit,
  visitWithTypeInfo,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLNamedType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type TypeNode,
} from 'graphql';
import { Supergraph, operationFromDocument } from '@apollo/federation-internals';
import { QueryPlanner, type FetchNode } from '@apollo/query-planner';
import { LRUCache } from 'lru-cache';
import { passThroughPlansMax } from '../limits';

/**
 * Which operations one subgraph answers alone, exactly as the gateway would. The query planner
 * (@apollo/query-planner, over the supergraph the gateway runs) decides whether an operation's
 * plan is a single fetch to one subgraph; the gateway could then send the client's own document
 * there and hand the answer on, if that answer is the one the planned path would build. It is
 * when the subgraph sees every selected field, argument, fragment and variable with the types the
 * client's schema (the API schema) gives them, so that its execution — field order, aliases,
 * @skip/@include, null propagation — is graphql-js's over the same types. Where it might differ,
 * the operation keeps the planned path:
 *  - mutations and subscriptions (only queries are forwarded: reads are what this is for);
 *  - introspection (`__schema`, `__type`, and `__typename` on the root), which the gateway answers
 *    from its own schema;
 *  - a plan that is anything but one fetch, or whose fetch rewrites keys or values (aliases the
 *    planner added, interface objects, contexts);
 *  - a field, argument or variable whose type differs between the two schemas (a shareable field
 *    with another nullability), an enum whose values differ (an @inaccessible value the
 *    subgraph could return), an abstract type whose runtime types the subgraph could return
 *    without the API knowing them, or a fragment whose type condition matches a runtime type in
 *    one schema and not the other (an interface implemented in other subgraphs too).
 * A mutation is forwarded on the same terms: its plan is one fetch when one subgraph resolves every
 * root field, and that subgraph, a GraphQL server, runs them one after another as the planned
 * fetch would have it run them (the planner sends consecutive root fields of one subgraph in one
 * fetch, so the planned path's execution is the subgraph's too).
 * A wrong "no" costs speed; a wrong "yes" would cost answers. The comparison test
 * (gateway/test/pass-through.test.ts) runs every contract operation and generated selections
 * both ways.
 */
export interface SingleFetchRoute {
  /** The subgraph's name in the supergraph (join__graph's name). */
  subgraph: string;
  /**
   * The document to send: the client's text when it holds only this operation, else the operation and its fragments
   * printed.
   */
  query: string;
}

export interface SingleFetchRouter {
  /** The route of a validated document's operation, decided once per (queryHash, operationName) and kept. */
  route(
    document: DocumentNode,
    source: string,
    operationName: string | null,
    queryHash: string,
  ): SingleFetchRoute | null;
}

export function singleFetchRouter(coreSupergraphSdl: string, apiSchema: GraphQLSchema): SingleFetchRouter {
  const supergraph = Supergraph.build(coreSupergraphSdl);
  const plannerApiSchema = supergraph.apiSchema();
  const planner = new QueryPlanner(supergraph);
  const subgraphSchemas = new Map<string, GraphQLSchema>();
  const subgraphSchema = (name: string): GraphQLSchema | null => {
    let schema = subgraphSchemas.get(name);
    if (schema === undefined) {
      const subgraph = supergraph.subgraphs().get(name);
      if (!subgraph) return null;
      schema = subgraph.schema.toGraphQLJSSchema();
      subgraphSchemas.set(name, schema);
    }
    return schema;
  };
  // null is kept too: an operation that is not forwarded is not planned again.
  const routes = new LRUCache<string, { route: SingleFetchRoute | null }>({ max: passThroughPlansMax });

  const decide = (document: DocumentNode, source: string, operationName: string | null): SingleFetchRoute | null => {
    const operation = operationOf(document, operationName);
    if (!operation || operation.operation === 'subscription') return null;
    let fetch: FetchNode;
    try {
      const plan = planner.buildQueryPlan(
        operationFromDocument(plannerApiSchema, document, operationName ? { operationName } : {}),
      );
      if (plan.node?.kind !== 'Fetch') return null;
      fetch = plan.node;
    } catch {
      // The planned path reports whatever the planner refuses.
      return null;
    }
    if (
      fetch.requires?.length ||
      fetch.inputRewrites?.length ||
      fetch.outputRewrites?.length ||
      fetch.contextRewrites?.length
    )
      return null;
    const subgraph = subgraphSchema(fetch.serviceName);
    if (!subgraph) return null;
    const fragments = document.definitions.filter(
      (d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION,
    );
    const sent: DocumentNode = {
      kind: Kind.DOCUMENT,
      definitions: [operation, ...fragmentsUsedBy(operation, fragments)],
    };
    if (!sameMeaning(apiSchema, subgraph, sent, operation)) return null;
    const alone = sent.definitions.length === document.definitions.length;
    return { subgraph: fetch.serviceName, query: alone ? source : print(sent) };
  };

  return {
    route(document, source, operationName, queryHash) {
      const key = `${queryHash}:${operationName ?? ''}`;
      let known = routes.get(key);
      if (known === undefined) {
        known = { route: decide(document, source, operationName) };
        routes.set(key, known);
      }
      return known.route;
    },
  };
}

function operationOf(document: DocumentNode, operationName: string | null): OperationDefinitionNode | null {
  const operations = document.definitions.filter(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
  );
  if (operationName === null) return operations.length === 1 ? operations[0]! : null;
  return operations.find((o) => o.name?.value === operationName) ?? null;
}

/** The fragments an operation spreads, directly or through other fragments, in document order. */
function fragmentsUsedBy(
  operation: OperationDefinitionNode,
  fragments: readonly FragmentDefinitionNode[],
): FragmentDefinitionNode[] {
  const byName = new Map(fragments.map((f) => [f.name.value, f]));
  const used = new Set<string>();
  const pending: Array<OperationDefinitionNode | FragmentDefinitionNode> = [operation];
  while (pending.length > 0) {
    visit(pending.pop()!, {
      FragmentSpread(spread) {
        const name = spread.name.value;
        const fragment = byName.get(name);
        if (fragment && !used.has(name)) {
          used.add(name);
          pending.push(fragment);
        }
      },
    });
  }
  return fragments.filter((f) => used.has(f.name.value));
}

/**
 * Whether the subgraph's schema gives every part of the document the meaning the API schema
 * gives it (the checks listed above); walked with the API schema's TypeInfo.
 */
function sameMeaning(
  api: GraphQLSchema,
  subgraph: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
): boolean {
  const typeInfo = new TypeInfo(api);
  const fragments = new Map(
    document.definitions
      .filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION)
      .map((f) => [f.name.value, f]),
  );
  const rootType = api.getRootType(operation.operation);
  let same = true;
  const differs = () => {
    same = false;
    return false as const;
  };
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      VariableDefinition(node) {
        const named = namedTypeName(node.type);
        if (!subgraph.getType(named)) return differs();
        return undefined;
      },
      Field(node) {
        const parent = typeInfo.getParentType();
        const name = node.name.value;
        if (!parent) return differs();
        if (name === '__schema' || name === '__type') return differs();
        if (name === '__typename') return parent === rootType ? differs() : undefined;
        const apiField = typeInfo.getFieldDef();
        const subgraphParent = subgraph.getType(parent.name);
        if (!apiField || !subgraphParent || !('getFields' in subgraphParent)) return differs();
        const subgraphField = subgraphParent.getFields()[name];
        if (!subgraphField || String(subgraphField.type) !== String(apiField.type)) return differs();
        for (const argument of node.arguments ?? []) {
          const apiArgument = apiField.args.find((a) => a.name === argument.name.value);
          const subgraphArgument =
            'args' in subgraphField ? subgraphField.args.find((a) => a.name === argument.name.value) : undefined;
          if (!apiArgument || !subgraphArgument || String(apiArgument.type) !== String(subgraphArgument.type))
            return differs();
        }
        if (!sameValues(api, subgraph, getNamedType(apiField.type))) return differs();
        return undefined;
      },
      InlineFragment(node) {
        const parent = typeInfo.getParentType();
        if (!parent) return differs();
        if (node.typeCondition && !sameMatches(api, subgraph, parent, node.typeCondition.name.value)) return differs();
        return undefined;
      },
      FragmentSpread(node) {
        const parent = typeInfo.getParentType();
        const fragment = fragments.get(node.name.value);
        if (!parent || !fragment || !sameMatches(api, subgraph, parent, fragment.typeCondition.name.value))
          return differs();
        return undefined;
      },
    }),
  );
  return same;
}

function namedTypeName(type: TypeNode): string {
  return type.kind === Kind.NAMED_TYPE ? type.name.value : namedTypeName(type.type);
}

/**
 * A field's named type as the two schemas see its values: an enum's values, or the object types
 * a value of an abstract type can be at run time, which the subgraph must not exceed (a type the
 * API does not know would be dropped by the planned path's shaping).
 */
function sameValues(api: GraphQLSchema, subgraph: GraphQLSchema, type: GraphQLNamedType): boolean {
  const other = subgraph.getType(type.name);
  if (!other || other.constructor !== type.constructor) return false;
  if (isEnumType(type) && isEnumType(other)) {
    const names = (t: typeof type) =>
      t
        .getValues()
        .map((v) => v.name)
        .sort()
        .join(',');
    return names(type) === names(other);
  }
  if (isAbstractType(type) && isAbstractType(other)) {
    const apiNames = new Set(api.getPossibleTypes(type).map((t) => t.name));
    return subgraph.getPossibleTypes(other).every((t) => apiNames.has(t.name));
  }
  return true;
}

/**
 * A fragment on `condition` inside a selection on `parent`: every runtime type the subgraph can
 * give `parent` matches it in the subgraph exactly when it does in the API schema.
 */
function sameMatches(
  api: GraphQLSchema,
  subgraph: GraphQLSchema,
  parent: GraphQLNamedType,
  condition: string,
): boolean {
  const apiCondition = api.getType(condition);
  const subgraphCondition = subgraph.getType(condition);
  const subgraphParent = subgraph.getType(parent.name);
  if (!apiCondition || !subgraphCondition || !subgraphParent) return false;
  const runtimeTypes = isObjectType(subgraphParent)
    ? [subgraphParent]
    : isAbstractType(subgraphParent)
      ? subgraph.getPossibleTypes(subgraphParent)
      : [];
  return runtimeTypes.every((runtime) => {
    const apiRuntime = api.getType(runtime.name);
    if (!apiRuntime || !isObjectType(apiRuntime)) return false;
    const inApi =
      apiRuntime === apiCondition || (isAbstractType(apiCondition) && api.isSubType(apiCondition, apiRuntime));
    const inSubgraph =
      runtime === subgraphCondition ||
      (isAbstractType(subgraphCondition) && subgraph.isSubType(subgraphCondition, runtime));
    return inApi === inSubgraph;
  });
}
