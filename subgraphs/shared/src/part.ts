import type * as z from 'zod';
import type { MigrationSet } from './db/migrate';

export { variablePrefixOf } from './part-variables';

/**
 * One part of paygraph (the gateway or a subgraph) as it declares itself, once, in its own
 * src/part.ts (graphql-hive's createModule is the model): its name, the process's configuration
 * schema, its default port and pool size, its migrations, the loops it runs and what it uses of
 * other parts' tables. The tools (migrate, codegen, compose, the connection budget, the start
 * plan, the test stack) read the list of these declarations (scripts/lib/parts.ts) and nothing
 * else, so a part is added in one place. The shared library defines the shape and names no part.
 *
 * What a subgraph serves follows from its name by convention: schema/<name>.graphql, its
 * resolvers in src/resolvers/ typed by `npm run codegen` against `<Name>Context` of
 * src/context.ts (scripts/lib/resolver-types.ts), and its process in src/main.ts. The declaration
 * does not import them, so that reading the list loads no part's code beyond its configuration
 * and migrations.
 */
export interface PartDeclaration<Name extends string = string, Config extends z.ZodObject = z.ZodObject> {
  readonly name: Name;
  /** A subgraph serves schema/<name>.graphql behind the gateway; the gateway composes them. */
  readonly kind: 'subgraph' | 'gateway';
  /** Its process's configuration, read once by its main.ts. */
  readonly config: Config;
  /** Where it listens unless configured otherwise. */
  readonly portDefault: number;
  /**
   * MySQL connections per shard (unless MYSQL_POOL_SIZE says otherwise), sized to its work; null: it sizes its own
   * pool.
   */
  readonly poolSizeDefault: number | null;
  /** Connections its process holds over the whole stack when it sizes its own pool (the gateway's audit pool). */
  readonly connectionsMax?: number;
  /** Its tables, applied to every shard; the list's order is the order sets apply in. */
  readonly migrations: MigrationSet;
  /** Its background loops (shared/worker.ts), by the name their log lines carry. */
  readonly workers: readonly string[];
  /**
   * Other parts' read and write models it uses, as `<part>/<model>` (docs/ARCHITECTURE.md, "Table ownership and
   * read models").
   */
  readonly reads: readonly string[];
  /** Variables `npm start` gives its process on a local stack unless the shell sets them. */
  readonly localStackEnv?: Readonly<Record<string, string>>;
}

/** A part's declaration, with its name kept as a literal type for the lists made of it. */
export function definePart<const Name extends string, Config extends z.ZodObject>(
  declaration: PartDeclaration<Name, Config>,
): PartDeclaration<Name, Config> {
  if (!/^[a-z]+$/.test(declaration.name))
    throw new Error(
      `a part's name is lowercase letters (its schema, folder and variables are named after it): ${declaration.name}`,
    );
  return Object.freeze({ ...declaration });
}
