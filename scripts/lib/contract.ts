import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kind, parse, print, type DocumentNode, type OperationDefinitionNode } from 'graphql';

/**
 * The contract's documents (shared/contract/operations.graphql), which clients, the tests and the
 * benchmark send verbatim. It lies beside the repository: beside the main checkout, or some
 * levels further up for a git worktree (a worktree's folder is not the main checkout's sibling),
 * so it is looked for in each folder above the repository, nearest first.
 */
const contractRelative = join('shared', 'contract', 'operations.graphql');

function findContract(): string {
  const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
  let dir = dirname(repoRoot);
  for (;;) {
    const candidate = join(dir, contractRelative);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no ${contractRelative} in any folder above ${repoRoot}`);
    dir = parent;
  }
}

export const contractPath = findContract();
const contract: DocumentNode = parse(readFileSync(contractPath, 'utf8'));

/** One operation of the contract, printed as clients send it. */
export function contractOperation(name: string): string {
  const op = contract.definitions.find(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION && d.name?.value === name,
  );
  if (!op) throw new Error(`operation ${name} is not in ${contractPath}`);
  return print(op);
}
