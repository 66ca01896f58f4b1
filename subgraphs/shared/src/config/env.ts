import * as z from 'zod';
import { timerDelayMsMax } from '../limits';

/**
 * How a process reads its environment: each process declares one zod schema (its config.ts),
 * whose leaves are environment variables declared by the builders below, each with its name,
 * type and range, default and meaning written once; the schema's inferred type is the process's
 * configuration type. A process's main.ts hands its environment to readConfig before it opens
 * anything: every variable is parsed and checked at once, and a bad value, or a requirement of
 * the process's schema unmet (a secret it lacks), throws a ConfigError naming each variable at
 * fault, so the process exits before it listens. README's configuration table is the variables
 * of every process's schema written out (variablesOf; test/configuration.test.ts keeps the two
 * equal).
 *
 * A variable set to the empty string reads as unset (as a shell's `VAR= npm start` means).
 */
export type Environment = Readonly<Record<string, string | undefined>>;

/** A configuration refused: every problem found, each naming its variable. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
  }
}

/** One variable as README's table shows it. */
export interface Variable {
  readonly name: string;
  /** README's type column: the type and its range. */
  readonly type: string;
  /** README's default column, as written there. */
  readonly default: string;
  /** README's meaning column. */
  readonly meaning: string;
}

/** Every leaf schema of a process's configuration, with the variable it reads. */
const variableRegistry = z.registry<Variable>();

/** A leaf: parses the variable's value as set, or undefined when it is unset. */
export type VariableSchema<T> = z.ZodType<T, string | undefined>;

type Doc = { default: string; meaning: string };

function declare<T>(name: string, type: string, doc: Doc, schema: VariableSchema<T>): VariableSchema<T> {
  schema.register(variableRegistry, { name, type, ...doc });
  return schema;
}

function inputText(input: unknown): string {
  return typeof input === 'string' ? JSON.stringify(input) : String(input);
}

function rangeText(min: number, max: number): string {
  return max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `${min}–${max}`;
}

/** A whole number in [min, max], written in decimal digits. */
function integerSchema(min: number, max: number) {
  return z
    .string()
    .trim()
    .regex(/^-?[0-9]+$/, { error: (issue) => `must be an integer, got ${inputText(issue.input)}` })
    .transform(Number)
    .refine((n) => n >= min && n <= max, {
      error: (issue) => `must be between ${min} and ${max}, got ${inputText(issue.input)}`,
    });
}

/** The value's type: T, or T | null when the variable has no default. */
type Defaulted<T, F> = F extends undefined ? T | null : T;

/** Applies the default, or answers null when the variable is unset. */
function withDefault<T, F extends T | undefined>(
  schema: z.ZodType<T, string>,
  fallback: F,
): VariableSchema<Defaulted<T, F>> {
  const defaulted =
    fallback === undefined ? schema.optional().transform((value) => value ?? null) : schema.default(fallback as never);
  return defaulted as unknown as VariableSchema<Defaulted<T, F>>;
}

export function integer<F extends number | undefined>(
  name: string,
  unit: string,
  min: number,
  max: number,
  fallback: F,
  doc: Doc,
): VariableSchema<Defaulted<number, F>> {
  return declare(
    name,
    `${unit} ${rangeText(min, max)}`,
    doc,
    withDefault(integerSchema(min, max) as unknown as z.ZodType<number, string>, fallback),
  );
}

export function port(name: string, fallback: number, doc: Doc, min = 0): VariableSchema<number> {
  return integer(name, 'port', min, 65_535, fallback, doc);
}

/** Milliseconds a timer waits: at most timerDelayMsMax, past which Node's timers misfire. */
export function intervalMs(name: string, fallback: number, doc: Doc, max = timerDelayMsMax): VariableSchema<number> {
  return integer(name, 'ms', 1, max, fallback, doc);
}

export function boolean(name: string, fallback: boolean, doc: Doc): VariableSchema<boolean> {
  const schema = z
    .stringbool({
      truthy: ['true', '1'],
      falsy: ['false', '0'],
      case: 'sensitive',
      error: (issue) => `must be true or false, got ${inputText(issue.input)}`,
    })
    .default(fallback);
  return declare(name, '`true`, `false`, `1`, `0`', doc, schema as unknown as VariableSchema<boolean>);
}

export function oneOf<const V extends readonly [string, ...string[]], F extends V[number] | undefined>(
  name: string,
  values: V,
  fallback: F,
  doc: Doc,
): VariableSchema<Defaulted<V[number], F>> {
  const schema = z.enum(values, {
    error: (issue) => `must be one of ${values.join(', ')}, got ${inputText(issue.input)}`,
  });
  return declare(
    name,
    values.map((v) => `\`${v}\``).join(', '),
    doc,
    withDefault(schema as unknown as z.ZodType<V[number], string>, fallback),
  );
}

export function text<F extends string | undefined>(
  name: string,
  type: string,
  fallback: F,
  doc: Doc,
): VariableSchema<Defaulted<string, F>> {
  return declare(name, type, doc, withDefault(z.string(), fallback));
}

/** A URL whose scheme is one of `schemes`. */
export function url<F extends string | undefined>(
  name: string,
  schemes: readonly string[],
  fallback: F,
  doc: Doc,
): VariableSchema<Defaulted<string, F>> {
  const listed = schemes.map((s) => `${s}://`).join(' or ');
  const schema = z.url({
    protocol: new RegExp(`^(${schemes.join('|')})$`),
    error: (issue) => `must be a ${listed} URL, got ${inputText(issue.input)}`,
  });
  return declare(
    name,
    `${schemes.map((s) => `\`${s}://\``).join(' or ')} URL`,
    doc,
    withDefault(schema as unknown as z.ZodType<string, string>, fallback),
  );
}

/**
 * A value one of our own parsers reads; its error's message is the problem. The default is written as it would be set.
 */
export function parsed<T, F extends string | undefined>(
  name: string,
  type: string,
  parse: (raw: string) => T,
  fallback: F,
  doc: Doc,
): VariableSchema<Defaulted<T, F>> {
  const schema = z.string().transform((raw, ctx) => {
    try {
      return parse(raw);
    } catch (error) {
      ctx.issues.push({ code: 'custom', message: error instanceof Error ? error.message : String(error), input: raw });
      return z.NEVER;
    }
  });
  const fallbackValue = (fallback === undefined ? undefined : parse(fallback)) as T | undefined;
  return declare(
    name,
    type,
    doc,
    withDefault(schema as unknown as z.ZodType<T, string>, fallbackValue) as unknown as VariableSchema<Defaulted<T, F>>,
  );
}

/** The leaf with a further step (a transform, a check) that reads the same variable. */
export function extended<T, U>(
  leaf: VariableSchema<T>,
  step: (schema: VariableSchema<T>) => z.ZodType<U, string | undefined>,
): VariableSchema<U> {
  const variable = variableRegistry.get(leaf);
  if (variable === undefined) throw new Error('extended() extends a variable declared by a builder of env.ts');
  const next = step(leaf);
  next.register(variableRegistry, variable);
  return next;
}

/** Any value at all: set or not is what counts. */
export function flag(name: string, type: string, doc: Doc): VariableSchema<boolean> {
  return declare(
    name,
    type,
    doc,
    z
      .string()
      .optional()
      .transform((value) => value !== undefined) as unknown as VariableSchema<boolean>,
  );
}

/**
 * A process's own rules (its secrets, the production rules) run even when a value was refused,
 * so that one start-up names every problem; a refused value stays as it was set, and is not
 * reported again as missing.
 */
export const evenWithRefusedValues = { when: () => true };

// ---------------------------------------------------------------------------------------------

/** A process's configuration schema: an object whose leaves are variables (nested objects group them). */
export type ConfigSchema = z.ZodObject;

/** The variable a leaf reads, or undefined for a group. */
function variableOf(schema: z.ZodType): Variable | undefined {
  return variableRegistry.get(schema);
}

/** The group's members, or null for a leaf. */
function membersOf(schema: z.ZodType): Record<string, z.ZodType> | null {
  return schema instanceof z.ZodObject ? (schema.shape as Record<string, z.ZodType>) : null;
}

/**
 * Every variable the schemas read, in their order, each once. A variable is declared once: two
 * declarations of one name (two leaves, say with different defaults) are a bug.
 */
export function variablesOf(...schemas: z.ZodType[]): Variable[] {
  const found = new Map<string, { variable: Variable; leaf: z.ZodType }>();
  const walk = (node: z.ZodType): void => {
    const variable = variableOf(node);
    if (variable !== undefined) {
      const seen = found.get(variable.name);
      if (seen !== undefined && seen.leaf !== node)
        throw new Error(`${variable.name} is declared twice: declare it once and share the schema`);
      found.set(variable.name, { variable, leaf: node });
      return;
    }
    const members = membersOf(node);
    if (members === null) throw new Error('a configuration schema holds variables and groups of them only');
    for (const member of Object.values(members)) walk(member);
  };
  for (const schema of schemas) walk(schema);
  return [...found.values()].map(({ variable }) => variable);
}

/** The schema's input: each leaf's variable as set, an empty value as unset. */
function inputOf(schema: z.ZodType, env: Environment): unknown {
  const variable = variableOf(schema);
  if (variable !== undefined) {
    const raw = env[variable.name];
    return raw === '' ? undefined : raw;
  }
  const members = membersOf(schema)!;
  return Object.fromEntries(Object.entries(members).map(([key, member]) => [key, inputOf(member, env)]));
}

/** The variable at a path of the schema; undefined when the path ends at a group (a rule of the group's). */
function variableAt(schema: z.ZodType, path: readonly PropertyKey[]): Variable | undefined {
  let node: z.ZodType | undefined = schema;
  for (const key of path) {
    const variable = variableOf(node);
    if (variable !== undefined) return variable;
    node = membersOf(node)?.[String(key)];
    if (node === undefined) return undefined;
  }
  return variableOf(node);
}

/** Our own parsers name the variable already (MYSQL_SHARDS: …, LEDGER_MAC_KEY must …). */
function named(name: string, message: string): string {
  return message.startsWith(name) ? message : `${name} ${message}`;
}

/**
 * Parses and checks every variable the schema reads, then the schema's own rules (a process's
 * secrets, the production rules), and answers the frozen configuration; throws a ConfigError
 * listing every problem, each naming its variable.
 */
export function readConfig<S extends ConfigSchema>(schema: S, env: Environment): Readonly<z.output<S>> {
  const result = schema.safeParse(inputOf(schema, env));
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => {
        const variable = variableAt(schema, issue.path);
        return variable === undefined ? issue.message : named(variable.name, issue.message);
      }),
    );
  }
  return deepFreeze(result.data);
}

/** Freezes plain objects and arrays all the way down; key rings (Map, Buffer) keep their own shape. */
function deepFreeze<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  const prototype = Object.getPrototypeOf(value) as unknown;
  if (prototype !== Object.prototype && !Array.isArray(value)) return value;
  for (const child of Object.values(value)) deepFreeze(child);
  return Object.freeze(value);
}
