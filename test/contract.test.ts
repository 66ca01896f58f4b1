import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { print, validate } from 'graphql';
import { Supergraph } from '@apollo/federation-internals';
import { supergraphPath } from '../gateway/src/compose';
import {
  contractDocument,
  contractPath,
  findSharedContract,
  operationsOf,
  parseContract,
} from '../scripts/lib/contract';
import { repoRoot } from './support/sources';

/**
 * The public contract is the repository's contract/operations.graphql. A shared copy beside the
 * checkout (../shared/contract/operations.graphql, some levels up for a worktree) may be ahead of
 * it by the operations of issues still open; every other operation must be the same in both, so
 * the two cannot drift. An operation leaves this list when its issue lands it in the repository's
 * copy (the last test fails until it does).
 */
const pendingOperations: ReadonlyMap<string, string> = new Map<string, string>();

const sharedContract = findSharedContract();
const noSharedContract = `no shared/contract/operations.graphql in any folder above ${repoRoot}: nothing to compare the contract with`;
if (sharedContract === null) console.log(`[contract] ${noSharedContract} (skipped)`);

const repoOperations = operationsOf(contractDocument);

describe('the contract (contract/operations.graphql)', () => {
  it('holds every operation of the shared copy beside the checkout, as written there, except those of open issues', (ctx) => {
    if (sharedContract === null) return ctx.skip(noSharedContract);
    const shared = operationsOf(parseContract(sharedContract));
    const drift: string[] = [];
    for (const [name, operation] of shared) {
      if (pendingOperations.has(name)) continue;
      const ours = repoOperations.get(name);
      if (ours === undefined) drift.push(`${name} is missing from ${relative(repoRoot, contractPath)}`);
      else if (print(ours) !== print(operation)) drift.push(`${name} differs from ${sharedContract}`);
    }
    expect(drift).toEqual([]);
  });

  it('holds no operation that the list of open issues still calls pending', () => {
    const landed = [...pendingOperations]
      .filter(([name]) => repoOperations.has(name))
      .map(([name, issue]) => `${name} (${issue}): remove it from pendingOperations`);
    expect(landed).toEqual([]);
  });

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
