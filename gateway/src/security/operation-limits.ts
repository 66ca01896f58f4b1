import {
  GraphQLError,
  Kind,
  Lexer,
  Source,
  TokenKind,
  getArgumentValues,
  getNamedType,
  getNullableType,
  isCompositeType,
  isListType,
  type FieldNode,
  type FragmentDefinitionNode,
  type FragmentSpreadNode,
  type GraphQLCompositeType,
  type GraphQLField,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionNode,
  type ValueNode,
} from 'graphql';
import { err, ok, type Result } from '@paygraph/shared/result';
import { pageSizeMax } from '@paygraph/shared/limits';
import {
  documentBytesMax,
  documentTokensMax,
  introspectionDepthMax,
  listItemsDefault,
  operationAliasesMax,
  operationCostMax,
  operationDepthMax,
} from '../limits';

/**
 * What one operation may ask of the gateway, checked before any subgraph is called: the size
 * of its text (before it is parsed), then its shape (once it is parsed and validated).
 */
export interface OperationLimits {
  documentBytesMax: number;
  documentTokensMax: number;
  depthMax: number;
  introspectionDepthMax: number;
  aliasesMax: number;
  costMax: number;
  listItemsDefault: number;
}

export const defaultOperationLimits: OperationLimits = {
  documentBytesMax,
  documentTokensMax,
  depthMax: operationDepthMax,
  introspectionDepthMax,
  aliasesMax: operationAliasesMax,
  costMax: operationCostMax,
  listItemsDefault,
};

export type LimitCode =
  'DOCUMENT_TOO_LARGE' | 'TOO_MANY_TOKENS' | 'OPERATION_TOO_DEEP' | 'TOO_MANY_ALIASES' | 'OPERATION_TOO_COSTLY';

export interface LimitViolation {
  code: LimitCode;
  message: string;
  /** What was measured and what is allowed, so that a client can see how far over it is. */
  measured: number;
  limit: number;
}

/** The refusal as the client sees it: a GraphQL error with HTTP status 400. */
export function limitError(violation: LimitViolation): GraphQLError {
  return new GraphQLError(violation.message, {
    extensions: { code: violation.code, measured: violation.measured, limit: violation.limit, http: { status: 400 } },
  });
}

/** Size and token count of the document text, so that nothing too big is ever parsed. */
export function checkSource(source: string, limits: OperationLimits = defaultOperationLimits): LimitViolation | null {
  const bytes = Buffer.byteLength(source, 'utf8');
  if (bytes > limits.documentBytesMax) {
    return {
      code: 'DOCUMENT_TOO_LARGE',
      message: `the document is ${bytes} bytes; at most ${limits.documentBytesMax} are accepted`,
      measured: bytes,
      limit: limits.documentBytesMax,
    };
  }
  const tokens = countTokens(source, limits.documentTokensMax + 1);
  if (tokens > limits.documentTokensMax) {
    return {
      code: 'TOO_MANY_TOKENS',
      message: `the document has more than ${limits.documentTokensMax} tokens`,
      measured: tokens,
      limit: limits.documentTokensMax,
    };
  }
  return null;
}

/**
 * Counts tokens the way graphql's parser does (comments excluded), stopping at `stopAt`. Text
 * the lexer cannot read is counted up to that point: the parser then reports the syntax error.
 */
export function countTokens(source: string, stopAt: number): number {
  const lexer = new Lexer(new Source(source));
  let count = 0;
  try {
    while (count < stopAt && lexer.advance().kind !== TokenKind.EOF) count += 1;
  } catch {
    // A syntax error: the parser will say where.
  }
  return count;
}

export interface OperationMeasure {
  /** Deepest nesting of fields outside introspection, and inside it. */
  depth: number;
  introspectionDepth: number;
  aliases: number;
  /** Estimated fields resolved, lists multiplied out (see operationCostMax). */
  cost: number;
}

/**
 * Measures an operation of a validated document, with its variables as execution coerces them
 * (coerced-variables.ts: defaults applied), so that it measures what will run: `first: $n` with
 * `$n: Int = 100` sent as `{}` is a page of 100, and `$n: Int` left out the argument's own
 * default, as graphql-js's getArgumentValues reads them for the subgraph. Fragments are measured
 * once per place they are spread (a measure per fragment is remembered, so fragments spreading
 * fragments cannot make this walk exponential). Fields of introspection cost nothing: the gateway
 * answers them from its schema without calling a subgraph.
 */
export function measureOperation(
  schema: GraphQLSchema,
  fragments: ReadonlyMap<string, FragmentDefinitionNode>,
  operation: OperationDefinitionNode,
  coercedVariables: Readonly<Record<string, unknown>>,
  limits: OperationLimits = defaultOperationLimits,
): OperationMeasure {
  return walkOperation(schema, fragments, operation, coercedVariables, limits).measure;
}

/**
 * The measure, and whether it read any variable: only a page size (`first`) or a list argument
 * given by a variable (anywhere in its value) changes what is measured, so an operation that has
 * none measures the same whatever its variables (document-analysis.ts measures it once).
 */
export function walkOperation(
  schema: GraphQLSchema,
  fragments: ReadonlyMap<string, FragmentDefinitionNode>,
  operation: OperationDefinitionNode,
  coercedVariables: Readonly<Record<string, unknown>>,
  limits: OperationLimits = defaultOperationLimits,
): { measure: OperationMeasure; readsVariables: boolean } {
  const rootType = schema.getRootType(operation.operation);
  if (!rootType) return { measure: nothingMeasured(), readsVariables: false };
  const nullable = new Set(
    (operation.variableDefinitions ?? [])
      .filter((definition) => definition.type.kind !== Kind.NON_NULL_TYPE)
      .map((definition) => definition.variable.name.value),
  );
  const walk = new OperationWalk(schema, fragments, coercedVariables, limits, nullable);
  const measure = walk.selections(operation.selectionSet.selections, rootType, null);
  return { measure, readsVariables: walk.readsVariables };
}

function nothingMeasured(): OperationMeasure {
  return { depth: 0, introspectionDepth: 0, aliases: 0, cost: 0 };
}

/** Adds the measure of a selection to its siblings': depths are the deepest, counts add up. */
function addMeasure(total: OperationMeasure, part: OperationMeasure): void {
  total.depth = Math.max(total.depth, part.depth);
  total.introspectionDepth = Math.max(total.introspectionDepth, part.introspectionDepth);
  total.aliases += part.aliases;
  total.cost += part.cost;
}

/** One walk of an operation's selections, each limit's counter carried in OperationMeasure. */
class OperationWalk {
  /** Whether a page size or a list argument came from a variable (walkOperation). */
  readsVariables = false;
  /** A fragment's measure per page it is spread under. */
  private readonly memo = new Map<string, OperationMeasure>();
  private readonly inProgress = new Set<string>();

  constructor(
    private readonly schema: GraphQLSchema,
    private readonly fragments: ReadonlyMap<string, FragmentDefinitionNode>,
    private readonly coercedVariables: Readonly<Record<string, unknown>>,
    private readonly limits: OperationLimits,
    /** The operation's variables of nullable types (walkOperation: measuredFromVariables). */
    private readonly nullableVariables: ReadonlySet<string> = new Set(),
  ) {}

  /** `page`: the `first` of the connection these selections belong to, for its list fields. */
  selections(
    selections: readonly SelectionNode[],
    parent: GraphQLCompositeType,
    page: number | null,
  ): OperationMeasure {
    const total = nothingMeasured();
    for (const selection of selections) {
      if (selection.kind === Kind.FIELD) {
        addMeasure(total, this.field(selection, parent, page));
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const type = selection.typeCondition ? this.schema.getType(selection.typeCondition.name.value) : parent;
        if (type && isCompositeType(type))
          addMeasure(total, this.selections(selection.selectionSet.selections, type, page));
      } else {
        const measured = this.spread(selection, page);
        if (measured) addMeasure(total, measured);
      }
    }
    return total;
  }

  /** A fragment spread, measured once per page; null for a fragment validation would refuse. */
  private spread(selection: FragmentSpreadNode, page: number | null): OperationMeasure | null {
    const name = selection.name.value;
    const key = `${name}\u0000${page ?? ''}`;
    const known = this.memo.get(key);
    if (known) return known;
    const fragment = this.fragments.get(name);
    const type = fragment ? this.schema.getType(fragment.typeCondition.name.value) : undefined;
    // Validation refuses unknown and cyclic fragments; this only keeps the walk finite.
    if (!fragment || !type || !isCompositeType(type) || this.inProgress.has(key)) return null;
    this.inProgress.add(key);
    const measured = this.selections(fragment.selectionSet.selections, type, page);
    this.inProgress.delete(key);
    this.memo.set(key, measured);
    return measured;
  }

  private field(field: FieldNode, parent: GraphQLCompositeType, page: number | null): OperationMeasure {
    const name = field.name.value;
    const alias = field.alias ? 1 : 0;
    if (name === '__schema' || name === '__type') {
      return { depth: 1, introspectionDepth: 1 + this.introspectionDepthOf(field), aliases: alias, cost: 0 };
    }
    if (name.startsWith('__')) return { depth: 1, introspectionDepth: 0, aliases: alias, cost: 0 };
    const definition = 'getFields' in parent ? parent.getFields()[name] : undefined;
    if (!definition) return { depth: 1, introspectionDepth: 0, aliases: alias, cost: 1 };
    const returns = getNullableType(definition.type);
    this.readsVariables ||= measuredFromVariables(definition, field, this.nullableVariables);
    const args = argumentsOf(definition, field, this.coercedVariables);
    const first = pageOf(args);
    let items = 1;
    let childPage: number | null = null;
    if (isListType(returns))
      items = first ?? listArgumentLength(definition, args) ?? page ?? this.limits.listItemsDefault;
    else if (first !== null) childPage = first;
    const type = getNamedType(returns);
    const below =
      field.selectionSet && isCompositeType(type)
        ? this.selections(field.selectionSet.selections, type, childPage)
        : nothingMeasured();
    return {
      depth: 1 + below.depth,
      introspectionDepth: below.introspectionDepth,
      aliases: alias + below.aliases,
      cost: items * (1 + below.cost),
    };
  }

  /** Depth below an introspection field; fragments there are expanded, bounded by the document's size. */
  private introspectionDepthOf(field: FieldNode): number {
    const walk = (selections: readonly SelectionNode[], seen: ReadonlySet<string>): number => {
      let deepest = 0;
      for (const selection of selections) {
        if (selection.kind === Kind.FIELD) {
          deepest = Math.max(deepest, 1 + (selection.selectionSet ? walk(selection.selectionSet.selections, seen) : 0));
        } else if (selection.kind === Kind.INLINE_FRAGMENT) {
          deepest = Math.max(deepest, walk(selection.selectionSet.selections, seen));
        } else if (!seen.has(selection.name.value)) {
          const fragment = this.fragments.get(selection.name.value);
          if (fragment)
            deepest = Math.max(
              deepest,
              walk(fragment.selectionSet.selections, new Set([...seen, selection.name.value])),
            );
        }
      }
      return deepest;
    };
    return field.selectionSet ? walk(field.selectionSet.selections, new Set()) : 0;
  }
}

/** The first limit the measure breaks, in the order a client would want to fix them. */
export function checkMeasure(
  measure: OperationMeasure,
  limits: OperationLimits = defaultOperationLimits,
): LimitViolation | null {
  if (measure.depth > limits.depthMax) {
    return {
      code: 'OPERATION_TOO_DEEP',
      message: `the operation nests ${measure.depth} fields deep; at most ${limits.depthMax} are accepted`,
      measured: measure.depth,
      limit: limits.depthMax,
    };
  }
  if (measure.introspectionDepth > limits.introspectionDepthMax) {
    return {
      code: 'OPERATION_TOO_DEEP',
      message: `the introspection query nests ${measure.introspectionDepth} fields deep; at most ${limits.introspectionDepthMax} are accepted`,
      measured: measure.introspectionDepth,
      limit: limits.introspectionDepthMax,
    };
  }
  if (measure.aliases > limits.aliasesMax) {
    return {
      code: 'TOO_MANY_ALIASES',
      message: `the operation uses ${measure.aliases} aliases; at most ${limits.aliasesMax} are accepted`,
      measured: measure.aliases,
      limit: limits.aliasesMax,
    };
  }
  if (measure.cost > limits.costMax) {
    const cost = Math.min(measure.cost, Number.MAX_SAFE_INTEGER);
    return {
      code: 'OPERATION_TOO_COSTLY',
      message: `the operation could resolve about ${cost} fields; at most ${limits.costMax} are accepted (ask for smaller pages)`,
      measured: cost,
      limit: limits.costMax,
    };
  }
  return null;
}

/** Measures and checks in one go: the form the gateway's plugin and the contract test use. */
export function checkOperation(
  schema: GraphQLSchema,
  fragments: ReadonlyMap<string, FragmentDefinitionNode>,
  operation: OperationDefinitionNode,
  coercedVariables: Readonly<Record<string, unknown>>,
  limits: OperationLimits = defaultOperationLimits,
): Result<OperationMeasure, LimitViolation> {
  const measure = measureOperation(schema, fragments, operation, coercedVariables, limits);
  const violation = checkMeasure(measure, limits);
  return violation ? err(violation) : ok(measure);
}

/**
 * A field's arguments as execution reads them (literals, coerced variables, the schema's
 * defaults); none when they do not coerce, which validation and coercion have refused already.
 */
function argumentsOf(
  definition: GraphQLField<unknown, unknown>,
  field: FieldNode,
  coercedVariables: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  if (definition.args.length === 0) return {};
  try {
    return getArgumentValues(definition, field, coercedVariables as Record<string, unknown>);
  } catch {
    return {};
  }
}

/**
 * Whether a variable can change what the measure reads of this field: its `first` or a list argument's length, given
 * by a variable anywhere in its value. So can a variable of a nullable type in any other argument of such a field: a
 * null there for a non-null argument (allowed when the variable has a default) does not coerce, and the field is then
 * measured as having no arguments. A variable of a non-null type in another argument cannot: coerced, it is there and
 * not null (GetAccount's `$id: ID!`, AccountsByOwner's `$ownerId: ID!` beside its `first: 50`).
 */
function measuredFromVariables(
  definition: GraphQLField<unknown, unknown>,
  field: FieldNode,
  nullableVariables: ReadonlySet<string>,
): boolean {
  const isMeasured = (name: string) =>
    name === 'first' || definition.args.some((a) => a.name === name && isListType(getNullableType(a.type)));
  if (!definition.args.some((a) => isMeasured(a.name))) return false;
  return (field.arguments ?? []).some((argument) =>
    holdsVariable(argument.value, isMeasured(argument.name.value) ? null : nullableVariables),
  );
}

/** Whether a value holds a variable (of those named, when `among` is given). */
function holdsVariable(value: ValueNode, among: ReadonlySet<string> | null): boolean {
  if (value.kind === Kind.VARIABLE) return among === null || among.has(value.name.value);
  if (value.kind === Kind.LIST) return value.values.some((v) => holdsVariable(v, among));
  if (value.kind === Kind.OBJECT) return value.fields.some((f) => holdsVariable(f.value, among));
  return false;
}

/**
 * The page a `first` argument asks for; null without one. An explicit null is served at the
 * subgraph's own default page (paging.ts), which is never more than pageSizeMax: measured at that bound.
 */
function pageOf(args: Readonly<Record<string, unknown>>): number | null {
  if (!('first' in args)) return null;
  const value = args.first;
  if (value === null) return pageSizeMax;
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : null;
}

/** A list field given a list argument (createPayments' inputs) answers about one item per element. */
function listArgumentLength(
  definition: GraphQLField<unknown, unknown>,
  args: Readonly<Record<string, unknown>>,
): number | null {
  let longest: number | null = null;
  for (const argument of definition.args) {
    if (!isListType(getNullableType(argument.type))) continue;
    const value = args[argument.name];
    if (Array.isArray(value)) longest = Math.max(longest ?? 0, value.length);
  }
  return longest;
}

/** The fragments of a document by name. */
export function fragmentsOf(definitions: readonly { kind: Kind }[]): Map<string, FragmentDefinitionNode> {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) {
      const fragment = definition as FragmentDefinitionNode;
      fragments.set(fragment.name.value, fragment);
    }
  }
  return fragments;
}
