import {
  getNamedType,
  getNullableType,
  isAbstractType,
  isEnumType,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLSchema,
} from 'graphql';
import type { SeededRandom } from '../../../test/support/seeded-random';

/**
 * Random operations over the API schema for the pass-through comparison (pass-through.test.ts):
 * selections with aliases, inline and named fragments, __typename, @skip/@include on literals and
 * variables, and arguments that are fine, absent, refused (BAD_USER_INPUT) or name what is not
 * there or not the caller's.
 */
export interface Generated {
  query: string;
  variables: Record<string, unknown>;
}

/** A scalar argument's value as GraphQL text (a literal or a variable the writer declares); null: none to give. */
export type ArgumentValue = (writer: OperationWriter, name: string, typeName: string) => string | null;

export interface WriterOptions {
  api: GraphQLSchema;
  /** The fields a selection on this type may take (all, or one subgraph's). */
  fieldsOf: (type: GraphQLObjectType) => GraphQLField<unknown, unknown>[];
  argumentValue: ArgumentValue;
}

/** One operation being written: its variables, their definitions and its named fragments. */
export class OperationWriter {
  readonly variables: Record<string, unknown> = {};
  private readonly definitions: string[] = [];
  private readonly fragments: string[] = [];
  private aliasCount = 0;
  private fragmentCount = 0;

  constructor(
    readonly rng: SeededRandom,
    private readonly options: WriterOptions,
  ) {}

  /** `$name`, declared with `type` and given `value` the first time it is named. */
  variable(name: string, type: string, value: unknown): string {
    if (!(name in this.variables)) {
      this.variables[name] = value;
      this.definitions.push(`$${name}: ${type}`);
    }
    return `$${name}`;
  }

  /** `(a: …, b: …)` for the field's scalar arguments, some left out; null when a required one cannot be given. */
  argumentsOf(field: GraphQLField<unknown, unknown>): string | null {
    const parts: string[] = [];
    for (const arg of field.args) {
      const required = isNonNullType(arg.type);
      if (!required && this.rng.below(3) !== 0) continue;
      const named = getNamedType(arg.type);
      if (isListType(getNullableType(arg.type))) {
        if (required) return null;
        continue;
      }
      const value = this.options.argumentValue(this, arg.name, named.name);
      if (value === null) {
        if (required) return null;
        continue;
      }
      parts.push(`${arg.name}: ${value}`);
    }
    return parts.length > 0 ? `(${parts.join(', ')})` : '';
  }

  /** Mostly nothing; sometimes @include(if: false), or @skip/@include on a variable. */
  directive(): string {
    switch (this.rng.below(10)) {
      case 0:
        return ' @include(if: false)';
      case 1:
        return ` @skip(if: ${this.variable('skipIt', 'Boolean!', this.rng.below(2) === 0)})`;
      case 2:
        return ` @include(if: ${this.variable('includeIt', 'Boolean!', this.rng.below(2) === 0)})`;
      default:
        return '';
    }
  }

  alias(): string {
    return this.rng.below(5) === 0 ? `a${this.aliasCount++}: ` : '';
  }

  /** A selection on `type`, at most 4 levels below the root. */
  selectionOf(type: GraphQLNamedType, depth: number): string {
    if (isAbstractType(type)) {
      const parts = ['__typename'];
      for (const possible of this.options.api.getPossibleTypes(type)) {
        if (this.rng.below(3) === 0) parts.push(`... on ${possible.name} { ${this.selectionOf(possible, depth)} }`);
      }
      return parts.join(' ');
    }
    if (!isObjectType(type)) return '__typename';
    const fields = this.options.fieldsOf(type);
    if (fields.length === 0) return '__typename';
    const chosen: string[] = [];
    const want = this.rng.between(1, Math.min(5, fields.length));
    for (let n = 0; n < want * 2 && chosen.length < want; n++) {
      const text = this.fieldText(this.rng.pick(fields), depth);
      if (text !== null) chosen.push(text);
    }
    if (chosen.length === 0 || this.rng.below(5) === 0) chosen.push('__typename');
    return this.wrapSome(type, chosen).join(' ');
  }

  /** A field with its arguments, alias, directive and selection; null when its arguments cannot be given. */
  fieldText(field: GraphQLField<unknown, unknown>, depth: number): string | null {
    const args = this.argumentsOf(field);
    if (args === null) return null;
    const named = getNamedType(field.type);
    const alias = this.alias();
    if (isLeafType(named) || isEnumType(named)) return `${alias}${field.name}${args}${this.directive()}`;
    if (depth >= 4) return null;
    return `${alias}${field.name}${args}${this.directive()} { ${this.selectionOf(named, depth + 1)} }`;
  }

  /** The document: `kind`, an optional name, the variables' definitions, the root selections and the fragments. */
  document(kind: 'query' | 'mutation', roots: readonly string[]): string {
    const name = this.rng.below(2) === 0 ? ` Generated${this.rng.below(1000)}` : '';
    const defined = this.definitions.length > 0 ? `(${this.definitions.join(', ')})` : '';
    const head = defined || name || kind !== 'query' ? `${kind}${name}${defined} ` : '';
    return `${head}{ ${roots.join(' ')} }\n${this.fragments.join('\n')}`;
  }

  private wrapSome(type: GraphQLObjectType, parts: string[]): string[] {
    const roll = this.rng.below(8);
    if (roll === 0) return [`... on ${type.name} { ${parts.join(' ')} }`];
    if (roll === 1) {
      const name = `F${this.fragmentCount++}`;
      this.fragments.push(`fragment ${name} on ${type.name} { ${parts.join(' ')} }`);
      return [`...${name}`];
    }
    if (roll === 2) return [`... { ${parts.join(' ')} }`];
    return parts;
  }
}

/** A JSON value as a GraphQL literal: objects' keys unquoted, strings and numbers as JSON writes them. */
export function graphqlLiteral(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(graphqlLiteral).join(', ')}]`;
  if (typeof value === 'object' && value !== null)
    return `{${Object.entries(value)
      .map(([key, inner]) => `${key}: ${graphqlLiteral(inner)}`)
      .join(', ')}}`;
  return JSON.stringify(value);
}
