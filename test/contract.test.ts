import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validate } from 'graphql';
import { Supergraph } from '@apollo/federation-internals';
import { supergraphPath } from '../gateway/src/compose';
import { contractDocument, operationsOf, parseContract } from '../scripts/lib/contract';

/**
 * The public contract is the repository's contract/operations.graphql, and only that copy is read: a plain clone has
 * no folder beside it, and a test that compared with one was skipped there (CI's case).
 */
const repoOperations = operationsOf(contractDocument);

describe('the contract (contract/operations.graphql)', () => {
  it('is valid against the composed supergraph', () => {
    const apiSchema = Supergraph.build(readFileSync(supergraphPath, 'utf8')).apiSchema().toGraphQLJSSchema();
    expect(repoOperations.size).toBeGreaterThanOrEqual(19);
    const errors = validate(apiSchema, contractDocument).map((e) => `${e.message} (line ${e.locations?.[0]?.line})`);
    expect(errors).toEqual([]);
  });

  it('names the file and line when a contract does not parse', () => {
    const broken = join(mkdtempSync(join(tmpdir(), 'paygraph-contract-')), 'operations.graphql');
    writeFileSync(broken, 'query GetAccount($id: ID!) {\n  account(id: $id) {\n    id\n    balance: }\n  }\n}\n');
    expect(() => parseContract(broken)).toThrow(`${broken}:4:14: the contract does not parse`);
  });
});
