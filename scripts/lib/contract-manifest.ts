import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { print } from 'graphql';
import { contractDocument, operationsOf } from './contract';

/**
 * The contract's operations as the gateway's first manifest of trusted documents, in Apollo's
 * persisted query manifest format (what `@apollo/generate-persisted-query-manifest` writes): one
 * entry per operation, its id the SHA-256 of its body, the body the operation printed by graphql's
 * `print` — the same text contractOperation() gives the tests and the benchmark. The contract has
 * no fragments; an operation that spread one would need it in its body, and the gateway refuses a
 * manifest whose body does not parse. `npm run build` writes it; gateway/test/trusted-documents.test.ts
 * checks that the file is current.
 */
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const contractManifestFile = join(repoRoot, 'gateway', 'trusted-documents', 'contract.json');

export interface ApolloManifest {
  format: 'apollo-persisted-query-manifest';
  version: 1;
  operations: Array<{ id: string; name: string; type: 'query' | 'mutation' | 'subscription'; body: string }>;
}

export function contractManifest(): ApolloManifest {
  const operations = [...operationsOf(contractDocument).entries()].map(([name, operation]) => {
    const body = print(operation);
    return { id: createHash('sha256').update(body).digest('hex'), name, type: operation.operation, body };
  });
  return { format: 'apollo-persisted-query-manifest', version: 1, operations };
}

/** The manifest's file text: two-space JSON and a final newline. */
export function contractManifestText(): string {
  return `${JSON.stringify(contractManifest(), null, 2)}\n`;
}

/** Writes the manifest when its text changed (beside it, then renamed over it); answers whether it wrote. */
export function writeContractManifest(): boolean {
  const text = contractManifestText();
  let current: string | null = null;
  try {
    current = readFileSync(contractManifestFile, 'utf8');
  } catch {
    // Not written yet.
  }
  if (current === text) return false;
  mkdirSync(dirname(contractManifestFile), { recursive: true });
  const temporary = `${contractManifestFile}.${process.pid}.tmp`;
  writeFileSync(temporary, text);
  renameSync(temporary, contractManifestFile);
  return true;
}
