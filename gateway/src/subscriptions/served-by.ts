import {
  Kind,
  buildASTSchema,
  getNamedType,
  isObjectType,
  parse,
  valueFromASTUntyped,
  type ConstDirectiveNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  type SelectionSetNode,
} from 'graphql';

/**
 * Which fields one subgraph resolves by itself, read from the supergraph's join directives
 * (the federation spec's @join__type and @join__field, which the supergraph SDL carries on every
 * type and field). A field is the subgraph's when its type is joined to that graph and the field
 * either names no graph at all (every graph of the type has it) or names this graph without
 * `external`, `requires` or `usedOverridden`. Anything else — another graph's field, an
 * abstract type, a shape this reading does not know — is not the subgraph's, so the caller keeps
 * the federated path: a wrong "no" costs speed, a wrong "yes" would cost answers.
 */
export interface SubgraphFields {
  /** Whether every field of `selectionSet` on `typeName` (and below) is resolved by the subgraph alone. */
  serves(
    typeName: string,
    selectionSet: SelectionSetNode | undefined,
    fragments: ReadonlyMap<string, FragmentDefinitionNode>,
  ): boolean;
}

export function subgraphFields(supergraphSdl: string, subgraphName: string): SubgraphFields {
  const schema = buildASTSchema(parse(supergraphSdl), { assumeValidSDL: true });
  const graph = graphEnumValue(schema, subgraphName);
  const typeIsJoined = (type: GraphQLNamedType) =>
    directivesOf(type.astNode?.directives, 'join__type').some((args) => args.graph === graph);
  const fieldIsServed = (type: GraphQLNamedType, field: GraphQLField<unknown, unknown>) => {
    const joins = directivesOf(field.astNode?.directives, 'join__field');
    if (joins.length === 0) return typeIsJoined(type);
    return joins.some(
      (args) =>
        args.graph === graph && args.external !== true && args.requires === undefined && args.usedOverridden !== true,
    );
  };

  const serves = (
    typeName: string,
    selectionSet: SelectionSetNode | undefined,
    fragments: ReadonlyMap<string, FragmentDefinitionNode>,
    seen: Set<string>,
  ): boolean => {
    const type = schema.getType(typeName);
    // Interfaces and unions would need every possible type checked: left to the planner.
    if (!type || !isObjectType(type) || !typeIsJoined(type)) return false;
    if (!selectionSet) return true;
    return selectionSet.selections.every((selection) => {
      switch (selection.kind) {
        case Kind.FIELD: {
          if (selection.name.value === '__typename') return true;
          const field = type.getFields()[selection.name.value];
          if (!field || !fieldIsServed(type, field)) return false;
          const named = getNamedType(field.type);
          if (selection.selectionSet) return serves(named.name, selection.selectionSet, fragments, seen);
          // A leaf: GraphQL's own scalars (no definition in the SDL) are every graph's.
          return named.astNode === undefined || named.astNode === null || typeIsJoined(named);
        }
        case Kind.INLINE_FRAGMENT:
          return (
            (selection.typeCondition?.name.value ?? typeName) === typeName &&
            serves(typeName, selection.selectionSet, fragments, seen)
          );
        case Kind.FRAGMENT_SPREAD: {
          const fragment = fragments.get(selection.name.value);
          if (!fragment || fragment.typeCondition.name.value !== typeName) return false;
          // A fragment spread within itself is invalid (validation refuses it); this only guards the walk.
          if (seen.has(fragment.name.value)) return true;
          return serves(typeName, fragment.selectionSet, fragments, new Set([...seen, fragment.name.value]));
        }
      }
    });
  };
  return { serves: (typeName, selectionSet, fragments) => serves(typeName, selectionSet, fragments, new Set()) };
}

/** The join__Graph value whose @join__graph names the subgraph (ACCOUNT for "account"). */
function graphEnumValue(schema: GraphQLSchema, subgraphName: string): string | null {
  const graphs = schema.getType('join__Graph');
  for (const value of graphs?.astNode?.kind === Kind.ENUM_TYPE_DEFINITION ? (graphs.astNode.values ?? []) : []) {
    if (directivesOf(value.directives, 'join__graph').some((args) => args.name === subgraphName))
      return value.name.value;
  }
  return null;
}

function directivesOf(
  directives: readonly ConstDirectiveNode[] | undefined,
  name: string,
): Array<Record<string, unknown>> {
  return (directives ?? [])
    .filter((d) => d.name.value === name)
    .map((d) => Object.fromEntries((d.arguments ?? []).map((a) => [a.name.value, valueFromASTUntyped(a.value)])));
}
