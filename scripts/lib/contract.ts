import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GraphQLError, Kind, parse, print, type DocumentNode, type OperationDefinitionNode } from 'graphql';

/**
 * The public client contract: the operations the API promises to accept, which clients, the
 * tests and the benchmark send verbatim. It is a file of the repository (contract/operations.graphql),
 * so a plain clone has everything it needs; the shared copy beside a checkout, if there is one,
 * is only compared with it (test/contract.test.ts).
 */
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const contractPath = join(repoRoot, 'contract', 'operations.graphql');

/**
 * Parses a contract file; a syntax error names the file and line (`path:line:column`), so the
 * test or process that reads a broken contract says where to look.
 */
export function parseContract(path: string): DocumentNode {
  const source = readFileSync(path, 'utf8');
  try {
    return parse(source);
  } catch (error) {
    if (!(error instanceof GraphQLError)) throw error;
    const where = error.locations?.[0];
    const at = where ? `${path}:${where.line}:${where.column}` : path;
    throw new Error(`${at}: the contract does not parse: ${error.message}`, { cause: error });
  }
}

/** The operations of a contract document by name. */
export function operationsOf(document: DocumentNode): Map<string, OperationDefinitionNode> {
  const operations = new Map<string, OperationDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
    const name = definition.name?.value;
    if (name === undefined) throw new Error('a contract operation has no name');
    if (operations.has(name)) throw new Error(`the contract defines ${name} twice`);
    operations.set(name, definition);
  }
  return operations;
}

/** The repository's contract, parsed once. */
export const contractDocument: DocumentNode = parseContract(contractPath);
const contract = operationsOf(contractDocument);

/** One operation of the contract, printed as clients send it. */
export function contractOperation(name: string): string {
  const op = contract.get(name);
  if (!op) throw new Error(`operation ${name} is not in ${contractPath}`);
  return print(op);
}

/**
 * A path under the shared folder beside a checkout (`shared/...`: the real banks' statements of
 * shared/fixtures/bank-statements, read in place and copied nowhere); null when absent (a plain
 * clone). A git worktree may be nested some levels below the folder that holds `shared/`, so each
 * folder above the repository is looked in, nearest first. The contract is never read from there:
 * the repository's contract/operations.graphql is the contract.
 */
export function findShared(relativePath: string): string | null {
  let dir = dirname(repoRoot);
  for (;;) {
    const candidate = join(dir, relativePath);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}
